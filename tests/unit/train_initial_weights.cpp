// TrainOptions::weights: the backbone's initial weights are loaded before anything derives from
// them: the EMA starts from them (files by tests/python/refs/models.py and timm_models.py); a file
// that does not fit stops the Trainer's construction, before any training.
#include <ftmeta/nn/timm_models.hpp>
#include <ftmeta/optim.hpp>
#include <ftmeta/train/trainer.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace unit_train_initial_weights {

using namespace ftmeta::optim;
namespace nn = ftmeta::nn;
namespace train = ftmeta::train;

namespace {
struct R18Net : nn::Model<nn::backbones::ResNet18, nn::AvgPool, nn::Head<nn::Linear<nn::Classes>>> {};
struct B0Net : nn::Model<nn::backbones::EfficientNetB0, nn::AvgPool, nn::Head<nn::Linear<nn::Classes>>> {};
struct PlainRecipe : Sgd<Group<BackbonePart, Lr<1e-3>>, Group<HeadPart, Lr<1e-2>>> {};

template <class Net>
std::pair<torch::Tensor, torch::Tensor> model_and_ema(train::Trainer<Net, PlainRecipe>& t, const std::string& key) {
  auto params = t.model()->named_parameters(true);
  for (std::size_t i = 0; i < params.size(); ++i)
    if (params[i].key() == key) return {params[i].value(), t.ema()->parameters()[i]};
  FAIL("no parameter " << key);
  return {};
}
}  // namespace

TEST_CASE("train: TrainOptions::weights are loaded before the EMA copies the model", "[train][weights]") {
  const auto refs = ftmeta::test::refs_dir();
  train::TrainOptions o;
  o.log = nullptr;
  o.pretrained = false;
  o.ema_decay = 0.9;
  o.weights = refs / "models" / "resnet18.pth";
  train::Trainer<R18Net, PlainRecipe> trainer({"a", "b"}, o);
  const auto file = nn::load_state_dict_file(o.weights);
  for (const auto* key : {"conv1.weight", "layer4.1.conv2.weight"}) {
    const auto [param, ema] = model_and_ema(trainer, "backbone." + std::string(key));
    CHECK(torch::equal(param, file.find(key)));
    CHECK(torch::equal(ema, file.find(key)));  // the average starts at the given weights, not at random ones
  }

  o.weights = refs / "timm_models" / "efficientnet_b0";  // timm's hub folder
  train::Trainer<B0Net, PlainRecipe> timm({"a", "b", "c"}, o);
  const auto timm_file = nn::load_state_dict_file(o.weights);
  CHECK(torch::equal(model_and_ema(timm, "backbone.blocks.5.3.conv_pwl.weight").second, timm_file.find("blocks.5.3.conv_pwl.weight")));

  o.weights = refs / "models" / "resnet34.pth";  // another architecture: the constructor refuses it
  CHECK_THROWS_WITH((train::Trainer<R18Net, PlainRecipe>({"a", "b"}, o)),
                    Catch::Contains("resnet34.pth: ") && Catch::Contains("first at ") && !Catch::Contains("\n"));
}

}  // namespace unit_train_initial_weights
