// Tests of the model registry (nn/registry.hpp): names with input size and feature width, a user's
// own Model type in one line, type-erased classifiers that load torchvision's .pth and timm's
// folders strictly (files by tests/python/refs/models.py and timm_models.py).
#include <ftmeta/nn/registry.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace unit_nn_registry {

using namespace ftmeta::nn;

namespace {
struct MyNet : Model<backbones::ResNet18, MaxPool, Head<Linear<64>, ReLU, Linear<Classes>>> {};

torch::Tensor value_of(torch::nn::Module& m, const std::string& key) {
  for (const auto& [k, t] : state_dict_of(m))
    if (k == key) return t;
  FAIL("no " << key);
  return {};
}
}  // namespace

TEST_CASE("registry: the built-in models, listed with input size and feature width", "[registry]") {
  const auto list = registry().list();
  for (const auto* name : {"resnet18", "resnet34", "resnet50", "mobilenet_v2", "efficientnet_lite0", "mobilenetv3_small_100",
                           "mobilenetv3_large_100", "efficientnet_b0", "convnext_tiny", "vit_small_patch16_224"}) {
    INFO(name);
    CHECK(registry().contains(name));
    CHECK_THAT(list, Catch::Contains(name));
  }
  CHECK(registry().find("convnext_tiny").feature_width == 768);
  CHECK(registry().find("mobilenetv3_small_100").feature_width == 1024);
  CHECK(registry().find("vit_small_patch16_224").input_size == 224);
  CHECK_THAT(list, Catch::Contains("vit_small_patch16_224   224 px   384 features   vit_small_patch16_224 (384 features) -> global average pooling"));
  CHECK_THROWS_WITH(registry().find("resnet19"), Catch::Contains("no model named 'resnet19'") && Catch::Contains("resnet18, resnet34"));
}

TEST_CASE("registry: a user's own Model type joins in one line", "[registry]") {
  ModelRegistry mine;
  add_builtin_models(mine);
  mine.add<MyNet>("my_resnet");
  CHECK_THAT(mine.list(), Catch::Contains("my_resnet               224 px   512 features   resnet18 (512 features) -> global max pooling -> Head[Linear(64), ReLU, Linear(classes)]"));
  CHECK_THROWS_WITH(mine.add<MyNet>("my_resnet"), Catch::Contains("'my_resnet' is taken"));
  auto net = mine.find("my_resnet").make(3, {});
  CHECK(net.name == "my_resnet");
  net.module->eval();
  torch::NoGradGuard no_grad;
  CHECK(net.forward(torch::zeros({2, 3, 32, 32})).sizes() == torch::IntArrayRef{2, 3});
  CHECK(value_of(*net.module, "head.2.weight").sizes() == torch::IntArrayRef{3, 64});
  CHECK(std::find(net.parts.begin(), net.parts.end(), "backbone.layer3") != net.parts.end());
  // The global registry takes it too.
  registry().add<MyNet>("registry_test_resnet");
  CHECK(registry().find("registry_test_resnet").feature_width == 512);
}

TEST_CASE("registry: loads torchvision's .pth and timm's folder into the chosen model", "[registry]") {
  const auto refs = ftmeta::test::refs_dir();
  auto resnet = registry().find("resnet18").make(10, {});
  const auto report = resnet.load_backbone(refs / "models" / "resnet18.pth");
  CHECK(report.ok());
  const auto file = load_state_dict_file(refs / "models" / "resnet18.pth");
  CHECK(torch::equal(value_of(*resnet.module, "backbone.layer4.1.bn2.running_var"), file.find("layer4.1.bn2.running_var")));

  auto convnext = registry().find("convnext_tiny").make(4, {.in_channels = 1});
  CHECK(convnext.load_backbone(refs / "timm_models" / "convnext_tiny").ok());
  const auto timm = load_state_dict_file(refs / "timm_models" / "convnext_tiny" / "model.safetensors");
  CHECK(torch::equal(value_of(*convnext.module, "backbone.stages.3.blocks.2.gamma"), timm.find("stages.3.blocks.2.gamma")));
  CHECK(torch::allclose(value_of(*convnext.module, "backbone.stem.0.weight"), timm.find("stem.0.weight").sum(1, true)));
}

TEST_CASE("registry: ModelList picks a compiled Model type by name for templated code", "[registry]") {
  using Models = ModelList<Named<"resnet18", Model<backbones::ResNet18, AvgPool, LinearClassesHead>>, Named<"mine", MyNet>>;
  const auto width = Models::with("mine", []<class Spec>() { return Spec::feature_width * 10 + static_cast<std::int64_t>(ftmeta::meta::size_v<typename Spec::head::layers>); });
  CHECK(width == 512 * 10 + 3);
  std::string seen;
  Models::with("resnet18", [&]<class Spec>() { seen = Spec::describe(); });
  CHECK_THAT(seen, Catch::StartsWith("resnet18 (512 features) -> global average pooling"));
  CHECK_THROWS_WITH(Models::with("resnet50", []<class Spec>() {}), Catch::Contains("no model named 'resnet50'; the models: resnet18, mine"));
  ModelRegistry r;
  Models::add_to(r);
  CHECK(r.models().size() == 2);
  CHECK(r.find("mine").description == MyNet::describe());
}

}  // namespace unit_nn_registry
