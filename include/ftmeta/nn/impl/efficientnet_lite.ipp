// ftmeta/nn/impl/efficientnet_lite.ipp: the definitions of efficientnet_lite.hpp's modules and functions: included by that header when
// header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/nn/efficientnet_lite.hpp>

namespace ftmeta::nn::detail {

FTMETA_DECL torch::Tensor conv2d_same(const torch::nn::Conv2d& conv, const torch::Tensor& x) {
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

}  // namespace ftmeta::nn::detail

namespace ftmeta::nn {

FTMETA_DECL LoadReport load_lite0_pretrained(EfficientNetLite0Impl& model,
                                             const std::filesystem::path& file) {
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


namespace ftmeta::nn {

FTMETA_DECL Lite0BlockImpl::Lite0BlockImpl(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t expand)
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

FTMETA_DECL torch::Tensor Lite0BlockImpl::forward(torch::Tensor x) {
  torch::Tensor y = x;
  if (expand_conv_) y = detail::relu6(bn0_(detail::conv2d_same(expand_conv_, y)));
  y = detail::relu6(bn1_(detail::conv2d_same(depthwise_conv_, y)));
  y = bn2_(detail::conv2d_same(project_conv_, y));
  return skip_ ? y + x : y;
}

FTMETA_DECL EfficientNetLite0Impl::EfficientNetLite0Impl(std::int64_t in_channels, std::int64_t num_classes)
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

FTMETA_DECL torch::Tensor EfficientNetLite0Impl::features(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != in_channels_)
    throw UsageError("EfficientNetLite0::forward expects [N, " + std::to_string(in_channels_) + ", H, W], got " +
                     detail::shape_text(x));
  x = detail::relu6(bn0_(detail::conv2d_same(conv_stem_, x)));
  for (const auto& block : *blocks_) x = block->as<Lite0Block>()->forward(x);
  return detail::relu6(bn1_(detail::conv2d_same(conv_head_, x)));
}

FTMETA_DECL torch::Tensor EfficientNetLite0Impl::forward(torch::Tensor x) {
  x = features(std::move(x));
  if (!fc_) return x;
  return fc_(dropout_(x.mean({2, 3})));
}

}  // namespace ftmeta::nn

