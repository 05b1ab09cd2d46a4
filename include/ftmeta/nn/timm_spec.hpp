// ftmeta/nn/timm_spec.hpp: descriptors of timm's backbones (MobileNetV3, EfficientNet-B0, ConvNeXt, ViT) under timm's key names.
// ftmeta:pure
#pragma once

#include <ftmeta/nn/backbone_spec.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace ftmeta::nn {

/// The kinds of block in timm's EfficientNet builder (`ds`, `ir`, `cn` in its architecture strings).
enum class TimmBlockKind { DepthwiseSeparable, InvertedResidual, ConvBnAct };
/// The activations of timm's EfficientNet family.
enum class TimmAct { ReLU, HardSwish, SiLU };

/// One row of a timm EfficientNet-family architecture: `repeats` blocks of one kind in stage
/// `stage` (timm's `blocks.<stage>`), the first with `stride`; `expand` is the expansion ratio,
/// `se` the squeeze-excite ratio (0: none).
struct TimmBlockRow {
  std::int64_t stage;
  TimmBlockKind kind;
  std::int64_t repeats, kernel, stride;
  double expand;
  std::int64_t out;
  double se;
  TimmAct act;
};

namespace detail {
// timm's make_divisible(v, 8): to the nearest multiple of 8, never below 90% of v.
constexpr std::int64_t make_divisible8(double v) {
  std::int64_t n = static_cast<std::int64_t>(v + 4.0) / 8 * 8;
  if (n < 8) n = 8;
  if (static_cast<double>(n) < 0.9 * v) n += 8;
  return n;
}
// The stage of a timm EfficientNet-family key: "stem" (conv_stem, bn1), "stage1".."stageN"
// (blocks.0 .. blocks.N-1), "head" (conv_head, bn2), or "".
template <std::size_t N>
constexpr std::string_view timm_effnet_stage_of(std::string_view key, const std::array<std::string_view, N>& stages) {
  if (name_under(key, "conv_stem.") || name_under(key, "bn1.")) return "stem";
  if (name_under(key, "conv_head.") || name_under(key, "bn2.")) return "head";
  if (!name_under(key, "blocks.")) return "";
  const auto i = index_at(key, 7);
  if (i < 0 || static_cast<std::size_t>(i) + 2 >= N) return "";
  return stages[static_cast<std::size_t>(i) + 1];
}
}  // namespace detail

namespace backbones {

/// What timm's EfficientNet-builder backbones share: the key names of their stem, head and
/// classifier, and ImageNet statistics (timm's pretrained_cfg: 224 px, bicubic, crop 0.875).
struct TimmEfficientNetFamily {
  static constexpr std::string_view stem_weight = "conv_stem.weight";
  static constexpr std::string_view classifier_prefix = "classifier.";
  static constexpr double mean[3] = {0.485, 0.456, 0.406};
  static constexpr double std[3] = {0.229, 0.224, 0.225};
  static constexpr std::int64_t input_size = 224;
  static constexpr double crop_pct = 0.875;
  static constexpr std::string_view interpolation = "bicubic";
};

/// timm's mobilenetv3_large_100 without `classifier`: keys conv_stem, bn1, blocks.S.B..., conv_head;
/// forward pools, then conv_head (with bias) and hard-swish give [N, 1280, 1, 1].
struct MobileNetV3Large : TimmEfficientNetFamily {
  static constexpr std::string_view name = "mobilenetv3_large_100";
  static constexpr std::int64_t feature_width = 1280;
  static constexpr std::int64_t stem_width = 16;
  static constexpr std::int64_t head_input = 960;
  static constexpr bool mobilenet_v3 = true;  // pooled head conv with bias, hard-sigmoid SE from the expanded width
  static constexpr std::array<TimmBlockRow, 10> rows{{
      {0, TimmBlockKind::DepthwiseSeparable, 1, 3, 1, 1.0, 16, 0.0, TimmAct::ReLU},
      {1, TimmBlockKind::InvertedResidual, 1, 3, 2, 4.0, 24, 0.0, TimmAct::ReLU},
      {1, TimmBlockKind::InvertedResidual, 1, 3, 1, 3.0, 24, 0.0, TimmAct::ReLU},
      {2, TimmBlockKind::InvertedResidual, 3, 5, 2, 3.0, 40, 0.25, TimmAct::ReLU},
      {3, TimmBlockKind::InvertedResidual, 1, 3, 2, 6.0, 80, 0.0, TimmAct::HardSwish},
      {3, TimmBlockKind::InvertedResidual, 1, 3, 1, 2.5, 80, 0.0, TimmAct::HardSwish},
      {3, TimmBlockKind::InvertedResidual, 2, 3, 1, 2.3, 80, 0.0, TimmAct::HardSwish},
      {4, TimmBlockKind::InvertedResidual, 2, 3, 1, 6.0, 112, 0.25, TimmAct::HardSwish},
      {5, TimmBlockKind::InvertedResidual, 3, 5, 2, 6.0, 160, 0.25, TimmAct::HardSwish},
      {6, TimmBlockKind::ConvBnAct, 1, 1, 1, 1.0, 960, 0.0, TimmAct::HardSwish},
  }};
  static constexpr std::array<std::string_view, 9> stages{"stem", "stage1", "stage2", "stage3", "stage4",
                                                          "stage5", "stage6", "stage7", "head"};
  static constexpr std::string_view stage_of(std::string_view key) { return detail::timm_effnet_stage_of(key, stages); }
};

/// timm's mobilenetv3_small_100 without `classifier`: [N, 1024, 1, 1] after the pooled head conv.
struct MobileNetV3Small : TimmEfficientNetFamily {
  static constexpr std::string_view name = "mobilenetv3_small_100";
  static constexpr std::int64_t feature_width = 1024;
  static constexpr std::int64_t stem_width = 16;
  static constexpr std::int64_t head_input = 576;
  static constexpr bool mobilenet_v3 = true;
  static constexpr std::array<TimmBlockRow, 8> rows{{
      {0, TimmBlockKind::DepthwiseSeparable, 1, 3, 2, 1.0, 16, 0.25, TimmAct::ReLU},
      {1, TimmBlockKind::InvertedResidual, 1, 3, 2, 4.5, 24, 0.0, TimmAct::ReLU},
      {1, TimmBlockKind::InvertedResidual, 1, 3, 1, 3.67, 24, 0.0, TimmAct::ReLU},
      {2, TimmBlockKind::InvertedResidual, 1, 5, 2, 4.0, 40, 0.25, TimmAct::HardSwish},
      {2, TimmBlockKind::InvertedResidual, 2, 5, 1, 6.0, 40, 0.25, TimmAct::HardSwish},
      {3, TimmBlockKind::InvertedResidual, 2, 5, 1, 3.0, 48, 0.25, TimmAct::HardSwish},
      {4, TimmBlockKind::InvertedResidual, 3, 5, 2, 6.0, 96, 0.25, TimmAct::HardSwish},
      {5, TimmBlockKind::ConvBnAct, 1, 1, 1, 1.0, 576, 0.0, TimmAct::HardSwish},
  }};
  static constexpr std::array<std::string_view, 8> stages{"stem", "stage1", "stage2", "stage3", "stage4",
                                                          "stage5", "stage6", "head"};
  static constexpr std::string_view stage_of(std::string_view key) { return detail::timm_effnet_stage_of(key, stages); }
};

/// timm's efficientnet_b0 without `classifier`: conv_stem, bn1, blocks.0-6, conv_head, bn2 (SiLU);
/// forward returns the map [N, 1280, ceil(H/32), ceil(W/32)].
struct EfficientNetB0 : TimmEfficientNetFamily {
  static constexpr std::string_view name = "efficientnet_b0";
  static constexpr std::int64_t feature_width = 1280;
  static constexpr std::int64_t stem_width = 32;
  static constexpr std::int64_t head_input = 320;
  static constexpr bool mobilenet_v3 = false;  // head conv + BatchNorm on the map, sigmoid SE from the block's input
  static constexpr std::array<TimmBlockRow, 7> rows{{
      {0, TimmBlockKind::DepthwiseSeparable, 1, 3, 1, 1.0, 16, 0.25, TimmAct::SiLU},
      {1, TimmBlockKind::InvertedResidual, 2, 3, 2, 6.0, 24, 0.25, TimmAct::SiLU},
      {2, TimmBlockKind::InvertedResidual, 2, 5, 2, 6.0, 40, 0.25, TimmAct::SiLU},
      {3, TimmBlockKind::InvertedResidual, 3, 3, 2, 6.0, 80, 0.25, TimmAct::SiLU},
      {4, TimmBlockKind::InvertedResidual, 3, 5, 1, 6.0, 112, 0.25, TimmAct::SiLU},
      {5, TimmBlockKind::InvertedResidual, 4, 5, 2, 6.0, 192, 0.25, TimmAct::SiLU},
      {6, TimmBlockKind::InvertedResidual, 1, 3, 1, 6.0, 320, 0.25, TimmAct::SiLU},
  }};
  static constexpr std::array<std::string_view, 9> stages{"stem", "stage1", "stage2", "stage3", "stage4",
                                                          "stage5", "stage6", "stage7", "head"};
  static constexpr std::string_view stage_of(std::string_view key) { return detail::timm_effnet_stage_of(key, stages); }
};

/// timm's convnext_tiny without `head.fc`: stem.0 (4x4 patchify), stem.1, stages.0-3 (depths 3, 3,
/// 9, 3; widths 96..768), head.norm; forward pools and normalizes: [N, 768, 1, 1].
struct ConvNeXtTiny {
  static constexpr std::string_view name = "convnext_tiny";
  static constexpr std::int64_t feature_width = 768;
  static constexpr std::array<std::int64_t, 4> depths{3, 3, 9, 3};
  static constexpr std::array<std::int64_t, 4> widths{96, 192, 384, 768};
  static constexpr std::array<std::string_view, 6> stages{"stem", "stage1", "stage2", "stage3", "stage4", "head"};
  static constexpr std::string_view stage_of(std::string_view key) {
    if (detail::name_under(key, "stem.")) return "stem";
    if (detail::name_under(key, "head.norm.")) return "head";
    if (!detail::name_under(key, "stages.")) return "";
    const auto i = detail::index_at(key, 7);
    return i < 0 || i > 3 ? std::string_view() : stages[static_cast<std::size_t>(i) + 1];
  }
  static constexpr std::string_view stem_weight = "stem.0.weight";
  static constexpr std::string_view classifier_prefix = "head.fc.";
  static constexpr double mean[3] = {0.485, 0.456, 0.406};
  static constexpr double std[3] = {0.229, 0.224, 0.225};
  static constexpr std::int64_t input_size = 224;
  static constexpr double crop_pct = 0.95;
  static constexpr std::string_view interpolation = "bicubic";
};

/// timm's vit_small_patch16_224 without `head`: 16 px patches, width 384, 12 blocks of 6 heads, a
/// class token; position embeddings (14 x 14 + 1) resampled bicubically for other input sizes, as
/// timm's dynamic_img_size does. forward returns the normalized class token as [N, 384, 1, 1].
struct ViTSmall16 {
  static constexpr std::string_view name = "vit_small_patch16_224";
  static constexpr std::int64_t feature_width = 384;
  static constexpr std::int64_t patch = 16, depth = 12, heads = 6, mlp_ratio = 4, grid = 14;
  static constexpr std::array<std::string_view, 14> stages{"embed", "block1", "block2", "block3", "block4",
                                                           "block5", "block6", "block7", "block8", "block9",
                                                           "block10", "block11", "block12", "norm"};
  static constexpr std::string_view stage_of(std::string_view key) {
    if (key == "cls_token" || key == "pos_embed" || detail::name_under(key, "patch_embed.")) return "embed";
    if (detail::name_under(key, "norm.")) return "norm";
    if (!detail::name_under(key, "blocks.")) return "";
    const auto i = detail::index_at(key, 7);
    return i < 0 || i >= depth ? std::string_view() : stages[static_cast<std::size_t>(i) + 1];
  }
  static constexpr std::string_view stem_weight = "patch_embed.proj.weight";
  static constexpr std::string_view classifier_prefix = "head.";
  static constexpr double mean[3] = {0.5, 0.5, 0.5};
  static constexpr double std[3] = {0.5, 0.5, 0.5};
  static constexpr std::int64_t input_size = 224;
  static constexpr double crop_pct = 0.9;
  static constexpr std::string_view interpolation = "bicubic";
};

}  // namespace backbones

}  // namespace ftmeta::nn
