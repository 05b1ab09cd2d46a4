// Runtime tests of the generated head and classifier modules, the recipe's optimizer, checkpoints,
// device choice and the command-line parser.
#include <ftmeta/nn.hpp>
#include <ftmeta/optim.hpp>
#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/device.hpp>
#include <ftmeta_app/cli.hpp>

#include <catch2/catch.hpp>
#include <support/npy.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_model_and_checkpoint {

namespace {
using namespace ftmeta::nn;
using namespace ftmeta::optim;

struct BlogHead : Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>> {};
struct Net : Model<backbones::EfficientNetLite0, AvgPool, BlogHead> {};
struct ConcatNet : Model<backbones::EfficientNetLite0, ConcatPool, Head<Linear<Classes>>> {};
struct Recipe : Sgd<Momentum<0.9>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>, WeightDecay<1e-4>>> {};

std::string shape_text(const torch::Tensor& t) {
  std::string s;
  for (auto d : t.sizes()) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("ftmeta_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}
}  // namespace

TEST_CASE("Head<...> has the state-dict keys and shapes of the same nn.Sequential in PyTorch", "[nn][head]") {
  HeadModule<BlogHead> head(1280, 7);
  std::map<std::string, std::string> ours;
  for (auto& p : head->named_parameters()) ours[p.key()] = shape_text(p.value());
  for (auto& b : head->named_buffers()) ours[b.key()] = shape_text(b.value());

  std::ifstream in(ftmeta::test::refs_dir() / "head" / "keys.txt");
  REQUIRE(in);
  std::map<std::string, std::string> python;
  std::string key, shape;
  while (std::getline(in, key, '\t') && std::getline(in, shape)) python[key] = shape == "" ? "" : shape;
  REQUIRE(python.size() > 10);
  CHECK(ours == python);
}

TEST_CASE("Head forward gives [N, classes] and follows train/eval mode", "[nn][head]") {
  torch::manual_seed(0);
  HeadModule<BlogHead> head(1280, 7);
  auto x = torch::randn({4, 1280});
  head->eval();
  auto a = head->forward(x), b = head->forward(x);
  CHECK(a.sizes() == torch::IntArrayRef({4, 7}));
  CHECK(torch::equal(a, b));  // eval: dropout off, BN uses running statistics
  head->train();
  auto c = head->forward(x);
  CHECK_FALSE(torch::allclose(a, c));  // train: dropout and batch statistics change the output
}

TEST_CASE("Classifier composes backbone, pooling and head with parts by name", "[nn][model]") {
  torch::manual_seed(0);
  Classifier<Net> net(5);
  net->eval();
  auto logits = net->forward(torch::rand({2, 3, 64, 64}));
  CHECK(logits.sizes() == torch::IntArrayRef({2, 5}));
  CHECK(net->features(torch::rand({1, 3, 64, 64})).size(1) == 1280);
  const auto n_backbone = net->parameters_of("backbone").size();
  const auto n_head = net->parameters_of("head").size();
  CHECK(n_backbone + n_head == net->parameters().size());
  CHECK_THROWS_WITH(net->parameters_of("neck"), Catch::Contains("has no part 'neck'"));

  Classifier<ConcatNet> wide(3);  // concat pooling: the head receives 2 x 1280 features
  wide->eval();
  CHECK(wide->features(torch::rand({1, 3, 64, 64})).size(1) == 2560);
  CHECK(wide->forward(torch::rand({1, 3, 64, 64})).size(1) == 3);
}

TEST_CASE("make_optimizer builds one param group per Group with its lr and weight decay", "[optim]") {
  Classifier<Net> net(4);
  auto opt = make_optimizer<Recipe>(*net);
  auto& groups = opt->param_groups();
  REQUIRE(groups.size() == 2);
  auto& g0 = static_cast<torch::optim::SGDOptions&>(groups[0].options());
  auto& g1 = static_cast<torch::optim::SGDOptions&>(groups[1].options());
  CHECK(g0.lr() == 1e-2);
  CHECK(g1.lr() == 1e-3);
  CHECK(g0.momentum() == 0.9);
  CHECK(g1.weight_decay() == 1e-4);
  CHECK(groups[0].params().size() == net->parameters_of("backbone").size());
  CHECK(groups[1].params().size() == net->parameters_of("head").size());

  // One step moves the head by exactly lr * grad (first SGD step: the momentum buffer is the grad).
  auto w = net->head()->named_parameters()["6.weight"];
  auto before = w.detach().clone();
  opt->zero_grad();
  net->train();
  torch::nn::functional::cross_entropy(net->forward(torch::rand({4, 3, 32, 32})), torch::tensor({0, 1, 2, 3})).backward();
  auto grad = w.grad().clone();
  opt->step();
  CHECK(torch::allclose(w.detach(), before - 1e-3 * (grad + 1e-4 * before), 1e-5, 1e-7));
}

TEST_CASE("Checkpoints round-trip weights and the class map, atomically, and refuse another model", "[train][checkpoint]") {
  const auto dir = temp_dir("ckpt");
  torch::manual_seed(1);
  Classifier<Net> a(3);
  const std::vector<std::string> names = {"1", "10", "2"};  // string order, as an ImageFolder gives it
  ftmeta::train::CheckpointInfo written;
  written.class_names = names;
  written.model = Net::describe();
  written.epoch = 4;
  written.metric = 0.75;
  written.image_size = 64;
  ftmeta::train::save_checkpoint(dir / "best.pt", *a, written);
  CHECK(std::filesystem::exists(dir / "best.pt"));
  for (auto& e : std::filesystem::directory_iterator(dir)) CHECK(e.path().filename() == "best.pt");  // no temporary left

  torch::manual_seed(2);
  Classifier<Net> b(3);
  auto info = ftmeta::train::load_checkpoint(dir / "best.pt", *b, Net::describe());
  CHECK(info.class_names == names);
  CHECK(info.epoch == 4);
  CHECK(info.metric == 0.75);
  CHECK(info.image_size == 64);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (auto& p : pa) CHECK(torch::equal(p.value(), pb[p.key()]));
  CHECK(torch::equal(a->head()->named_buffers()["0.running_var"], b->head()->named_buffers()["0.running_var"]));

  Classifier<ConcatNet> other(3);
  CHECK_THROWS_WITH(ftmeta::train::load_checkpoint(dir / "best.pt", *other, ConcatNet::describe()),
                    Catch::Contains("was written for model"));
  std::ofstream(dir / "garbage.pt") << "not a checkpoint";
  CHECK_THROWS_WITH(ftmeta::train::read_checkpoint_info(dir / "garbage.pt"), Catch::Contains("garbage.pt"));
  CHECK_THROWS_WITH(ftmeta::train::read_checkpoint_info(dir / "missing.pt"), Catch::Contains("does not exist"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("Device flags: cpu works, unknown or unavailable devices are usage errors", "[train][device]") {
  CHECK(ftmeta::train::resolve_device("cpu").is_cpu());
  CHECK_THROWS_WITH(ftmeta::train::resolve_device("tpu"), Catch::Contains("device tpu: expected cpu, cuda or cuda:N"));
  CHECK_THROWS_WITH(ftmeta::train::resolve_device("cuda:x"), Catch::Contains("expected cpu, cuda or cuda:N"));
  if (!torch::cuda::is_available()) {
    CHECK(ftmeta::train::resolve_device("auto").is_cpu());
    CHECK_THROWS_WITH(ftmeta::train::resolve_device("cuda:0"), Catch::Contains("no CUDA device"));
  }
}

TEST_CASE("The command-line parser names the flag at fault", "[util][cli]") {
  using ftmeta::app::Args;
  const std::vector<ftmeta::app::Flag> flags = {{"epochs", true, ""}, {"help", false, ""}};
  const char* ok[] = {"prog", "--epochs", "3", "a.png", "--help"};
  Args args(5, ok, flags);
  CHECK(args.get_int("epochs", 1, 1, 10) == 3);
  CHECK(args.has("help"));
  CHECK(args.positional() == std::vector<std::string>{"a.png"});
  const char* eq[] = {"prog", "--epochs=7"};
  CHECK(Args(2, eq, flags).get_int("epochs", 1) == 7);
  const char* unknown[] = {"prog", "--epoch", "3"};
  CHECK_THROWS_WITH(Args(3, unknown, flags), "unknown flag --epoch (see --help)");
  const char* missing[] = {"prog", "--epochs"};
  CHECK_THROWS_WITH(Args(2, missing, flags), "--epochs needs a value");
  const char* bad[] = {"prog", "--epochs", "3x"};
  CHECK_THROWS_WITH(Args(3, bad, flags).get_int("epochs", 1), "--epochs: expected an integer, got '3x'");
  const char* range[] = {"prog", "--epochs", "0"};
  CHECK_THROWS_WITH(Args(3, range, flags).get_int("epochs", 1, 1, 10), Catch::Contains("out of range"));
}

}  // namespace unit_train_model_and_checkpoint
