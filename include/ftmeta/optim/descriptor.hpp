// ftmeta/optim/descriptor.hpp: a recipe lowered to run-time data (RecipeDescriptor), what the one
// non-template optimizer builder (optimizer.hpp) consumes: its groups, optimizer options, phases.
// ftmeta:pure
#pragma once

#include <ftmeta/core/type_list.hpp>
#include <ftmeta/optim/groups.hpp>
#include <ftmeta/optim/schedules.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ftmeta::optim {

/// Makes the run of one schedule (ScheduleRunOf<S>) from the group's base lr and the phase's length.
using MakeSchedule = std::unique_ptr<ScheduleRun> (*)(double base, std::int64_t horizon);

/// One Group<...> of a recipe at run time: its selector, lr (BaseLr applied), weight decay (the
/// recipe's default applied), layer decay and schedule (the recipe's when it gives none).
struct GroupDescriptor {
  std::string part;          ///< the model part the selector names: "backbone", "head", "backbone.stage7"
  Filter filter = Filter::all;
  int specificity = 1;       ///< the most specific group claiming a parameter takes it
  std::string selector;      ///< the selector's description: "norm and bias of backbone"
  double lr = 0;
  double weight_decay = 0;
  double layer_decay = 0;    ///< 0: none; else one param group per backbone stage
  std::string schedule;      ///< the schedule's description
  Unit unit = Unit::epoch;
  MakeSchedule make_schedule = nullptr;
};

/// A recipe (Sgd<...>, Adam<...>, AdamW<...>) at run time.
struct RecipeDescriptor {
  OptimizerKind kind = OptimizerKind::sgd;
  std::string describe;       ///< Recipe::describe()
  double momentum = 0, dampening = 0;  ///< SGD
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  ///< Adam, AdamW
  double weight_decay = 0;    ///< the optimizer's default (param groups carry their own)
  std::vector<GroupDescriptor> groups;
  double clip_grad_norm = 0, clip_grad_value = 0;
  std::int64_t accumulate = 1;
  std::vector<PhasePlan> phases;  ///< with the model's stages resolved (GradualUnfreeze)
};

namespace detail {
template <class S>
std::unique_ptr<ScheduleRun> make_schedule_run(double base, std::int64_t horizon) {
  return std::make_unique<ScheduleRunOf<S>>(base, horizon);
}
}  // namespace detail

/// Lowers `Recipe` over model spec `Spec` (whose backbone stages GradualUnfreeze needs) to its
/// descriptor. The recipe's own checks fired when it was declared; this only reads its values.
template <class Recipe, class Spec>
RecipeDescriptor lower_recipe() {
  RecipeDescriptor d;
  d.kind = Recipe::kind;
  d.describe = Recipe::describe();
  if constexpr (Recipe::kind == OptimizerKind::sgd) {
    d.momentum = Recipe::momentum;
    d.dampening = Recipe::dampening;
    d.nesterov = Recipe::nesterov;
  } else {
    d.beta1 = Recipe::beta1;
    d.beta2 = Recipe::beta2;
    d.eps = Recipe::eps;
  }
  d.weight_decay = Recipe::weight_decay;
  meta::for_each_type(typename Recipe::groups{}, [&]<class G, std::size_t>() {
    using S = typename Recipe::template schedule_of<G>;
    d.groups.push_back({std::string(G::part::part), G::part::filter, G::part::specificity, G::part::describe(),
                        Recipe::template lr_of<G>(), Recipe::template weight_decay_of<G>(), G::layer_decay, S::describe(), S::unit,
                        &detail::make_schedule_run<S>});
  });
  d.clip_grad_norm = Recipe::clip_grad_norm;
  d.clip_grad_value = Recipe::clip_grad_value;
  d.accumulate = Recipe::accumulate;
  d.phases = Recipe::template phase_plan<Spec>();
  return d;
}

}  // namespace ftmeta::optim
