// ftmeta/nn/mobilenet.hpp: torchvision's MobileNetV2 as a LibTorch module with torchvision's key names.
#pragma once

#include <ftmeta/core/config.hpp>
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
         std::int64_t stride, std::int64_t groups, bool relu6);
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
  InvertedResidualImpl(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expand);
  torch::Tensor forward(const torch::Tensor& x);

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
  explicit MobileNetV2Impl(std::int64_t in_channels = 3);

  torch::Tensor forward(torch::Tensor x);
  std::int64_t in_channels() const { return in_channels_; }

 private:
  std::int64_t in_channels_;
  detail::ConvBn stem_, head_;
  std::vector<InvertedResidual> blocks_;
};
TORCH_MODULE(MobileNetV2);

}  // namespace ftmeta::nn

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/nn/impl/mobilenet.ipp>
#endif
