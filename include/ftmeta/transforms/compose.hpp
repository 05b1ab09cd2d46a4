// ftmeta/transforms/compose.hpp: Compose, the checked op chain: its chain rules, the fused-order rules, describe().
// ftmeta:pure
// A Compose is checked once, where it is declared: the chain (image ops, one ToTensor, tensor ops) here,
// the order the fused kernels need (plan.hpp's FusedOrder) right after. Run it with apply / apply_into
// (apply.hpp) or apply_unfused (reference.hpp).
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/transforms/detail/text.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/ops.hpp>
#include <ftmeta/transforms/plan.hpp>
#include <ftmeta/transforms/traits.hpp>

#include <cstddef>
#include <string>
#include <type_traits>

namespace ftmeta::transforms {

namespace detail {
// Stands in for FusedOrder while the chain checks fail (their message is the one to read).
struct ChainFirst {
  static constexpr bool ok = true;
};

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
/// The chain is checked once, here, and so is the order the fused kernels need (plan.hpp): a misordered
/// Compose fails where it is declared. Run it with apply / apply_into (apply.hpp).
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
  static constexpr bool chain_ok_ = report_.all_ops && report_.to_tensor_count == 1 &&
                                   !report_.tensor_op_before_to_tensor && !report_.image_op_after_to_tensor;
  // The fused kernels' order rules (detail::FusedOrder, plan.hpp), once the chain itself is sound:
  // instantiating it runs its checks, each with its own message.
  static_assert(sizeof(std::conditional_t<chain_ok_, detail::FusedOrder<Ops...>, detail::ChainFirst>) > 0);

 public:
  /// The output size where the ops fix it (the last size-setting op does), else 0.
  static constexpr int out_height = report_.out.height;
  static constexpr int out_width = report_.out.width;
  static constexpr bool fixed_size = report_.out.known();

  /// The plan in words: the ops, the stages they fold into, the output.
  static constexpr std::string describe();
};

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
