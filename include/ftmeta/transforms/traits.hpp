// ftmeta/transforms/traits.hpp: what a transform op is, read by the planner and the loader: kind, domains, size rule, decode hint.
// ftmeta:pure
// An op is an empty tag type. It states its traits as static members (kind, and optionally size_rule,
// out_size, pointwise, decode_hint); OpTraits reads them, so an op works through derivation (`struct HFlip :
// RandomHorizontalFlip<0.5> {}`), and a third-party tag can specialize OpTraits instead.
#pragma once

#include <ftmeta/transforms/geometry.hpp>

#include <concepts>
#include <type_traits>

namespace ftmeta::transforms {

/// What an op does, which decides the stage the planner puts it in.
enum class OpKind {
  geometric,    ///< moves pixels (crops, resizes, flips): folds into one 2x3 map and one resample
  photometric,  ///< changes pixel values in the uint8 image domain: folds into the pixel pass
  image,        ///< a whole-image uint8 op (TrivialAugmentWide, RandAugment): its own pass on the image
  to_tensor,    ///< uint8 HWC image -> float32 CHW tensor in [0, 1]
  tensor,       ///< works on the float tensor (Normalize): pointwise ones fold into the pixel pass
  invalid,      ///< not a transform op (used by the checks)
};

/// What an op works on.
enum class Domain { image, tensor };

/// How an op decides the size of its output.
enum class SizeRule {
  keeps,           ///< same size as its input (flips, photometric and tensor ops)
  fixed,           ///< a size known at compile time (CenterCrop<224>, RandomResizedCrop<224>)
  data_dependent,  ///< known only from the input (Resize<256> keeps the aspect ratio)
};

/// What an op that comes first reads of the image it is given, for a loader's reduced-resolution
/// decoding (data::decode_options_for): the larger side of its output, and the smallest box it may read
/// as a fraction of the image's area, at its most extreme aspect ratio (min(ratio, 1 / ratio)).
/// out_side 0: no hint (the image is decoded at full resolution).
struct DecodeHint {
  int out_side = 0;
  double min_area = 1.0;
  double min_aspect = 1.0;
  constexpr bool known() const { return out_side > 0; }
};

namespace detail {
template <class Op>
concept declares_op_traits = requires {
  { Op::kind } -> std::convertible_to<OpKind>;
};
}  // namespace detail

/// The traits of an op; empty (no `kind`) for a type that is not an op.
template <class Op>
struct OpTraits {};

template <detail::declares_op_traits Op>
struct OpTraits<Op> {
  static constexpr OpKind kind = Op::kind;
  static constexpr Domain input = (kind == OpKind::tensor) ? Domain::tensor : Domain::image;
  static constexpr Domain output = (kind == OpKind::to_tensor || kind == OpKind::tensor) ? Domain::tensor : Domain::image;
  static constexpr SizeRule size_rule = [] {
    if constexpr (requires { Op::size_rule; }) return Op::size_rule;
    else return SizeRule::keeps;
  }();
  /// The output size when size_rule is fixed, else {0, 0}.
  static constexpr ImageSize out_size = [] {
    if constexpr (requires { Op::out_size; }) return size_rule == SizeRule::fixed ? ImageSize(Op::out_size) : ImageSize{};
    else return ImageSize{};
  }();
  /// Whether the op maps each pixel on its own (it can join the single pixel pass).
  static constexpr bool pointwise = [] {
    if constexpr (requires { Op::pointwise; }) return bool(Op::pointwise);
    else return kind != OpKind::geometric && kind != OpKind::image;
  }();
  /// What the op reads when it comes first (`static constexpr DecodeHint decode_hint`); else no hint.
  static constexpr DecodeHint decode_hint = [] {
    if constexpr (requires { Op::decode_hint; }) return DecodeHint(Op::decode_hint);
    else return DecodeHint{};
  }();
};

/// A type the planner can place: it has OpTraits.
template <class T>
concept TransformOp = requires { OpTraits<T>::kind; };

/// The kind of T, or OpKind::invalid when T is not an op (so the checks can name the problem).
template <class T>
constexpr OpKind op_kind_v = [] {
  if constexpr (TransformOp<T>) return OpTraits<T>::kind;
  else return OpKind::invalid;
}();

/// Words for an op kind.
constexpr const char* kind_name(OpKind k) {
  switch (k) {
    case OpKind::geometric: return "geometric";
    case OpKind::photometric: return "photometric";
    case OpKind::image: return "image";
    case OpKind::to_tensor: return "to_tensor";
    case OpKind::tensor: return "tensor";
    default: return "invalid";
  }
}

}  // namespace ftmeta::transforms
