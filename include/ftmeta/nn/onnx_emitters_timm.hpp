// ftmeta/nn/onnx_emitters_timm.hpp: the ONNX emitters of timm's backbones (MobileNetV3-Small/-Large,
// EfficientNet-B0, ConvNeXt-Tiny, ViT-S/16), read from their modules by timm's key names.
#pragma once

#include <ftmeta/nn/onnx_graph.hpp>
#include <ftmeta/nn/timm_spec.hpp>
#include <ftmeta/nn/vit.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace ftmeta::nn {

namespace detail {
// timm's activations: ReLU, hard swish (x * relu6(x + 3) / 6, ONNX's HardSwish), SiLU (x * sigmoid(x)).
inline OnnxValue timm_activation(OnnxGraph& g, const OnnxValue& x, TimmAct act, const std::string& hint) {
  switch (act) {
    case TimmAct::ReLU: return g.relu(x, hint);
    case TimmAct::HardSwish: return g.unary("HardSwish", x, hint + ".hardswish");
    case TimmAct::SiLU: {
      auto s = g.unary("Sigmoid", x, hint + ".sigmoid");
      return {g.node("Mul", {x.name, s.name}, hint + ".silu").output(0), x.shape};
    }
  }
  throw UsageError("ftmeta: export_onnx: " + hint + ": unknown activation");
}
// [N, C, H, W] -> [N, C, 1, 1], the mean over the map (timm's x.mean((2, 3), keepdim=True)).
inline OnnxValue mean_map(OnnxGraph& g, const OnnxValue& x, const std::string& hint) {
  return {g.node("GlobalAveragePool", {x.name}, hint).output(0), {x.shape[0], x.shape[1], 1, 1}};
}
}  // namespace detail

/// timm's EfficientNet-builder networks (keys `conv_stem`, `bn1`, `blocks.S.B.conv_pw`, ...,
/// `conv_head`, `bn2`), walked in the order the descriptor's rows built them. Squeeze-excite:
/// GlobalAveragePool, 1x1 convolutions, and the gate (torch's hard sigmoid in MobileNetV3, Sigmoid
/// in EfficientNet) multiplying the map.
template <class D>
struct TimmEfficientNetOnnxEmitter {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& input) {
    using Conv = torch::nn::Conv2dImpl;
    using BN2 = torch::nn::BatchNorm2dImpl;
    const auto cb = [&](const std::string& conv, const std::string& bn, const OnnxValue& x) {
      return g.conv_bn(OnnxGraph::child<Conv>(m, conv), bn.empty() ? nullptr : &OnnxGraph::child<BN2>(m, bn), x, conv);
    };
    const TimmAct stem_act = D::mobilenet_v3 ? TimmAct::HardSwish : TimmAct::SiLU;
    auto x = detail::timm_activation(g, cb("conv_stem", "bn1", input), stem_act, "conv_stem");
    std::int64_t in = D::stem_width, stage = -1, index = 0;
    for (const auto& row : D::rows)
      for (std::int64_t r = 0; r < row.repeats; ++r) {
        if (row.stage != stage) stage = row.stage, index = 0;
        const std::string b = "blocks." + std::to_string(stage) + "." + std::to_string(index++) + ".";
        const auto act = [&](const OnnxValue& v, const std::string& at) { return detail::timm_activation(g, v, row.act, b + at); };
        const auto se = [&](const OnnxValue& v) {
          if (!OnnxGraph::has_child(m, b + "se")) return v;
          auto s = cb(b + "se.conv_reduce", "", detail::mean_map(g, v, b + "se.mean"));
          s = detail::timm_activation(g, s, D::mobilenet_v3 ? TimmAct::ReLU : row.act, b + "se");
          auto& expand = OnnxGraph::child<Conv>(m, b + "se.conv_expand");
          if (D::mobilenet_v3) {
            // hard_sigmoid(z) = min(max((z + 3) / 6, 0), 1): (z + 3) / 6 folded into conv_expand,
            // then Relu(u) - Relu(u - 1). (OpenCV 4.6 gets HardSigmoid followed by Mul wrong.)
            s = g.conv_bn(expand, nullptr, s, b + "se.conv_expand", {-1, -1, -1, -1}, 1.0 / 6.0, 0.5);
            s = g.sub(g.relu(s, b + "se.gate"), g.relu(g.sub(s, g.scalar(b + "se.one", 1.0f), b + "se.gate.minus1"), b + "se.gate.over1"),
                      b + "se.gate");
          } else {
            s = g.unary("Sigmoid", g.conv_bn(expand, nullptr, s, b + "se.conv_expand"), b + "se.gate");
          }
          return OnnxValue{g.node("Mul", {v.name, s.name}, b + "se.scale").output(0), v.shape};
        };
        OnnxValue y;
        switch (row.kind) {
          case TimmBlockKind::DepthwiseSeparable:
            y = se(act(cb(b + "conv_dw", b + "bn1", x), "conv_dw"));
            y = cb(b + "conv_pw", b + "bn2", y);
            break;
          case TimmBlockKind::InvertedResidual:
            y = act(cb(b + "conv_pw", b + "bn1", x), "conv_pw");
            y = se(act(cb(b + "conv_dw", b + "bn2", y), "conv_dw"));
            y = cb(b + "conv_pwl", b + "bn3", y);
            break;
          case TimmBlockKind::ConvBnAct: y = act(cb(b + "conv", b + "bn1", x), "conv"); break;
        }
        const bool skip = row.kind != TimmBlockKind::ConvBnAct && (r == 0 ? row.stride : 1) == 1 && in == row.out;
        x = skip ? g.add(y, x, b + "skip") : y;
        in = row.out;
      }
    if (D::mobilenet_v3)  // timm pools before its head convolution (with bias, no BatchNorm)
      return detail::timm_activation(g, cb("conv_head", "", detail::mean_map(g, x, "head.mean")), stem_act, "conv_head");
    return detail::timm_activation(g, cb("conv_head", "bn2", x), stem_act, "conv_head");
  }
};
template <>
struct onnx_emitter<backbones::MobileNetV3Small> : TimmEfficientNetOnnxEmitter<backbones::MobileNetV3Small> {};
template <>
struct onnx_emitter<backbones::MobileNetV3Large> : TimmEfficientNetOnnxEmitter<backbones::MobileNetV3Large> {};
template <>
struct onnx_emitter<backbones::EfficientNetB0> : TimmEfficientNetOnnxEmitter<backbones::EfficientNetB0> {};

/// timm's ConvNeXt (keys `stem.0`, `stem.1`, `stages.S.downsample.{0,1}`, `stages.S.blocks.B`,
/// `head.norm`). A block: the depthwise 7x7 in NCHW, then channels-last LayerNorm, MLP (MatMul) and
/// GELU; its layer scale `gamma` is folded into `mlp.fc2`. Returns the pooled, normalized [N, C, 1, 1].
template <class D>
struct ConvNeXtOnnxEmitter {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& input) {
    using Conv = torch::nn::Conv2dImpl;
    using LN = torch::nn::LayerNormImpl;
    using Lin = torch::nn::LinearImpl;
    const auto conv = [&](const std::string& key, const OnnxValue& x) { return g.conv_bn(OnnxGraph::child<Conv>(m, key), nullptr, x, key); };
    const auto ln2d = [&](const std::string& key, const OnnxValue& x) { return g.layer_norm_channels(OnnxGraph::child<LN>(m, key), x, key); };
    auto x = ln2d("stem.1", conv("stem.0", input));
    for (std::size_t s = 0; s < D::depths.size(); ++s) {
      const std::string st = "stages." + std::to_string(s) + ".";
      if (OnnxGraph::has_child(m, st + "downsample")) x = conv(st + "downsample.1", ln2d(st + "downsample.0", x));
      for (std::int64_t i = 0; i < D::depths[s]; ++i) {
        const std::string b = st + "blocks." + std::to_string(i) + ".";
        auto y = g.transpose(conv(b + "conv_dw", x), {0, 2, 3, 1}, b + "nhwc");
        y = g.layer_norm(OnnxGraph::child<LN>(m, b + "norm"), y, b + "norm");
        auto& fc1 = OnnxGraph::child<Lin>(m, b + "mlp.fc1");
        y = g.gelu(g.linear(fc1.weight, fc1.bias, y, b + "mlp.fc1"), b + "mlp.gelu");
        auto& fc2 = OnnxGraph::child<Lin>(m, b + "mlp.fc2");
        const auto gamma = OnnxGraph::parameter(m, b + "gamma").to(torch::kFloat64);
        y = g.linear(fc2.weight.to(torch::kFloat64) * gamma.unsqueeze(1), fc2.bias.to(torch::kFloat64) * gamma, y, b + "mlp.fc2");
        x = g.add(g.transpose(y, {0, 3, 1, 2}, b + "nchw"), x, b + "skip");
      }
    }
    return ln2d("head.norm", detail::mean_map(g, x, "head.mean"));
  }
};
template <>
struct onnx_emitter<backbones::ConvNeXtTiny> : ConvNeXtOnnxEmitter<backbones::ConvNeXtTiny> {};

/// timm's ViT (keys `patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.B`, `norm`): patches by a
/// strided Conv, the position embeddings resampled at export time for the exported input size, the
/// class token expanded to the batch, then pre-norm blocks. Attention is written out: `attn.qkv`
/// split into three MatMuls (the 1/sqrt(head width) scale folded into q), Softmax, MatMul.
/// Returns the normalized class token as [N, C, 1, 1].
template <class D>
struct ViTOnnxEmitter {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& input) {
    using LN = torch::nn::LayerNormImpl;
    using Lin = torch::nn::LinearImpl;
    torch::NoGradGuard no_grad;
    auto p = g.conv_bn(OnnxGraph::child<torch::nn::Conv2dImpl>(m, "patch_embed.proj"), nullptr, input, "patch_embed.proj");
    const std::int64_t c = p.shape[1], tokens = p.shape[2] * p.shape[3], heads = D::heads, hd = c / heads;
    auto x = g.transpose(g.reshape(p, {-1, c, tokens}, "patch_embed.flatten"), {0, 2, 1}, "patch_embed.tokens");
    const auto pos = resample_position_embeddings(OnnxGraph::parameter(m, "pos_embed"), D::grid, p.shape[2], p.shape[3]);
    x = {g.node("Add", {x.name, g.initializer("pos_embed.grid", pos.slice(1, 1))}, "pos_embed.add").output(0), x.shape};
    // The class token (plus its position embedding) expanded to [N, 1, C]: Expand to Shape(x)[0], 1, C.
    const auto cls = OnnxGraph::parameter(m, "cls_token") + pos.slice(1, 0, 1);
    auto& shape = g.node("Shape", {x.name}, "cls_token.shape");
    auto& batch = g.node("Slice", {shape.output(0), g.ints("cls_token.start", {0}), g.ints("cls_token.end", {1})}, "cls_token.batch");
    auto& to = g.node("Concat", {batch.output(0), g.ints("cls_token.rest", {1, c})}, "cls_token.to");
    OnnxGraph::attr(to, "axis", std::int64_t{0});
    auto& expanded = g.node("Expand", {g.initializer("cls_token", cls), to.output(0)}, "cls_token.expand");
    auto& cat = g.node("Concat", {expanded.output(0), x.name}, "tokens");
    OnnxGraph::attr(cat, "axis", std::int64_t{1});
    const std::int64_t n = tokens + 1;
    x = {cat.output(0), {x.shape[0], n, c}};

    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (std::int64_t i = 0; i < D::depth; ++i) {
      const std::string b = "blocks." + std::to_string(i) + ".";
      auto h = g.layer_norm(OnnxGraph::child<LN>(m, b + "norm1"), x, b + "norm1");
      auto& qkv = OnnxGraph::child<Lin>(m, b + "attn.qkv");
      const auto w = qkv.weight.to(torch::kFloat64), bias = qkv.bias.to(torch::kFloat64);
      const auto head_view = [&](int part, const std::vector<std::int64_t>& perm, double s) {
        const char* name = part == 0 ? "q" : part == 1 ? "k" : "v";
        auto y = g.linear(w.slice(0, part * c, (part + 1) * c) * s, bias.slice(0, part * c, (part + 1) * c) * s, h, b + "attn." + name);
        return g.transpose(g.reshape(y, {-1, n, heads, hd}, b + "attn." + name + ".heads"), perm, b + "attn." + name + ".t");
      };
      const auto q = head_view(0, {0, 2, 1, 3}, scale), k = head_view(1, {0, 2, 3, 1}, 1.0), v = head_view(2, {0, 2, 1, 3}, 1.0);
      auto& scores = g.node("MatMul", {q.name, k.name}, b + "attn.scores");
      auto& soft = g.node("Softmax", {scores.output(0)}, b + "attn.softmax");
      OnnxGraph::attr(soft, "axis", std::int64_t{-1});
      OnnxValue a{g.node("MatMul", {soft.output(0), v.name}, b + "attn.mix").output(0), {x.shape[0], heads, n, hd}};
      a = g.reshape(g.transpose(a, {0, 2, 1, 3}, b + "attn.merge"), {-1, n, c}, b + "attn.concat");
      auto& proj = OnnxGraph::child<Lin>(m, b + "attn.proj");
      x = g.add(x, g.linear(proj.weight, proj.bias, a, b + "attn.proj"), b + "attn.skip");
      h = g.layer_norm(OnnxGraph::child<LN>(m, b + "norm2"), x, b + "norm2");
      auto& fc1 = OnnxGraph::child<Lin>(m, b + "mlp.fc1");
      auto& fc2 = OnnxGraph::child<Lin>(m, b + "mlp.fc2");
      h = g.linear(fc2.weight, fc2.bias, g.gelu(g.linear(fc1.weight, fc1.bias, h, b + "mlp.fc1"), b + "mlp.gelu"), b + "mlp.fc2");
      x = g.add(x, h, b + "mlp.skip");
    }
    x = g.layer_norm(OnnxGraph::child<LN>(m, "norm"), x, "norm");
    auto& first = g.node("Gather", {x.name, g.ints("cls_token.index", {0}, /*scalar=*/true)}, "cls_token.out");
    OnnxGraph::attr(first, "axis", std::int64_t{1});
    return g.reshape({first.output(0), {x.shape[0], c}}, {-1, c, 1, 1}, "features");
  }
};
template <>
struct onnx_emitter<backbones::ViTSmall16> : ViTOnnxEmitter<backbones::ViTSmall16> {};

}  // namespace ftmeta::nn
