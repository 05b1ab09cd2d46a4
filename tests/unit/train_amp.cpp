// Runtime tests of mixed precision: the gradient scaler against torch.amp.GradScaler (run on the
// CPU in Python), and the autocast scope.
#include <ftmeta/train/amp.hpp>
#include <ftmeta/train/checkpoint.hpp>

#include <unistd.h>

#include <filesystem>

#include <catch2/catch.hpp>
#include <support/npy.hpp>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_amp {

TEST_CASE("GradScaler skips steps with non-finite gradients and adapts its scale as PyTorch's does", "[train][amp]") {
  const auto dir = ftmeta::test::refs_dir() / "amp";
  auto grads = ftmeta::test::load_npy(dir / "grads.npy");
  auto scales = ftmeta::test::load_npy(dir / "scales.npy");
  auto params = ftmeta::test::load_npy(dir / "params.npy");
  auto p = torch::zeros({3}).requires_grad_(true);
  torch::optim::SGD opt({p}, torch::optim::SGDOptions(0.1));
  ftmeta::train::GradScaler scaler(torch::kCPU, true, 8.0, 2.0, 0.5, 2);
  int skipped = 0;
  for (std::int64_t s = 0; s < grads.size(0); ++s) {
    opt.zero_grad();
    auto loss = (p * grads[s]).sum();
    scaler.scale(loss).backward();
    skipped += scaler.step(opt) ? 0 : 1;
    scaler.update();
    CHECK(scaler.get_scale() == scales[s].item<double>());
    CHECK(torch::allclose(p.detach(), params[s], 1e-6, 1e-7));
  }
  CHECK(skipped == 2);  // the inf and the NaN gradient
}

TEST_CASE("A GradScaler restored from a checkpoint continues as if never interrupted", "[train][amp][checkpoint]") {
  // The reference sequence of the test above, cut after each step in turn: the scaler's state goes
  // through a checkpoint file into a fresh scaler, which must then give PyTorch's scales and weights.
  const auto dir = ftmeta::test::refs_dir() / "amp";
  auto grads = ftmeta::test::load_npy(dir / "grads.npy");
  auto scales = ftmeta::test::load_npy(dir / "scales.npy");
  auto params = ftmeta::test::load_npy(dir / "params.npy");
  const auto file = std::filesystem::temp_directory_path() / ("ftmeta_test_scaler_" + std::to_string(::getpid()) + ".pt");
  const std::int64_t n = grads.size(0);
  for (std::int64_t cut = 1; cut < n; ++cut) {
    auto p = torch::zeros({3}).requires_grad_(true);
    torch::optim::SGD opt({p}, torch::optim::SGDOptions(0.1));
    auto scaler = std::make_unique<ftmeta::train::GradScaler>(torch::kCPU, true, 8.0, 2.0, 0.5, 2);
    for (std::int64_t s = 0; s < n; ++s) {
      if (s == cut) {  // "kill" here: save, then carry on with a new scaler loaded from the file
        torch::nn::Linear holder(1, 1);
        ftmeta::train::CheckpointInfo info;
        info.class_names = {"a"};
        info.scaler = scaler->state();
        ftmeta::train::save_checkpoint(file, *holder, info);
        scaler = std::make_unique<ftmeta::train::GradScaler>(torch::kCPU, true, 8.0, 2.0, 0.5, 2);
        const auto back = ftmeta::train::read_checkpoint_info(file);
        REQUIRE(back.scaler.size() == 2);
        scaler->load_state(back.scaler);
      }
      opt.zero_grad();
      (scaler->scale((p * grads[s]).sum())).backward();
      scaler->step(opt);
      scaler->update();
      CHECK(scaler->get_scale() == scales[s].item<double>());
      CHECK(torch::allclose(p.detach(), params[s], 1e-6, 1e-7));
    }
  }
  std::filesystem::remove(file);
  ftmeta::train::GradScaler off(torch::kCPU, false);
  CHECK(off.state().empty());
  ftmeta::train::GradScaler on(torch::kCPU, true);
  CHECK_THROWS_WITH(on.load_state({torch::ones({2})}), Catch::Contains("GradScaler::load_state"));
}

TEST_CASE("A disabled scaler and an fp32 autocast scope change nothing; bf16 autocast runs matmuls in bf16", "[train][amp]") {
  ftmeta::train::GradScaler off(torch::kCPU, false);
  auto loss = torch::tensor(3.0);
  CHECK(off.scale(loss).item<double>() == 3.0);
  CHECK(off.get_scale() == 1.0);
  auto a = torch::randn({4, 4}), b = torch::randn({4, 4});
  {
    ftmeta::train::AutocastScope none(torch::kCPU, ftmeta::train::Precision::fp32);
    CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);
  }
  {
    ftmeta::train::AutocastScope bf16(torch::kCPU, ftmeta::train::Precision::bf16);
    CHECK(torch::mm(a, b).scalar_type() == torch::kBFloat16);
  }
  CHECK(torch::mm(a, b).scalar_type() == torch::kFloat);  // restored on exit
  CHECK(ftmeta::train::parse_precision("bf16") == ftmeta::train::Precision::bf16);
  CHECK_THROWS_WITH(ftmeta::train::parse_precision("fp8"), Catch::Contains("precision fp8: expected fp32, fp16 or bf16"));
}

}  // namespace unit_train_amp
