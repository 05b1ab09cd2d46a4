// ftmeta/nn/impl/vit.ipp: the definitions of vit.hpp's modules and functions: included by that header when
// header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/nn/vit.hpp>

namespace ftmeta::nn {

FTMETA_DECL torch::Tensor resample_position_embeddings(const torch::Tensor& pos, std::int64_t grid, std::int64_t grid_h,
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

}  // namespace ftmeta::nn


namespace ftmeta::nn {

FTMETA_DECL ViTBlockImpl::ViTBlockImpl(std::int64_t width, std::int64_t heads, std::int64_t mlp_ratio) : heads_(heads) {
  norm1_ = register_module("norm1", detail::layer_norm_6(width));
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>("Attention"));
  qkv_ = attn->register_module("qkv", torch::nn::Linear(width, 3 * width));
  proj_ = attn->register_module("proj", torch::nn::Linear(width, width));
  norm2_ = register_module("norm2", detail::layer_norm_6(width));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>("Mlp"));
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(width, mlp_ratio * width));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(mlp_ratio * width, width));
}

FTMETA_DECL torch::Tensor ViTBlockImpl::forward(torch::Tensor x) {
  const auto b = x.size(0), n = x.size(1), c = x.size(2);
  auto qkv = qkv_(norm1_(x)).reshape({b, n, 3, heads_, c / heads_}).permute({2, 0, 3, 1, 4});
  auto a = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]);
  x = x + proj_(a.transpose(1, 2).reshape({b, n, c}));
  return x + fc2_(torch::gelu(fc1_(norm2_(x))));
}

FTMETA_DECL torch::Tensor ViTImpl::forward(torch::Tensor x) {
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

}  // namespace ftmeta::nn

