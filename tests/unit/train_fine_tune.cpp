// Runtime tests of fine_tune's parts: the run's sizing (plan_run), the head fitted on cached
// features, frozen BatchNorm statistics, the head phase recorded as the run's baseline across a
// resume, the splits resolved from a folder with their checks, and a whole fine_tune on PNG files.
#include <ftmeta/data/splits.hpp>
#include <ftmeta/nn.hpp>
#include <ftmeta/optim.hpp>
#include <ftmeta/train/fine_tune.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace ftmeta::optim;
using Catch::Contains;
namespace fs = std::filesystem;
namespace nn = ftmeta::nn;
namespace train = ftmeta::train;
namespace data = ftmeta::data;

namespace {
struct SmallNet : nn::Model<nn::backbones::EfficientNetLite0, nn::AvgPool, nn::Head<nn::BatchNorm1d, nn::Dropout<0.2>, nn::Linear<nn::Classes>>> {};

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("ftmeta_fine_tune_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
bool any_note(const std::vector<std::string>& notes, const std::string& part) {
  for (auto& n : notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}
// `per_class` 24x24 PNGs per class under root/<class>: class k is a bright square in quadrant k.
void write_folder(const fs::path& root, int classes, int per_class) {
  cv::RNG rng(7);
  for (int c = 0; c < classes; ++c) {
    fs::create_directories(root / ("class" + std::to_string(c)));
    for (int i = 0; i < per_class; ++i) {
      cv::Mat m(24, 24, CV_8UC3);
      rng.fill(m, cv::RNG::UNIFORM, 0, 60);
      cv::Rect r((c % 2) * 12 + 2, (c / 2) * 12 + 2, 8, 8);
      m(r).setTo(cv::Scalar(200, 220, 240));
      cv::imwrite((root / ("class" + std::to_string(c)) / (std::to_string(i) + ".png")).string(), m);
    }
  }
}
}  // namespace

TEST_CASE("plan_run sizes the run in optimizer steps, shrinks a batch larger than the data, and warns", "[fine_tune]") {
  using train::BatchNormMode;
  SECTION("epochs from the policy's minimum of steps, several passes each for small data") {
    auto p = train::plan_run(270, 1, 32, 0, 300, 1, BatchNormMode::train, 0, 0);
    CHECK(p.batch_size == 32);
    CHECK(p.passes_per_epoch == 5);  // 38 passes of 8 steps needed, at most 8 epochs
    CHECK(p.steps_per_epoch == 40);
    CHECK(p.epochs == 8);
    CHECK(any_note(p.notes, "8 epoch(s) of 40 step(s) (5 passes over the data each): 320 optimizer steps"));
    auto big = train::plan_run(9000, 1, 32, 0, 300, 1, BatchNormMode::train, 0, 0);
    CHECK(big.passes_per_epoch == 1);
    CHECK(big.epochs == 2);
    auto ranks = train::plan_run(270, 2, 32, 0, 300, 1, BatchNormMode::train, 0, 0);  // no repeats across ranks
    CHECK(ranks.passes_per_epoch == 1);
    CHECK(ranks.epochs == 38);  // 16 per rank, 135 / 16 = 8 steps per pass
  }
  SECTION("an explicit epoch count wins") {
    auto p = train::plan_run(270, 1, 32, 3, 300, 1, BatchNormMode::train, 0, 0);
    CHECK(p.epochs == 3);
    CHECK(any_note(p.notes, "only 24 optimizer steps"));
  }
  SECTION("fewer images than a batch: the batch shrinks, with a warning, and every epoch still steps") {
    auto p = train::plan_run(10, 1, 32, 1, 0, 1, BatchNormMode::train, 0, 0);
    CHECK(p.batch_size == 10);
    CHECK(p.steps_per_epoch == 1);
    CHECK(any_note(p.notes, "fewer than a batch of 32: the batch shrinks to 10"));
  }
  SECTION("the global batch divides among ranks") {
    auto p = train::plan_run(1000, 3, 32, 1, 0, 1, BatchNormMode::train, 0, 0);
    CHECK(p.batch_size % 3 == 0);
    CHECK(p.batch_size == 33);
  }
  SECTION("automatic BatchNorm statistics: frozen for small batches or data, trained otherwise, and said") {
    CHECK(train::plan_run(100000, 1, 16, 1, 0, 1, BatchNormMode::automatic, 32, 20000).freeze_batch_norm);
    auto small = train::plan_run(900, 1, 64, 1, 0, 1, BatchNormMode::automatic, 32, 20000);
    CHECK(small.freeze_batch_norm);
    CHECK(any_note(small.notes, "keeps its pretrained statistics"));
    CHECK_FALSE(train::plan_run(100000, 1, 64, 1, 0, 1, BatchNormMode::automatic, 32, 20000).freeze_batch_norm);
    CHECK(train::plan_run(10, 1, 4, 1, 0, 1, BatchNormMode::frozen, 0, 0).freeze_batch_norm);
    CHECK_FALSE(train::plan_run(10, 1, 4, 1, 0, 1, BatchNormMode::train, 0, 0).freeze_batch_norm);
  }
  SECTION("no training image is a DataError") {
    CHECK_THROWS_WITH(train::plan_run(0, 1, 32, 1, 0, 1, BatchNormMode::train, 0, 0), Contains("no image"));
  }
}

TEST_CASE("RepeatedSampler makes an epoch of several shuffled passes, a function of (seed, epoch)", "[fine_tune]") {
  const data::RepeatedSampler s{3};
  const auto a = s(5, 7, 2);
  REQUIRE(a.size() == 15);
  for (std::int64_t i = 0; i < 5; ++i) CHECK(std::count(a.begin(), a.end(), i) == 3);
  for (int pass = 0; pass < 3; ++pass) {  // each pass a permutation of its own
    std::vector<std::int64_t> p(a.begin() + pass * 5, a.begin() + pass * 5 + 5);
    CHECK(p == data::epoch_permutation(5, 7, 2 * 3 + static_cast<std::uint64_t>(pass)));
  }
  CHECK(s(5, 7, 2) == a);
  CHECK(s(5, 7, 3) != a);
}

TEST_CASE("fit_head fits a head on cached features and reports validation", "[fine_tune]") {
  torch::manual_seed(0);
  // Two Gaussian clouds per class in 16 dimensions, well apart: a linear head separates them.
  auto make = [](std::int64_t n, std::uint64_t seed) {
    auto g = at::detail::createCPUGenerator(seed);
    auto labels = torch::randint(0, 3, {n}, g);
    auto centers = torch::eye(3).repeat({1, 6}).narrow(1, 0, 16) * 4;
    auto features = centers.index_select(0, labels) + torch::randn({n, 16}, g);
    return train::FeatureSet{features, labels};
  };
  auto train_set = make(300, 1), val_set = make(100, 2);
  torch::nn::Linear head(16, 3);
  const auto before = train::evaluate_features(*head, [&](const torch::Tensor& x) { return head->forward(x); }, val_set, torch::kCPU);
  const auto r = train::fit_head(*head, [&](const torch::Tensor& x) { return head->forward(x); }, train_set, val_set, torch::kCPU,
                                 {.steps = 150, .batch_size = 64, .lr = 1e-2, .seed = 3});
  CHECK(r.val.samples == 100);
  CHECK(r.val.accuracy > 0.95);
  CHECK(r.val.loss < before.loss);
  CHECK(r.steps == 150);
  // From the same start with the same seed, the same head: the minibatch order is a function of options.seed.
  auto fitted = [&](std::uint64_t seed) {
    torch::manual_seed(9);
    torch::nn::Linear h(16, 3);
    train::fit_head(*h, [&](const torch::Tensor& x) { return h->forward(x); }, train_set, val_set, torch::kCPU,
                    {.steps = 10, .batch_size = 64, .lr = 1e-2, .seed = seed});
    return h->weight.detach().clone();
  };
  CHECK(torch::equal(fitted(4), fitted(4)));
  CHECK_FALSE(torch::equal(fitted(4), fitted(5)));
}

TEST_CASE("freeze_batch_norm_statistics keeps the backbone's running statistics while its weights train", "[fine_tune]") {
  torch::manual_seed(1);
  nn::Classifier<SmallNet> net(3);
  net->freeze_batch_norm_statistics("backbone");
  CHECK(net->batch_norm_statistics_frozen("backbone"));
  CHECK_FALSE(net->batch_norm_statistics_frozen("head"));
  auto stem = net->backbone()->named_buffers(true)["_bn0.running_mean"].clone();
  auto head_bn = net->head()->named_buffers(true)["0.running_mean"].clone();
  net->train();
  auto loss = net->forward(torch::rand({4, 3, 32, 32})).sum();
  loss.backward();
  CHECK(torch::equal(net->backbone()->named_buffers(true)["_bn0.running_mean"], stem));  // kept
  CHECK_FALSE(torch::equal(net->head()->named_buffers(true)["0.running_mean"], head_bn));  // the head's still move
  CHECK(net->backbone()->named_parameters(true)["_bn0.weight"].grad().defined());         // its weights still learn
  net->freeze_batch_norm_statistics("backbone", false);
  net->train();
  net->forward(torch::rand({4, 3, 32, 32}));
  CHECK_FALSE(torch::equal(net->backbone()->named_buffers(true)["_bn0.running_mean"], stem));
}

TEST_CASE("the head phase's figures ride in a checkpoint's history", "[fine_tune]") {
  train::EpochStats b;
  b.loss = 0.75, b.accuracy = 0.8125, b.samples = 32, b.loss_sum = 24, b.correct = 26;
  const auto text = train::detail::baseline_text(b) + "epoch 1 ...\n";
  auto [parsed, rest] = train::detail::split_baseline(text);
  REQUIRE(parsed);
  CHECK(parsed->accuracy == 0.8125);
  CHECK(parsed->correct == 26);
  CHECK(rest == "epoch 1 ...\n");
  auto [none, same] = train::detail::split_baseline("epoch 1 ...\n");
  CHECK_FALSE(none);
  CHECK(same == "epoch 1 ...\n");
}

TEST_CASE("resolve_splits: a split layout, a persisted split, and one class refused", "[fine_tune]") {
  const auto root = fresh_dir("splits");
  write_folder(root / "flat", 3, 10);
  const auto s = data::resolve_splits(root / "flat", {.seed = 1, .manifest = root / "split.tsv"});
  CHECK(s.classes.size() == 3);
  CHECK(s.train.size() + s.val.size() + s.test.size() == 30);
  CHECK(any_note(s.notes, "split: wrote"));
  CHECK(data::split_hash(s) == data::split_hash(data::resolve_splits(root / "flat", {.seed = 1, .manifest = root / "split.tsv"})));
  CHECK(any_note(data::resolve_splits(root / "flat", {.seed = 1, .manifest = root / "split.tsv"}).notes, "split: reusing"));

  write_folder(root / "layout" / "train", 2, 10);
  write_folder(root / "layout" / "test", 2, 3);
  const auto l = data::resolve_splits(root / "layout", {.seed = 1});
  CHECK(l.train.size() == 18);
  CHECK(l.val.size() == 2);
  CHECK(l.test.size() == 6);
  CHECK(any_note(l.notes, "held out"));

  write_folder(root / "one", 1, 12);
  CHECK_THROWS_AS(data::resolve_splits(root / "one", {.seed = 1}), ftmeta::DataError);
  CHECK_THROWS_WITH(data::resolve_splits(root / "one", {.seed = 1}), Contains("needs at least two"));
  fs::remove_all(root);
}

TEST_CASE("fine_tune on a small folder: the head phase is the baseline, the final weights are kept and tested", "[fine_tune][slow]") {
  const auto root = fresh_dir("run");
  write_folder(root / "data" / "train", 4, 12);
  write_folder(root / "data" / "test", 4, 4);
  const auto splits = data::resolve_splits(root / "data", {.seed = 0});
  train::FineTuneOptions o;
  o.train.out_dir = root / "out";
  o.train.pretrained = false;
  o.train.log = nullptr;
  o.train.seed = 5;
  o.batch_size = 8;
  o.workers = 0;
  o.train.epochs = 3;
  const auto r = train::fine_tune<SmallNet, train::DefaultFineTune, 32>(splits, o);
  REQUIRE(r.head);
  CHECK(r.head->samples == static_cast<std::int64_t>(splits.val.size()));
  CHECK(r.epochs == 3);
  CHECK(r.batch_norm_frozen);  // 40 training images: the backbone keeps its statistics
  CHECK(r.best_epoch == 3);    // KeepFinal
  REQUIRE(r.test);
  CHECK(r.test->samples == 16);
  // the baseline in every metrics row and in test.json
  std::ifstream csv(o.train.out_dir / "metrics.csv");
  std::string header;
  std::getline(csv, header);
  CHECK_THAT(header, Contains("lp_val_acc"));
  std::stringstream json;
  json << std::ifstream(o.train.out_dir / "test.json").rdbuf();
  CHECK_THAT(json.str(), Contains("\"lp_val_acc\""));
  // best.pt holds the final weights, recorded at the last epoch
  CHECK(train::read_checkpoint_info(o.train.out_dir / "best.pt").epoch == 3);
  fs::remove_all(root);
}
