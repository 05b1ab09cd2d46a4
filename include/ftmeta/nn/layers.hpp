// ftmeta/nn/layers.hpp: the layer tags heads are written in, their widths and their checks.
// ftmeta:pure
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

namespace ftmeta::nn {

/// The number of classes, a runtime value taken from the data: `Linear<Classes>`.
struct ClassesTag {
  constexpr bool operator==(const ClassesTag&) const = default;
};
inline constexpr ClassesTag Classes{};

/// A width known only at run time (the number of classes, or what follows it).
inline constexpr std::int64_t runtime_width = -1;

// --- layer tags: empty types; traits below say what they do ---------------------------------------

/// Fully connected layer with Out output features (`Linear<512>`, `Linear<Classes>`); In, when not
/// 0, states the input width it expects, checked against the layer before.
template <auto Out, std::int64_t In = 0>
struct Linear {
  static_assert(std::is_same_v<std::remove_cv_t<decltype(Out)>, ClassesTag> || std::is_integral_v<std::remove_cv_t<decltype(Out)>>,
                "ftmeta: Linear<Out>: Out must be a positive integer or Classes");
  static constexpr bool out_is_classes = std::is_same_v<std::remove_cv_t<decltype(Out)>, ClassesTag>;
  static constexpr std::int64_t out_width = [] {
    if constexpr (out_is_classes) return runtime_width;
    else return static_cast<std::int64_t>(Out);
  }();
  static_assert(out_is_classes || out_width > 0, "ftmeta: Linear<Out>: Out must be positive");
  static constexpr std::int64_t in_width = In;
  static std::string describe() {
    return "Linear(" + (out_is_classes ? std::string("classes") : std::to_string(out_width)) + ")";
  }
};

/// Batch normalization over features (width-preserving).
struct BatchNorm1d {
  static constexpr std::int64_t in_width = 0;
  static std::string describe() { return "BatchNorm1d"; }
};
/// Layer normalization over features (width-preserving).
struct LayerNorm {
  static constexpr std::int64_t in_width = 0;
  static std::string describe() { return "LayerNorm"; }
};
/// Dropout with probability P.
template <double P>
struct Dropout {
  static_assert(P >= 0.0 && P < 1.0, "ftmeta: Dropout<P>: P must be in [0, 1)");
  static constexpr double p = P;
  static constexpr std::int64_t in_width = 0;
  static std::string describe() { return "Dropout(" + std::to_string(P).substr(0, 4) + ")"; }
};
/// Activations (width-preserving).
struct ReLU {
  static constexpr std::int64_t in_width = 0;
  static std::string describe() { return "ReLU"; }
};
struct ELU {
  static constexpr std::int64_t in_width = 0;
  static std::string describe() { return "ELU"; }
};
struct GELU {
  static constexpr std::int64_t in_width = 0;
  static std::string describe() { return "GELU"; }
};

// --- traits -------------------------------------------------------------------------------------------

template <class L>
struct is_linear : std::false_type {};
template <auto Out, std::int64_t In>
struct is_linear<Linear<Out, In>> : std::true_type {};
template <class L>
inline constexpr bool is_linear_v = is_linear<L>::value;

/// Whether L is `Linear<Classes>` (its width is the runtime class count).
template <class L>
inline constexpr bool is_classes_linear_v = [] {
  if constexpr (is_linear_v<L>) return L::out_is_classes;
  else return false;
}();

/// Whether L is one of ftmeta's layer tags.
template <class L>
struct is_layer : std::bool_constant<is_linear_v<L> || std::is_same_v<L, BatchNorm1d> || std::is_same_v<L, LayerNorm> ||
                                     std::is_same_v<L, ReLU> || std::is_same_v<L, ELU> || std::is_same_v<L, GELU>> {};
template <double P>
struct is_layer<Dropout<P>> : std::true_type {};
template <class L>
inline constexpr bool is_layer_v = is_layer<L>::value;

/// The width a layer gives for an input of width `in` (runtime_width when not known at compile time).
template <class L>
constexpr std::int64_t out_width(std::int64_t in) {
  if constexpr (is_linear_v<L>) return L::out_width;
  else return in;
}

/// Whether a layer holds parameters (named submodules follow nn.Sequential's numbering either way).
template <class L>
inline constexpr bool has_parameters_v = is_linear_v<L> || std::is_same_v<L, BatchNorm1d> || std::is_same_v<L, LayerNorm>;

}  // namespace ftmeta::nn
