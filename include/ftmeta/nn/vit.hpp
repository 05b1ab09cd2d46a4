// ftmeta/nn/vit.hpp: timm's ViT-S/16 as a LibTorch module with timm's key names, position embeddings resampled for other input sizes.
#pragma once

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
  ViTBlockImpl(std::int64_t width, std::int64_t heads, std::int64_t mlp_ratio) : heads_(heads) {
    norm1_ = register_module("norm1", detail::layer_norm_6(width));
    auto attn = register_module("attn", std::make_shared<torch::nn::Module>("Attention"));
    qkv_ = attn->register_module("qkv", torch::nn::Linear(width, 3 * width));
    proj_ = attn->register_module("proj", torch::nn::Linear(width, width));
    norm2_ = register_module("norm2", detail::layer_norm_6(width));
    auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>("Mlp"));
    fc1_ = mlp->register_module("fc1", torch::nn::Linear(width, mlp_ratio * width));
    fc2_ = mlp->register_module("fc2", torch::nn::Linear(mlp_ratio * width, width));
  }
  torch::Tensor forward(torch::Tensor x) {
    const auto b = x.size(0), n = x.size(1), c = x.size(2);
    auto qkv = qkv_(norm1_(x)).reshape({b, n, 3, heads_, c / heads_}).permute({2, 0, 3, 1, 4});
    auto a = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]);
    x = x + proj_(a.transpose(1, 2).reshape({b, n, c}));
    return x + fc2_(torch::gelu(fc1_(norm2_(x))));
  }

 private:
  std::int64_t heads_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(ViTBlock);

/// The position embeddings [1, 1 + g*g, C] of a g x g grid resampled to grid_h x grid_w, as timm's
/// resample_abs_pos_embed: the class token's kept, the grid's bicubic (antialiased, corners not
/// aligned); unchanged when the grid is the same.
inline torch::Tensor resample_position_embeddings(const torch::Tensor& pos, std::int64_t grid, std::int64_t grid_h,
                                                  std::int64_t grid_w) {
  if (grid_h == grid && grid_w == grid) return pos;
  const auto c = pos.size(2);
  auto grid_part = pos.slice(1, 1).reshape({1, grid, grid, c}).permute({0, 3, 1, 2});
  namespace F = torch::nn::functional;
  grid_part = F::interpolate(grid_part, F::InterpolateFuncOptions()
                                            .size(std::vector<std::int64_t>{grid_h, grid_w})
                                            .mode(torch::kBicubic)
                                            .align_corners(false)
                                            .antialias(true));
  return torch::cat({pos.slice(1, 0, 1), grid_part.permute({0, 2, 3, 1}).reshape({1, grid_h * grid_w, c})}, 1);
}

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

  torch::Tensor forward(torch::Tensor x) {
    if (x.dim() != 4 || x.size(1) != in_channels_ || x.size(2) % patch_ || x.size(3) % patch_)
      throw UsageError("ViT::forward expects [N, " + std::to_string(in_channels_) + ", H, W] with H and W multiples of " +
                       std::to_string(patch_) + ", got " + detail::shape_text(x));
    x = proj_(x);  // [N, C, gh, gw]
    const auto gh = x.size(2), gw = x.size(3);
    x = x.flatten(2).transpose(1, 2);
    x = torch::cat({cls_token_.expand({x.size(0), -1, -1}), x}, 1) + resample_position_embeddings(pos_embed_, grid_, gh, gw);
    for (auto& b : blocks_) x = b->forward(x);
    x = norm_(x);
    return x.select(1, 0).unsqueeze(-1).unsqueeze(-1);
  }
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
