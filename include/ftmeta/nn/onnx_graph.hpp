// ftmeta/nn/onnx_graph.hpp: the ONNX graph builder that backbones, poolings and head layers write
// their eval-mode nodes into, and the per-part emitter interface (onnx_emitter<T>) they specialize.
#pragma once

#include <ftmeta/core/error.hpp>

#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace ftmeta::nn {

/// A tensor of the graph being built: its name and shape (dimension 0, the batch, is -1: dynamic).
struct OnnxValue {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t channels() const { return shape.at(1); }
};

/// Contributes the eval-mode ONNX nodes of a part of a model: specialize it for a backbone
/// descriptor, a pooling tag or a head layer tag. `module` is the part's LibTorch module (the
/// backbone, or head layer "i"; unused for poolings); read its parameters by their state-dict keys
/// (OnnxGraph::child), so the emitter needs no access to the module's private members.
///   template <> struct onnx_emitter<backbones::MyNet> {
///     static OnnxValue emit(OnnxGraph& g, torch::nn::Module& module, const OnnxValue& x) {
///       return g.relu(g.conv_bn(g.child<torch::nn::Conv2dImpl>(module, "conv"),
///                               g.child<torch::nn::BatchNorm2dImpl>(module, "bn"), x, "stem"));
///     }
///   };
template <class Part>
struct onnx_emitter;

/// Builds an onnx::GraphProto: unique names, float initializers from tensors, nodes with their
/// attributes, and the building blocks of the library's networks (convolution with BatchNorm
/// folded in or kept, activations, residual adds, pooling). Everything it writes is eval mode.
class OnnxGraph {
 public:
  /// fold_batch_norm: BatchNorm after a convolution goes into its weights and bias; otherwise a
  /// BatchNormalization node follows it.
  OnnxGraph(onnx::GraphProto& graph, bool fold_batch_norm) : graph_(graph), fold_(fold_batch_norm) {}

  bool folds_batch_norm() const { return fold_; }
  /// The name of the part being emitted ("head.3"): emitters name their nodes from it.
  std::string scope;
  /// ReLU6 as one Clip node (else Relu(x) - Relu(x - 6), which OpenCV 4.6 runs too).
  bool clip_relu6 = false;
  onnx::GraphProto& proto() { return graph_; }

  /// A fresh name from `hint` ("layer1.0.conv1" -> "layer1.0.conv1", then "layer1.0.conv1_1", ...).
  std::string unique(const std::string& hint) {
    auto& n = used_[hint];
    return n++ ? hint + "_" + std::to_string(n - 1) : hint;
  }

  /// A float32 initializer holding `t` (any dtype, device or layout: copied to contiguous float32).
  std::string initializer(const std::string& hint, const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    auto* init = graph_.add_initializer();
    init->set_name(unique(hint));
    init->set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : c.sizes()) init->add_dims(d);
    init->set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.numel()) * sizeof(float)));
    return init->name();
  }
  /// A float32 scalar initializer.
  std::string scalar(const std::string& hint, float v) {
    auto* init = graph_.add_initializer();
    init->set_name(unique(hint));
    init->set_data_type(onnx::TensorProto::FLOAT);
    init->add_float_data(v);
    return init->name();
  }

  /// An int64 initializer (Reshape's shape, Slice's bounds, Gather's index); a scalar when `scalar`.
  std::string ints(const std::string& hint, const std::vector<std::int64_t>& v, bool scalar = false) {
    auto* init = graph_.add_initializer();
    init->set_name(unique(hint));
    init->set_data_type(onnx::TensorProto::INT64);
    if (!scalar) init->add_dims(static_cast<std::int64_t>(v.size()));
    for (auto x : v) init->add_int64_data(x);
    return init->name();
  }

  /// Adds a node `op` reading `inputs`; returns it (its single output is named from `hint`).
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs, const std::string& hint) {
    auto* n = graph_.add_node();
    n->set_op_type(op);
    n->set_name(unique(hint + "/" + op));
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(unique(hint));
    return *n;
  }
  static void attr(onnx::NodeProto& n, const std::string& name, std::int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, float v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<std::int64_t>& v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (auto x : v) a->add_ints(x);
  }

  /// The submodule at dotted `key` of `module` ("layer1.0.conv1"), as `M`; UsageError naming the key
  /// when there is none or it is another kind of module.
  template <class M>
  static M& child(torch::nn::Module& module, const std::string& key) {
    torch::nn::Module* m = &module;
    std::size_t start = 0;
    while (m && start <= key.size()) {
      const auto dot = key.find('.', start);
      const auto part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const auto children = m->named_children();
      const auto* found = children.find(part);
      m = found ? found->get() : nullptr;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    auto* typed = dynamic_cast<M*>(m);
    if (!typed) throw UsageError("ftmeta: export_onnx: the module has no " + std::string(typeid(M).name()) + " at '" + key + "'");
    return *typed;
  }
  /// Whether `module` has a submodule at dotted `key`.
  static bool has_child(torch::nn::Module& module, const std::string& key) {
    torch::nn::Module* m = &module;
    std::size_t start = 0;
    for (;;) {
      const auto dot = key.find('.', start);
      const auto part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const auto children = m->named_children();
      const auto* found = children.find(part);
      if (!found) return false;
      m = found->get();
      if (dot == std::string::npos) return true;
      start = dot + 1;
    }
  }

  /// The parameter at dotted `key` of `module` ("pos_embed", "stages.0.blocks.1.gamma"); UsageError
  /// naming the key when there is none.
  static torch::Tensor parameter(torch::nn::Module& module, const std::string& key) {
    const auto params = module.named_parameters();
    const auto* found = params.find(key);
    if (!found) throw UsageError("ftmeta: export_onnx: the module has no parameter '" + key + "'");
    return *found;
  }

  /// Convolution `conv` then BatchNorm `bn` (eval mode: running statistics), padded by the
  /// convolution's own padding, or by `pads` {top, left, bottom, right} when given (TensorFlow's
  /// asymmetric "SAME"). With folding, one Conv whose weights absorb the BatchNorm. The output is
  /// `scale` * y + `shift` (folded into the weights; for a gate that follows).
  OnnxValue conv_bn(torch::nn::Conv2dImpl& conv, torch::nn::BatchNorm2dImpl* bn, const OnnxValue& x, const std::string& hint,
                    std::array<std::int64_t, 4> pads = {-1, -1, -1, -1}, double scale = 1.0, double shift = 0.0) {
    torch::NoGradGuard no_grad;
    const auto& o = conv.options;
    const std::int64_t k[2] = {(*o.kernel_size())[0], (*o.kernel_size())[1]};
    const std::int64_t s[2] = {(*o.stride())[0], (*o.stride())[1]};
    const std::int64_t d[2] = {(*o.dilation())[0], (*o.dilation())[1]};
    if (pads[0] < 0) {
      const auto* p = std::get_if<torch::ExpandingArray<2>>(&o.padding());
      if (!p) throw UsageError("ftmeta: export_onnx: " + hint + ": only explicit convolution padding is exported");
      pads = {(**p)[0], (**p)[1], (**p)[0], (**p)[1]};
    }
    auto w = conv.weight.to(torch::kFloat64);
    auto b = conv.bias.defined() ? conv.bias.to(torch::kFloat64) : torch::zeros({w.size(0)}, torch::kFloat64);
    if (bn && fold_) {
      const auto scale = bn->weight.to(torch::kFloat64) / (bn->running_var.to(torch::kFloat64) + bn->options.eps()).sqrt();
      w = w * scale.view({-1, 1, 1, 1});
      b = (b - bn->running_mean.to(torch::kFloat64)) * scale + bn->bias.to(torch::kFloat64);
    }
    if (scale != 1.0 || shift != 0.0) {
      if (bn && !fold_) throw UsageError("ftmeta: export_onnx: " + hint + ": a scaled convolution needs its BatchNorm folded");
      w = w * scale, b = b * scale + shift;
    }
    std::vector<std::string> in{x.name, initializer(hint + ".weight", w)};
    if (conv.bias.defined() || (bn && fold_) || shift != 0.0) in.push_back(initializer(hint + ".bias", b));
    auto& n = node("Conv", in, hint);
    attr(n, "kernel_shape", std::vector<std::int64_t>{k[0], k[1]});
    attr(n, "strides", std::vector<std::int64_t>{s[0], s[1]});
    attr(n, "dilations", std::vector<std::int64_t>{d[0], d[1]});
    attr(n, "pads", std::vector<std::int64_t>{pads[0], pads[1], pads[2], pads[3]});
    attr(n, "group", static_cast<std::int64_t>(o.groups()));
    OnnxValue y{n.output(0), {x.shape[0], w.size(0), 0, 0}};
    for (int i = 0; i < 2; ++i)
      y.shape[2 + i] = (x.shape[2 + i] + pads[i] + pads[2 + i] - d[i] * (k[i] - 1) - 1) / s[i] + 1;
    if (bn && !fold_) y = batch_norm(*bn, y, hint + ".bn");
    return y;
  }

  /// A BatchNormalization node (eval mode) over dimension 1, for [N, C] or [N, C, H, W].
  template <class BN>
  OnnxValue batch_norm(BN& bn, const OnnxValue& x, const std::string& hint) {
    auto& n = node("BatchNormalization",
                   {x.name, initializer(hint + ".weight", bn.weight), initializer(hint + ".bias", bn.bias),
                    initializer(hint + ".running_mean", bn.running_mean), initializer(hint + ".running_var", bn.running_var)},
                   hint);
    attr(n, "epsilon", static_cast<float>(bn.options.eps()));
    return {n.output(0), x.shape};
  }

  /// y = x * scale + shift per feature (dimension 1 of [N, C]): an eval-mode BatchNorm1d folded.
  OnnxValue affine(const OnnxValue& x, const torch::Tensor& scale, const torch::Tensor& shift, const std::string& hint) {
    auto& m = node("Mul", {x.name, initializer(hint + ".scale", scale)}, hint + ".mul");
    auto& a = node("Add", {m.output(0), initializer(hint + ".shift", shift)}, hint);
    return {a.output(0), x.shape};
  }

  OnnxValue unary(const std::string& op, const OnnxValue& x, const std::string& hint) { return {node(op, {x.name}, hint).output(0), x.shape}; }
  OnnxValue relu(const OnnxValue& x, const std::string& hint) { return unary("Relu", x, hint + ".relu"); }
  /// min(max(x, 0), 6): Clip with constant bounds, or, where the runtime reads Clip only with
  /// attribute bounds (OpenCV 4.6: opset < 11), Relu(x) - Relu(x - 6).
  OnnxValue relu6(const OnnxValue& x, const std::string& hint) {
    if (clip_relu6) {
      if (relu6_min_.empty()) relu6_min_ = scalar("relu6.min", 0.0f), relu6_max_ = scalar("relu6.max", 6.0f);
      return {node("Clip", {x.name, relu6_min_, relu6_max_}, hint + ".relu6").output(0), x.shape};
    }
    if (relu6_max_.empty()) relu6_max_ = scalar("relu6.six", 6.0f);
    auto& r = node("Relu", {x.name}, hint + ".relu");
    auto& s = node("Sub", {x.name, relu6_max_}, hint + ".minus6");
    auto& over = node("Relu", {s.output(0)}, hint + ".over6");
    return {node("Sub", {r.output(0), over.output(0)}, hint + ".relu6").output(0), x.shape};
  }
  OnnxValue add(const OnnxValue& a, const OnnxValue& b, const std::string& hint) {
    return {node("Add", {a.name, b.name}, hint + ".add").output(0), a.shape};
  }
  /// a - b (b a value or an initializer's name; the shape is a's).
  OnnxValue sub(const OnnxValue& a, const std::string& b, const std::string& hint) { return {node("Sub", {a.name, b}, hint).output(0), a.shape}; }
  OnnxValue sub(const OnnxValue& a, const OnnxValue& b, const std::string& hint) { return sub(a, b.name, hint); }
  /// torch's exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (ONNX's Gelu operator needs opset 20).
  OnnxValue gelu(const OnnxValue& x, const std::string& hint) {
    auto& d = node("Div", {x.name, scalar(hint + ".sqrt2", static_cast<float>(std::sqrt(2.0)))}, hint + ".div");
    auto& e = node("Erf", {d.output(0)}, hint + ".erf");
    auto& a = node("Add", {e.output(0), scalar(hint + ".one", 1.0f)}, hint + ".add");
    auto& m = node("Mul", {x.name, a.output(0)}, hint + ".mul");
    return {node("Mul", {m.output(0), scalar(hint + ".half", 0.5f)}, hint).output(0), x.shape};
  }
  /// LayerNormalization over the last axis with `ln`'s weight, bias and epsilon (opset 17).
  OnnxValue layer_norm(torch::nn::LayerNormImpl& ln, const OnnxValue& x, const std::string& hint) {
    auto& n = node("LayerNormalization", {x.name, initializer(hint + ".weight", ln.weight), initializer(hint + ".bias", ln.bias)}, hint);
    attr(n, "axis", std::int64_t{-1});
    attr(n, "epsilon", static_cast<float>(ln.options.eps()));
    return {n.output(0), x.shape};
  }
  /// y = x W^T + b over the last axis, W [out, in]: Gemm for [N, in], MatMul and Add for more axes.
  OnnxValue linear(const torch::Tensor& weight, const torch::Tensor& bias, const OnnxValue& x, const std::string& hint) {
    auto shape = x.shape;
    shape.back() = weight.size(0);
    if (x.shape.size() == 2) {
      auto& n = node("Gemm", {x.name, initializer(hint + ".weight", weight), initializer(hint + ".bias", bias)}, hint);
      attr(n, "transB", std::int64_t{1});
      return {n.output(0), shape};
    }
    auto& m = node("MatMul", {x.name, initializer(hint + ".weight", weight.t())}, hint + ".matmul");
    return {node("Add", {m.output(0), initializer(hint + ".bias", bias)}, hint).output(0), shape};
  }
  OnnxValue transpose(const OnnxValue& x, const std::vector<std::int64_t>& perm, const std::string& hint) {
    auto& n = node("Transpose", {x.name}, hint);
    attr(n, "perm", perm);
    OnnxValue y{n.output(0), x.shape};
    for (std::size_t i = 0; i < perm.size(); ++i) y.shape[i] = x.shape[static_cast<std::size_t>(perm[i])];
    return y;
  }
  /// Reshape to `shape` (its -1 at dimension 0 is written as 0: the batch is copied).
  OnnxValue reshape(const OnnxValue& x, std::vector<std::int64_t> shape, const std::string& hint) {
    auto to = shape;
    if (to.at(0) < 0) to[0] = 0;
    return {node("Reshape", {x.name, ints(hint + ".shape", to)}, hint).output(0), std::move(shape)};
  }
  /// LayerNorm over the channels of [N, C, H, W] (timm's LayerNorm2d): to channels-last and back.
  OnnxValue layer_norm_channels(torch::nn::LayerNormImpl& ln, const OnnxValue& x, const std::string& hint) {
    auto y = layer_norm(ln, transpose(x, {0, 2, 3, 1}, hint + ".nhwc"), hint);
    return transpose(y, {0, 3, 1, 2}, hint + ".nchw");
  }
  /// MaxPool kernel k, stride s, symmetric padding p.
  OnnxValue max_pool(const OnnxValue& x, std::int64_t k, std::int64_t s, std::int64_t p, const std::string& hint) {
    auto& n = node("MaxPool", {x.name}, hint);
    attr(n, "kernel_shape", std::vector<std::int64_t>{k, k});
    attr(n, "strides", std::vector<std::int64_t>{s, s});
    attr(n, "pads", std::vector<std::int64_t>{p, p, p, p});
    OnnxValue y{n.output(0), x.shape};
    for (int i = 2; i < 4; ++i) y.shape[i] = (x.shape[i] + 2 * p - k) / s + 1;
    return y;
  }
  /// Global pooling ("GlobalAveragePool" or "GlobalMaxPool") then Flatten: [N, C, H, W] -> [N, C].
  OnnxValue global_pool(const std::string& op, const OnnxValue& x, const std::string& hint) {
    auto& p = node(op, {x.name}, hint);
    auto& f = node("Flatten", {p.output(0)}, hint + ".flat");
    attr(f, "axis", std::int64_t{1});
    return {f.output(0), {x.shape[0], x.shape[1]}};
  }

 private:
  onnx::GraphProto& graph_;
  bool fold_;
  std::map<std::string, int> used_;
  std::string relu6_min_, relu6_max_;
};

/// Whether `Part` has an ONNX emitter.
template <class Part>
concept OnnxExportable = requires(OnnxGraph* g, torch::nn::Module& m, const OnnxValue& x) {
  { onnx_emitter<Part>::emit(*g, m, x) } -> std::convertible_to<OnnxValue>;
};

}  // namespace ftmeta::nn
