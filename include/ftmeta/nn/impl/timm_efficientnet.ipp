// ftmeta/nn/impl/timm_efficientnet.ipp: the definitions of timm_efficientnet.hpp's modules and functions: included by that header when
// header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/nn/timm_efficientnet.hpp>

namespace ftmeta::nn::detail {

FTMETA_DECL torch::Tensor timm_act(const torch::Tensor& x, TimmAct act) {
  switch (act) {
    case TimmAct::ReLU: return torch::relu(x);
    case TimmAct::HardSwish: return torch::hardswish(x);
    case TimmAct::SiLU: return torch::silu(x);
  }
  return x;
}

FTMETA_DECL torch::nn::Conv2d timm_conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                                        std::int64_t groups, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(((stride - 1) + (kernel - 1)) / 2)
                               .groups(groups)
                               .bias(bias));
}

}  // namespace ftmeta::nn::detail


namespace ftmeta::nn {

FTMETA_DECL TimmSqueezeExciteImpl::TimmSqueezeExciteImpl(std::int64_t channels, std::int64_t reduced, TimmAct act, bool hard_gate)
    : act_(act), hard_gate_(hard_gate) {
  reduce_ = register_module("conv_reduce", detail::timm_conv(channels, reduced, 1, 1, 1, true));
  expand_ = register_module("conv_expand", detail::timm_conv(reduced, channels, 1, 1, 1, true));
}

FTMETA_DECL torch::Tensor TimmSqueezeExciteImpl::forward(const torch::Tensor& x) {
  auto s = expand_(detail::timm_act(reduce_(x.mean({2, 3}, /*keepdim=*/true)), act_));
  return x * (hard_gate_ ? torch::hardsigmoid(s) : torch::sigmoid(s));
}

FTMETA_DECL TimmBlockImpl::TimmBlockImpl(const Config& c) : c_(c), skip_(c.kind != TimmBlockKind::ConvBnAct && c.stride == 1 && c.in == c.out) {
  const auto se = [&](std::int64_t channels) {
    if (c.se_reduced > 0) se_ = register_module("se", TimmSqueezeExcite(channels, c.se_reduced, c.se_act, c.hard_gate));
  };
  switch (c.kind) {
    case TimmBlockKind::DepthwiseSeparable:
      dw_ = register_module("conv_dw", detail::timm_conv(c.in, c.in, c.kernel, c.stride, c.in));
      bn_dw_ = register_module("bn1", SyncableBatchNorm2d(c.in));
      se(c.in);
      pw_ = register_module("conv_pw", detail::timm_conv(c.in, c.out, 1));
      bn_out_ = register_module("bn2", SyncableBatchNorm2d(c.out));
      break;
    case TimmBlockKind::InvertedResidual:
      pw_ = register_module("conv_pw", detail::timm_conv(c.in, c.mid, 1));
      bn_pw_ = register_module("bn1", SyncableBatchNorm2d(c.mid));
      dw_ = register_module("conv_dw", detail::timm_conv(c.mid, c.mid, c.kernel, c.stride, c.mid));
      bn_dw_ = register_module("bn2", SyncableBatchNorm2d(c.mid));
      se(c.mid);
      pwl_ = register_module("conv_pwl", detail::timm_conv(c.mid, c.out, 1));
      bn_out_ = register_module("bn3", SyncableBatchNorm2d(c.out));
      break;
    case TimmBlockKind::ConvBnAct:
      pw_ = register_module("conv", detail::timm_conv(c.in, c.out, c.kernel, c.stride));
      bn_out_ = register_module("bn1", SyncableBatchNorm2d(c.out));
      break;
  }
}

FTMETA_DECL torch::Tensor TimmBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y;
  switch (c_.kind) {
    case TimmBlockKind::DepthwiseSeparable:
      y = detail::timm_act(bn_dw_(dw_(x)), c_.act);
      if (se_) y = se_(y);
      y = bn_out_(pw_(y));
      break;
    case TimmBlockKind::InvertedResidual:
      y = detail::timm_act(bn_pw_(pw_(x)), c_.act);
      y = detail::timm_act(bn_dw_(dw_(y)), c_.act);
      if (se_) y = se_(y);
      y = bn_out_(pwl_(y));
      break;
    case TimmBlockKind::ConvBnAct: return detail::timm_act(bn_out_(pw_(x)), c_.act);
  }
  return skip_ ? y + x : y;
}

FTMETA_DECL torch::Tensor TimmEfficientNetImpl::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != in_channels_)
    throw UsageError(name_ + "::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " + detail::shape_text(x));
  x = detail::timm_act(bn1_(conv_stem_(x)), act_);
  for (auto& block : blocks_) x = block->forward(x);
  if (pooled_head_) return detail::timm_act(conv_head_(x.mean({2, 3}, /*keepdim=*/true)), act_);
  return detail::timm_act(bn2_(conv_head_(x)), act_);
}

}  // namespace ftmeta::nn

