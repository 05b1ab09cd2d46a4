// ftmeta/optim/impl/optimizer.ipp: the definitions of optimizer.hpp's core (the optimizer builder,
// RecipeRun): included by that header when header-only, compiled once by src/ftmeta_core.cpp with
// FTMETA_SEPARATE_COMPILATION.
#pragma once

#include <ftmeta/optim/optimizer.hpp>

namespace ftmeta::optim {
namespace detail {
inline bool keep(Filter f, const torch::Tensor& t) {
  switch (f) {
    case Filter::norm_and_bias: return t.dim() <= 1;
    case Filter::weights: return t.dim() > 1;
    default: return true;
  }
}

inline std::unique_ptr<torch::optim::OptimizerOptions> options_for(const RecipeDescriptor& r, double lr, double weight_decay) {
  switch (r.kind) {
    case OptimizerKind::sgd: {
      auto o = std::make_unique<torch::optim::SGDOptions>(lr);
      o->momentum(r.momentum).dampening(r.dampening).nesterov(r.nesterov).weight_decay(weight_decay);
      return o;
    }
    case OptimizerKind::adam: {
      auto o = std::make_unique<torch::optim::AdamOptions>(lr);
      o->betas({r.beta1, r.beta2}).eps(r.eps).weight_decay(weight_decay);
      return o;
    }
    default: {
      auto o = std::make_unique<torch::optim::AdamWOptions>(lr);
      o->betas({r.beta1, r.beta2}).eps(r.eps).weight_decay(weight_decay);
      return o;
    }
  }
}

inline std::unique_ptr<torch::optim::Optimizer> optimizer_for(const RecipeDescriptor& r, std::vector<torch::optim::OptimizerParamGroup> groups,
                                                              double lr) {
  auto defaults = options_for(r, lr, r.weight_decay);
  switch (r.kind) {
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGD>(std::move(groups), static_cast<torch::optim::SGDOptions&>(*defaults));
    case OptimizerKind::adam:
      return std::make_unique<torch::optim::Adam>(std::move(groups), static_cast<torch::optim::AdamOptions&>(*defaults));
    default:
      return std::make_unique<torch::optim::AdamW>(std::move(groups), static_cast<torch::optim::AdamWOptions&>(*defaults));
  }
}

inline std::string listing(const std::vector<std::string>& names, std::size_t most = 12) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < most; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > most) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}
}  // namespace detail

FTMETA_DECL BuiltOptimizer build_optimizer(const RecipeDescriptor& recipe, const ModelParts& model) {
  const auto& groups = recipe.groups;
  const std::size_t n = groups.size();

  // Every trainable parameter by identity, with its name.
  std::vector<std::pair<std::string, torch::Tensor>> all;
  std::map<const void*, std::size_t> index;
  for (const auto& p : model.module->named_parameters(true))
    if (p.value().requires_grad()) {
      index[p.value().unsafeGetTensorImpl()] = all.size();
      all.emplace_back(p.key(), p.value());
    }
  // For each parameter: the best specificity seen and the groups claiming it at that level.
  std::vector<int> best(all.size(), -1);
  std::vector<std::vector<std::size_t>> claims(all.size());
  std::vector<std::string> group_names(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& g = groups[i];
    group_names[i] = "Group<" + g.selector + ">";
    for (auto& [name, t] : model.named_parameters_of(g.part)) {
      if (!detail::keep(g.filter, t)) continue;
      const auto it = index.find(t.unsafeGetTensorImpl());
      if (it == index.end()) continue;  // not trainable
      const auto k = it->second;
      if (g.specificity > best[k]) {
        best[k] = g.specificity;
        claims[k] = {i};
      } else if (g.specificity == best[k]) {
        claims[k].push_back(i);
      }
    }
  }
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
  for (std::size_t i = 0; i < n; ++i) {
    const auto& g = groups[i];
    std::vector<torch::Tensor> mine;
    for (std::size_t k = 0; k < all.size(); ++k)
      if (claims[k][0] == i) mine.push_back(all[k].second);
    if (mine.empty())
      throw UsageError("ftmeta: make_optimizer<Recipe>(model): " + group_names[i] +
                       " selects no trainable parameter (more specific Groups took them all, or the part has none); remove it");
    auto add = [&](std::string name, double group_lr, std::vector<torch::Tensor> params) {
      GroupInfo info{std::move(name), group_lr, g.weight_decay, static_cast<std::int64_t>(params.size()), 0, g.schedule, g.unit,
                     g.make_schedule};
      for (auto& p : params) info.numel += p.numel();
      if (param_groups.empty()) first_lr = group_lr;
      param_groups.emplace_back(std::move(params), detail::options_for(recipe, group_lr, g.weight_decay));
      out.groups.push_back(std::move(info));
    };
    if (g.layer_decay > 0) {
      // One param group per stage, the last at lr, each earlier one layer_decay times the next.
      const auto& stages = model.stages;
      std::map<const void*, std::size_t> stage_of;
      for (std::size_t s = 0; s < stages.size(); ++s)
        for (auto& [name, t] : model.named_parameters_of("backbone." + stages[s])) stage_of[t.unsafeGetTensorImpl()] = s;
      std::vector<std::vector<torch::Tensor>> per_stage(stages.size());
      std::vector<torch::Tensor> other;
      for (auto& t : mine) {
        const auto it = stage_of.find(t.unsafeGetTensorImpl());
        (it == stage_of.end() ? other : per_stage[it->second]).push_back(t);
      }
      double scale = 1;
      std::vector<std::pair<std::string, double>> scales(stages.size());
      for (std::size_t s = stages.size(); s-- > 0;) {
        scales[s] = {"backbone." + stages[s], scale};
        scale *= g.layer_decay;
      }
      for (std::size_t s = 0; s < stages.size(); ++s)
        if (!per_stage[s].empty()) add(scales[s].first, g.lr * scales[s].second, std::move(per_stage[s]));
      if (!other.empty()) add("backbone (outside the stages)", g.lr, std::move(other));
    } else {
      add(g.selector, g.lr, std::move(mine));
    }
  }
  out.optimizer = detail::optimizer_for(recipe, std::move(param_groups), first_lr);
  return out;
}

FTMETA_DECL std::string describe_recipe(const RecipeDescriptor& recipe, const ModelParts& model) {
  auto built = build_optimizer(recipe, model);
  std::string s = recipe.describe.substr(0, recipe.describe.find(';')) + "\n";
  for (std::size_t i = 0; i < built.groups.size(); ++i) {
    const auto& g = built.groups[i];
    s += "  group " + std::to_string(i) + ": " + g.name + ", " + std::to_string(g.tensors) + " tensors, " + std::to_string(g.numel) +
         " parameters, lr " + detail::num(g.lr) + ", weight decay " + detail::num(g.weight_decay) + ", " + g.schedule +
         (g.unit == Unit::step ? " (per step)" : " (per epoch)") + "\n";
  }
  if (recipe.clip_grad_norm > 0) s += "  clip gradient norm to " + detail::num(recipe.clip_grad_norm) + "\n";
  if (recipe.clip_grad_value > 0) s += "  clip gradient values to " + detail::num(recipe.clip_grad_value) + "\n";
  if (recipe.accumulate > 1) s += "  accumulate gradients over " + std::to_string(recipe.accumulate) + " batches\n";
  const auto& phases = recipe.phases;
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const auto& p = phases[i];
    s += "  phase " + std::to_string(i + 1) + ": " + (p.epochs ? std::to_string(p.epochs) + " epoch(s)" : std::string("the rest of the run"));
    s += p.frozen.empty() ? ", nothing frozen" : ", frozen: " + detail::listing(p.frozen, 16);
    if (p.lr_scale != 1.0) s += ", lr x " + detail::num(p.lr_scale);
    s += "\n";
  }
  return s;
}

FTMETA_DECL RecipeRun::RecipeRun(BuiltOptimizer built, std::vector<PhasePlan> phases, std::function<void(const std::string&, bool)> set_frozen)
    : built_(std::move(built)), phases_(std::move(phases)), set_frozen_(std::move(set_frozen)) {
  if (phases_.empty()) phases_.push_back({});
}

FTMETA_DECL void RecipeRun::begin_epoch(std::int64_t epoch, std::int64_t total_epochs, std::int64_t steps_per_epoch) {
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
  for (const auto& g : built_.groups) runs_.push_back(g.make_schedule(g.lr, g.unit == Unit::step ? epochs * steps_per_epoch : epochs));
  apply();
}

FTMETA_DECL void RecipeRun::after_step() {
  ++steps_;
  advance(Unit::step, {});
}

FTMETA_DECL void RecipeRun::end_epoch(const Observed& observed) { advance(Unit::epoch, observed); }

FTMETA_DECL void RecipeRun::restore(std::int64_t total_epochs, std::int64_t steps_per_epoch, const std::vector<EpochTrace>& done) {
  for (std::size_t e = 0; e < done.size(); ++e) {
    begin_epoch(static_cast<std::int64_t>(e) + 1, total_epochs, steps_per_epoch);
    for (std::int64_t s = 0; s < done[e].steps; ++s) after_step();
    end_epoch(done[e].observed);
  }
}

FTMETA_DECL std::vector<double> RecipeRun::lrs() const {
  std::vector<double> out;
  for (auto& g : built_.optimizer->param_groups()) out.push_back(g.options().get_lr());
  return out;
}

FTMETA_DECL void RecipeRun::advance(Unit unit, const Observed& o) {
  bool any = false;
  for (auto& r : runs_)
    if (r->unit() == unit) {
      r->step(o);
      any = true;
    }
  if (any) apply();
}

FTMETA_DECL void RecipeRun::apply() {
  auto& pgs = built_.optimizer->param_groups();
  for (std::size_t i = 0; i < runs_.size(); ++i) pgs[i].options().set_lr(runs_[i]->lr() * phases_[phase_].lr_scale);
}

FTMETA_DECL RecipeRun make_recipe_run(const RecipeDescriptor& recipe, const ModelParts& model) {
  return RecipeRun(build_optimizer(recipe, model), recipe.phases, model.set_frozen);
}

}  // namespace ftmeta::optim
