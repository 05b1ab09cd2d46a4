// Runtime tests of Trainer::fit as a whole: exact resume (weights, optimizer, recipe state,
// randomness, history), the files a run leaves, best-k checkpoints, a NaN loss, early stopping,
// the learning-rate finder, precision and channels-last, and the refusal of a foreign checkpoint.
#include <ftmeta/nn.hpp>
#include <ftmeta/optim.hpp>
#include <ftmeta/train/trainer.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_trainer {

using namespace ftmeta::optim;
using Catch::Contains;
using Catch::EndsWith;
using Catch::StartsWith;
namespace fs = std::filesystem;
namespace nn = ftmeta::nn;
namespace train = ftmeta::train;

namespace {
// A small backbone from scratch at 32x32, with dropout in the head (torch's generator matters).
struct SmallNet : nn::Model<nn::backbones::EfficientNetLite0, nn::AvgPool, nn::Head<nn::Dropout<0.3>, nn::Linear<nn::Classes>>> {};
struct StepRecipe : Sgd<Momentum<0.9>, Step<1, 0.5>, Group<BackbonePart, Lr<2e-3>>, Group<HeadPart, Lr<1e-2>>> {};
// The backbone frozen (its BatchNorm too) and a vanishing lr: validation cannot improve.
struct StillRecipe : Sgd<Phase<100, BackbonePart>, Group<BackbonePart, Lr<1e-12>>, Group<HeadPart, Lr<1e-12>>> {};

// Four batches of four random 32x32 images of three classes, fixed at construction; `nan_from`:
// from that epoch on the images are NaN.
struct Source {
  struct Batch {
    torch::Tensor images, labels;
  };
  std::vector<Batch> batches;
  std::size_t at = 0;
  std::int64_t epoch = 0, nan_from = 0;
  explicit Source(std::uint64_t seed, std::int64_t nan_from_epoch = 0) : nan_from(nan_from_epoch) {
    auto g = at::detail::createCPUGenerator(seed);
    for (int i = 0; i < 4; ++i)
      batches.push_back({torch::rand({4, 3, 32, 32}, g), torch::randint(0, 3, {4}, g)});
  }
  void start_epoch(std::int64_t e) { at = 0, epoch = e; }
  std::int64_t batches_per_epoch() const { return static_cast<std::int64_t>(batches.size()); }
  std::optional<Batch> next() {
    if (at == batches.size()) return std::nullopt;
    auto b = batches[at++];
    if (nan_from > 0 && epoch >= nan_from) b.images = torch::full_like(b.images, std::numeric_limits<float>::quiet_NaN());
    return b;
  }
};
const std::vector<std::string> classes = {"a", "b", "c"};
train::TrainOptions options(std::int64_t epochs, fs::path out) {
  train::TrainOptions o;
  o.epochs = epochs;
  o.out_dir = std::move(out);
  o.pretrained = false;
  o.log = nullptr;
  o.seed = 7;
  return o;
}
fs::path fresh_dir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("ftmeta_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}
std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}
}  // namespace

TEST_CASE("A run resumed from last.pt continues bit-identically: losses, weights, weight average", "[train][resume]") {
  using Trainer = train::Trainer<SmallNet, StepRecipe>;
  auto with_regularizers = [](train::TrainOptions o) {
    o.mixup_alpha = 0.4;
    o.label_smoothing = 0.1;
    o.ema_decay = 0.9;
    return o;
  };
  const auto straight_dir = fresh_dir("resume_straight"), resumed_dir = fresh_dir("resume_resumed");
  Source train(1), val(2);
  Trainer straight(classes, with_regularizers(options(3, straight_dir)));
  straight.fit(train, val);
  {
    Trainer first(classes, with_regularizers(options(2, resumed_dir)));
    first.fit(train, val);
  }
  Trainer resumed(classes, with_regularizers(options(3, resumed_dir)));
  CHECK(resumed.resume(resumed_dir / "last.pt") == 2);
  resumed.fit(train, val);

  REQUIRE(resumed.history().size() == 3);
  for (std::size_t e = 0; e < 3; ++e) {
    INFO("epoch " << e + 1);
    CHECK(resumed.history()[e].train.loss == straight.history()[e].train.loss);
    CHECK(resumed.history()[e].val.loss == straight.history()[e].val.loss);
    CHECK(resumed.history()[e].ema_val->loss == straight.history()[e].ema_val->loss);
    CHECK(resumed.history()[e].lrs == straight.history()[e].lrs);
  }
  CHECK(resumed.history()[2].lrs[0] == Approx(2e-3 * 0.25));  // the step schedule went on from its state
  auto a = straight.model()->named_parameters(), b = resumed.model()->named_parameters();
  for (auto& p : a) CHECK(torch::equal(p.value(), b[p.key()]));
  auto ab = straight.model()->named_buffers(), bb = resumed.model()->named_buffers();
  for (auto& p : ab) CHECK(torch::equal(p.value(), bb[p.key()]));
  for (std::size_t i = 0; i < straight.ema()->parameters().size(); ++i)
    CHECK(torch::equal(straight.ema()->parameters()[i], resumed.ema()->parameters()[i]));
  CHECK(straight.recipe_run().steps() == resumed.recipe_run().steps());

  // The metrics went on in the same files: the same rows but for the timings.
  const auto s = lines_of(straight_dir / "metrics.csv"), r = lines_of(resumed_dir / "metrics.csv");
  REQUIRE(r.size() == 4);
  CHECK(r[0] == s[0]);
  CHECK_THAT(r[0], Contains("ema_val_loss,ema_val_acc"));
  for (std::size_t i = 1; i < 4; ++i) CHECK(r[i].substr(0, r[i].find(",0.0")) == s[i].substr(0, s[i].find(",0.0")));
  // metrics.jsonl: the run configuration (TrainOptions' reflected fields) where each run started,
  // then the epochs: fresh, 2 epochs, resumed after 2, 1 more.
  const auto j = lines_of(resumed_dir / "metrics.jsonl");
  REQUIRE(j.size() == 5);
  CHECK_THAT(j[0], StartsWith("{\"run_config\": {\"epochs\": 2, \"seed\": ") && EndsWith("}, \"after_epoch\": 0}"));
  CHECK_THAT(j[1], StartsWith("{\"epoch\": 1,"));
  CHECK_THAT(j[3], StartsWith("{\"run_config\": {\"epochs\": 3, \"seed\": ") && EndsWith("}, \"after_epoch\": 2}"));
  CHECK_THAT(j[4], StartsWith("{\"epoch\": 3,"));
  CHECK_THAT(j[3], Contains("\"ema_decay\": 0.9"));
  CHECK(lines_of(straight_dir / "metrics.jsonl").size() == 4);
  fs::remove_all(straight_dir);
  fs::remove_all(resumed_dir);
}

TEST_CASE("resume refuses a checkpoint of other classes or another split, naming both", "[train][resume]") {
  using Trainer = train::Trainer<SmallNet, StillRecipe>;
  const auto dir = fresh_dir("resume_refuse");
  Source train(1), val(2);
  auto o = options(1, dir);
  o.split_hash = "split-one";
  Trainer(classes, o).fit(train, val);
  CHECK_THROWS_WITH(Trainer({"x", "y", "z"}, o).resume(dir / "last.pt"),
                    Contains("trained on the classes [a, b, c], the data has [x, y, z]"));
  o.split_hash = "split-two";
  CHECK_THROWS_AS(Trainer(classes, o).resume(dir / "last.pt"), ftmeta::DataError);
  CHECK_THROWS_WITH(Trainer(classes, o).resume(dir / "last.pt"), Contains("split split-one, the data now gives the split split-two"));
  o.split_hash = "split-one";
  CHECK_THROWS_WITH(Trainer(classes, o).resume(dir / "best.pt"), Contains("no optimizer state"));
  fs::remove_all(dir);
}

TEST_CASE("fit leaves the run's records, last.pt and the best k; test() writes test.json", "[train][report]") {
  using Trainer = train::Trainer<SmallNet, StepRecipe>;
  const auto dir = fresh_dir("trainer_files");
  Source train(1), val(2);
  auto o = options(3, dir);
  o.keep_best = 2;
  std::ostringstream log;
  o.log = &log;
  Trainer trainer(classes, o);
  trainer.fit(train, val);
  for (auto f : {"metrics.csv", "metrics.jsonl", "loss.png", "accuracy.png", "lr.png", "confusion_val.png", "last.pt", "best.pt"})
    CHECK(fs::exists(dir / f));
  CHECK(fs::is_directory(dir / "tensorboard"));
  int kept = 0;
  for (auto& e : fs::directory_iterator(dir)) kept += e.path().filename().string().rfind("best-epoch", 0) == 0;
  CHECK(kept == 2);
  CHECK(train::read_checkpoint_info(dir / "last.pt").epoch == 3);
  // a plain progress line per tenth of the epoch (not a terminal), then the epoch's summary
  CHECK_THAT(log.str(), Contains("epoch 1/3 4/4  loss "));
  CHECK_THAT(log.str(), Contains("epoch 3/3  train loss "));
  // the confusion matrix counts the same top-1 hits as the loop (batches of four, three classes)
  for (auto& r : trainer.history()) CHECK(r.val_confusion.accuracy() == r.val.accuracy);
  const auto report = trainer.test(val);
  CHECK(report.accuracy() == trainer.evaluate_on(val).accuracy);
  CHECK(report.samples == 16);
  CHECK(report.confusion.total() == 16);
  CHECK(report.confusion.top5_accuracy() == 1.0);  // three classes: always in the top five
  CHECK_THAT(lines_of(dir / "test.json").at(0), Contains("\"samples\": 16"));
  CHECK(fs::exists(dir / "confusion_test.png"));
  fs::remove_all(dir);
}

TEST_CASE("A NaN loss stops fit naming epoch and step; last.pt stays the last good epoch", "[train][nan]") {
  using Trainer = train::Trainer<SmallNet, StepRecipe>;
  const auto dir = fresh_dir("trainer_nan");
  Source train(1, /*nan_from_epoch=*/2), val(2);
  Trainer trainer(classes, options(3, dir));
  CHECK_THROWS_WITH(trainer.fit(train, val), Contains("at epoch 2, step 0"));
  CHECK(train::read_checkpoint_info(dir / "last.pt").epoch == 1);
  fs::remove_all(dir);
}

TEST_CASE("Early stopping ends the run after `patience` epochs without improvement", "[train][early_stop]") {
  using Trainer = train::Trainer<SmallNet, StillRecipe>;
  Source train(1), val(2);
  auto o = options(6, {});
  o.early_stop = 2;
  o.early_stop_metric = train::StopMetric::val_acc;
  Trainer trainer(classes, o);
  trainer.fit(train, val);
  CHECK(trainer.stopped_early());
  CHECK(trainer.history().size() == 3);
  CHECK_THROWS_WITH(train::parse_stop_metric("f1"), "early_stop_metric f1: expected val_loss or val_acc");
}

TEST_CASE("The learning-rate finder writes its curve and suggestion and leaves the weights", "[train][lr_find]") {
  using Trainer = train::Trainer<SmallNet, StepRecipe>;
  const auto dir = fresh_dir("trainer_lr_find");
  Source train(1);
  Trainer trainer(classes, options(1, dir));
  auto before = trainer.model()->parameters()[0].detach().clone();
  const auto r = trainer.find_lr(train, {.start_lr = 1e-5, .end_lr = 1.0, .steps = 20});
  CHECK(r.suggestion > 0);
  CHECK(torch::equal(trainer.model()->parameters()[0], before));
  CHECK(lines_of(dir / "lr_find.csv").size() == r.lrs.size() + 1);
  CHECK(fs::exists(dir / "lr_find.png"));
  fs::remove_all(dir);
}

TEST_CASE("Precision and memory format: bf16 and channels-last train on the CPU, fp16 there is refused", "[train][amp]") {
  using Trainer = train::Trainer<SmallNet, StepRecipe>;
  Source train(1), val(2);
  Trainer plain(classes, options(1, {}));
  const auto reference = plain.evaluate_on(val);
  auto o = options(1, {});
  o.channels_last = true;
  Trainer nhwc(classes, o);
  CHECK(nhwc.model()->parameters()[0].is_contiguous(torch::MemoryFormat::ChannelsLast));
  CHECK(nhwc.evaluate_on(val).loss == Approx(reference.loss).epsilon(1e-5));  // the same weights, another layout
  nhwc.fit(train, val);
  CHECK(std::isfinite(nhwc.history()[0].train.loss));
  o = options(1, {});
  o.precision = train::Precision::bf16;
  Trainer bf16(classes, o);
  const auto low = bf16.evaluate_on(val);
  CHECK(low.loss == Approx(reference.loss).epsilon(0.05));
  CHECK(low.loss != reference.loss);  // it did run in bf16
  bf16.fit(train, val);
  CHECK(std::isfinite(bf16.history()[0].train.loss));
  o.precision = train::Precision::fp16;
  CHECK_THROWS_WITH(Trainer(classes, o), Contains("TrainOptions::precision fp16: autocast to fp16 needs a CUDA device"));
}

TEST_CASE("Cutmix and label smoothing change the loss the trainer reports", "[train][regularize]") {
  using Trainer = train::Trainer<SmallNet, StepRecipe>;
  Source train(1), val(2);
  Trainer plain(classes, options(1, {}));
  plain.fit(train, val);
  auto o = options(1, {});
  o.cutmix_alpha = 1.0;
  Trainer mixed(classes, o);
  mixed.fit(train, val);
  o = options(1, {});
  o.label_smoothing = 0.2;
  Trainer smooth(classes, o);
  smooth.fit(train, val);
  CHECK(std::isfinite(mixed.history()[0].train.loss));
  CHECK(mixed.history()[0].train.loss != plain.history()[0].train.loss);
  CHECK(smooth.history()[0].train.loss != plain.history()[0].train.loss);
  o.label_smoothing = 1.5;
  CHECK_THROWS_WITH(Trainer(classes, o), Contains("TrainOptions::label_smoothing"));
}

}  // namespace unit_train_trainer
