// One training step of Lite0 + the blog's head (forward, cross-entropy, backward) gives PyTorch's
// gradients (references by tests/python/refs/models.py, from the real pretrained backbone, in float64).
#include <ftmeta/nn/model.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_models_train_step {

using namespace ftmeta::nn;

namespace {
struct StepHead : Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>> {};
struct StepNet : Model<backbones::EfficientNetLite0, AvgPool, StepHead> {};
}  // namespace

TEST_CASE("models: one training step gives PyTorch's gradients", "[models][grad]") {
  const auto refs = ftmeta::test::refs_dir() / "models";
  Classifier<StepNet> net(5);
  CHECK(load_into(*net, refs / "step_state.pth").ok());
  net->to(torch::kFloat64);  // as the reference: float64 leaves only the algorithms' own rounding
  net->train();
  for (const auto& m : net->modules(false))  // dropout is random: the reference ran without it too
    if (auto* d = dynamic_cast<torch::nn::DropoutImpl*>(m.get())) d->eval();

  const auto x = ftmeta::test::load_npy(refs / "step_input.npy");
  const auto y = ftmeta::test::load_npy(refs / "step_target.npy");
  const auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
  loss.backward();
  const double want_loss = ftmeta::test::load_npy(refs / "step_loss.npy").item<double>();
  CHECK(std::abs(loss.item<double>() - want_loss) <= 1e-10 * std::abs(want_loss));

  const auto grads = load_state_dict_file(refs / "step_grads.pth");
  // Errors are relative to the tensor's largest gradient, with a floor of 1e-3 of the largest
  // gradient of the model: some gradients are 0 in exact arithmetic (the bias of a BatchNorm that
  // feeds a training-mode BatchNorm through a convolution), and there both sides hold rounding noise.
  double global = 0;
  for (const auto& [key, g] : grads) global = std::max(global, g.abs().max().item<double>());
  REQUIRE(global > 0);
  std::size_t compared = 0;
  double worst = 0;
  std::string worst_key;
  for (const auto& item : net->named_parameters()) {
    const auto& key = item.key();
    const auto& p = item.value();
    INFO(key);
    const auto want = grads.find(key);
    REQUIRE(want.defined());
    REQUIRE(p.grad().defined());
    const double scale = want.abs().max().item<double>();
    const double err = (p.grad() - want).abs().max().item<double>();
    const double rel = err / std::max(scale, 1e-3 * global);
    if (rel > worst) worst = rel, worst_key = key;
    ++compared;
  }
  INFO("worst relative error " << worst << " at " << worst_key);
  CHECK(worst <= 1e-8);
  CHECK(compared == grads.size());
}

}  // namespace unit_models_train_step
