// Tests of the torchvision backbones: torchvision's keys, eval-mode parity with torchvision on
// seeded random weights (references by tests/python/refs/models.py), stages, gray stems, bindings.
#include <ftmeta/nn/model.hpp>

#include "support/close.hpp"
#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_models_backbones {

using namespace ftmeta::nn;

namespace {

std::filesystem::path refs() { return ftmeta::test::refs_dir() / "models"; }

using ftmeta::test::check_close;

// Keys and shapes of a module, and of a state dict without its classifier.
std::map<std::string, std::vector<std::int64_t>> shapes_of(const torch::nn::Module& m) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const auto& [k, t] : state_dict_of(m)) out[k] = t.sizes().vec();
  return out;
}
std::map<std::string, std::vector<std::int64_t>> shapes_of(const StateDict& sd, std::string_view classifier) {
  std::map<std::string, std::vector<std::int64_t>> out;
  for (const auto& [k, t] : sd)
    if (!k.starts_with(classifier)) out[k] = t.sizes().vec();
  return out;
}

// Loads NAME.pth into `net`, checks keys, stages, the feature map and torchvision's logits
// (the backbone's map, average-pooled, through the file's own classifier Linear).
template <class Descriptor, class Net>
void check_backbone(const std::string& name, Net& net, const std::string& fc_weight, const std::string& fc_bias) {
  const auto sd = load_state_dict_file(refs() / (name + ".pth"));
  CHECK(shapes_of(*net) == shapes_of(sd, Descriptor::classifier_prefix));
  std::set<std::string_view> stages;
  for (const auto& [key, t] : state_dict_of(*net)) {
    INFO(key);
    const auto stage = Descriptor::stage_of(key);
    CHECK(!stage.empty());
    stages.insert(stage);
  }
  CHECK(stages.size() == Descriptor::stages.size());
  CHECK(Descriptor::stage_of(fc_weight).empty());

  const auto report = backbone_module<Descriptor>::load(net, refs() / (name + ".pth"));
  CHECK(report.ok());
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = ftmeta::test::load_npy(refs() / (name + "_input.npy"));
  const auto map = net->forward(x);
  CHECK(map.size(1) == Descriptor::feature_width);
  check_close(map, ftmeta::test::load_npy(refs() / (name + "_features.npy")), 1e-4);
  const auto logits = torch::linear(map.mean({2, 3}), sd.find(fc_weight), sd.find(fc_bias));
  check_close(logits, ftmeta::test::load_npy(refs() / (name + "_logits.npy")), 1e-4);
}

}  // namespace

TEST_CASE("models: resnet18 matches torchvision", "[models]") {
  ResNet net(backbones::ResNet18{});
  check_backbone<backbones::ResNet18>("resnet18", net, "fc.weight", "fc.bias");
}

TEST_CASE("models: resnet34 matches torchvision", "[models]") {
  ResNet net(backbones::ResNet34{});
  check_backbone<backbones::ResNet34>("resnet34", net, "fc.weight", "fc.bias");
}

TEST_CASE("models: resnet50 matches torchvision", "[models]") {
  ResNet net(backbones::ResNet50{});
  check_backbone<backbones::ResNet50>("resnet50", net, "fc.weight", "fc.bias");
}

TEST_CASE("models: mobilenet_v2 matches torchvision", "[models]") {
  MobileNetV2 net;
  check_backbone<backbones::MobileNetV2>("mobilenet_v2", net, "classifier.1.weight", "classifier.1.bias");
}

TEST_CASE("models: a gray stem sums the RGB kernels", "[models]") {
  ResNet rgb(backbones::ResNet18{}), gray(backbones::ResNet18{}, 1);
  CHECK(backbone_module<backbones::ResNet18>::load(rgb, refs() / "resnet18.pth").ok());
  CHECK(backbone_module<backbones::ResNet18>::load(gray, refs() / "resnet18.pth").ok());
  rgb->eval();
  gray->eval();
  torch::NoGradGuard no_grad;
  const auto g = torch::randn({1, 1, 40, 40});
  check_close(gray->forward(g), rgb->forward(g.expand({1, 3, 40, 40})), 1e-4);

  MobileNetV2 two(2);
  CHECK_THROWS_WITH(backbone_module<backbones::MobileNetV2>::load(two, refs() / "mobilenet_v2.pth"),
                    Catch::Contains("3 (RGB) or 1 (gray) channels, not 2") && Catch::Contains("features.0.0.weight"));
  CHECK_THROWS_WITH(gray->forward(torch::zeros({1, 3, 32, 32})), Catch::Contains("expects [N, 1, H, W], got [1, 3, 32, 32]"));
  CHECK_THROWS_AS(ResNet(backbones::ResNet50{}, 0), ftmeta::UsageError);
}

TEST_CASE("models: a wrong file for a backbone is a clear error", "[models]") {
  ResNet net(backbones::ResNet34{});
  // resnet18's file lacks the extra blocks of resnet34: strict, nothing loaded, the keys named.
  CHECK_THROWS_WITH(backbone_module<backbones::ResNet34>::load(net, refs() / "resnet18.pth"),
                    Catch::Contains("resnet18.pth") && Catch::Contains("missing from the file") &&
                        Catch::Contains("layer1.2.conv1.weight"));
  CHECK_THROWS_WITH(backbone_module<backbones::ResNet34>::pretrained(), Catch::Contains("no bundled weights for resnet34"));
}

TEST_CASE("models: stages of the descriptors", "[models]") {
  STATIC_REQUIRE(backbones::ResNet50::stage_of("layer3.5.bn3.running_mean") == "layer3");
  STATIC_REQUIRE(backbones::ResNet18::stage_of("bn1.weight") == "stem");
  STATIC_REQUIRE(backbones::ResNet18::stage_of("layer10.weight").empty());
  STATIC_REQUIRE(backbones::MobileNetV2::stage_of("features.0.1.weight") == "stem");
  STATIC_REQUIRE(backbones::MobileNetV2::stage_of("features.1.conv.0.0.weight") == "stage1");
  STATIC_REQUIRE(backbones::MobileNetV2::stage_of("features.17.conv.3.bias") == "stage7");
  STATIC_REQUIRE(backbones::MobileNetV2::stage_of("features.18.0.weight") == "head");
  STATIC_REQUIRE(backbones::MobileNetV2::stage_of("features.19.0.weight").empty());
  STATIC_REQUIRE(backbones::MobileNetV2::stage_of("classifier.1.weight").empty());
  STATIC_REQUIRE(backbones::EfficientNetLite0::stage_of("_fc.weight").empty());
}

}  // namespace unit_models_backbones
