// ftmeta/nn/impl/mobilenet.ipp: the definitions of mobilenet.hpp's modules and functions: included by that header when
// header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/nn/mobilenet.hpp>




namespace ftmeta::nn::detail {

FTMETA_DECL ConvBn::ConvBn(torch::nn::Module& parent, const std::string& name, std::int64_t in, std::int64_t out, std::int64_t kernel,
       std::int64_t stride, std::int64_t groups, bool relu6)
    : conv(conv_plain(in, out, kernel, stride, (kernel - 1) / 2, groups)), bn(SyncableBatchNorm2d(out)), act(relu6) {
  auto seq = parent.register_module(name, std::make_shared<torch::nn::Module>("Conv2dNormActivation"));
  seq->register_module("0", conv);
  seq->register_module("1", bn);
}

}  // namespace ftmeta::nn::detail

namespace ftmeta::nn {

FTMETA_DECL InvertedResidualImpl::InvertedResidualImpl(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expand)
    : skip_(stride == 1 && in == out) {
  const std::int64_t hidden = in * expand;
  auto conv = register_module("conv", std::make_shared<torch::nn::Module>("Sequential"));
  int i = 0;
  if (expand != 1) expand_ = detail::ConvBn(*conv, std::to_string(i++), in, hidden, 1, 1, 1, true);
  depthwise_ = detail::ConvBn(*conv, std::to_string(i++), hidden, hidden, 3, stride, hidden, true);
  project_ = conv->register_module(std::to_string(i++), detail::conv_plain(hidden, out, 1));
  project_bn_ = conv->register_module(std::to_string(i++), SyncableBatchNorm2d(out));
}

FTMETA_DECL torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& x) {
  auto y = expand_.conv ? expand_(x) : x;
  y = project_bn_(project_(depthwise_(y)));
  return skip_ ? x + y : y;
}

FTMETA_DECL MobileNetV2Impl::MobileNetV2Impl(std::int64_t in_channels) : in_channels_(in_channels) {
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

FTMETA_DECL torch::Tensor MobileNetV2Impl::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != in_channels_)
    throw UsageError("MobileNetV2::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " +
                     detail::shape_text(x));
  x = stem_(x);
  for (auto& block : blocks_) x = block->forward(x);
  return head_(x);
}

}  // namespace ftmeta::nn

