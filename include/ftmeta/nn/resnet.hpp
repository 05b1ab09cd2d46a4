// ftmeta/nn/resnet.hpp: torchvision's ResNet-18/34/50 as LibTorch modules with torchvision's key names.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/nn/batch_norm.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ftmeta::nn {

namespace detail {
FTMETA_DECL torch::nn::Conv2d conv_plain(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                                         std::int64_t padding = 0, std::int64_t groups = 1);
}  // namespace detail

/// One residual block of torchvision's ResNet: BasicBlock (conv1 3x3, conv2 3x3) or, with
/// `bottleneck`, Bottleneck (conv1 1x1, conv2 3x3 with the stride, conv3 1x1 to 4x width);
/// `downsample.0`/`downsample.1` (1x1 conv, BN) when the shape changes.
class ResNetBlockImpl : public torch::nn::Module {
 public:
  ResNetBlockImpl(std::int64_t in, std::int64_t width, std::int64_t stride, bool bottleneck);

  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr}, down_conv_{nullptr};
  SyncableBatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr}, down_bn_{nullptr};
};
TORCH_MODULE(ResNetBlock);

/// torchvision's ResNet with its classifier removed: forward returns the feature map of `layer4`,
/// [N, 512 or 2048, ceil(H/32), ceil(W/32)]. Keys are torchvision's (`conv1`, `bn1`,
/// `layer1.0.conv1`, `layer2.0.downsample.0`, ...), so its state dicts load by name.
///   ResNet net(backbones::ResNet50{}, 3);
///   load_into(*net, "resnet50.pth", {.skip_prefixes = {"fc."}});
class ResNetImpl : public torch::nn::Module {
 public:
  /// blocks: per stage; bottleneck: ResNet-50 style blocks; in_channels of the stem.
  ResNetImpl(std::array<std::int64_t, 4> blocks, bool bottleneck, std::int64_t in_channels = 3);
  /// From a descriptor: `ResNet(backbones::ResNet18{}, 1)` is a grayscale ResNet-18.
  template <class Descriptor>
    requires requires { Descriptor::bottleneck; Descriptor::blocks; }
  explicit ResNetImpl(Descriptor, std::int64_t in_channels = 3)
      : ResNetImpl(Descriptor::blocks, Descriptor::bottleneck, in_channels) {}

  torch::Tensor forward(torch::Tensor x);

  std::int64_t in_channels() const { return in_channels_; }
  std::int64_t feature_width() const { return feature_width_; }

 private:
  std::int64_t in_channels_, feature_width_;
  torch::nn::Conv2d conv1_{nullptr};
  SyncableBatchNorm2d bn1_{nullptr};
  std::vector<ResNetBlock> blocks_;
};
TORCH_MODULE(ResNet);

}  // namespace ftmeta::nn

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/nn/impl/resnet.ipp>
#endif
