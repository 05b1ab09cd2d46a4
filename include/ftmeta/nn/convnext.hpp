// ftmeta/nn/convnext.hpp: timm's ConvNeXt-Tiny as a LibTorch module with timm's key names.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/timm_spec.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ftmeta::nn {

namespace detail {
// timm's LayerNorm2d: LayerNorm over the channels of an NCHW map.
inline torch::Tensor layer_norm_2d(torch::nn::LayerNorm norm, const torch::Tensor& x) {
  return norm->forward(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}
inline torch::nn::LayerNorm layer_norm_6(std::int64_t width) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-6));
}
}  // namespace detail

/// timm's ConvNeXtBlock: `conv_dw` (7x7 depthwise, bias), `norm` (LayerNorm over channels),
/// `mlp.fc1` (4x), GELU, `mlp.fc2`, scaled per channel by `gamma`, plus the input.
class ConvNeXtBlockImpl : public torch::nn::Module {
 public:
  explicit ConvNeXtBlockImpl(std::int64_t width);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::Tensor gamma_;
  torch::nn::Conv2d conv_dw_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(ConvNeXtBlock);

/// timm's convnext_tiny with `head.fc` removed: `stem.0` (4x4 stride-4 conv), `stem.1` (LayerNorm2d),
/// `stages.S.downsample.{0,1}` (LayerNorm2d, 2x2 stride-2 conv; stages 1-3), `stages.S.blocks.B`,
/// `head.norm`. forward average-pools the last map and normalizes it: [N, 768, 1, 1].
///   ConvNeXt net(backbones::ConvNeXtTiny{}, 3);
class ConvNeXtImpl : public torch::nn::Module {
 public:
  template <class D>
    requires requires { D::depths; D::widths; }
  explicit ConvNeXtImpl(D, std::int64_t in_channels = 3) : in_channels_(in_channels) {
    if (in_channels < 1)
      throw UsageError("ConvNeXt(in_channels): in_channels must be >= 1, not " + std::to_string(in_channels));
    auto stem = register_module("stem", std::make_shared<torch::nn::Module>("Sequential"));
    stem_conv_ = stem->register_module("0", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, D::widths[0], 4).stride(4)));
    stem_norm_ = stem->register_module("1", detail::layer_norm_6(D::widths[0]));
    auto stages = register_module("stages", std::make_shared<torch::nn::Module>("Sequential"));
    for (std::size_t s = 0; s < D::depths.size(); ++s) {
      auto stage = stages->register_module(std::to_string(s), std::make_shared<torch::nn::Module>("ConvNeXtStage"));
      Stage st;
      if (s > 0) {
        auto down = stage->register_module("downsample", std::make_shared<torch::nn::Module>("Sequential"));
        st.down_norm = down->register_module("0", detail::layer_norm_6(D::widths[s - 1]));
        st.down_conv = down->register_module(
            "1", torch::nn::Conv2d(torch::nn::Conv2dOptions(D::widths[s - 1], D::widths[s], 2).stride(2)));
      }
      auto blocks = stage->register_module("blocks", std::make_shared<torch::nn::Module>("Sequential"));
      for (std::int64_t b = 0; b < D::depths[s]; ++b)
        st.blocks.push_back(blocks->register_module(std::to_string(b), ConvNeXtBlock(D::widths[s])));
      stages_.push_back(std::move(st));
    }
    auto head = register_module("head", std::make_shared<torch::nn::Module>("NormMlpClassifierHead"));
    head_norm_ = head->register_module("norm", detail::layer_norm_6(D::widths.back()));
  }

  torch::Tensor forward(torch::Tensor x);
  std::int64_t in_channels() const { return in_channels_; }

 private:
  struct Stage {
    torch::nn::LayerNorm down_norm{nullptr};
    torch::nn::Conv2d down_conv{nullptr};
    std::vector<ConvNeXtBlock> blocks;
  };
  std::int64_t in_channels_;
  torch::nn::Conv2d stem_conv_{nullptr};
  torch::nn::LayerNorm stem_norm_{nullptr}, head_norm_{nullptr};
  std::vector<Stage> stages_;
};
TORCH_MODULE(ConvNeXt);

}  // namespace ftmeta::nn

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/nn/impl/convnext.ipp>
#endif
