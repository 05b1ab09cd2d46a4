// ftmeta/nn/onnx_emitters.hpp: the ONNX emitters of ftmeta's backbones, poolings and head layers
// (one onnx_emitter<T> specialization each; a new part adds its own next to its module).
#pragma once

#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/nn/head_spec.hpp>
#include <ftmeta/nn/layers.hpp>
#include <ftmeta/nn/onnx_graph.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace ftmeta::nn {

namespace detail {
using Conv = torch::nn::Conv2dImpl;
using BN2 = torch::nn::BatchNorm2dImpl;

// TensorFlow "SAME" padding of a convolution for the input's actual size (as detail::conv2d_same
// computes it): {top, left, bottom, right}, the odd pixel after.
inline std::array<std::int64_t, 4> same_pads(const Conv& conv, const OnnxValue& x) {
  std::int64_t pad[2];
  for (int d = 0; d < 2; ++d) {
    const std::int64_t k = (*conv.options.kernel_size())[d], s = (*conv.options.stride())[d], in = x.shape[2 + d];
    const std::int64_t out = (in + s - 1) / s;
    pad[d] = std::max<std::int64_t>((out - 1) * s + k - in, 0);
  }
  return {pad[0] / 2, pad[1] / 2, pad[0] - pad[0] / 2, pad[1] - pad[1] / 2};
}

// torchvision's Conv2dNormActivation at `key` ("0" conv, "1" BatchNorm), ReLU6 unless `linear`.
inline OnnxValue conv_norm_act(OnnxGraph& g, torch::nn::Module& m, const std::string& key, const OnnxValue& x, bool relu6 = true) {
  auto y = g.conv_bn(OnnxGraph::child<Conv>(m, key + ".0"), &OnnxGraph::child<BN2>(m, key + ".1"), x, key);
  return relu6 ? g.relu6(y, key) : y;
}
}  // namespace detail

// --- backbones ------------------------------------------------------------------------------------

/// EfficientNet-Lite0 (keys `_conv_stem`, `_bn0`, `_blocks.N._expand_conv`, ...), TensorFlow "SAME"
/// padding computed for the exported input size.
template <>
struct onnx_emitter<backbones::EfficientNetLite0> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& input) {
    using detail::BN2;
    using detail::Conv;
    const auto conv_same = [&](const std::string& conv, const std::string& bn, const OnnxValue& x) {
      auto& c = OnnxGraph::child<Conv>(m, conv);
      return g.conv_bn(c, &OnnxGraph::child<BN2>(m, bn), x, conv, detail::same_pads(c, x));
    };
    auto x = g.relu6(conv_same("_conv_stem", "_bn0", input), "_conv_stem");
    for (int i = 0; OnnxGraph::has_child(m, "_blocks." + std::to_string(i)); ++i) {
      const std::string b = "_blocks." + std::to_string(i) + ".";
      auto y = x;
      if (OnnxGraph::has_child(m, b + "_expand_conv")) y = g.relu6(conv_same(b + "_expand_conv", b + "_bn0", y), b + "expand");
      auto& dw = OnnxGraph::child<Conv>(m, b + "_depthwise_conv");
      y = g.relu6(conv_same(b + "_depthwise_conv", b + "_bn1", y), b + "depthwise");
      y = conv_same(b + "_project_conv", b + "_bn2", y);
      x = (*dw.options.stride())[0] == 1 && y.channels() == x.channels() ? g.add(y, x, b + "skip") : y;
    }
    return g.relu6(conv_same("_conv_head", "_bn1", x), "_conv_head");
  }
};

/// torchvision's ResNets (keys `conv1`, `bn1`, `layerK.N.conv1`, `layerK.N.downsample.0`, ...).
struct ResNetOnnxEmitter {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& input) {
    using detail::BN2;
    using detail::Conv;
    const auto cb = [&](const std::string& conv, const std::string& bn, const OnnxValue& x) {
      return g.conv_bn(OnnxGraph::child<Conv>(m, conv), &OnnxGraph::child<BN2>(m, bn), x, conv);
    };
    auto x = g.max_pool(g.relu(cb("conv1", "bn1", input), "conv1"), 3, 2, 1, "maxpool");
    for (int s = 1; s <= 4; ++s)
      for (int i = 0; OnnxGraph::has_child(m, "layer" + std::to_string(s) + "." + std::to_string(i)); ++i) {
        const std::string b = "layer" + std::to_string(s) + "." + std::to_string(i) + ".";
        auto y = g.relu(cb(b + "conv1", b + "bn1", x), b + "conv1");
        y = cb(b + "conv2", b + "bn2", y);
        if (OnnxGraph::has_child(m, b + "conv3")) y = cb(b + "conv3", b + "bn3", g.relu(y, b + "conv2"));
        const auto skip = OnnxGraph::has_child(m, b + "downsample") ? cb(b + "downsample.0", b + "downsample.1", x) : x;
        x = g.relu(g.add(y, skip, b + "skip"), b + "out");
      }
    return x;
  }
};
template <>
struct onnx_emitter<backbones::ResNet18> : ResNetOnnxEmitter {};
template <>
struct onnx_emitter<backbones::ResNet34> : ResNetOnnxEmitter {};
template <>
struct onnx_emitter<backbones::ResNet50> : ResNetOnnxEmitter {};

/// torchvision's MobileNetV2 (keys `features.0.0`, `features.N.conv.K`, `features.18.0`).
template <>
struct onnx_emitter<backbones::MobileNetV2> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& input) {
    using detail::BN2;
    using detail::Conv;
    auto x = detail::conv_norm_act(g, m, "features.0", input);
    int i = 1;
    for (; OnnxGraph::has_child(m, "features." + std::to_string(i) + ".conv"); ++i) {
      const std::string b = "features." + std::to_string(i) + ".conv.";
      const bool expand = OnnxGraph::has_child(m, b + "3");
      int k = 0;
      auto y = expand ? detail::conv_norm_act(g, m, b + std::to_string(k++), x) : x;
      auto& dw = OnnxGraph::child<Conv>(m, b + std::to_string(k) + ".0");
      y = detail::conv_norm_act(g, m, b + std::to_string(k++), y);
      y = g.conv_bn(OnnxGraph::child<Conv>(m, b + std::to_string(k)), &OnnxGraph::child<BN2>(m, b + std::to_string(k + 1)), y,
                    b + std::to_string(k));
      x = (*dw.options.stride())[0] == 1 && y.channels() == x.channels() ? g.add(x, y, b + "skip") : y;
    }
    return detail::conv_norm_act(g, m, "features." + std::to_string(i), x);
  }
};

// --- poolings: [N, C, H, W] -> [N, C] (ConcatPool: [N, 2C], average first) ---------------------------
template <>
struct onnx_emitter<AvgPool> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module&, const OnnxValue& x) { return g.global_pool("GlobalAveragePool", x, "pool.avg"); }
};
template <>
struct onnx_emitter<MaxPool> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module&, const OnnxValue& x) { return g.global_pool("GlobalMaxPool", x, "pool.max"); }
};
template <>
struct onnx_emitter<ConcatPool> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module&, const OnnxValue& x) {
    const auto a = g.global_pool("GlobalAveragePool", x, "pool.avg"), m = g.global_pool("GlobalMaxPool", x, "pool.max");
    auto& n = g.node("Concat", {a.name, m.name}, "pool.concat");
    OnnxGraph::attr(n, "axis", std::int64_t{1});
    return {n.output(0), {x.shape[0], 2 * x.shape[1]}};
  }
};

// --- head layers (module: the layer's own module, head."i") ------------------------------------------
template <auto Out, std::int64_t In>
struct onnx_emitter<Linear<Out, In>> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& x) {
    auto& fc = dynamic_cast<torch::nn::LinearImpl&>(m);
    return g.linear(fc.weight, fc.bias, x, g.scope + ".linear");
  }
};
/// Eval mode: y = x * gamma / sqrt(var + eps) + (beta - mean * that), folded into one Mul and one
/// Add (or a BatchNormalization node when folding is off).
template <>
struct onnx_emitter<BatchNorm1d> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& x) {
    auto& bn = dynamic_cast<torch::nn::BatchNorm1dImpl&>(m);
    const std::string hint = g.scope + ".bn";
    if (!g.folds_batch_norm()) return g.batch_norm(bn, x, hint);
    torch::NoGradGuard no_grad;
    const auto scale = bn.weight.to(torch::kFloat64) / (bn.running_var.to(torch::kFloat64) + bn.options.eps()).sqrt();
    return g.affine(x, scale, bn.bias.to(torch::kFloat64) - bn.running_mean.to(torch::kFloat64) * scale, hint);
  }
};
template <>
struct onnx_emitter<LayerNorm> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& x) {
    return g.layer_norm(dynamic_cast<torch::nn::LayerNormImpl&>(m), x, g.scope + ".layernorm");
  }
};
/// Dropout is the identity in eval mode: no node.
template <double P>
struct onnx_emitter<Dropout<P>> {
  static OnnxValue emit(OnnxGraph&, torch::nn::Module&, const OnnxValue& x) { return x; }
};
template <>
struct onnx_emitter<ReLU> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module&, const OnnxValue& x) { return g.unary("Relu", x, g.scope + ".relu"); }
};
template <>
struct onnx_emitter<ELU> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module& m, const OnnxValue& x) {
    auto& n = g.node("Elu", {x.name}, g.scope + ".elu");
    OnnxGraph::attr(n, "alpha", static_cast<float>(dynamic_cast<torch::nn::ELUImpl&>(m).options.alpha()));
    return {n.output(0), x.shape};
  }
};
/// torch's exact GELU in the erf form (ONNX's Gelu operator needs opset 20).
template <>
struct onnx_emitter<GELU> {
  static OnnxValue emit(OnnxGraph& g, torch::nn::Module&, const OnnxValue& x) { return g.gelu(x, g.scope + ".gelu"); }
};

}  // namespace ftmeta::nn
