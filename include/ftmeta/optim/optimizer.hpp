// ftmeta/optim/optimizer.hpp: builds the LibTorch optimizer of a recipe (groups assigned parameter
// by parameter and checked), and RecipeRun, which drives its schedules and phases during training.
// The builder and RecipeRun are ordinary functions over a RecipeDescriptor (descriptor.hpp) and a
// type-erased model (ModelParts); the templates here only lower a recipe and a model to those.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/optim/descriptor.hpp>
#include <ftmeta/optim/groups.hpp>
#include <ftmeta/optim/schedules.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ftmeta::optim {

/// One param group of the built optimizer: where it came from and how its lr moves.
struct GroupInfo {
  std::string name;          ///< "backbone", "backbone.stage7", "norm and bias of backbone", ...
  double lr = 0;             ///< before schedules and phase multipliers
  double weight_decay = 0;
  std::int64_t tensors = 0;  ///< parameter tensors in the group
  std::int64_t numel = 0;    ///< scalar parameters in the group
  std::string schedule;      ///< the schedule's description
  Unit unit = Unit::epoch;
  std::function<std::unique_ptr<ScheduleRun>(double base, std::int64_t horizon)> make_schedule;
};

/// The optimizer of a recipe with what describes its groups.
struct BuiltOptimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<GroupInfo> groups;
};

/// A model as the optimizer builder sees it: the module (its trainable parameters, by name), the
/// parameters of a named part, how to freeze a part, and the backbone's stages (input to output).
struct ModelParts {
  torch::nn::Module* module = nullptr;
  std::function<std::vector<std::pair<std::string, torch::Tensor>>(std::string_view part)> named_parameters_of;
  std::function<void(const std::string& part, bool frozen)> set_frozen;
  std::vector<std::string> stages;
};

/// Builds the optimizer `recipe` describes over `model`. Every trainable parameter goes to the most
/// specific group that selects it (NormAndBias<...> over Stage<...> over BackbonePart/HeadPart); a
/// group with a layer decay becomes one param group per backbone stage. Throws UsageError listing
/// the parameters that no group selects, the ones two equally specific groups both claim, or a
/// group left empty.
FTMETA_DECL BuiltOptimizer build_optimizer(const RecipeDescriptor& recipe, const ModelParts& model);

/// The recipe over a model: its optimizer, the param groups with their parameter counts and
/// schedules, clipping, accumulation and the phases.
FTMETA_DECL std::string describe_recipe(const RecipeDescriptor& recipe, const ModelParts& model);

/// Drives a built optimizer through a run: the phase of each epoch (freezing and unfreezing parts,
/// restarting the schedules), the schedules' steps (per optimizer step or per epoch), and the lrs.
/// The optimizer itself is kept across phases, so its state (momentum, Adam moments) stays: frozen
/// parameters get no gradient and the optimizer leaves them and their state untouched.
class RecipeRun {
 public:
  /// `set_frozen(part, frozen)` freezes or unfreezes a part of the model.
  FTMETA_DECL RecipeRun(BuiltOptimizer built, std::vector<PhasePlan> phases, std::function<void(const std::string&, bool)> set_frozen);

  torch::optim::Optimizer& optimizer() { return *built_.optimizer; }
  const std::vector<GroupInfo>& groups() const { return built_.groups; }
  const std::vector<PhasePlan>& phases() const { return phases_; }
  /// The phase (0-based) running now; -1 before the first epoch.
  std::int64_t phase() const { return phase_; }

  /// Call before epoch `epoch` (1-based) of `total_epochs`; `steps_per_epoch` is the number of
  /// optimizer steps per epoch (0 if unknown: schedules that need the phase's length then throw).
  FTMETA_DECL void begin_epoch(std::int64_t epoch, std::int64_t total_epochs, std::int64_t steps_per_epoch);
  /// Optimizer steps taken so far (after_step calls).
  std::int64_t steps() const { return steps_; }

  /// After each optimizer step.
  FTMETA_DECL void after_step();
  /// After each epoch's validation.
  FTMETA_DECL void end_epoch(const Observed& observed);

  /// One finished epoch as restore() replays it: its optimizer steps and what validation observed.
  struct EpochTrace {
    std::int64_t steps = 0;
    Observed observed;
  };
  /// Puts a fresh run where an interrupted one stood after `done.size()` epochs (resuming from a
  /// checkpoint): replays each epoch's begin_epoch, its steps and its end_epoch, so the phase, the
  /// frozen parts, every schedule (ReduceLROnPlateau's memory too) and steps() are as they were.
  FTMETA_DECL void restore(std::int64_t total_epochs, std::int64_t steps_per_epoch, const std::vector<EpochTrace>& done);

  /// The current lr of each param group.
  FTMETA_DECL std::vector<double> lrs() const;

 private:
  FTMETA_DECL void advance(Unit unit, const Observed& o);
  FTMETA_DECL void apply();

  BuiltOptimizer built_;
  std::vector<PhasePlan> phases_;
  std::function<void(const std::string&, bool)> set_frozen_;
  std::vector<std::unique_ptr<ScheduleRun>> runs_;
  std::vector<std::string> frozen_;
  std::int64_t phase_ = -1;
  std::int64_t steps_ = 0;
};

/// The RecipeRun of `recipe` over `model`.
FTMETA_DECL RecipeRun make_recipe_run(const RecipeDescriptor& recipe, const ModelParts& model);

// --- the typed front end: a recipe type and a model lowered to the above ------------------------
namespace detail {
template <class ModelImpl>
std::vector<std::pair<std::string, torch::Tensor>> named_of(ModelImpl& model, std::string_view part) {
  if constexpr (requires { model.named_parameters_of(part); }) {
    return model.named_parameters_of(part);
  } else {
    // Older models: names from the full module, matched by tensor identity.
    std::map<const void*, std::string> names;
    for (const auto& p : model.named_parameters(true)) names[p.value().unsafeGetTensorImpl()] = p.key();
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& t : model.parameters_of(part)) out.emplace_back(names[t.unsafeGetTensorImpl()], t);
    return out;
  }
}
}  // namespace detail

/// Freezes or unfreezes a part of `model`: its own freeze()/unfreeze() when it has them (which also
/// keep BatchNorm in eval), else requires_grad on the part's parameters.
template <class ModelImpl>
void set_part_frozen(ModelImpl& model, const std::string& part, bool frozen) {
  if constexpr (requires { model.freeze(part); model.unfreeze(part); }) {
    frozen ? model.freeze(part) : model.unfreeze(part);
  } else {
    for (auto& t : model.parameters_of(part)) t.requires_grad_(!frozen);
  }
}

/// `model` (a module with `parameters_of(part)` or `named_parameters_of(part)`, and its `spec`)
/// as the builder sees it; it refers to the model, which must outlive what is built from it.
template <class ModelImpl>
ModelParts model_parts(ModelImpl& model) {
  ModelParts p;
  p.module = &model;
  p.named_parameters_of = [&model](std::string_view part) { return detail::named_of(model, part); };
  p.set_frozen = [&model](const std::string& part, bool frozen) { set_part_frozen(model, part, frozen); };
  using Spec = typename ModelImpl::spec;
  if constexpr (requires { Spec::backbone::stages; })
    for (auto s : Spec::backbone::stages) p.stages.emplace_back(s);
  return p;
}

/// The recipe's descriptor over `ModelImpl`'s spec, after the one check of the recipe against it.
template <class Recipe, class ModelImpl>
RecipeDescriptor recipe_descriptor() {
  using Spec = typename ModelImpl::spec;
  static_assert(groups_fit_v<Recipe, Spec>,
                "ftmeta: make_optimizer<Recipe>(model): a Group or Phase names a part or backbone stage the model does not have, or two Groups use the same selector");
  return lower_recipe<Recipe, Spec>();
}

/// Builds the optimizer of `Recipe` over `model` (see build_optimizer(RecipeDescriptor, ModelParts)).
template <class Recipe, class ModelImpl>
BuiltOptimizer build_optimizer(ModelImpl& model) {
  return build_optimizer(recipe_descriptor<Recipe, ModelImpl>(), model_parts(model));
}

/// The optimizer of `Recipe` over `model`; param group i is the i-th group of build_optimizer.
template <class Recipe, class ModelImpl>
std::unique_ptr<torch::optim::Optimizer> make_optimizer(ModelImpl& model) {
  return build_optimizer<Recipe>(model).optimizer;
}

/// The recipe over a model: its optimizer, the param groups with their parameter counts and
/// schedules, clipping, accumulation and the phases.
template <class Recipe, class ModelImpl>
std::string describe(ModelImpl& model) {
  return describe_recipe(recipe_descriptor<Recipe, ModelImpl>(), model_parts(model));
}

/// The RecipeRun of `Recipe` over `model`.
template <class Recipe, class ModelImpl>
RecipeRun make_recipe_run(ModelImpl& model) {
  return make_recipe_run(recipe_descriptor<Recipe, ModelImpl>(), model_parts(model));
}

}  // namespace ftmeta::optim

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/optim/impl/optimizer.ipp>
#endif
