// ftmeta/nn/impl/resnet.ipp: the definitions of resnet.hpp's modules and functions: included by that header when
// header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/nn/resnet.hpp>

namespace ftmeta::nn::detail {

FTMETA_DECL torch::nn::Conv2d conv_plain(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                                         std::int64_t padding, std::int64_t groups) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).groups(groups).bias(false));
}

}  // namespace ftmeta::nn::detail


namespace ftmeta::nn {

FTMETA_DECL ResNetBlockImpl::ResNetBlockImpl(std::int64_t in, std::int64_t width, std::int64_t stride, bool bottleneck) {
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

FTMETA_DECL torch::Tensor ResNetBlockImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(bn1_(conv1_(x)));
  y = bn2_(conv2_(y));
  if (conv3_) y = bn3_(conv3_(torch::relu(y)));
  return torch::relu(y + (down_conv_ ? down_bn_(down_conv_(x)) : x));
}

FTMETA_DECL ResNetImpl::ResNetImpl(std::array<std::int64_t, 4> blocks, bool bottleneck, std::int64_t in_channels)
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

FTMETA_DECL torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != in_channels_)
    throw UsageError("ResNet::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " +
                     detail::shape_text(x));
  x = torch::max_pool2d(torch::relu(bn1_(conv1_(x))), 3, 2, 1);
  for (auto& block : blocks_) x = block->forward(x);
  return x;
}

}  // namespace ftmeta::nn

