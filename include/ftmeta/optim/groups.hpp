// ftmeta/optim/groups.hpp: optimizer recipes as types: parameter groups and their selectors,
// optimizer options, clipping, accumulation and training phases; checked against the model spec.
// ftmeta:pure
#pragma once

#include <ftmeta/core/fixed_string.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/optim/schedules.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ftmeta::optim {

// --- what a group selects ------------------------------------------------------------------------
/// Which parameters of a part a selector keeps: all, only the 1-D ones (norm scales/shifts and
/// biases), or all but those.
enum class Filter { all, norm_and_bias, weights };

/// The backbone's parameters.
struct BackbonePart {
  static constexpr std::string_view part = "backbone";
  static constexpr Filter filter = Filter::all;
  static constexpr int specificity = 1;
  static std::string describe() { return "backbone"; }
};
/// The head's parameters.
struct HeadPart {
  static constexpr std::string_view part = "head";
  static constexpr Filter filter = Filter::all;
  static constexpr int specificity = 1;
  static std::string describe() { return "head"; }
};
/// One backbone stage, by the name the backbone spec lists: `Stage<"stage7">` (the model part
/// "backbone.stage7"). More specific than BackbonePart, so it takes its parameters from that group.
template <meta::FixedString Name>
struct Stage {
  static constexpr std::string_view stage = Name.view();
  static constexpr auto storage_ = [] {
    std::array<char, sizeof(Name.chars) + 9> a{};
    constexpr std::string_view prefix = "backbone.";
    std::copy(prefix.begin(), prefix.end(), a.begin());
    std::copy(Name.chars, Name.chars + sizeof(Name.chars), a.begin() + prefix.size());
    return a;
  }();
  static constexpr std::string_view part{storage_.data(), storage_.size() - 1};
  static constexpr Filter filter = Filter::all;
  static constexpr int specificity = 2;
  static std::string describe() { return std::string(part); }
};

template <class T>
struct is_selector : std::bool_constant<requires {
  T::part;
  T::filter;
  T::specificity;
}> {};

namespace detail {
template <class T>
constexpr bool is_whole_selector() {
  if constexpr (is_selector<T>::value) return T::filter == Filter::all;
  else return false;
}
}  // namespace detail

/// The norm and bias parameters (1-D tensors) of a part, typically without weight decay:
/// `Group<NormAndBias<BackbonePart>, Lr<1e-2>, WeightDecay<0>>`. It takes them from the part's group.
template <class Of>
struct NormAndBias {
  static_assert(detail::is_whole_selector<Of>(),
                "ftmeta: NormAndBias<Part>: Part must be BackbonePart, HeadPart or Stage<\"name\">");
  static constexpr std::string_view part = Of::part;
  static constexpr Filter filter = Filter::norm_and_bias;
  static constexpr int specificity = Of::specificity + 10;
  static std::string describe() { return "norm and bias of " + Of::describe(); }
  using of = Of;
};

/// The other parameters of a part (tensors of 2 or more dimensions: conv and linear weights).
template <class Of>
struct Weights {
  static_assert(detail::is_whole_selector<Of>(),
                "ftmeta: Weights<Part>: Part must be BackbonePart, HeadPart or Stage<\"name\">");
  static constexpr std::string_view part = Of::part;
  static constexpr Filter filter = Filter::weights;
  static constexpr int specificity = Of::specificity + 10;
  static std::string describe() { return "weights of " + Of::describe(); }
  using of = Of;
};

// --- options -------------------------------------------------------------------------------------
namespace detail {
/// Option values are `auto` template arguments so that Lr<1>, WeightDecay<0> and Lr<1e-3> all work.
template <auto V>
inline constexpr bool is_number_v = std::is_arithmetic_v<decltype(V)> && !std::is_same_v<decltype(V), bool>;

/// The one base of the number options (Lr<V>, WeightDecay<V>, Momentum<V>, ...): V as a double. The
/// checks, each naming its option, come with FTMETA_NUMBER_OPTION below.
template <auto V>
struct CheckedNumber {
  static constexpr double value = [] {
    if constexpr (is_number_v<V>) return static_cast<double>(V);
    else return 0.0;  // the option's own check reports it
  }();
};
}  // namespace detail

/// Declares the number option `Name<V>` over the one checked-number base: V must be a number
/// ("ftmeta: Name<V>: V must be a number, e.g. Name<0.1>") and satisfy `range` ("ftmeta: Name<V>: what").
#define FTMETA_NUMBER_OPTION(Name, range, what)                                                         \
  template <auto V>                                                                                   \
  struct Name : detail::CheckedNumber<V> {                                                            \
    static_assert(detail::is_number_v<V>, "ftmeta: " #Name "<V>: V must be a number, e.g. " #Name "<0.1>"); \
    static_assert(range, "ftmeta: " #Name "<V>: " what);                                             \
  }

/// Learning rate of a group (absolute).
FTMETA_NUMBER_OPTION(Lr, V > 0.0, "the learning rate must be positive");
/// Learning rate of a group as a multiple of the recipe's BaseLr<V>; in a Phase, a multiplier of every group's lr.
FTMETA_NUMBER_OPTION(LrScale, V > 0.0, "the multiplier must be positive");
/// The recipe's reference learning rate, for groups given as LrScale<V>.
FTMETA_NUMBER_OPTION(BaseLr, V > 0.0, "the learning rate must be positive");
/// L2 weight decay (Sgd, Adam) or decoupled decay (AdamW), of a group or as the recipe's default.
FTMETA_NUMBER_OPTION(WeightDecay, V >= 0.0, "weight decay must be >= 0");
/// Layer-wise learning-rate decay on a backbone group: the group becomes one optimizer group per
/// backbone stage, the last stage at the group's lr and each earlier one Decay times the next.
FTMETA_NUMBER_OPTION(LayerDecay, V > 0.0 && V <= 1.0, "the decay must be in (0, 1]");
/// SGD momentum.
FTMETA_NUMBER_OPTION(Momentum, V >= 0.0 && V < 1.0, "momentum must be in [0, 1)");
/// SGD dampening of the momentum buffer.
FTMETA_NUMBER_OPTION(Dampening, V >= 0.0 && V <= 1.0, "dampening must be in [0, 1]");
/// Nesterov momentum for SGD.
struct Nesterov {};
/// Adam's coefficients of the running averages.
template <auto B1, auto B2>
struct Betas {
  static_assert(detail::is_number_v<B1> && detail::is_number_v<B2>, "ftmeta: Betas<B1, B2>: both must be numbers, e.g. Betas<0.9, 0.999>");
  static_assert(B1 >= 0 && B1 < 1 && B2 >= 0 && B2 < 1, "ftmeta: Betas<B1, B2>: both must be in [0, 1)");
  static constexpr double beta1 = static_cast<double>(B1), beta2 = static_cast<double>(B2);
};
/// Adam's epsilon.
FTMETA_NUMBER_OPTION(Eps, V > 0, "epsilon must be positive");
/// Clip the gradients' total 2-norm to V before each step (clip_grad_norm_).
FTMETA_NUMBER_OPTION(ClipGradNorm, V > 0, "the norm must be positive");
/// Clip each gradient element to [-V, V] before each step (clip_grad_value_).
FTMETA_NUMBER_OPTION(ClipGradValue, V > 0, "the value must be positive");
#undef FTMETA_NUMBER_OPTION

/// Accumulate gradients over N batches per optimizer step (each batch's loss scaled by 1/N).
template <std::int64_t N>
struct AccumulateGrad {
  static_assert(N >= 1, "ftmeta: AccumulateGrad<N>: N must be >= 1");
  static constexpr std::int64_t value = N;
};

#define FTMETA_OPTIM_VALUE_TRAIT(trait, Tmpl, Kind)  \
  template <class T>                                   \
  struct trait : std::false_type {};                   \
  template <Kind V>                                    \
  struct trait<Tmpl<V>> : std::true_type {};
FTMETA_OPTIM_VALUE_TRAIT(is_lr, Lr, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_lr_scale, LrScale, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_base_lr, BaseLr, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_weight_decay, WeightDecay, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_layer_decay, LayerDecay, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_momentum, Momentum, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_dampening, Dampening, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_eps, Eps, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_clip_norm, ClipGradNorm, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_clip_value, ClipGradValue, auto)
FTMETA_OPTIM_VALUE_TRAIT(is_accumulate, AccumulateGrad, std::int64_t)
#undef FTMETA_OPTIM_VALUE_TRAIT
template <class T> struct is_nesterov : std::is_same<T, Nesterov> {};
template <class T> struct is_betas : std::false_type {};
template <auto A, auto B> struct is_betas<Betas<A, B>> : std::true_type {};

namespace detail {
template <template <class> class Pred, class T>
constexpr void take_first(double& v, bool& found) {
  if constexpr (Pred<T>::value) {
    if (!found) v = static_cast<double>(T::value);
    found = true;
  }
}
/// The value of the first item satisfying Pred, or `fallback`.
template <template <class> class Pred, class... Items>
constexpr double value_of(double fallback) {
  double v = fallback;
  bool found = false;
  (take_first<Pred, Items>(v, found), ...);
  return v;
}
template <template <class> class Pred, class... Items>
inline constexpr int count_v = (0 + ... + int(Pred<Items>::value));

template <class... Items>
struct first_schedule {
  using type = void;
};
template <class T, class... Rest>
struct first_schedule<T, Rest...> {
  using type = std::conditional_t<is_schedule_v<T>, T, typename first_schedule<Rest...>::type>;
};
}  // namespace detail

/// A parameter group: a selector, its learning rate (Lr<V> or LrScale<V>), and optionally
/// WeightDecay<V>, LayerDecay<V> and a schedule (else the recipe's):
/// `Group<HeadPart, Lr<1e-3>>`, `Group<BackbonePart, Lr<1e-2>, WeightDecay<1e-4>, CosineAnnealing<>>`.
template <class Part, class... Options>
struct Group {
  static_assert(is_selector<Part>::value,
                "ftmeta: Group<Part, ...>: Part must be a selector such as BackbonePart, HeadPart, Stage<\"stage7\"> or NormAndBias<...>");
  static_assert(detail::count_v<is_lr, Options...> + detail::count_v<is_lr_scale, Options...> == 1,
                "ftmeta: Group<Part, ...>: every group needs its learning rate, once: Lr<1e-3> or LrScale<0.1>");
  static_assert(((is_lr<Options>::value || is_lr_scale<Options>::value || is_weight_decay<Options>::value ||
                  is_layer_decay<Options>::value || is_schedule_v<Options>) && ...),
                "ftmeta: Group<Part, ...>: options of a group are Lr<...> or LrScale<...>, WeightDecay<...>, LayerDecay<...> and a schedule");
  static_assert(detail::count_v<is_schedule, Options...> <= 1 && detail::count_v<is_weight_decay, Options...> <= 1 &&
                    detail::count_v<is_layer_decay, Options...> <= 1,
                "ftmeta: Group<Part, ...>: give each option at most once");
  static_assert(detail::count_v<is_layer_decay, Options...> == 0 || std::is_same_v<Part, BackbonePart>,
                "ftmeta: Group<Part, ...>: LayerDecay<V> applies to Group<BackbonePart, ...> (it splits the backbone by stages)");
  using part = Part;
  /// The group's own schedule, or void (the recipe's).
  using schedule = typename detail::first_schedule<Options...>::type;
  static constexpr bool absolute_lr = detail::count_v<is_lr, Options...> == 1;
  /// The absolute lr (absolute_lr), else the multiplier of BaseLr.
  static constexpr double lr = absolute_lr ? detail::value_of<is_lr, Options...>(0) : detail::value_of<is_lr_scale, Options...>(0);
  static constexpr bool has_weight_decay = detail::count_v<is_weight_decay, Options...> == 1;
  static constexpr double weight_decay = detail::value_of<is_weight_decay, Options...>(0);
  static constexpr double layer_decay = detail::value_of<is_layer_decay, Options...>(0);
  static std::string describe() {
    std::string s = Part::describe() + ": lr " + (absolute_lr ? detail::num(lr) : detail::num(lr) + " x base");
    if (has_weight_decay) s += ", weight decay " + detail::num(weight_decay);
    if (layer_decay > 0) s += ", layer decay " + detail::num(layer_decay);
    if constexpr (!std::is_void_v<schedule>) s += ", " + schedule::describe();
    return s;
  }
};

template <class T> struct is_group : std::false_type {};
template <class P, class... O> struct is_group<Group<P, O...>> : std::true_type {};

// --- phases ---------------------------------------------------------------------------------------
/// A training phase: Epochs epochs (0: the rest of the run) with the listed parts frozen
/// (requires_grad off, their BatchNorm in eval), and optionally LrScale<V> on every group's lr:
/// `Phase<3, BackbonePart>` then `Phase<0, LrScale<0.5>>` is fastai's fine_tune. Schedules restart at each phase.
template <std::int64_t Epochs, class... Items>
struct Phase {
  static_assert(Epochs >= 0, "ftmeta: Phase<Epochs, ...>: Epochs must be >= 0 (0: the rest of the run)");
  static_assert(((detail::is_whole_selector<Items>() || is_lr_scale<Items>::value) && ...),
                "ftmeta: Phase<Epochs, ...>: items are the parts to freeze (BackbonePart, HeadPart, Stage<\"...\">) and LrScale<V>");
  static constexpr std::int64_t epochs = Epochs;
  static constexpr double lr_scale = detail::value_of<is_lr_scale, Items...>(1.0);
  using frozen = meta::concat_t<std::conditional_t<is_selector<Items>::value, meta::TypeList<Items>, meta::TypeList<>>...>;
};
/// Gradual unfreezing (ULMFiT): the head alone for EpochsPerStage epochs, then one more backbone
/// stage unfrozen every EpochsPerStage epochs from the last stage down, then everything.
template <std::int64_t EpochsPerStage>
struct GradualUnfreeze {
  static_assert(EpochsPerStage > 0, "ftmeta: GradualUnfreeze<EpochsPerStage>: EpochsPerStage must be positive");
  static constexpr std::int64_t value = EpochsPerStage;
};

template <class T> struct is_phase : std::false_type {};
template <std::int64_t E, class... I> struct is_phase<Phase<E, I...>> : std::true_type {};
template <class T> struct is_gradual : std::false_type {};
template <std::int64_t E> struct is_gradual<GradualUnfreeze<E>> : std::true_type {};

/// One phase at run time: its length in epochs (0: the rest), the model parts frozen, the lr multiplier.
struct PhasePlan {
  std::int64_t epochs = 0;
  std::vector<std::string> frozen;
  double lr_scale = 1.0;
};

// --- recipes ---------------------------------------------------------------------------------------
enum class OptimizerKind { sgd, adam, adamw };

namespace detail {
template <class T>
struct is_recipe_item
    : std::bool_constant<is_group<T>::value || is_base_lr<T>::value || is_weight_decay<T>::value || is_schedule_v<T> ||
                         is_clip_norm<T>::value || is_clip_value<T>::value || is_accumulate<T>::value || is_phase<T>::value ||
                         is_gradual<T>::value> {};
template <class T>
struct is_sgd_item : std::bool_constant<is_recipe_item<T>::value || is_momentum<T>::value || is_dampening<T>::value || is_nesterov<T>::value> {};
template <class T>
struct is_adam_item : std::bool_constant<is_recipe_item<T>::value || is_betas<T>::value || is_eps<T>::value> {};

template <class T>
using keep_group = std::conditional_t<is_group<T>::value, meta::TypeList<T>, meta::TypeList<>>;
template <class T>
using keep_phase = std::conditional_t<is_phase<T>::value, meta::TypeList<T>, meta::TypeList<>>;
template <class T> struct betas_of { static constexpr double b1 = 0.9, b2 = 0.999; };
template <auto A, auto B> struct betas_of<Betas<A, B>> { static constexpr double b1 = static_cast<double>(A), b2 = static_cast<double>(B); };
template <class... Items>
struct first_betas { using type = void; };
template <class T, class... Rest>
struct first_betas<T, Rest...> { using type = std::conditional_t<is_betas<T>::value, T, typename first_betas<Rest...>::type>; };

/// What Sgd, Adam and AdamW share: the groups and the recipe-wide items.
template <OptimizerKind K, double DefaultDecay, class... Items>
struct RecipeBase {
  static constexpr OptimizerKind kind = K;
  using groups = meta::concat_t<keep_group<Items>...>;
  using phases = meta::concat_t<keep_phase<Items>...>;
  static_assert(meta::size_v<groups> > 0, "ftmeta: Sgd<...>, Adam<...>, AdamW<...>: declare at least one Group<Part, Lr<...>>");
  static_assert(count_v<is_base_lr, Items...> <= 1 && count_v<is_weight_decay, Items...> <= 1 && count_v<is_schedule, Items...> <= 1 &&
                    count_v<is_clip_norm, Items...> <= 1 && count_v<is_clip_value, Items...> <= 1 &&
                    count_v<is_accumulate, Items...> <= 1 && count_v<is_gradual, Items...> <= 1,
                "ftmeta: Sgd<...>, Adam<...>, AdamW<...>: give each recipe-wide item at most once");
  static_assert(count_v<is_gradual, Items...> == 0 || meta::size_v<phases> == 0,
                "ftmeta: Sgd<...>, Adam<...>, AdamW<...>: use either Phase<...> items or GradualUnfreeze<N>, not both");
  static constexpr double base_lr = value_of<is_base_lr, Items...>(0);
  static_assert([] {
    bool ok = true;
    meta::for_each_type(groups{}, [&]<class G, std::size_t>() { ok = ok && (G::absolute_lr || base_lr > 0); });
    return ok;
  }(), "ftmeta: Sgd<...>, Adam<...>, AdamW<...>: a Group with LrScale<V> needs the recipe's BaseLr<V>");
  /// The default weight decay of groups that give none.
  static constexpr double weight_decay = value_of<is_weight_decay, Items...>(DefaultDecay);
  /// The schedule of groups that give none.
  using schedule = std::conditional_t<std::is_void_v<typename first_schedule<Items...>::type>, Constant, typename first_schedule<Items...>::type>;
  static constexpr double clip_grad_norm = value_of<is_clip_norm, Items...>(0);
  static constexpr double clip_grad_value = value_of<is_clip_value, Items...>(0);
  static constexpr std::int64_t accumulate = static_cast<std::int64_t>(value_of<is_accumulate, Items...>(1));
  static constexpr std::int64_t gradual_unfreeze = static_cast<std::int64_t>(value_of<is_gradual, Items...>(0));

  /// Lr of group G before any schedule or phase multiplier.
  template <class G>
  static constexpr double lr_of() { return G::absolute_lr ? G::lr : G::lr * base_lr; }
  template <class G>
  static constexpr double weight_decay_of() { return G::has_weight_decay ? G::weight_decay : weight_decay; }
  template <class G>
  using schedule_of = std::conditional_t<std::is_void_v<typename G::schedule>, schedule, typename G::schedule>;

  /// The phases as run-time data (a backbone's stages are needed for GradualUnfreeze).
  template <class Spec>
  static std::vector<PhasePlan> phase_plan() {
    std::vector<PhasePlan> plan;
    if constexpr (gradual_unfreeze > 0) {
      const auto& stages = Spec::backbone::stages;
      std::vector<std::string> names(stages.begin(), stages.end());
      plan.push_back({gradual_unfreeze, {"backbone"}, 1.0});
      for (std::size_t unfrozen = 1; unfrozen < names.size(); ++unfrozen) {
        PhasePlan p{gradual_unfreeze, {}, 1.0};
        for (std::size_t i = 0; i + unfrozen < names.size(); ++i) p.frozen.push_back("backbone." + names[i]);
        plan.push_back(std::move(p));
      }
      plan.push_back({0, {}, 1.0});
    } else {
      meta::for_each_type(phases{}, [&]<class P, std::size_t>() {
        PhasePlan p{P::epochs, {}, P::lr_scale};
        meta::for_each_type(typename P::frozen{}, [&]<class S, std::size_t>() { p.frozen.emplace_back(S::part); });
        plan.push_back(std::move(p));
      });
    }
    if (plan.empty() || plan.back().epochs != 0) plan.push_back({0, {}, 1.0});
    return plan;
  }

  static std::string describe_items() {
    std::string s;
    meta::for_each_type(groups{}, [&]<class G, std::size_t>() {
      s += "; " + G::part::describe() + ": lr " + num(lr_of<G>()) + ", weight decay " + num(weight_decay_of<G>());
      if (G::layer_decay > 0) s += ", layer decay " + num(G::layer_decay);
      s += ", " + schedule_of<G>::describe();
    });
    if (clip_grad_norm > 0) s += "; clip grad norm " + num(clip_grad_norm);
    if (clip_grad_value > 0) s += "; clip grad value " + num(clip_grad_value);
    if (accumulate > 1) s += "; accumulate " + std::to_string(accumulate) + " batches";
    if constexpr (gradual_unfreeze > 0) s += "; gradual unfreezing, " + std::to_string(gradual_unfreeze) + " epoch(s) per stage";
    meta::for_each_type(phases{}, [&]<class P, std::size_t I>() {
      s += "; phase " + std::to_string(I + 1) + ": " + (P::epochs ? std::to_string(P::epochs) + " epoch(s)" : std::string("the rest"));
      std::string frozen;
      meta::for_each_type(typename P::frozen{}, [&]<class S, std::size_t>() { frozen += (frozen.empty() ? "" : ", ") + S::describe(); });
      if (!frozen.empty()) s += ", frozen: " + frozen;
      if (P::lr_scale != 1.0) s += ", lr x " + num(P::lr_scale);
    });
    return s;
  }
};
}  // namespace detail

/// SGD (momentum, dampening, Nesterov) with parameter groups:
/// `Sgd<Momentum<0.9>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>>`.
template <class... Items>
struct Sgd : detail::RecipeBase<OptimizerKind::sgd, 0.0, Items...> {
  static_assert((detail::is_sgd_item<Items>::value && ...),
                "ftmeta: Sgd<...>: items are Group<...>, Momentum<...>, Dampening<...>, Nesterov, BaseLr<...>, WeightDecay<...>, a schedule, "
                "ClipGradNorm<...>, ClipGradValue<...>, AccumulateGrad<...>, Phase<...>, GradualUnfreeze<...>");
  static_assert(detail::count_v<is_momentum, Items...> <= 1 && detail::count_v<is_dampening, Items...> <= 1,
                "ftmeta: Sgd<...>: give Momentum<V> and Dampening<V> at most once");
  static constexpr double momentum = detail::value_of<is_momentum, Items...>(0);
  static constexpr double dampening = detail::value_of<is_dampening, Items...>(0);
  static constexpr bool nesterov = (is_nesterov<Items>::value || ...);
  static_assert(!nesterov || (momentum > 0 && dampening == 0), "ftmeta: Sgd<...>: Nesterov needs Momentum<V> with V > 0 and no dampening");

  static std::string describe() {
    return "SGD(momentum " + detail::num(momentum) + (dampening > 0 ? ", dampening " + detail::num(dampening) : "") +
           (nesterov ? ", nesterov" : "") + ")" + Sgd::describe_items();
  }
};

namespace detail {
template <OptimizerKind K, double DefaultDecay, class... Items>
struct AdamBase : RecipeBase<K, DefaultDecay, Items...> {
  static_assert((is_adam_item<Items>::value && ...),
                "ftmeta: Adam<...>, AdamW<...>: items are Group<...>, Betas<...>, Eps<...>, BaseLr<...>, WeightDecay<...>, a schedule, "
                "ClipGradNorm<...>, ClipGradValue<...>, AccumulateGrad<...>, Phase<...>, GradualUnfreeze<...>");
  static_assert(count_v<is_betas, Items...> <= 1 && count_v<is_eps, Items...> <= 1, "ftmeta: Adam<...>, AdamW<...>: give Betas and Eps at most once");
  static constexpr double beta1 = betas_of<typename first_betas<Items...>::type>::b1;
  static constexpr double beta2 = betas_of<typename first_betas<Items...>::type>::b2;
  static constexpr double eps = value_of<is_eps, Items...>(1e-8);
  static std::string describe() {
    return std::string(K == OptimizerKind::adam ? "Adam" : "AdamW") + "(betas " + num(beta1) + ", " + num(beta2) + ", eps " + num(eps) + ")" +
           AdamBase::describe_items();
  }
};
}  // namespace detail

/// Adam with L2 weight decay per group: `Adam<Group<BackbonePart, Lr<1e-4>>, Group<HeadPart, Lr<1e-3>>>`.
template <class... Items>
struct Adam : detail::AdamBase<OptimizerKind::adam, 0.0, Items...> {};
/// AdamW (decoupled weight decay, PyTorch's default 1e-2 unless WeightDecay<V> is given).
template <class... Items>
struct AdamW : detail::AdamBase<OptimizerKind::adamw, 1e-2, Items...> {};

// --- checks against the model spec ---------------------------------------------------------------
namespace detail {
template <class Sel, class Spec>
constexpr bool selector_fits() {
  if constexpr (requires { Sel::of; typename Sel::of; }) {
    return selector_fits<typename Sel::of, Spec>();
  } else if constexpr (requires { Sel::stage; }) {
    if constexpr (requires { Spec::backbone::stages; }) {
      const auto& st = Spec::backbone::stages;
      return std::find(st.begin(), st.end(), Sel::stage) != st.end();
    } else {
      return false;
    }
  } else {
    return std::find(Spec::parts.begin(), Spec::parts.end(), Sel::part) != Spec::parts.end();
  }
}
}  // namespace detail

/// Whether every Group and Phase of Recipe names a part (or backbone stage) that the model spec
/// has, and no two Groups use the same selector.
template <class Recipe, class ModelSpec>
constexpr bool groups_fit_v = [] {
  bool ok = true;
  meta::for_each_type(typename Recipe::groups{}, [&]<class G, std::size_t I>() {
    ok = ok && detail::selector_fits<typename G::part, ModelSpec>();
    for (std::size_t j = 0; j < I; ++j) {
      bool same = false;
      meta::for_each_type(typename Recipe::groups{}, [&]<class H, std::size_t J>() {
        if (J == j) same = std::is_same_v<typename H::part, typename G::part>;
      });
      ok = ok && !same;
    }
  });
  meta::for_each_type(typename Recipe::phases{}, [&]<class P, std::size_t>() {
    meta::for_each_type(typename P::frozen{}, [&]<class S, std::size_t>() { ok = ok && detail::selector_fits<S, ModelSpec>(); });
  });
  return ok;
}();

/// Whether every part of the model spec has a Group selecting all of it (a static hint; the
/// optimizer checks coverage parameter by parameter when it is built).
template <class Recipe, class ModelSpec>
constexpr bool groups_cover_v = [] {
  for (auto p : ModelSpec::parts) {
    bool found = false;
    meta::for_each_type(typename Recipe::groups{}, [&]<class G, std::size_t>() {
      found = found || (G::part::part == p && G::part::filter == Filter::all);
    });
    if (!found) return false;
  }
  return true;
}();

}  // namespace ftmeta::optim
