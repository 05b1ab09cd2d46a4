// ftmeta/nn/mobilenet.hpp: torchvision's MobileNetV2 as a LibTorch module with torchvision's key names.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/batch_norm.hpp>
#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/nn/resnet.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ftmeta::nn {

namespace detail {
// torchvision's Conv2dNormActivation: children "0" (conv, no bias) and "1" (BatchNorm); ReLU6 after
// unless `linear`. Registered under `name` in `parent`.
struct ConvBn {
  torch::nn::Conv2d conv{nullptr};
  SyncableBatchNorm2d bn{nullptr};
  bool act = true;

  ConvBn() = default;
  ConvBn(torch::nn::Module& parent, const std::string& name, std::int64_t in, std::int64_t out, std::int64_t kernel,
         std::int64_t stride, std::int64_t groups, bool relu6)
      : conv(conv_plain(in, out, kernel, stride, (kernel - 1) / 2, groups)), bn(SyncableBatchNorm2d(out)), act(relu6) {
    auto seq = parent.register_module(name, std::make_shared<torch::nn::Module>("Conv2dNormActivation"));
    seq->register_module("0", conv);
    seq->register_module("1", bn);
  }
  torch::Tensor operator()(const torch::Tensor& x) {
    auto y = bn->forward(conv->forward(x));
    return act ? torch::hardtanh(y, 0.0, 6.0) : y;
  }
};
}  // namespace detail

/// torchvision's InvertedResidual: `conv.0` 1x1 expansion (unless t == 1), then the 3x3 depthwise,
/// then the linear 1x1 projection and its BatchNorm (`conv.N`, `conv.N+1`); identity skip when the
/// stride is 1 and in == out.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expand)
      : skip_(stride == 1 && in == out) {
    const std::int64_t hidden = in * expand;
    auto conv = register_module("conv", std::make_shared<torch::nn::Module>("Sequential"));
    int i = 0;
    if (expand != 1) expand_ = detail::ConvBn(*conv, std::to_string(i++), in, hidden, 1, 1, 1, true);
    depthwise_ = detail::ConvBn(*conv, std::to_string(i++), hidden, hidden, 3, stride, hidden, true);
    project_ = conv->register_module(std::to_string(i++), detail::conv_plain(hidden, out, 1));
    project_bn_ = conv->register_module(std::to_string(i++), SyncableBatchNorm2d(out));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = expand_.conv ? expand_(x) : x;
    y = project_bn_(project_(depthwise_(y)));
    return skip_ ? x + y : y;
  }

 private:
  bool skip_;
  detail::ConvBn expand_, depthwise_;
  torch::nn::Conv2d project_{nullptr};
  SyncableBatchNorm2d project_bn_{nullptr};
};
TORCH_MODULE(InvertedResidual);

/// torchvision's mobilenet_v2 (width 1.0) with its classifier removed: forward returns the map of
/// `features.18`, [N, 1280, ceil(H/32), ceil(W/32)]. Keys are torchvision's (`features.0.0.weight`,
/// `features.1.conv.0.0.weight`, ..., `features.18.1.running_var`).
class MobileNetV2Impl : public torch::nn::Module {
 public:
  explicit MobileNetV2Impl(std::int64_t in_channels = 3) : in_channels_(in_channels) {
    if (in_channels < 1)
      throw UsageError("MobileNetV2(in_channels): in_channels must be >= 1, not " + std::to_string(in_channels));
    using B = backbones::MobileNetV2;
    auto features = register_module("features", std::make_shared<torch::nn::Module>("Sequential"));
    int i = 0;
    stem_ = detail::ConvBn(*features, std::to_string(i++), in_channels, B::stem_width, 3, 2, 1, true);
    std::int64_t in = B::stem_width;
    for (const auto& s : B::table)
      for (std::int64_t r = 0; r < s.repeats; ++r) {
        blocks_.push_back(features->register_module(std::to_string(i++),
                                                    InvertedResidual(in, s.out, r == 0 ? s.stride : 1, s.expand)));
        in = s.out;
      }
    head_ = detail::ConvBn(*features, std::to_string(i++), in, B::feature_width, 1, 1, 1, true);
  }

  torch::Tensor forward(torch::Tensor x) {
    if (x.dim() != 4 || x.size(1) != in_channels_)
      throw UsageError("MobileNetV2::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " +
                       detail::shape_text(x));
    x = stem_(x);
    for (auto& block : blocks_) x = block->forward(x);
    return head_(x);
  }
  std::int64_t in_channels() const { return in_channels_; }

 private:
  std::int64_t in_channels_;
  detail::ConvBn stem_, head_;
  std::vector<InvertedResidual> blocks_;
};
TORCH_MODULE(MobileNetV2);

}  // namespace ftmeta::nn
