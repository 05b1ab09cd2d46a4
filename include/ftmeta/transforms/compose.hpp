// ftmeta/transforms/compose.hpp: Compose (the checked op chain), the fusion planner and its plan types.
// ftmeta:pure
// Like an Eigen expression, a Compose carries no work: the planner reads the ops' traits and groups
// them into stages (consecutive geometric ops -> one GeometricStage, executed as one 2x3 map and
// one resample; ToTensor and pointwise tensor ops -> one PixelStage, executed as one pass from the
// uint8 image to the float tensor). Kernels (execute.hpp) run a plan; this header runs nothing.
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

// What the checks need, computed in one linear walk.
struct ChainReport {
  bool all_ops = true;
  int to_tensor_count = 0;
  bool tensor_op_before_to_tensor = false;
  bool image_op_after_to_tensor = false;
  ImageSize out{};  // {0, 0}: not fixed by the ops
};
template <class... Ops>
constexpr ChainReport check_chain() {
  ChainReport r;
  const OpKind kinds[] = {op_kind_v<Ops>..., OpKind::invalid};
  const SizeRule rules[] = {[] {
    if constexpr (TransformOp<Ops>) return OpTraits<Ops>::size_rule;
    else return SizeRule::keeps;
  }()..., SizeRule::keeps};
  const ImageSize sizes[] = {[] {
    if constexpr (TransformOp<Ops>) return OpTraits<Ops>::out_size;
    else return ImageSize{};
  }()..., ImageSize{}};
  for (std::size_t i = 0; i < sizeof...(Ops); ++i) {
    switch (kinds[i]) {
      case OpKind::invalid: r.all_ops = false; break;
      case OpKind::to_tensor: ++r.to_tensor_count; break;
      case OpKind::tensor: if (r.to_tensor_count == 0) r.tensor_op_before_to_tensor = true; break;
      default: if (r.to_tensor_count > 0) r.image_op_after_to_tensor = true; break;
    }
    if (rules[i] == SizeRule::fixed) r.out = sizes[i];
    if (rules[i] == SizeRule::data_dependent) r.out = {};
  }
  return r;
}
}  // namespace detail

/// An augmentation pipeline as a type: image ops, then exactly one ToTensor, then tensor ops.
/// Name it with a struct, so diagnostics and describe() print your name:
///   struct TrainAug : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>> {};
/// The chain is checked once, here. Run it with apply / apply_into (execute.hpp).
template <class... Ops>
struct Compose {
  using ops = meta::TypeList<Ops...>;

 private:
  static constexpr detail::ChainReport report_ = detail::check_chain<Ops...>();
  static_assert(report_.all_ops,
                "ftmeta: Compose<...>: every element must be a transform op (Resize<256>, HFlip, ToTensor, ...); "
                "a type of your own needs `static constexpr OpKind kind` or an OpTraits specialization");
  static_assert(!report_.all_ops || report_.to_tensor_count == 1,
                "ftmeta: Compose<...>: exactly one ToTensor is required (it turns the image into the float tensor)");
  static_assert(!report_.all_ops || report_.to_tensor_count != 1 || !report_.tensor_op_before_to_tensor,
                "ftmeta: Compose<...>: Normalize (a tensor op) must come after ToTensor (it works on tensors), "
                "as must RandomErasing");
  static_assert(!report_.all_ops || report_.to_tensor_count != 1 || !report_.image_op_after_to_tensor,
                "ftmeta: Compose<...>: image ops (resizes, crops, flips) must come before ToTensor");

 public:
  /// The output size where the ops fix it (the last size-setting op does), else 0.
  static constexpr int out_height = report_.out.height;
  static constexpr int out_width = report_.out.width;
  static constexpr bool fixed_size = report_.out.known();

  /// The plan in words: the ops, the stages they fold into, the output.
  static constexpr std::string describe();
};

/// The plan of a pipeline (a Compose or a struct derived from one): a TypeList of stages.
template <class P>
using plan_t = typename detail::plan_of<typename P::ops>::type;

/// Whether T is a pipeline (a Compose or a struct derived from one).
template <class T>
concept Pipeline = requires {
  typename T::ops;
  T::out_height;
  T::describe();
};

namespace detail {
template <class... Stages>
constexpr std::string describe_stages(meta::TypeList<Stages...>) {
  std::string text;
  int i = 0;
  ((text.append("\n  stage "), text.append(int_text(++i)), text.append(": "), text.append(Stages::describe())), ...);
  return text;
}
}  // namespace detail

template <class... Ops>
constexpr std::string Compose<Ops...>::describe() {
  std::string text = detail::cat("Compose(", detail::op_names<Ops...>(" -> "), ")\n  plan: ",
                                 detail::int_text(meta::size_v<plan_t<Compose>>), " stage(s)",
                                 detail::describe_stages(plan_t<Compose>{}), "\n  output: float32 [3, ");
  if constexpr (fixed_size) text.append(detail::cat(detail::int_text(out_height), ", ", detail::int_text(out_width), "]"));
  else text.append("H, W] (its size depends on the input)");
  return text;
}

/// describe() under the pipeline's own name: "TrainAug = Compose(...)".
template <class P>
constexpr std::string describe() {
  return detail::cat(detail::type_name<P>(), " = ", P::describe());
}

}  // namespace ftmeta::transforms
