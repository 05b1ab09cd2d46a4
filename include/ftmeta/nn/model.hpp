// ftmeta/nn/model.hpp: the classifier module generated from a Model spec: backbone (classifier
// removed), global pooling, flatten, head; with pretrained loading and access to its parts.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/efficientnet_lite.hpp>
#include <ftmeta/nn/head.hpp>
#include <ftmeta/nn/head_spec.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ftmeta::nn {

/// Binds a backbone descriptor to its LibTorch module. Specialize it to add a backbone.
template <class Backbone>
struct backbone_module;

template <>
struct backbone_module<backbones::EfficientNetLite0> {
  using type = EfficientNetLite0;
  static type make(std::int64_t in_channels) { return type(in_channels, /*num_classes=*/0); }
  static std::filesystem::path pretrained() { return lite0_pretrained_weights(); }
  /// Strict for the backbone (the file's classifier is not part of it); a grayscale stem gets the
  /// sum of the RGB kernels.
  static LoadReport load(type& module, const std::filesystem::path& file) { return load_lite0_pretrained(*module, file); }
};

/// Options of a classifier that are runtime values.
struct ModelOptions {
  std::int64_t in_channels = 3;
};

namespace detail {
template <class Pool>
torch::Tensor global_pool(const torch::Tensor& map) {
  if constexpr (std::is_same_v<Pool, AvgPool>) {
    return map.mean({2, 3});
  } else if constexpr (std::is_same_v<Pool, MaxPool>) {
    return map.amax({2, 3});
  } else {
    return torch::cat({map.mean({2, 3}), map.amax({2, 3})}, 1);
  }
}
}  // namespace detail

/// The module of a model spec `Spec` (a struct deriving from Model<...>). Submodules are named
/// "backbone" and "head", so a state dict reads `backbone._conv_stem.weight`, `head.0.weight`, ...
template <ModelSpec Spec>
class ClassifierImpl : public torch::nn::Module {
 public:
  using spec = Spec;
  using backbone_binding = backbone_module<typename Spec::backbone>;

  ClassifierImpl(std::int64_t num_classes, ModelOptions options = {})
      : num_classes_(num_classes),
        backbone_(register_module("backbone", backbone_binding::make(options.in_channels))),
        head_(register_module("head", HeadModule<typename Spec::head>(Spec::feature_width, num_classes))) {}

  torch::Tensor forward(torch::Tensor images) {
    return head_->forward(detail::global_pool<typename Spec::pool>(backbone_->forward(images)));
  }
  /// Pooled features, before the head.
  torch::Tensor features(torch::Tensor images) {
    return detail::global_pool<typename Spec::pool>(backbone_->forward(images));
  }

  std::int64_t num_classes() const { return num_classes_; }
  auto& backbone() { return backbone_; }
  auto& head() { return head_; }

  /// The parameters of one named part ("backbone" or "head"), as parameter groups select them.
  std::vector<torch::Tensor> parameters_of(std::string_view part) {
    if (part == "backbone") return backbone_->parameters();
    if (part == "head") return head_->parameters();
    throw Error("ftmeta: model " + Spec::describe() + " has no part '" + std::string(part) + "'");
  }

  /// Loads the backbone's pretrained weights (the file's own classifier is left out); a file that
  /// does not fit is a WeightsError naming it, and nothing is copied then.
  LoadReport load_pretrained_backbone(const std::filesystem::path& file) { return backbone_binding::load(backbone_, file); }
  LoadReport load_pretrained_backbone() { return load_pretrained_backbone(backbone_binding::pretrained()); }

 private:
  std::int64_t num_classes_;
  typename backbone_binding::type backbone_;
  HeadModule<typename Spec::head> head_;
};

/// Holder of ClassifierImpl, as TORCH_MODULE would declare it.
template <ModelSpec Spec>
class Classifier : public torch::nn::ModuleHolder<ClassifierImpl<Spec>> {
 public:
  using torch::nn::ModuleHolder<ClassifierImpl<Spec>>::ModuleHolder;
};

}  // namespace ftmeta::nn
