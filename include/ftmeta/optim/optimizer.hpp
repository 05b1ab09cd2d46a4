// ftmeta/optim/optimizer.hpp: builds the LibTorch optimizer of a recipe, one param group per Group.
#pragma once

#include <ftmeta/core/type_list.hpp>
#include <ftmeta/optim/groups.hpp>

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace ftmeta::optim {

/// The optimizer of `Recipe` over `model` (a module with `parameters_of(part)` and a `spec`).
/// Group i of the recipe is param group i of the optimizer, with its own lr and weight decay.
template <class Recipe, class ModelImpl>
std::unique_ptr<torch::optim::Optimizer> make_optimizer(ModelImpl& model) {
  using Spec = typename ModelImpl::spec;
  static_assert(groups_fit_v<Recipe, Spec>,
                "ftmeta: make_optimizer<Recipe>(model): a Group names a part the model does not have (parts: backbone, head), or two Groups name the same part");
  static_assert(groups_cover_v<Recipe, Spec>,
                "ftmeta: make_optimizer<Recipe>(model): the Groups must cover every part of the model (backbone and head); add a Group for the missing part");
  std::vector<torch::optim::OptimizerParamGroup> groups;
  double first_lr = 0;
  meta::for_each_type(typename Recipe::groups{}, [&]<class G, std::size_t I>() {
    auto options = std::make_unique<torch::optim::SGDOptions>(G::lr);
    options->momentum(Recipe::momentum).nesterov(Recipe::nesterov).weight_decay(G::weight_decay);
    std::vector<torch::Tensor> params;
    for (auto& p : model.parameters_of(G::part::part))
      if (p.requires_grad()) params.push_back(p);
    if (I == 0) first_lr = G::lr;
    groups.emplace_back(std::move(params), std::move(options));
  });
  torch::optim::SGDOptions defaults(first_lr);
  defaults.momentum(Recipe::momentum).nesterov(Recipe::nesterov);
  return std::make_unique<torch::optim::SGD>(std::move(groups), defaults);
}

}  // namespace ftmeta::optim
