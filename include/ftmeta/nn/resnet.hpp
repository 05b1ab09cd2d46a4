// ftmeta/nn/resnet.hpp: torchvision's ResNet-18/34/50 as LibTorch modules with torchvision's key names.
#pragma once

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
inline torch::nn::Conv2d conv_plain(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                                    std::int64_t padding = 0, std::int64_t groups = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).groups(groups).bias(false));
}
}  // namespace detail

/// One residual block of torchvision's ResNet: BasicBlock (conv1 3x3, conv2 3x3) or, with
/// `bottleneck`, Bottleneck (conv1 1x1, conv2 3x3 with the stride, conv3 1x1 to 4x width);
/// `downsample.0`/`downsample.1` (1x1 conv, BN) when the shape changes.
class ResNetBlockImpl : public torch::nn::Module {
 public:
  ResNetBlockImpl(std::int64_t in, std::int64_t width, std::int64_t stride, bool bottleneck) {
    const std::int64_t out = bottleneck ? width * 4 : width;
    if (bottleneck) {
      conv1_ = register_module("conv1", detail::conv_plain(in, width, 1));
      bn1_ = register_module("bn1", SyncableBatchNorm2d(width));
      conv2_ = register_module("conv2", detail::conv_plain(width, width, 3, stride, 1));
      bn2_ = register_module("bn2", SyncableBatchNorm2d(width));
      conv3_ = register_module("conv3", detail::conv_plain(width, out, 1));
      bn3_ = register_module("bn3", SyncableBatchNorm2d(out));
    } else {
      conv1_ = register_module("conv1", detail::conv_plain(in, width, 3, stride, 1));
      bn1_ = register_module("bn1", SyncableBatchNorm2d(width));
      conv2_ = register_module("conv2", detail::conv_plain(width, width, 3, 1, 1));
      bn2_ = register_module("bn2", SyncableBatchNorm2d(width));
    }
    if (stride != 1 || in != out) {
      down_conv_ = detail::conv_plain(in, out, 1, stride);
      down_bn_ = SyncableBatchNorm2d(out);
      auto down = register_module("downsample", std::make_shared<torch::nn::Module>("Sequential"));
      down->register_module("0", down_conv_);
      down->register_module("1", down_bn_);
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1_(conv1_(x)));
    y = bn2_(conv2_(y));
    if (conv3_) y = bn3_(conv3_(torch::relu(y)));
    return torch::relu(y + (down_conv_ ? down_bn_(down_conv_(x)) : x));
  }

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
  ResNetImpl(std::array<std::int64_t, 4> blocks, bool bottleneck, std::int64_t in_channels = 3)
      : in_channels_(in_channels), feature_width_(bottleneck ? 2048 : 512) {
    if (in_channels < 1)
      throw UsageError("ResNet(in_channels): in_channels must be >= 1, not " + std::to_string(in_channels));
    conv1_ = register_module("conv1", detail::conv_plain(in_channels, 64, 7, 2, 3));
    bn1_ = register_module("bn1", SyncableBatchNorm2d(64));
    std::int64_t in = 64;
    for (std::size_t s = 0; s < 4; ++s) {
      const std::int64_t width = 64 << s;
      auto stage = register_module("layer" + std::to_string(s + 1), torch::nn::ModuleList());
      for (std::int64_t b = 0; b < blocks[s]; ++b) {
        ResNetBlock block(in, width, b == 0 && s > 0 ? 2 : 1, bottleneck);
        stage->push_back(block);
        blocks_.push_back(block);
        in = bottleneck ? width * 4 : width;
      }
    }
  }
  /// From a descriptor: `ResNet(backbones::ResNet18{}, 1)` is a grayscale ResNet-18.
  template <class Descriptor>
    requires requires { Descriptor::bottleneck; Descriptor::blocks; }
  explicit ResNetImpl(Descriptor, std::int64_t in_channels = 3)
      : ResNetImpl(Descriptor::blocks, Descriptor::bottleneck, in_channels) {}

  torch::Tensor forward(torch::Tensor x) {
    if (x.dim() != 4 || x.size(1) != in_channels_)
      throw UsageError("ResNet::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " +
                       detail::shape_text(x));
    x = torch::max_pool2d(torch::relu(bn1_(conv1_(x))), 3, 2, 1);
    for (auto& block : blocks_) x = block->forward(x);
    return x;
  }

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
