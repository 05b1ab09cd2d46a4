// ftmeta/train/policy.hpp: fine-tuning policies as types: FineTune<...> with the head phase on cached
// features, the recipe of the whole network, BatchNorm statistics, label smoothing, the run's length
// in optimizer steps and its pipelines; checked where it is declared, printed by describe().
// ftmeta:pure
#pragma once

#include <ftmeta/core/type_list.hpp>
#include <ftmeta/optim/groups.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace ftmeta::train {

// --- the head phase -------------------------------------------------------------------------------
/// Optimizer steps (minibatches of 256 cached feature vectors) when fitting the head.
template <std::int64_t N>
struct Steps {
  static_assert(N > 0, "ftmeta: Steps<N>: N must be positive");
  static constexpr std::int64_t value = N;
};
/// Augmented views of each training image cached beside its plain (evaluation-pipeline) view.
template <std::int64_t N>
struct Views {
  static_assert(N >= 0, "ftmeta: Views<N>: N must be >= 0 (0: the plain view only)");
  static constexpr std::int64_t value = N;
};

namespace detail {
template <class T> struct is_steps : std::false_type {};
template <std::int64_t N> struct is_steps<Steps<N>> : std::true_type {};
template <class T> struct is_views : std::false_type {};
template <std::int64_t N> struct is_views<Views<N>> : std::true_type {};
template <template <class> class Pred, class... Items>
inline constexpr int count_v = (0 + ... + int(Pred<Items>::value));
template <template <class> class Pred, class... Items>
constexpr double value_or(double fallback) {
  return optim::detail::value_of<Pred, Items...>(fallback);
}
}  // namespace detail

/// The head phase (a linear probe when the head is one Linear layer): the backbone runs once in
/// eval mode over the training split (the evaluation pipeline, plus Views<N> augmented views), its
/// pooled features are cached, and the head alone is fitted on them with AdamW for Steps<N>
/// minibatches (Lr<V>, WeightDecay<V>), cosine-annealed. Seconds, not epochs of the whole network.
///   HeadFirst<Steps<1000>, Views<2>, Lr<1e-3>, WeightDecay<1e-4>>
template <class... Items>
struct HeadFirst {
  static_assert(((detail::is_steps<Items>::value || detail::is_views<Items>::value || optim::is_lr<Items>::value ||
                  optim::is_weight_decay<Items>::value) && ...),
                "ftmeta: HeadFirst<...>: items are Steps<N>, Views<N>, Lr<V> and WeightDecay<V>");
  static_assert(detail::count_v<detail::is_steps, Items...> <= 1 && detail::count_v<detail::is_views, Items...> <= 1 &&
                    detail::count_v<optim::is_lr, Items...> <= 1 && detail::count_v<optim::is_weight_decay, Items...> <= 1,
                "ftmeta: HeadFirst<...>: give each item at most once");
  static constexpr std::int64_t steps = static_cast<std::int64_t>(detail::value_or<detail::is_steps, Items...>(1000));
  static constexpr std::int64_t views = static_cast<std::int64_t>(detail::value_or<detail::is_views, Items...>(0));
  static constexpr double lr = detail::value_or<optim::is_lr, Items...>(1e-3);
  static constexpr double weight_decay = detail::value_or<optim::is_weight_decay, Items...>(1e-4);
  static std::string describe() {
    return "head first on cached features (" + std::to_string(steps) + " steps, " + std::to_string(views) +
           " augmented view(s), AdamW lr " + optim::detail::num(lr) + ", weight decay " + optim::detail::num(weight_decay) + ")";
  }
};
template <class T> struct is_head_first : std::false_type {};
template <class... I> struct is_head_first<HeadFirst<I...>> : std::true_type {};

// --- BatchNorm statistics -----------------------------------------------------------------------
enum class BatchNormMode { train, frozen, automatic };
/// The backbone's BatchNorm layers normalize with batch statistics and update their running ones.
struct TrainStatistics {
  static constexpr BatchNormMode mode = BatchNormMode::train;
  static constexpr std::int64_t min_batch = 0, min_images = 0;
  static std::string describe() { return "BatchNorm statistics trained"; }
};
/// The backbone's BatchNorm layers keep their pretrained running statistics (their affine weights train).
struct FrozenStatistics {
  static constexpr BatchNormMode mode = BatchNormMode::frozen;
  static constexpr std::int64_t min_batch = 0, min_images = 0;
  static std::string describe() { return "BatchNorm statistics frozen"; }
};
/// Frozen when the batch per device is under MinBatch or the training split under MinImages
/// images, else trained.
template <std::int64_t MinBatch = 32, std::int64_t MinImages = 20000>
struct AutoStatistics {
  static_assert(MinBatch >= 0 && MinImages >= 0, "ftmeta: AutoStatistics<MinBatch, MinImages>: both must be >= 0");
  static constexpr BatchNormMode mode = BatchNormMode::automatic;
  static constexpr std::int64_t min_batch = MinBatch, min_images = MinImages;
  static std::string describe() {
    return "BatchNorm statistics frozen below a batch of " + std::to_string(MinBatch) + " or " + std::to_string(MinImages) +
           " training images";
  }
};
template <class T>
struct is_batch_norm_policy : std::bool_constant<requires {
  T::mode;
  T::min_batch;
}> {};

// --- the rest -----------------------------------------------------------------------------------------
/// Cross-entropy against targets smoothed by E.
template <auto E>
struct LabelSmoothing {
  static_assert(optim::detail::is_number_v<E>, "ftmeta: LabelSmoothing<E>: E must be a number, e.g. LabelSmoothing<0.1>");
  static_assert(E >= 0 && E < 1, "ftmeta: LabelSmoothing<E>: E must be in [0, 1)");
  static constexpr double value = static_cast<double>(E);
};
/// The run's length when no epoch count is given: enough epochs for at least N optimizer steps.
template <std::int64_t N>
struct MinSteps {
  static_assert(N >= 0, "ftmeta: MinSteps<N>: N must be >= 0");
  static constexpr std::int64_t value = N;
};
/// ... and at least N epochs.
template <std::int64_t N>
struct MinEpochs {
  static_assert(N >= 1, "ftmeta: MinEpochs<N>: N must be >= 1");
  static constexpr std::int64_t value = N;
};
/// The batch size when none is given (shrunk, with a warning, when the training split is smaller).
template <std::int64_t N>
struct BatchSize {
  static_assert(N >= 1, "ftmeta: BatchSize<N>: N must be >= 1");
  static constexpr std::int64_t value = N;
};
/// NHWC weights and inputs (on this project's CPU about 1.9x faster training than NCHW).
struct ChannelsLast {};
/// The run's final weights, not the epoch with the best validation accuracy, become best.pt and are
/// tested: for annealed schedules and small validation splits, whose accuracy is too noisy to choose by.
struct KeepFinal {};
/// The training pipeline: `Augment<P>` with `template <int Size, class Backbone> struct P : Compose<...>`.
template <template <int, class> class P>
struct Augment {};
/// The evaluation pipeline (also stored for prediction): `Evaluate<P>`, as Augment.
template <template <int, class> class P>
struct Evaluate {};

namespace detail {
template <class T> struct is_smoothing : std::false_type {};
template <auto E> struct is_smoothing<LabelSmoothing<E>> : std::true_type {};
template <class T> struct is_min_steps : std::false_type {};
template <std::int64_t N> struct is_min_steps<MinSteps<N>> : std::true_type {};
template <class T> struct is_min_epochs : std::false_type {};
template <std::int64_t N> struct is_min_epochs<MinEpochs<N>> : std::true_type {};
template <class T> struct is_batch : std::false_type {};
template <std::int64_t N> struct is_batch<BatchSize<N>> : std::true_type {};
template <class T> struct is_augment : std::false_type {};
template <template <int, class> class P> struct is_augment<Augment<P>> : std::true_type {};
template <class T> struct is_evaluate : std::false_type {};
template <template <int, class> class P> struct is_evaluate<Evaluate<P>> : std::true_type {};
template <class T>
struct is_recipe : std::bool_constant<requires {
  T::kind;
  typename T::groups;
  T::describe();
}> {};

template <class... Items> struct first_of_recipe { using type = void; };
template <class T, class... R> struct first_of_recipe<T, R...> {
  using type = std::conditional_t<is_recipe<T>::value, T, typename first_of_recipe<R...>::type>;
};
template <class... Items> struct first_of_head { using type = void; };
template <class T, class... R> struct first_of_head<T, R...> {
  using type = std::conditional_t<is_head_first<T>::value, T, typename first_of_head<R...>::type>;
};
template <class... Items> struct first_of_bn { using type = TrainStatistics; };
template <class T, class... R> struct first_of_bn<T, R...> {
  using type = std::conditional_t<is_batch_norm_policy<T>::value, T, typename first_of_bn<R...>::type>;
};
// The pipeline templates: first Augment<P> / Evaluate<P>, else the fallback F.
template <template <int, class> class F, class... Items> struct augment_of {
  template <int S, class B> using type = F<S, B>;
};
template <template <int, class> class F, template <int, class> class P, class... R>
struct augment_of<F, Augment<P>, R...> {
  template <int S, class B> using type = P<S, B>;
};
template <template <int, class> class F, class T, class... R>
struct augment_of<F, T, R...> : augment_of<F, R...> {};
template <template <int, class> class F, class... Items> struct evaluate_of {
  template <int S, class B> using type = F<S, B>;
};
template <template <int, class> class F, template <int, class> class P, class... R>
struct evaluate_of<F, Evaluate<P>, R...> {
  template <int S, class B> using type = P<S, B>;
};
template <template <int, class> class F, class T, class... R>
struct evaluate_of<F, T, R...> : evaluate_of<F, R...> {};
template <int S, class B> struct no_pipeline;
}  // namespace detail

/// A fine-tuning policy: what ftmeta::train::fine_tune runs. Items, each at most once:
///  - a recipe of the whole network (Sgd<...>, Adam<...> or AdamW<...>; required);
///  - HeadFirst<...>: the head fitted on cached features of the frozen backbone first (else none);
///  - TrainStatistics, FrozenStatistics or AutoStatistics<MinBatch, MinImages> (default: trained);
///  - LabelSmoothing<E>, MinSteps<N>, MinEpochs<N>, BatchSize<N> (default 64), ChannelsLast, KeepFinal;
///  - Augment<P> and Evaluate<P>: the pipelines, `template <int Size, class Backbone> struct P`.
template <class... Items>
struct FineTune {
  static_assert(((detail::is_recipe<Items>::value || is_head_first<Items>::value || is_batch_norm_policy<Items>::value ||
                  detail::is_smoothing<Items>::value || detail::is_min_steps<Items>::value || detail::is_min_epochs<Items>::value ||
                  detail::is_batch<Items>::value || std::is_same_v<Items, ChannelsLast> || std::is_same_v<Items, KeepFinal> ||
                  detail::is_augment<Items>::value ||
                  detail::is_evaluate<Items>::value) && ...),
                "ftmeta: FineTune<...>: items are a recipe (Sgd/Adam/AdamW<...>), HeadFirst<...>, TrainStatistics, FrozenStatistics, "
                "AutoStatistics<...>, LabelSmoothing<E>, MinSteps<N>, MinEpochs<N>, BatchSize<N>, ChannelsLast, KeepFinal, Augment<P>, "
                "Evaluate<P>");
  static_assert(detail::count_v<detail::is_recipe, Items...> == 1,
                "ftmeta: FineTune<...>: give exactly one recipe of the whole network (Sgd<...>, Adam<...> or AdamW<...>)");
  static_assert(detail::count_v<is_head_first, Items...> <= 1 && detail::count_v<is_batch_norm_policy, Items...> <= 1 &&
                    detail::count_v<detail::is_smoothing, Items...> <= 1 && detail::count_v<detail::is_min_steps, Items...> <= 1 &&
                    detail::count_v<detail::is_min_epochs, Items...> <= 1 && detail::count_v<detail::is_batch, Items...> <= 1 &&
                    detail::count_v<detail::is_augment, Items...> <= 1 && detail::count_v<detail::is_evaluate, Items...> <= 1,
                "ftmeta: FineTune<...>: give each item at most once");
  static_assert(detail::count_v<detail::is_augment, Items...> == 1 && detail::count_v<detail::is_evaluate, Items...> == 1,
                "ftmeta: FineTune<...>: give the pipelines, Augment<P> for training and Evaluate<P> for evaluation");

  using recipe = typename detail::first_of_recipe<Items...>::type;
  using head_first = typename detail::first_of_head<Items...>::type;  ///< void: no head phase
  using batch_norm = typename detail::first_of_bn<Items...>::type;
  static constexpr double label_smoothing = detail::value_or<detail::is_smoothing, Items...>(0);
  static constexpr std::int64_t min_steps = static_cast<std::int64_t>(detail::value_or<detail::is_min_steps, Items...>(0));
  static constexpr std::int64_t min_epochs = static_cast<std::int64_t>(detail::value_or<detail::is_min_epochs, Items...>(1));
  static constexpr std::int64_t batch_size = static_cast<std::int64_t>(detail::value_or<detail::is_batch, Items...>(64));
  static constexpr bool channels_last = (std::is_same_v<Items, ChannelsLast> || ...);
  static constexpr bool keep_final = (std::is_same_v<Items, KeepFinal> || ...);
  template <int Size, class Backbone>
  using train_pipeline = typename detail::augment_of<detail::no_pipeline, Items...>::template type<Size, Backbone>;
  template <int Size, class Backbone>
  using eval_pipeline = typename detail::evaluate_of<detail::no_pipeline, Items...>::template type<Size, Backbone>;

  /// One line per part of the policy.
  static std::string describe() {
    std::string s;
    if constexpr (!std::is_void_v<head_first>) s += head_first::describe() + "\nthen the whole network: ";
    s += recipe::describe();
    s += "\n" + batch_norm::describe();
    if (label_smoothing > 0) s += "; label smoothing " + optim::detail::num(label_smoothing);
    s += "; batch " + std::to_string(batch_size);
    if (min_steps > 0) s += "; at least " + std::to_string(min_steps) + " optimizer steps";
    if (min_epochs > 1) s += " and " + std::to_string(min_epochs) + " epochs";
    if (channels_last) s += "; channels-last (NHWC)";
    s += keep_final ? "; keeps the final weights" : "; keeps the epoch of best validation accuracy";
    return s;
  }
};

template <class T> struct is_fine_tune : std::false_type {};
template <class... I> struct is_fine_tune<FineTune<I...>> : std::true_type {};
/// A struct deriving from FineTune<...> (how policies are named).
template <class T>
concept FineTunePolicy = requires {
  typename T::recipe;
  typename T::batch_norm;
  T::label_smoothing;
  T::min_steps;
  T::keep_final;
  T::describe();
};

}  // namespace ftmeta::train
