// ftmeta/transforms/plan.hpp: the fusion planner: stages, the plan of an op list, and every fused-order rule.
// ftmeta:pure
// Like an Eigen expression, a Compose carries no work: the planner reads the ops' traits and groups
// them into stages (consecutive geometric ops -> one GeometricStage, executed as one 2x3 map and
// one resample; ToTensor and pointwise tensor ops -> one PixelStage, executed as one pass from the
// uint8 image to the float tensor). It also states which plans the fused kernels can run (FusedOrder:
// where photometric, image, padding and erasing ops may stand); Compose checks them where it is
// declared. The kernels (kernels/, apply.hpp) run a plan; this header runs nothing.
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/transforms/detail/text.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/ops.hpp>
#include <ftmeta/transforms/traits.hpp>

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>

namespace ftmeta::transforms {

// --- stages (the plan's vocabulary) --------------------------------------------------------------

/// Which stage an op joins.
enum class StageKind { geometric, image, pixel, tensor };

template <class Op>
inline constexpr StageKind stage_kind_v = OpTraits<Op>::kind == OpKind::geometric ? StageKind::geometric
                                          : OpTraits<Op>::kind == OpKind::image     ? StageKind::image
                                          : (OpTraits<Op>::kind == OpKind::tensor && !OpTraits<Op>::pointwise)
                                              ? StageKind::tensor
                                              : StageKind::pixel;

namespace detail {
template <class... Ops>
constexpr std::string op_names(const char* separator) {
  std::string text;
  ((text.append(text.empty() ? "" : separator), text.append(Ops::name())), ...);
  return text;
}
}  // namespace detail

/// Consecutive geometric ops: their maps multiply into one 2x3 map, executed as one resample.
template <class... Ops>
struct GeometricStage {
  static constexpr StageKind kind = StageKind::geometric;
  using ops = meta::TypeList<Ops...>;
  template <class Op>
  using append = GeometricStage<Ops..., Op>;

  /// Samples every op's parameters in order (each sees the size its predecessor outputs) and
  /// returns the folded step: the output size and the one map from output to input pixels.
  static constexpr GeomStep sample(Rng& rng, ImageSize in) {
    GeomStep acc = identity_step(in);
    ((acc = chain(acc, Ops::step(Ops::sample(rng, acc.out), acc.out))), ...);
    return acc;
  }
  static constexpr std::string describe() {
    return detail::cat("GeometricStage[", detail::op_names<Ops...>(", "), "]: one 2x3 map, one resample");
  }
};

namespace detail {
template <class Op>
constexpr int max_pixel_steps() {
  if constexpr (requires { Op::max_steps; }) return Op::max_steps;
  else return 0;
}
}  // namespace detail

/// ToTensor, the pointwise ops around it (photometric before, Normalize-like after): one pass from the
/// uint8 BGR/gray image to the float32 RGB CHW tensor. Photometric ops add per-pixel uint8 steps
/// (PixelProgram) run inside that pass; ToTensor and what follows fold into one multiply-add per channel.
template <class... Ops>
struct PixelStage {
  static constexpr StageKind kind = StageKind::pixel;
  using ops = meta::TypeList<Ops...>;
  template <class Op>
  using append = PixelStage<Ops..., Op>;

  /// Whether the photometric ops are all in the uint8 domain (before ToTensor) and every later op is a
  /// per-channel multiply-add (they then fold into a single one).
  static constexpr bool channel_affine =
      ((OpTraits<Ops>::kind == OpKind::photometric || requires { Ops::affine(); }) && ...);
  /// Whether the stage has photometric ops (then the pass runs a PixelProgram before the multiply-add).
  static constexpr bool photometric = ((OpTraits<Ops>::kind == OpKind::photometric) || ...);
  /// The most uint8 steps one sample can have.
  static constexpr int max_steps = (detail::max_pixel_steps<Ops>() + ... + 0);
  /// How many photometric ops look at neighbours (GaussianBlur): each is a pass of its own.
  static constexpr int neighbourhood_ops =
      ((OpTraits<Ops>::kind == OpKind::photometric && !OpTraits<Ops>::pointwise ? 1 : 0) + ... + 0);
  /// The ops from ToTensor on, folded: uint8 value -> float value is one multiply-add per channel.
  static constexpr ChannelAffine affine() {
    ChannelAffine r;
    if constexpr (channel_affine)
      ([&] {
        if constexpr (requires { Ops::affine(); }) r = then(r, Ops::affine());
      }(), ...);
    return r;
  }
  /// Samples the photometric ops in order: the uint8 steps of this sample.
  static constexpr PixelProgram sample(Rng& rng) {
    PixelProgram program;
    ([&] {
      if constexpr (OpTraits<Ops>::kind == OpKind::photometric) Ops::steps(Ops::sample(rng, ImageSize{}), program);
    }(), ...);
    return program;
  }
  static constexpr std::string describe() {
    std::string text = detail::cat("PixelStage[", detail::op_names<Ops...>(", "), "]: one pass, uint8 BGR/gray HWC -> ");
    if constexpr (photometric) text.append("uint8 RGB steps (up to "), text.append(detail::int_text(max_steps)), text.append(") -> ");
    text.append("float32 RGB CHW, one multiply-add per channel");
    if constexpr (neighbourhood_ops > 0)
      text.append(detail::cat("; plus ", detail::int_text(neighbourhood_ops),
                              " blur pass(es) on the resampled uint8 image (GaussianBlur: separable, reflected borders)"));
    return text;
  }
};

/// Whole-image uint8 ops (TrivialAugmentWide, RandAugment: ops chosen per sample, some of which look at the
/// whole image): each runs as its own pass on the uint8 image, after the geometric stage's resample and before
/// the pixel pass. Each op's parameters are sampled in order; its kernel (found by argument-dependent
/// lookup, `run_image_op(Op, params, image)`) lives with the op's kernels.
template <class... Ops>
struct ImageStage {
  static constexpr StageKind kind = StageKind::image;
  using ops = meta::TypeList<Ops...>;
  template <class Op>
  using append = ImageStage<Ops..., Op>;
  static constexpr std::size_t size = sizeof...(Ops);

  /// What one sample draws: each op's parameters, in op order.
  struct Params {
    std::tuple<typename Ops::Params...> ops;
  };
  static constexpr Params sample(Rng& rng) {
    Params p;
    std::apply([&](auto&... each) { ((each = Ops::sample(rng, ImageSize{})), ...); }, p.ops);
    return p;
  }
  static constexpr std::string describe() {
    return detail::cat("ImageStage[", detail::op_names<Ops...>(", "), "]: ", detail::int_text(int(sizeof...(Ops))),
                       " pass(es) on the uint8 image, between the resample and the pixel pass");
  }
};

/// Tensor ops that are not pointwise (RandomErasing): run after the pixel pass, in place on its output.
template <class... Ops>
struct TensorStage {
  static constexpr StageKind kind = StageKind::tensor;
  using ops = meta::TypeList<Ops...>;
  template <class Op>
  using append = TensorStage<Ops..., Op>;
  static constexpr std::string describe() {
    return detail::cat("TensorStage[", detail::op_names<Ops...>(", "), "]: in place on the pixel pass's float32 output");
  }
};

// --- the planner --------------------------------------------------------------------------------

namespace detail {
template <StageKind K, class Op>
struct start_stage;
template <class Op>
struct start_stage<StageKind::geometric, Op> {
  using type = GeometricStage<Op>;
};
template <class Op>
struct start_stage<StageKind::image, Op> {
  using type = ImageStage<Op>;
};
template <class Op>
struct start_stage<StageKind::pixel, Op> {
  using type = PixelStage<Op>;
};
template <class Op>
struct start_stage<StageKind::tensor, Op> {
  using type = TensorStage<Op>;
};

// Walks the ops once: an op joins the current stage when it is of the same kind, else starts one.
template <class Done, class Current, class... Rest>
struct build_plan;
template <class... Done, class Current>
struct build_plan<meta::TypeList<Done...>, Current> {
  using type = meta::TypeList<Done..., Current>;
};
template <class... Done>
struct build_plan<meta::TypeList<Done...>, void> {
  using type = meta::TypeList<Done...>;
};
template <class... Done, class Current, class Op, class... Rest>
struct build_plan<meta::TypeList<Done...>, Current, Op, Rest...> {
  static constexpr bool joins = !std::is_void_v<Current> && [] {
    if constexpr (std::is_void_v<Current>) return false;
    else return Current::kind == stage_kind_v<Op>;
  }();
  using type = typename std::conditional_t<
      joins,
      build_plan<meta::TypeList<Done...>, typename std::conditional_t<joins, Current, GeometricStage<>>::template append<Op>,
                 Rest...>,
      build_plan<meta::TypeList<Done..., Current>, typename start_stage<stage_kind_v<Op>, Op>::type, Rest...>>::type;
};
template <class... Done, class Op, class... Rest>
struct build_plan<meta::TypeList<Done...>, void, Op, Rest...>
    : build_plan<meta::TypeList<Done...>, typename start_stage<stage_kind_v<Op>, Op>::type, Rest...> {};

template <class OpList>
struct plan_of;
template <class... Ops>
struct plan_of<meta::TypeList<Ops...>> : build_plan<meta::TypeList<>, void, Ops...> {};

}  // namespace detail

/// The plan of a pipeline (a Compose or a struct derived from one): a TypeList of stages.
template <class P>
using plan_t = typename detail::plan_of<typename P::ops>::type;

// --- what the fused kernels can run ----------------------------------------------------------------

namespace detail {

template <class Op>
constexpr bool pads_source() {
  if constexpr (requires { Op::padding_mode; }) return Op::padding_mode != PaddingMode::constant;
  else return false;
}
/// The first op of a pipeline when it pads with a mode other than constant (the fused kernel pads the
/// source with it, then folds the rest), else void; `ok` is false when such an op is not first.
template <class... Ops>
struct source_padding {
  using first = void;
  static constexpr bool ok = true;
};
template <class First, class... Rest>
struct source_padding<First, Rest...> {
  using first = std::conditional_t<pads_source<First>(), First, void>;
  static constexpr bool ok = !(pads_source<Rest>() || ...);
};
template <class... Ops>
source_padding<Ops...> source_padding_of(meta::TypeList<Ops...>);

/// Whether every op after the first non-pointwise tensor op (RandomErasing) is one too: the fused
/// kernel erases the pixel pass's finished output, so nothing may follow that changes values.
template <class... Ops>
constexpr bool erasing_last(meta::TypeList<Ops...>) {
  bool seen = false, ok = true;
  ((seen = seen || (OpTraits<Ops>::kind == OpKind::tensor && !OpTraits<Ops>::pointwise),
    ok = ok && (!seen || (OpTraits<Ops>::kind == OpKind::tensor && !OpTraits<Ops>::pointwise))), ...);
  return ok;
}

/// Whether each op of a TensorStage is RandomErasing-like (its Params are EraseParams): the one kind of
/// non-pointwise tensor op the fused kernel runs (in place, after the pixel pass).
template <class... E>
constexpr bool erase_like(meta::TypeList<E...>) {
  return (std::is_same_v<typename E::Params, EraseParams> && ...);
}

/// A plan cut into the parts the fused kernel runs, in order: photometric ops on the source, one
/// resample, whole-image ops, the pixel pass, in-place tensor ops. `supported` is false for plans it
/// cannot run.
template <class Plan>
struct plan_parts {
  static constexpr bool supported = false;
  static constexpr bool image_after_geometry = true;
  using source = PixelStage<>;
  using geometric = GeometricStage<>;
  using image = ImageStage<>;
  using pixel = PixelStage<>;
  using tensor = TensorStage<>;
};
template <class... G, class... X>
struct plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X...>>> {
  static constexpr bool supported = true;
  static constexpr bool image_after_geometry = true;
  using source = PixelStage<>;
  using geometric = GeometricStage<G...>;
  using image = ImageStage<>;
  using pixel = PixelStage<X...>;
  using tensor = TensorStage<>;
};
template <class... X>
struct plan_parts<meta::TypeList<PixelStage<X...>>> : plan_parts<meta::TypeList<GeometricStage<>, PixelStage<X...>>> {};
template <class... G, class... X, class... E>
struct plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X...>, TensorStage<E...>>>
    : plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X...>>> {
  using tensor = TensorStage<E...>;
};
template <class... X, class... E>
struct plan_parts<meta::TypeList<PixelStage<X...>, TensorStage<E...>>>
    : plan_parts<meta::TypeList<GeometricStage<>, PixelStage<X...>, TensorStage<E...>>> {};

// Whole-image uint8 ops (TrivialAugmentWide, RandAugment) between the resample and the pixel pass: the resampled image
// is materialized, the ops run on it (kernels/pil.hpp), the pixel pass reads the result.
template <class... G, class... I, class... Rest>
struct plan_parts<meta::TypeList<GeometricStage<G...>, ImageStage<I...>, Rest...>>
    : plan_parts<meta::TypeList<GeometricStage<G...>, Rest...>> {
  static constexpr bool image_after_geometry = ((Rest::kind != StageKind::geometric) && ...);
  using image = ImageStage<I...>;
};
template <class... I, class... Rest>
struct plan_parts<meta::TypeList<ImageStage<I...>, Rest...>>
    : plan_parts<meta::TypeList<GeometricStage<>, ImageStage<I...>, Rest...>> {};

// Photometric ops before every geometric op (ColorJitter first): one pass over the source image with
// torchvision's semantics (contrast's mean is the whole source's; the padding and fill added later stay
// as they are), then the rest of the plan.
template <class... J, class... G, class... Rest>
struct plan_parts<meta::TypeList<PixelStage<J...>, GeometricStage<G...>, Rest...>>
    : plan_parts<meta::TypeList<GeometricStage<G...>, Rest...>> {
  using source = PixelStage<J...>;
};

/// The fused kernels' rules on an op list that passed Compose's chain checks, in the order they are
/// checked: the first rule a pipeline breaks is the one reported (one message per misordered Compose).
template <class... Ops>
struct FusedOrder {
  using ops = meta::TypeList<Ops...>;
  using parts = plan_parts<typename plan_of<ops>::type>;
  static constexpr bool erasing_ok = erasing_last(ops{});
  static constexpr bool image_ok = erasing_ok && parts::image_after_geometry;
  static constexpr bool stages_ok = image_ok && parts::supported;
  static constexpr bool affine_ok = stages_ok && parts::pixel::channel_affine;
  static constexpr bool steps_ok = affine_ok && parts::pixel::max_steps <= PixelProgram::capacity;
  static constexpr bool blurs_ok = steps_ok && parts::pixel::neighbourhood_ops <= PixelProgram::blur_capacity;
  static constexpr bool padding_ok = blurs_ok && source_padding<Ops...>::ok;
  static constexpr bool tensor_ok = padding_ok && erase_like(typename parts::tensor::ops{});
  static constexpr bool ok = tensor_ok;

  static_assert(erasing_ok,
                "ftmeta: Compose<...>: RandomErasing must be the last op (after Normalize) for the fused kernel, "
                "which erases the finished output");
  static_assert(!erasing_ok || image_ok,
                "ftmeta: Compose<...>: image ops (TrivialAugmentWide, RandAugment) must come after every geometric op "
                "(crops, flips, rotations) for the fused kernel");
  static_assert(!image_ok || stages_ok,
                "ftmeta: Compose<...>: photometric ops (ColorJitter) must come before or after all the geometric ops "
                "(crops, flips, rotations), not between them, for the fused kernel; move them just before ToTensor");
  static_assert(!stages_ok || affine_ok,
                "ftmeta: Compose<...>: no fused kernel for this plan (the ops from ToTensor on must each be a "
                "per-channel multiply-add, such as Normalize)");
  static_assert(!affine_ok || steps_ok,
                "ftmeta: Compose<...>: too many photometric steps in one pipeline (at most 16: four ColorJitters)");
  static_assert(!steps_ok || blurs_ok, "ftmeta: Compose<...>: too many GaussianBlur ops in one pipeline (at most 4)");
  static_assert(!blurs_ok || padding_ok,
                "ftmeta: Compose<...>: a Pad or RandomCrop with a padding mode other than constant must be the first op "
                "for the fused kernel (it pads the source image); constant padding can go anywhere");
  static_assert(!padding_ok || tensor_ok,
                "ftmeta: Compose<...>: the fused kernel runs RandomErasing after the pixel pass; no kernel for other "
                "non-pointwise tensor ops");
};
template <class... Ops>
FusedOrder<Ops...> fused_order_of(meta::TypeList<Ops...>);

}  // namespace detail

}  // namespace ftmeta::transforms
