// ftmeta/nn/head.hpp: the LibTorch modules generated from Head<...> layer lists, statically composed.
#pragma once

#include <ftmeta/nn/batch_norm.hpp>
#include <ftmeta/nn/head_spec.hpp>

#include <torch/torch.h>

#include <string>
#include <tuple>
#include <utility>

namespace ftmeta::nn {

namespace detail {
/// The width a layer gives at run time, when the class count is known.
template <class L>
constexpr std::int64_t runtime_out_width(std::int64_t in, std::int64_t classes) {
  const std::int64_t w = out_width<L>(in);
  return w == runtime_width ? classes : w;
}

/// The LibTorch module each layer tag generates.
template <class L>
struct layer_module;
template <auto Out, std::int64_t In>
struct layer_module<Linear<Out, In>> {
  using type = torch::nn::Linear;
  static type make(std::int64_t in, std::int64_t classes) {
    return type(in, Linear<Out, In>::out_is_classes ? classes : Linear<Out, In>::out_width);
  }
};
template <>
struct layer_module<BatchNorm1d> {
  using type = SyncableBatchNorm1d;  // torch::nn::BatchNorm1d that can be synchronized across ranks
  static type make(std::int64_t in, std::int64_t) { return type(in); }
};
template <>
struct layer_module<LayerNorm> {
  using type = torch::nn::LayerNorm;
  static type make(std::int64_t in, std::int64_t) { return type(torch::nn::LayerNormOptions({in})); }
};
template <double P>
struct layer_module<Dropout<P>> {
  using type = torch::nn::Dropout;
  static type make(std::int64_t, std::int64_t) { return type(P); }
};
template <>
struct layer_module<ReLU> {
  using type = torch::nn::ReLU;
  static type make(std::int64_t, std::int64_t) { return type(); }
};
template <>
struct layer_module<ELU> {
  using type = torch::nn::ELU;
  static type make(std::int64_t, std::int64_t) { return type(); }
};
template <>
struct layer_module<GELU> {
  using type = torch::nn::GELU;
  static type make(std::int64_t, std::int64_t) { return type(); }
};
}  // namespace detail

template <class HeadT, class Layers = typename HeadT::layers>
class HeadModuleImpl;

/// The head as a module: one submodule per layer, named "0", "1", ... as in nn.Sequential, and a
/// forward pass unrolled at compile time (no virtual dispatch, no AnyModule). HeadT is a Head<...>
/// or a struct deriving from one.
template <class HeadT, class... Ls>
class HeadModuleImpl<HeadT, meta::TypeList<Ls...>> : public torch::nn::Module {
 public:
  /// in_width: the pooled feature width; num_classes: from the data (> 0).
  HeadModuleImpl(std::int64_t in_width, std::int64_t num_classes)
      : layers_(make_layers(in_width, num_classes, std::index_sequence_for<Ls...>{})) {
    TORCH_CHECK(num_classes > 0, "ftmeta: a head needs at least one class, got ", num_classes);
    register_all(std::index_sequence_for<Ls...>{});
  }

  torch::Tensor forward(torch::Tensor x) {
    std::apply([&](auto&... layer) { ((x = layer->forward(x)), ...); }, layers_);
    return x;
  }

 private:
  template <std::size_t... Is>
  static auto make_layers(std::int64_t in, std::int64_t classes, std::index_sequence<Is...>) {
    constexpr std::size_t n = sizeof...(Ls);
    std::array<std::int64_t, n + 1> w{};
    w[0] = in;
    std::size_t i = 0;
    // Widths at run time: Linear<Classes> yields the class count.
    ((w[i + 1] = detail::runtime_out_width<Ls>(w[i], classes), ++i), ...);
    return std::tuple<typename detail::layer_module<Ls>::type...>{detail::layer_module<Ls>::make(w[Is], classes)...};
  }
  template <std::size_t... Is>
  void register_all(std::index_sequence<Is...>) {
    ((std::get<Is>(layers_) = register_module(std::to_string(Is), std::get<Is>(layers_))), ...);
  }
  std::tuple<typename detail::layer_module<Ls>::type...> layers_;
};

template <class HeadT>
class HeadModule : public torch::nn::ModuleHolder<HeadModuleImpl<HeadT>> {
 public:
  using torch::nn::ModuleHolder<HeadModuleImpl<HeadT>>::ModuleHolder;
};

}  // namespace ftmeta::nn
