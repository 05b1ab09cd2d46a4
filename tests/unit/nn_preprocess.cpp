// Tests of the preprocessing read from weights (nn/preprocess.hpp): timm's config.json written by
// timm's save_for_hf, against timm's own evaluation transform (create_transform, written by
// tests/python/refs/timm_models.py); the descriptor's values otherwise; checkpoint lines; bad configs.
#include <ftmeta/nn/registry.hpp>
#include <ftmeta/train/checkpoint.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace unit_nn_preprocess {

using namespace ftmeta::nn;

namespace {
std::filesystem::path refs() { return ftmeta::test::refs_dir() / "timm_models"; }
std::filesystem::path scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("ftmeta_preprocess_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}
}  // namespace

TEST_CASE("preprocess: timm's config.json gives timm's evaluation pipeline", "[preprocess]") {
  // resnet18: timm's format of torchvision's keys, whose config (bicubic, crop 0.95) overrides the descriptor's.
  for (const auto* name : {"mobilenetv3_small_100", "efficientnet_b0", "convnext_tiny", "vit_small_patch16_224", "resnet18"}) {
    INFO(name);
    const auto p = registry().find(name).preprocessing_for(refs() / name);
    CHECK(p.source == (refs() / name / "config.json").string());
    std::ifstream in(refs() / (std::string(name) + "_eval.txt"));
    std::int64_t resize = 0, crop = 0;
    std::string interpolation;
    std::array<double, 3> mean{}, std{};
    REQUIRE(in >> resize >> crop >> interpolation >> mean[0] >> mean[1] >> mean[2] >> std[0] >> std[1] >> std[2]);
    const auto e = p.eval_pipeline();
    CHECK(e.resize_shorter == resize);
    CHECK(e.crop == crop);
    CHECK(e.interpolation == interpolation);
    for (int c = 0; c < 3; ++c) {
      CHECK(e.mean[c] == Approx(mean[c]).epsilon(1e-6));
      CHECK(e.std[c] == Approx(std[c]).epsilon(1e-6));
    }
    // A hub file (model.safetensors) finds the config next to it.
    CHECK(registry().find(name).preprocessing_for(refs() / name / "model.safetensors") == p);
  }
}

TEST_CASE("preprocess: without a config the descriptor's values; checkpoint lines round-trip", "[preprocess]") {
  const auto& resnet = registry().find("resnet18");
  const auto p = resnet.preprocessing_for(ftmeta::test::refs_dir() / "models" / "resnet18.pth");
  CHECK(p == preprocessing_of<backbones::ResNet18>());
  CHECK(p.source == "descriptor resnet18");
  CHECK(p.eval_pipeline().resize_shorter == 256);  // torchvision's evaluation: 256 then 224
  CHECK(preprocessing_of<backbones::ViTSmall16>().mean[0] == 0.5);

  const auto vit = registry().find("vit_small_patch16_224").preprocessing_for(refs() / "vit_small_patch16_224");
  const auto back = Preprocessing::parse(vit.serialize());
  CHECK(back == vit);
  CHECK(back.source == "checkpoint");
  CHECK_THROWS_WITH(Preprocessing::parse("mean=1,2 std=1,1,1 size=224 interpolation=bicubic crop_pct=0.9"),
                    Catch::Contains("bad field 'mean=1,2'"));
  CHECK_THROWS_WITH(Preprocessing::parse("size=224"), Catch::Contains("needs mean, std, size"));
}

TEST_CASE("preprocess: a bad config.json names the file and the field", "[preprocess]") {
  const auto dir = scratch("bad");
  const auto write = [&](const std::string& text) {
    std::ofstream(dir / "config.json") << text;
    return read_timm_config(dir / "config.json", preprocessing_of<backbones::ConvNeXtTiny>());
  };
  CHECK_THROWS_WITH(write("{\"pretrained_cfg\": {\"crop_pct\": 2}}"),
                    Catch::Contains("config.json: pretrained_cfg.crop_pct is not a number in (0, 1]"));
  CHECK_THROWS_WITH(write("{\"pretrained_cfg\": {\"mean\": [0.5, 0.5]}}"), Catch::Contains("pretrained_cfg.mean is not a list of 3"));
  CHECK_THROWS_WITH(write("{\"pretrained_cfg\": {\"input_size\": [3, 224, 200]}}"), Catch::Contains("pretrained_cfg.input_size"));
  CHECK_THROWS_WITH(write("{\"pretrained_cfg\": {"), Catch::Contains("config.json: not valid JSON"));
  const auto partial = write("{\"pretrained_cfg\": {\"crop_pct\": 1.0, \"interpolation\": \"bilinear\"}}");
  CHECK(partial.crop_pct == 1.0);
  CHECK(partial.interpolation == "bilinear");
  CHECK(partial.mean == preprocessing_of<backbones::ConvNeXtTiny>().mean);
}

TEST_CASE("preprocess: a checkpoint carries the preprocessing and names its model", "[preprocess]") {
  const auto& entry = registry().find("convnext_tiny");
  const auto p = entry.preprocessing_for(refs() / "convnext_tiny");
  auto net = entry.make(3, {});
  ftmeta::train::CheckpointInfo info;
  info.class_names = {"a", "b", "c"};
  info.model = entry.description;
  info.preprocessing = p.serialize();
  const auto file = scratch("checkpoint") / "best.pt";
  ftmeta::train::save_checkpoint(file, *net.module, info);
  const auto back = ftmeta::train::read_checkpoint_info(file);
  CHECK(Preprocessing::parse(back.preprocessing) == p);
  const auto* again = registry().described_as(back.model);
  REQUIRE(again != nullptr);
  CHECK(again->name == "convnext_tiny");
  CHECK(registry().described_as("resnet18 (512 features) -> nothing") == nullptr);
}

}  // namespace unit_nn_preprocess
