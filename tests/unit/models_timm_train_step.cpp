// One training step of timm's MobileNetV3-Small and EfficientNet-B0 with a Linear head (forward,
// cross-entropy, backward, float64) gives PyTorch's gradients (references by
// tests/python/refs/timm_models.py, timm's model on seeded random weights).
#include <ftmeta/nn/timm_models.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

namespace unit_models_timm_train_step {

using namespace ftmeta::nn;

namespace {
struct LinearHead : Head<Linear<Classes>> {};

template <class Backbone>
void check_step(const std::string& name) {
  const auto refs = ftmeta::test::refs_dir() / "timm_models";
  Classifier<Model<Backbone, AvgPool, LinearHead>> net(5);
  CHECK(load_into(*net, refs / (name + "_step_state.safetensors")).ok());
  net->to(torch::kFloat64);
  net->train();
  const auto x = ftmeta::test::load_npy(refs / (name + "_step_input.npy"));
  const auto y = ftmeta::test::load_npy(refs / (name + "_step_target.npy"));
  const torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(x), y);
  loss.backward();
  const double want_loss = ftmeta::test::load_npy(refs / (name + "_step_loss.npy")).template item<double>();
  CHECK(std::abs(loss.template item<double>() - want_loss) <= 1e-10 * std::abs(want_loss));

  const auto grads = load_state_dict_file(refs / (name + "_step_grads.safetensors"));
  // As models_train_step.cpp: relative to the tensor's largest gradient, floored at 1e-3 of the model's.
  double global = 0;
  for (const auto& [key, g] : grads) global = std::max(global, g.abs().max().template item<double>());
  REQUIRE(global > 0);
  std::size_t compared = 0;
  double worst = 0;
  std::string worst_key;
  for (const auto& item : net->named_parameters()) {
    INFO(item.key());
    const torch::Tensor want = grads.find(item.key());
    REQUIRE(want.defined());
    const torch::Tensor p = item.value();
    REQUIRE(p.grad().defined());
    const double scale = want.abs().max().template item<double>();
    const double rel = (p.grad() - want).abs().max().template item<double>() / std::max(scale, 1e-3 * global);
    if (rel > worst) worst = rel, worst_key = item.key();
    ++compared;
  }
  INFO("worst relative error " << worst << " at " << worst_key);
  CHECK(worst <= 1e-8);
  CHECK(compared == grads.size());
}
}  // namespace

TEST_CASE("timm: one training step of mobilenetv3_small_100 gives PyTorch's gradients", "[models][timm][grad]") {
  check_step<backbones::MobileNetV3Small>("mobilenetv3_small_100");
}
TEST_CASE("timm: one training step of efficientnet_b0 gives PyTorch's gradients", "[models][timm][grad]") {
  check_step<backbones::EfficientNetB0>("efficientnet_b0");
}

}  // namespace unit_models_timm_train_step
