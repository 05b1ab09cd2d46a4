// Runtime tests of checkpoints that carry the optimizer's state, so a resumed run steps exactly as
// the uninterrupted one would.
#include <ftmeta/train/checkpoint.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_checkpoint_resume {

namespace {
struct Tiny : torch::nn::Module {
  Tiny() { fc = register_module("fc", torch::nn::Linear(4, 3)); }
  torch::Tensor forward(const torch::Tensor& x) { return fc->forward(x); }
  torch::nn::Linear fc{nullptr};
};

void step(Tiny& m, torch::optim::Optimizer& opt, int seed) {
  torch::manual_seed(seed);
  auto x = torch::randn({8, 4});
  auto y = torch::randint(0, 3, {8});
  opt.zero_grad();
  torch::nn::functional::cross_entropy(m.forward(x), y).backward();
  opt.step();
}
}  // namespace

TEST_CASE("A checkpoint with optimizer state resumes SGD with momentum exactly", "[train][checkpoint]") {
  const auto dir = std::filesystem::temp_directory_path() / ("ftmeta_test_resume_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  torch::manual_seed(0);
  Tiny a;
  torch::optim::SGD opt_a(a.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  step(a, opt_a, 1);
  step(a, opt_a, 2);
  ftmeta::train::CheckpointInfo info{{"x", "y", "z"}, "tiny", 2, 0.5, 0, 2, 1, "abc123"};
  ftmeta::train::save_checkpoint(dir / "last.pt", a, info, &opt_a);

  Tiny b;  // a fresh process: other weights, an empty optimizer
  torch::optim::SGD opt_b(b.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  const auto read = ftmeta::train::load_checkpoint(dir / "last.pt", b, "tiny");
  CHECK(read.step == 2);
  CHECK(read.phase == 1);
  CHECK(read.split_hash == "abc123");
  REQUIRE(ftmeta::train::load_optimizer_state(dir / "last.pt", opt_b));

  // The next steps of the original and of the resumed copy are identical, momentum included.
  step(a, opt_a, 3);
  step(b, opt_b, 3);
  CHECK(torch::equal(a.fc->weight, b.fc->weight));
  CHECK(torch::equal(a.fc->bias, b.fc->bias));

  // Without the momentum buffers the resumed step would differ: the check above can fail.
  Tiny c;
  torch::optim::SGD opt_c(c.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  ftmeta::train::load_checkpoint(dir / "last.pt", c, "tiny");
  Tiny d;
  torch::optim::SGD opt_d(d.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  ftmeta::train::load_checkpoint(dir / "last.pt", d, "tiny");
  ftmeta::train::load_optimizer_state(dir / "last.pt", opt_d);
  step(c, opt_c, 3);
  step(d, opt_d, 3);
  CHECK_FALSE(torch::equal(c.fc->weight, d.fc->weight));

  // A checkpoint written without an optimizer says so.
  ftmeta::train::save_checkpoint(dir / "weights_only.pt", a, info);
  CHECK_FALSE(ftmeta::train::load_optimizer_state(dir / "weights_only.pt", opt_b));
  std::filesystem::remove_all(dir);
}

}  // namespace unit_train_checkpoint_resume
