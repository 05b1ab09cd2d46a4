// ftmeta/optim/optimizer.hpp: builds the LibTorch optimizer of a recipe (groups assigned parameter
// by parameter and checked), and RecipeRun, which drives its schedules and phases during training.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/type_list.hpp>
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

inline bool keep(Filter f, const torch::Tensor& t) {
  switch (f) {
    case Filter::norm_and_bias: return t.dim() <= 1;
    case Filter::weights: return t.dim() > 1;
    default: return true;
  }
}

template <class Recipe>
std::unique_ptr<torch::optim::OptimizerOptions> options_for(double lr, double weight_decay) {
  if constexpr (Recipe::kind == OptimizerKind::sgd) {
    auto o = std::make_unique<torch::optim::SGDOptions>(lr);
    o->momentum(Recipe::momentum).dampening(Recipe::dampening).nesterov(Recipe::nesterov).weight_decay(weight_decay);
    return o;
  } else if constexpr (Recipe::kind == OptimizerKind::adam) {
    auto o = std::make_unique<torch::optim::AdamOptions>(lr);
    o->betas({Recipe::beta1, Recipe::beta2}).eps(Recipe::eps).weight_decay(weight_decay);
    return o;
  } else {
    auto o = std::make_unique<torch::optim::AdamWOptions>(lr);
    o->betas({Recipe::beta1, Recipe::beta2}).eps(Recipe::eps).weight_decay(weight_decay);
    return o;
  }
}

template <class Recipe>
std::unique_ptr<torch::optim::Optimizer> optimizer_for(std::vector<torch::optim::OptimizerParamGroup> groups, double lr) {
  auto defaults = options_for<Recipe>(lr, Recipe::weight_decay);
  if constexpr (Recipe::kind == OptimizerKind::sgd)
    return std::make_unique<torch::optim::SGD>(std::move(groups), static_cast<torch::optim::SGDOptions&>(*defaults));
  else if constexpr (Recipe::kind == OptimizerKind::adam)
    return std::make_unique<torch::optim::Adam>(std::move(groups), static_cast<torch::optim::AdamOptions&>(*defaults));
  else
    return std::make_unique<torch::optim::AdamW>(std::move(groups), static_cast<torch::optim::AdamWOptions&>(*defaults));
}

inline std::string listing(const std::vector<std::string>& names, std::size_t most = 12) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < most; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > most) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}
}  // namespace detail

/// Builds the optimizer of `Recipe` over `model` (a module with `parameters_of(part)` or
/// `named_parameters_of(part)`, and its `spec`). Every trainable parameter goes to the most specific
/// Group that selects it (NormAndBias<...> over Stage<...> over BackbonePart/HeadPart); a Group with
/// LayerDecay<V> becomes one param group per backbone stage. Throws UsageError listing the parameters
/// that no Group selects, the ones two equally specific Groups both claim, or a Group left empty.
template <class Recipe, class ModelImpl>
BuiltOptimizer build_optimizer(ModelImpl& model) {
  using Spec = typename ModelImpl::spec;
  static_assert(groups_fit_v<Recipe, Spec>,
                "ftmeta: make_optimizer<Recipe>(model): a Group or Phase names a part or backbone stage the model does not have, or two Groups use the same selector");
  using Groups = typename Recipe::groups;
  constexpr std::size_t n = meta::size_v<Groups>;

  // Every trainable parameter by identity, with its name.
  std::vector<std::pair<std::string, torch::Tensor>> all;
  std::map<const void*, std::size_t> index;
  for (const auto& p : model.named_parameters(true))
    if (p.value().requires_grad()) {
      index[p.value().unsafeGetTensorImpl()] = all.size();
      all.emplace_back(p.key(), p.value());
    }
  // For each parameter: the best specificity seen and the groups claiming it at that level.
  std::vector<int> best(all.size(), -1);
  std::vector<std::vector<std::size_t>> claims(all.size());
  std::array<std::string, n> group_names{};
  meta::for_each_type(Groups{}, [&]<class G, std::size_t I>() {
    group_names[I] = "Group<" + G::part::describe() + ">";
    for (auto& [name, t] : detail::named_of(model, G::part::part)) {
      if (!detail::keep(G::part::filter, t)) continue;
      const auto it = index.find(t.unsafeGetTensorImpl());
      if (it == index.end()) continue;  // not trainable
      const auto k = it->second;
      if (G::part::specificity > best[k]) {
        best[k] = G::part::specificity;
        claims[k] = {I};
      } else if (G::part::specificity == best[k]) {
        claims[k].push_back(I);
      }
    }
  });
  std::vector<std::string> left, twice;
  for (std::size_t k = 0; k < all.size(); ++k) {
    if (claims[k].empty()) left.push_back(all[k].first);
    else if (claims[k].size() > 1) twice.push_back(all[k].first + " (" + group_names[claims[k][0]] + " and " + group_names[claims[k][1]] + ")");
  }
  if (!twice.empty())
    throw UsageError("ftmeta: make_optimizer<Recipe>(model): parameters claimed by two Groups: " + detail::listing(twice));
  if (!left.empty())
    throw UsageError("ftmeta: make_optimizer<Recipe>(model): trainable parameters in no Group: " + detail::listing(left) +
                     "; add a Group for their part");

  BuiltOptimizer out;
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  double first_lr = 0;
  meta::for_each_type(Groups{}, [&]<class G, std::size_t I>() {
    constexpr double lr = Recipe::template lr_of<G>();
    constexpr double wd = Recipe::template weight_decay_of<G>();
    using S = typename Recipe::template schedule_of<G>;
    std::vector<torch::Tensor> mine;
    for (std::size_t k = 0; k < all.size(); ++k)
      if (claims[k][0] == I) mine.push_back(all[k].second);
    if (mine.empty())
      throw UsageError("ftmeta: make_optimizer<Recipe>(model): " + group_names[I] +
                       " selects no trainable parameter (more specific Groups took them all, or the part has none); remove it");
    auto add = [&](std::string name, double group_lr, std::vector<torch::Tensor> params) {
      GroupInfo info{std::move(name), group_lr, wd, static_cast<std::int64_t>(params.size()), 0, S::describe(), S::unit,
                     [](double base, std::int64_t horizon) -> std::unique_ptr<ScheduleRun> {
                       return std::make_unique<ScheduleRunOf<S>>(base, horizon);
                     }};
      for (auto& p : params) info.numel += p.numel();
      if (param_groups.empty()) first_lr = group_lr;
      param_groups.emplace_back(std::move(params), detail::options_for<Recipe>(group_lr, wd));
      out.groups.push_back(std::move(info));
    };
    if constexpr (G::layer_decay > 0) {
      // One param group per stage, the last at lr, each earlier one layer_decay times the next.
      const auto& stages = Spec::backbone::stages;
      std::map<const void*, std::size_t> stage_of;
      for (std::size_t s = 0; s < stages.size(); ++s)
        for (auto& [name, t] : detail::named_of(model, "backbone." + std::string(stages[s]))) stage_of[t.unsafeGetTensorImpl()] = s;
      std::vector<std::vector<torch::Tensor>> per_stage(stages.size());
      std::vector<torch::Tensor> other;
      for (auto& t : mine) {
        const auto it = stage_of.find(t.unsafeGetTensorImpl());
        (it == stage_of.end() ? other : per_stage[it->second]).push_back(t);
      }
      double scale = 1;
      std::vector<std::pair<std::string, double>> scales(stages.size());
      for (std::size_t s = stages.size(); s-- > 0;) {
        scales[s] = {"backbone." + std::string(stages[s]), scale};
        scale *= G::layer_decay;
      }
      for (std::size_t s = 0; s < stages.size(); ++s)
        if (!per_stage[s].empty()) add(scales[s].first, lr * scales[s].second, std::move(per_stage[s]));
      if (!other.empty()) add("backbone (outside the stages)", lr, std::move(other));
    } else {
      add(G::part::describe(), lr, std::move(mine));
    }
  });
  out.optimizer = detail::optimizer_for<Recipe>(std::move(param_groups), first_lr);
  return out;
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
  auto built = build_optimizer<Recipe>(model);
  std::string s = Recipe::describe().substr(0, Recipe::describe().find(';')) + "\n";
  for (std::size_t i = 0; i < built.groups.size(); ++i) {
    const auto& g = built.groups[i];
    s += "  group " + std::to_string(i) + ": " + g.name + ", " + std::to_string(g.tensors) + " tensors, " + std::to_string(g.numel) +
         " parameters, lr " + detail::num(g.lr) + ", weight decay " + detail::num(g.weight_decay) + ", " + g.schedule +
         (g.unit == Unit::step ? " (per step)" : " (per epoch)") + "\n";
  }
  if (Recipe::clip_grad_norm > 0) s += "  clip gradient norm to " + detail::num(Recipe::clip_grad_norm) + "\n";
  if (Recipe::clip_grad_value > 0) s += "  clip gradient values to " + detail::num(Recipe::clip_grad_value) + "\n";
  if (Recipe::accumulate > 1) s += "  accumulate gradients over " + std::to_string(Recipe::accumulate) + " batches\n";
  const auto phases = Recipe::template phase_plan<typename ModelImpl::spec>();
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const auto& p = phases[i];
    s += "  phase " + std::to_string(i + 1) + ": " + (p.epochs ? std::to_string(p.epochs) + " epoch(s)" : std::string("the rest of the run"));
    s += p.frozen.empty() ? ", nothing frozen" : ", frozen: " + detail::listing(p.frozen, 16);
    if (p.lr_scale != 1.0) s += ", lr x " + detail::num(p.lr_scale);
    s += "\n";
  }
  return s;
}

/// Drives a built optimizer through a run: the phase of each epoch (freezing and unfreezing parts,
/// restarting the schedules), the schedules' steps (per optimizer step or per epoch), and the lrs.
/// The optimizer itself is kept across phases, so its state (momentum, Adam moments) stays: frozen
/// parameters get no gradient and the optimizer leaves them and their state untouched.
class RecipeRun {
 public:
  /// `set_frozen(part, frozen)` freezes or unfreezes a part of the model.
  RecipeRun(BuiltOptimizer built, std::vector<PhasePlan> phases, std::function<void(const std::string&, bool)> set_frozen)
      : built_(std::move(built)), phases_(std::move(phases)), set_frozen_(std::move(set_frozen)) {
    if (phases_.empty()) phases_.push_back({});
  }

  torch::optim::Optimizer& optimizer() { return *built_.optimizer; }
  const std::vector<GroupInfo>& groups() const { return built_.groups; }
  const std::vector<PhasePlan>& phases() const { return phases_; }
  /// The phase (0-based) running now; -1 before the first epoch.
  std::int64_t phase() const { return phase_; }

  /// Call before epoch `epoch` (1-based) of `total_epochs`; `steps_per_epoch` is the number of
  /// optimizer steps per epoch (0 if unknown: schedules that need the phase's length then throw).
  void begin_epoch(std::int64_t epoch, std::int64_t total_epochs, std::int64_t steps_per_epoch) {
    std::int64_t start = 1, p = 0;
    for (; p + 1 < static_cast<std::int64_t>(phases_.size()); ++p) {
      const auto len = phases_[p].epochs;
      if (len == 0 || epoch < start + len) break;
      start += len;
    }
    if (p == phase_) return;
    // Unfreeze what the previous phase froze and this one does not; freeze what this one lists.
    const auto& now = phases_[p].frozen;
    for (const auto& part : frozen_)
      if (std::find(now.begin(), now.end(), part) == now.end()) set_frozen_(part, false);
    for (const auto& part : now) set_frozen_(part, true);
    frozen_ = now;
    phase_ = p;
    const auto epochs = phases_[p].epochs ? phases_[p].epochs : std::max<std::int64_t>(total_epochs - start + 1, 0);
    runs_.clear();
    for (const auto& g : built_.groups)
      runs_.push_back(g.make_schedule(g.lr, g.unit == Unit::step ? epochs * steps_per_epoch : epochs));
    apply();
  }
  /// Optimizer steps taken so far (after_step calls).
  std::int64_t steps() const { return steps_; }

  /// After each optimizer step.
  void after_step() {
    ++steps_;
    advance(Unit::step, {});
  }
  /// After each epoch's validation.
  void end_epoch(const Observed& observed) { advance(Unit::epoch, observed); }

  /// One finished epoch as restore() replays it: its optimizer steps and what validation observed.
  struct EpochTrace {
    std::int64_t steps = 0;
    Observed observed;
  };
  /// Puts a fresh run where an interrupted one stood after `done.size()` epochs (resuming from a
  /// checkpoint): replays each epoch's begin_epoch, its steps and its end_epoch, so the phase, the
  /// frozen parts, every schedule (ReduceLROnPlateau's memory too) and steps() are as they were.
  void restore(std::int64_t total_epochs, std::int64_t steps_per_epoch, const std::vector<EpochTrace>& done) {
    for (std::size_t e = 0; e < done.size(); ++e) {
      begin_epoch(static_cast<std::int64_t>(e) + 1, total_epochs, steps_per_epoch);
      for (std::int64_t s = 0; s < done[e].steps; ++s) after_step();
      end_epoch(done[e].observed);
    }
  }

  /// The current lr of each param group.
  std::vector<double> lrs() const {
    std::vector<double> out;
    for (auto& g : built_.optimizer->param_groups()) out.push_back(g.options().get_lr());
    return out;
  }

 private:
  void advance(Unit unit, const Observed& o) {
    bool any = false;
    for (auto& r : runs_)
      if (r->unit() == unit) {
        r->step(o);
        any = true;
      }
    if (any) apply();
  }
  void apply() {
    auto& pgs = built_.optimizer->param_groups();
    for (std::size_t i = 0; i < runs_.size(); ++i) pgs[i].options().set_lr(runs_[i]->lr() * phases_[phase_].lr_scale);
  }

  BuiltOptimizer built_;
  std::vector<PhasePlan> phases_;
  std::function<void(const std::string&, bool)> set_frozen_;
  std::vector<std::unique_ptr<ScheduleRun>> runs_;
  std::vector<std::string> frozen_;
  std::int64_t phase_ = -1;
  std::int64_t steps_ = 0;
};

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

/// The RecipeRun of `Recipe` over `model`.
template <class Recipe, class ModelImpl>
RecipeRun make_recipe_run(ModelImpl& model) {
  return RecipeRun(build_optimizer<Recipe>(model), Recipe::template phase_plan<typename ModelImpl::spec>(),
                   [&model](const std::string& part, bool frozen) { set_part_frozen(model, part, frozen); });
}

}  // namespace ftmeta::optim
