// ftmeta/nn/vit.hpp: timm's ViT-S/16 as a LibTorch module with timm's key names, position embeddings resampled for other input sizes.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/convnext.hpp>
#include <ftmeta/nn/timm_spec.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ftmeta::nn {

/// timm's ViT Block: x + attn(norm1(x)), then x + mlp(norm2(x)); `attn.qkv`, `attn.proj`,
/// `mlp.fc1`, `mlp.fc2`, LayerNorms with eps 1e-6, exact GELU.
class ViTBlockImpl : public torch::nn::Module {
 public:
  ViTBlockImpl(std::int64_t width, std::int64_t heads, std::int64_t mlp_ratio);
  torch::Tensor forward(torch::Tensor x);

 private:
  std::int64_t heads_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(ViTBlock);

/// The position embeddings [1, 1 + g*g, C] of a g x g grid resampled to grid_h x grid_w, as timm's
/// resample_abs_pos_embed: the class token's kept, the grid's bicubic (antialiased, corners not
/// aligned); unchanged when the grid is the same.
FTMETA_DECL torch::Tensor resample_position_embeddings(const torch::Tensor& pos, std::int64_t grid, std::int64_t grid_h,
                                                       std::int64_t grid_w);

/// timm's vit_small_patch16_224 with `head` removed: `cls_token`, `pos_embed`, `patch_embed.proj`,
/// `blocks.B`, `norm`. Any input whose sides are multiples of 16 works (position embeddings
/// resampled); forward returns the normalized class token as [N, 384, 1, 1].
///   ViT net(backbones::ViTSmall16{}, 3);
class ViTImpl : public torch::nn::Module {
 public:
  template <class D>
    requires requires { D::patch; D::depth; D::heads; D::grid; }
  explicit ViTImpl(D, std::int64_t in_channels = 3) : in_channels_(in_channels), patch_(D::patch), grid_(D::grid) {
    if (in_channels < 1) throw UsageError("ViT(in_channels): in_channels must be >= 1, not " + std::to_string(in_channels));
    const auto width = D::feature_width;
    cls_token_ = register_parameter("cls_token", torch::zeros({1, 1, width}));
    pos_embed_ = register_parameter("pos_embed", torch::randn({1, 1 + D::grid * D::grid, width}) * 0.02);
    auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>("PatchEmbed"));
    proj_ = patch_embed->register_module(
        "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, width, D::patch).stride(D::patch)));
    auto blocks = register_module("blocks", std::make_shared<torch::nn::Module>("Sequential"));
    for (std::int64_t b = 0; b < D::depth; ++b)
      blocks_.push_back(blocks->register_module(std::to_string(b), ViTBlock(width, D::heads, D::mlp_ratio)));
    norm_ = register_module("norm", detail::layer_norm_6(width));
  }

  torch::Tensor forward(torch::Tensor x);
  std::int64_t in_channels() const { return in_channels_; }

 private:
  std::int64_t in_channels_, patch_, grid_;
  torch::Tensor cls_token_, pos_embed_;
  torch::nn::Conv2d proj_{nullptr};
  std::vector<ViTBlock> blocks_;
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(ViT);

}  // namespace ftmeta::nn

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/nn/impl/vit.ipp>
#endif
