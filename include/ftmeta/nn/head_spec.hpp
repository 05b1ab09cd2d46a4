// ftmeta/nn/head_spec.hpp: heads as flat layer lists and pooling tags. Pure: the torch modules live in
// nn/head.hpp; the model spec that checks a head fits its backbone is nn/model_spec.hpp.
// ftmeta:pure
#pragma once

#include <ftmeta/core/type_list.hpp>
#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/nn/layers.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ftmeta::nn {

// --- pooling of the backbone's feature map --------------------------------------------------------------
/// Global average pooling (the blog's F.avg_pool2d over the whole map).
struct AvgPool {
  static constexpr std::int64_t width_factor = 1;
  static constexpr std::string_view name = "global average pooling";
};
/// Global max pooling.
struct MaxPool {
  static constexpr std::int64_t width_factor = 1;
  static constexpr std::string_view name = "global max pooling";
};
/// Average and max pooling concatenated (fastai's AdaptiveConcatPool2d): twice the width.
struct ConcatPool {
  static constexpr std::int64_t width_factor = 2;
  static constexpr std::string_view name = "concat(average, max) pooling";
};


// --- heads ------------------------------------------------------------------------------------------------------
namespace detail {
template <class... Ls>
constexpr std::size_t first_non_layer() {
  constexpr bool ok[] = {is_layer_v<Ls>..., false};
  std::size_t i = 0;
  while (i < sizeof...(Ls) && ok[i]) ++i;
  return i;
}
template <class... Ls>
constexpr std::size_t classes_not_last() {
  constexpr bool is_classes[] = {is_classes_linear_v<Ls>..., false};
  for (std::size_t i = 0; i + 1 < sizeof...(Ls); ++i)
    if (is_classes[i]) return i;
  return sizeof...(Ls);
}
}  // namespace detail

/// A classifier head: a flat list of layers applied in order to the pooled features.
/// `Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>>`
/// is the blog's MLP head. Submodules are numbered as in nn.Sequential ("0", "1", ...), so the keys
/// match a Python `nn.Sequential` of the same layers.
template <class... Layers>
struct Head {
  using layers = meta::TypeList<Layers...>;
  static_assert(sizeof...(Layers) > 0, "ftmeta: Head<>: a head needs at least one layer, e.g. Head<Linear<Classes>>");
  static_assert(detail::first_non_layer<Layers...>() == sizeof...(Layers),
                "ftmeta: Head<...>: every element must be a layer tag (Linear, BatchNorm1d, Dropout, ReLU, ELU, GELU, LayerNorm)");
  static_assert(detail::classes_not_last<Layers...>() == sizeof...(Layers),
                "ftmeta: Head<...>: Linear<Classes> must be the last layer (the class count is only known there)");
  static_assert(is_linear_v<meta::at_t<sizeof...(Layers) - 1, layers>>,
                "ftmeta: Head<...>: the last layer must be a Linear (it produces the logits), e.g. Linear<Classes>");

  /// Width after each layer for an input of width `in` (runtime_width where it depends on the data).
  static constexpr std::array<std::int64_t, sizeof...(Layers)> widths(std::int64_t in) {
    std::array<std::int64_t, sizeof...(Layers)> w{};
    std::size_t i = 0;
    ((w[i] = in = out_width<Layers>(in), ++i), ...);
    return w;
  }
  /// Index of the first layer whose stated input width differs from what it receives, or size.
  static constexpr std::size_t first_misfit(std::int64_t in) {
    constexpr std::array<std::int64_t, sizeof...(Layers)> stated{Layers::in_width...};
    const auto w = widths(in);
    for (std::size_t i = 0; i < sizeof...(Layers); ++i) {
      const std::int64_t got = i == 0 ? in : w[i - 1];
      if (stated[i] != 0 && got != runtime_width && stated[i] != got) return i;
    }
    return sizeof...(Layers);
  }
  static std::string describe() {
    std::string s = "Head[";
    std::size_t i = 0;
    ((s += (i++ ? ", " : "") + Layers::describe()), ...);
    return s + "]";
  }
};

namespace detail {
template <class... Ls>
std::true_type derives_from_head(const Head<Ls...>*);
std::false_type derives_from_head(const void*);
}  // namespace detail

/// Whether T is a Head<...> or a struct deriving from one.
template <class T>
struct is_head : decltype(detail::derives_from_head(static_cast<const T*>(nullptr))) {};

}  // namespace ftmeta::nn
