// ftmeta/nn/impl/convnext.ipp: the definitions of convnext.hpp's modules and functions: included by that header when
// header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/nn/convnext.hpp>




namespace ftmeta::nn {

FTMETA_DECL ConvNeXtBlockImpl::ConvNeXtBlockImpl(std::int64_t width) {
  gamma_ = register_parameter("gamma", torch::full({width}, 1e-6));
  conv_dw_ = register_module(
      "conv_dw", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, width, 7).padding(3).groups(width).bias(true)));
  norm_ = register_module("norm", detail::layer_norm_6(width));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>("Mlp"));
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(width, 4 * width));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(4 * width, width));
}

FTMETA_DECL torch::Tensor ConvNeXtBlockImpl::forward(const torch::Tensor& x) {
  auto y = norm_(conv_dw_(x).permute({0, 2, 3, 1}));
  y = fc2_(torch::gelu(fc1_(y))) * gamma_;
  return y.permute({0, 3, 1, 2}) + x;
}

FTMETA_DECL torch::Tensor ConvNeXtImpl::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != in_channels_)
    throw UsageError("ConvNeXt::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " + detail::shape_text(x));
  x = detail::layer_norm_2d(stem_norm_, stem_conv_(x));
  for (auto& st : stages_) {
    if (st.down_conv) x = st.down_conv(detail::layer_norm_2d(st.down_norm, x));
    for (auto& b : st.blocks) x = b->forward(x);
  }
  return detail::layer_norm_2d(head_norm_, x.mean({2, 3}, /*keepdim=*/true));
}

}  // namespace ftmeta::nn

