// ftmeta/nn/timm_efficientnet.hpp: timm's EfficientNet-builder backbones (MobileNetV3-Small/-Large, EfficientNet-B0) as LibTorch modules with timm's key names.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/batch_norm.hpp>
#include <ftmeta/nn/timm_spec.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ftmeta::nn {

namespace detail {
FTMETA_DECL torch::Tensor timm_act(const torch::Tensor& x, TimmAct act);
// timm's symmetric padding for odd kernels: ((stride - 1) + (kernel - 1)) / 2.
FTMETA_DECL torch::nn::Conv2d timm_conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                                        std::int64_t groups = 1, bool bias = false);
}  // namespace detail

/// timm's SqueezeExcite: mean over the map, `conv_reduce` (1x1, bias), activation, `conv_expand`
/// (1x1, bias), then the input scaled by the gate (hard sigmoid in MobileNetV3, sigmoid in EfficientNet).
class TimmSqueezeExciteImpl : public torch::nn::Module {
 public:
  TimmSqueezeExciteImpl(std::int64_t channels, std::int64_t reduced, TimmAct act, bool hard_gate);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  TimmAct act_;
  bool hard_gate_;
  torch::nn::Conv2d reduce_{nullptr}, expand_{nullptr};
};
TORCH_MODULE(TimmSqueezeExcite);

/// One block of timm's EfficientNet builder, with timm's names: DepthwiseSeparableConv (conv_dw,
/// bn1, se, conv_pw, bn2), InvertedResidual (conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3) or
/// ConvBnAct (conv, bn1). Residual when the stride is 1 and the width unchanged (not ConvBnAct).
class TimmBlockImpl : public torch::nn::Module {
 public:
  struct Config {
    TimmBlockKind kind;
    std::int64_t in, mid, out, kernel, stride, se_reduced;
    TimmAct act, se_act;
    bool hard_gate;
  };
  explicit TimmBlockImpl(const Config& c);

  torch::Tensor forward(const torch::Tensor& x);

 private:
  Config c_;
  bool skip_;
  torch::nn::Conv2d pw_{nullptr}, dw_{nullptr}, pwl_{nullptr};
  SyncableBatchNorm2d bn_pw_{nullptr}, bn_dw_{nullptr}, bn_out_{nullptr};
  TimmSqueezeExcite se_{nullptr};
};
TORCH_MODULE(TimmBlock);

/// timm's EfficientNet-builder network with its classifier removed, built from a descriptor
/// (backbones::MobileNetV3Large, MobileNetV3Small, EfficientNetB0). Keys are timm's (`conv_stem`,
/// `bn1`, `blocks.S.B.conv_pw`, ..., `conv_head`, `bn2`). MobileNetV3 returns [N, F, 1, 1] (timm
/// pools before its head conv), EfficientNet the map [N, F, ceil(H/32), ceil(W/32)].
///   TimmEfficientNet net(backbones::EfficientNetB0{}, 3);
class TimmEfficientNetImpl : public torch::nn::Module {
 public:
  template <class D>
    requires requires { D::rows; D::mobilenet_v3; D::stem_width; D::head_input; }
  explicit TimmEfficientNetImpl(D, std::int64_t in_channels = 3)
      : in_channels_(in_channels), name_(D::name), pooled_head_(D::mobilenet_v3),
        act_(D::mobilenet_v3 ? TimmAct::HardSwish : TimmAct::SiLU) {
    if (in_channels < 1)
      throw UsageError(std::string(D::name) + "(in_channels): in_channels must be >= 1, not " + std::to_string(in_channels));
    conv_stem_ = register_module("conv_stem", detail::timm_conv(in_channels, D::stem_width, 3, 2));
    bn1_ = register_module("bn1", SyncableBatchNorm2d(D::stem_width));
    auto blocks = register_module("blocks", std::make_shared<torch::nn::Module>("Sequential"));
    std::int64_t in = D::stem_width, stage = -1, index = 0;
    std::shared_ptr<torch::nn::Module> stage_module;
    for (const auto& row : D::rows)
      for (std::int64_t r = 0; r < row.repeats; ++r) {
        if (row.stage != stage) {
          stage = row.stage;
          index = 0;
          stage_module = blocks->register_module(std::to_string(stage), std::make_shared<torch::nn::Module>("Sequential"));
        }
        TimmBlockImpl::Config c{row.kind, in, in, row.out, row.kernel, r == 0 ? row.stride : 1, 0, row.act,
                                D::mobilenet_v3 ? TimmAct::ReLU : row.act, D::mobilenet_v3};
        if (row.kind == TimmBlockKind::InvertedResidual) c.mid = detail::make_divisible8(static_cast<double>(in) * row.expand);
        if (row.se > 0)
          c.se_reduced = D::mobilenet_v3 ? detail::make_divisible8(static_cast<double>(c.mid) * row.se)
                                         : static_cast<std::int64_t>(static_cast<double>(in) * row.se);
        blocks_.push_back(stage_module->register_module(std::to_string(index++), TimmBlock(c)));
        in = row.out;
      }
    if (in != D::head_input) throw UsageError(std::string(D::name) + ": the block table ends at width " + std::to_string(in));
    conv_head_ = register_module("conv_head", detail::timm_conv(in, D::feature_width, 1, 1, 1, /*bias=*/D::mobilenet_v3));
    if (!D::mobilenet_v3) bn2_ = register_module("bn2", SyncableBatchNorm2d(D::feature_width));
  }

  torch::Tensor forward(torch::Tensor x);
  std::int64_t in_channels() const { return in_channels_; }

 private:
  std::int64_t in_channels_;
  std::string name_;
  bool pooled_head_;
  TimmAct act_;
  torch::nn::Conv2d conv_stem_{nullptr}, conv_head_{nullptr};
  SyncableBatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  std::vector<TimmBlock> blocks_;
};
TORCH_MODULE(TimmEfficientNet);

}  // namespace ftmeta::nn

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/nn/impl/timm_efficientnet.ipp>
#endif
