// Tests of timm's backbones (MobileNetV3-Small/-Large, EfficientNet-B0, ConvNeXt-Tiny, ViT-S/16):
// timm's keys, eval-mode parity with timm on seeded random weights, position embeddings resampled
// at 64 px, stages, strict loads from timm's folder (references by tests/python/refs/timm_models.py).
#include <ftmeta/nn/timm_models.hpp>

#include "support/close.hpp"
#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>

namespace unit_models_timm {

using namespace ftmeta::nn;

namespace {

std::filesystem::path refs() { return ftmeta::test::refs_dir() / "timm_models"; }

using ftmeta::test::check_close;

// Loads timm's folder NAME/ into the backbone and checks keys, stages, pre-logits features and
// timm's logits (features through the file's own classifier) on NAME_input.npy (or STEM_input.npy).
template <class Descriptor>
void check_timm(const std::string& stem = std::string(Descriptor::name)) {
  const std::string name(Descriptor::name);
  auto net = backbone_module<Descriptor>::make(3);
  const auto sd = load_state_dict_file(refs() / name);
  std::map<std::string, std::vector<std::int64_t>> file_keys, net_keys;
  for (const auto& [k, t] : sd)
    if (!k.starts_with(Descriptor::classifier_prefix)) file_keys[k] = t.sizes().vec();
  for (const auto& [k, t] : state_dict_of(*net)) net_keys[k] = t.sizes().vec();
  CHECK(net_keys == file_keys);

  std::set<std::string_view> stages;
  for (const auto& [key, t] : state_dict_of(*net)) {
    INFO(key);
    const auto stage = Descriptor::stage_of(key);
    CHECK(!stage.empty());
    stages.insert(stage);
  }
  CHECK(stages.size() == Descriptor::stages.size());
  CHECK(Descriptor::stage_of(std::string(Descriptor::classifier_prefix) + "weight").empty());

  const auto report = backbone_module<Descriptor>::load(net, refs() / name);
  CHECK(report.ok());
  CHECK(report.loaded == file_keys.size());
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = ftmeta::test::load_npy(refs() / (stem + "_input.npy"));
  const auto features = net->forward(x).mean({2, 3});
  CHECK(features.size(1) == Descriptor::feature_width);
  check_close(features, ftmeta::test::load_npy(refs() / (stem + "_features.npy")), 1e-4);
  const std::string fc(Descriptor::classifier_prefix);
  const auto logits = torch::linear(features, sd.find(fc + "weight"), sd.find(fc + "bias"));
  check_close(logits, ftmeta::test::load_npy(refs() / (stem + "_logits.npy")), 1e-4);
}

}  // namespace

TEST_CASE("timm: mobilenetv3_small_100 matches timm", "[models][timm]") { check_timm<backbones::MobileNetV3Small>(); }
TEST_CASE("timm: mobilenetv3_large_100 matches timm", "[models][timm]") { check_timm<backbones::MobileNetV3Large>(); }
TEST_CASE("timm: efficientnet_b0 matches timm", "[models][timm]") { check_timm<backbones::EfficientNetB0>(); }
TEST_CASE("timm: convnext_tiny matches timm", "[models][timm]") { check_timm<backbones::ConvNeXtTiny>(); }
TEST_CASE("timm: vit_small_patch16_224 matches timm at 224 and, position embeddings resampled, at 64 px", "[models][timm]") {
  check_timm<backbones::ViTSmall16>("vit_small_patch16_224_224");  // the 14 x 14 grid as trained
  check_timm<backbones::ViTSmall16>();                             // 4 x 4: resampled as timm's dynamic_img_size
  ViT net(backbones::ViTSmall16{});
  CHECK_THROWS_WITH(net->forward(torch::zeros({1, 3, 40, 48})), Catch::Contains("multiples of 16, got [1, 3, 40, 48]"));
}

TEST_CASE("timm: timm's resnet18 folder (torchvision's keys) matches timm in ftmeta's ResNet-18", "[models][timm]") {
  check_timm<backbones::ResNet18>("resnet18");
}

TEST_CASE("timm: a gray stem and a wrong architecture", "[models][timm]") {
  auto rgb = backbone_module<backbones::ConvNeXtTiny>::make(3);
  auto gray = backbone_module<backbones::ConvNeXtTiny>::make(1);
  CHECK(backbone_module<backbones::ConvNeXtTiny>::load(rgb, refs() / "convnext_tiny").ok());
  CHECK(backbone_module<backbones::ConvNeXtTiny>::load(gray, refs() / "convnext_tiny").ok());
  rgb->eval();
  gray->eval();
  torch::NoGradGuard no_grad;
  const auto g = torch::randn({1, 1, 64, 64});
  check_close(gray->forward(g), rgb->forward(g.expand({1, 3, 64, 64})), 1e-4);

  // MobileNetV3-Large's file in MobileNetV3-Small: one line, the file, the first key that differs
  // in forward order (Small's first block has a squeeze-excite, Large's has not).
  auto small = backbone_module<backbones::MobileNetV3Small>::make(3);
  try {
    backbone_module<backbones::MobileNetV3Small>::load(small, refs() / "mobilenetv3_large_100");
    FAIL("loaded another architecture");
  } catch (const ftmeta::WeightsError& e) {
    const std::string msg = e.what();
    CHECK(msg.find('\n') == std::string::npos);
    CHECK_THAT(msg, Catch::Contains("mobilenetv3_large_100/model.safetensors") && Catch::Contains("first at 'blocks.0.0.se.conv_reduce.weight' (missing from the file)") &&
                        Catch::Contains("nothing was loaded"));
  }
  CHECK_THROWS_WITH(backbone_module<backbones::EfficientNetB0>::pretrained(), Catch::Contains("no bundled weights for efficientnet_b0"));
}

}  // namespace unit_models_timm
