// ftmeta/optim/groups.hpp: parameter groups and optimizer recipes declared as types, checked
// against the model spec at compile time.
// ftmeta:pure
#pragma once

#include <ftmeta/core/type_list.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace ftmeta::optim {

// --- what a group selects --------------------------------------------------------------------------
/// The backbone's parameters.
struct BackbonePart {
  static constexpr std::string_view part = "backbone";
};
/// The head's parameters.
struct HeadPart {
  static constexpr std::string_view part = "head";
};

// --- options ----------------------------------------------------------------------------------------------
/// Learning rate of a group (absolute).
template <double V>
struct Lr {
  static_assert(V > 0.0, "ftmeta: Lr<V>: the learning rate must be positive");
  static constexpr double value = V;
};
/// L2 weight decay of a group.
template <double V>
struct WeightDecay {
  static_assert(V >= 0.0, "ftmeta: WeightDecay<V>: weight decay must be >= 0");
  static constexpr double value = V;
};
/// SGD momentum.
template <double V>
struct Momentum {
  static_assert(V >= 0.0 && V < 1.0, "ftmeta: Momentum<V>: momentum must be in [0, 1)");
  static constexpr double value = V;
};
/// Nesterov momentum for SGD.
struct Nesterov {};

template <class T> struct is_lr : std::false_type {};
template <double V> struct is_lr<Lr<V>> : std::true_type {};
template <class T> struct is_weight_decay : std::false_type {};
template <double V> struct is_weight_decay<WeightDecay<V>> : std::true_type {};
template <class T> struct is_momentum : std::false_type {};
template <double V> struct is_momentum<Momentum<V>> : std::true_type {};
template <class T> struct is_nesterov : std::is_same<T, Nesterov> {};

/// A parameter group: `Group<HeadPart, Lr<1e-3>>`, `Group<BackbonePart, Lr<1e-2>, WeightDecay<1e-4>>`.
template <class Part, class... Options>
struct Group {
  static_assert(requires { Part::part; }, "ftmeta: Group<Part, ...>: Part must be a selector such as BackbonePart or HeadPart");
  static_assert((... || is_lr<Options>::value), "ftmeta: Group<Part, ...>: every group needs its learning rate, e.g. Lr<1e-3>");
  static_assert(((is_lr<Options>::value || is_weight_decay<Options>::value) && ...),
                "ftmeta: Group<Part, ...>: options of a group are Lr<...> and WeightDecay<...>");
  using part = Part;
  static constexpr double lr = [] {
    double v = 0;
    ((is_lr<Options>::value ? (v = Options::value, 0) : 0), ...);
    return v;
  }();
  static constexpr double weight_decay = [] {
    double v = 0;
    ((is_weight_decay<Options>::value ? (v = Options::value, 0) : 0), ...);
    return v;
  }();
  static std::string describe() {
    return std::string(Part::part) + ": lr " + std::to_string(lr) + (weight_decay > 0 ? ", weight decay " + std::to_string(weight_decay) : "");
  }
};

template <class T> struct is_group : std::false_type {};
template <class P, class... O> struct is_group<Group<P, O...>> : std::true_type {};

namespace detail {
template <class T>
constexpr double momentum_of() {
  if constexpr (is_momentum<T>::value) return T::value;
  else return 0;
}
}  // namespace detail

/// SGD with the blog's settings as types:
/// `Sgd<Momentum<0.9>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>>`.
template <class... Items>
struct Sgd {
  using groups = decltype(meta::concat_t<std::conditional_t<is_group<Items>::value, meta::TypeList<Items>, meta::TypeList<>>...>{});
  static_assert(meta::size_v<groups> > 0, "ftmeta: Sgd<...>: declare at least one Group<Part, Lr<...>>");
  static_assert(((is_group<Items>::value || is_momentum<Items>::value || is_nesterov<Items>::value) && ...),
                "ftmeta: Sgd<...>: items are Group<...>, Momentum<...> and Nesterov");
  static_assert((0 + ... + int(is_momentum<Items>::value)) <= 1, "ftmeta: Sgd<...>: give Momentum<V> at most once");
  static constexpr double momentum = (0.0 + ... + detail::momentum_of<Items>());
  static constexpr bool nesterov = (is_nesterov<Items>::value || ...);
  static_assert(!nesterov || momentum > 0, "ftmeta: Sgd<...>: Nesterov needs Momentum<V> with V > 0");

  static std::string describe() {
    std::string s = "SGD(momentum " + std::to_string(momentum) + (nesterov ? ", nesterov" : "") + ")";
    meta::for_each_type(groups{}, [&]<class G, std::size_t>() { s += "; " + G::describe(); });
    return s;
  }
};

namespace detail {
template <class Groups>
struct group_parts;
template <class... Gs>
struct group_parts<meta::TypeList<Gs...>> {
  static constexpr std::array<std::string_view, sizeof...(Gs)> value{Gs::part::part...};
};
}  // namespace detail

/// Whether every group of Recipe names a part the model spec has, and no part is claimed twice.
template <class Recipe, class ModelSpec>
constexpr bool groups_fit_v = [] {
  constexpr auto parts = detail::group_parts<typename Recipe::groups>::value;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (std::find(ModelSpec::parts.begin(), ModelSpec::parts.end(), parts[i]) == ModelSpec::parts.end()) return false;
    for (std::size_t j = 0; j < i; ++j)
      if (parts[i] == parts[j]) return false;
  }
  return true;
}();

/// Whether the groups cover every part of the model (otherwise some parameters would not train).
template <class Recipe, class ModelSpec>
constexpr bool groups_cover_v = [] {
  constexpr auto parts = detail::group_parts<typename Recipe::groups>::value;
  for (auto p : ModelSpec::parts)
    if (std::find(parts.begin(), parts.end(), p) == parts.end()) return false;
  return true;
}();

}  // namespace ftmeta::optim
