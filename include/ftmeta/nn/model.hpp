// ftmeta/nn/model.hpp: the classifier module generated from a Model spec: backbone (classifier
// removed), global pooling, flatten, head; with pretrained loading and access to its parts.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/efficientnet_lite.hpp>
#include <ftmeta/nn/head.hpp>
#include <ftmeta/nn/head_spec.hpp>
#include <ftmeta/nn/model_spec.hpp>
#include <ftmeta/nn/mobilenet.hpp>
#include <ftmeta/nn/resnet.hpp>
#include <ftmeta/nn/weights.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ftmeta::nn {

/// Binds a backbone descriptor to its LibTorch module: `type`, `make(in_channels)`, `pretrained()`
/// (the default weights file) and `load(module, file)`. Specialize it to add a backbone.
template <class Backbone>
struct backbone_module;

/// Loads a full network's state dict (torchvision's or the package's file) into backbone `module`:
/// strict, except the classifier (`Descriptor::classifier_prefix`), which the backbone lacks. With
/// in_channels 1 the stem's RGB kernels are summed (a gray image acts as (g, g, g)); other
/// channel counts than 1 and 3 are a WeightsError naming the stem key.
template <class Descriptor>
LoadReport load_backbone_weights(torch::nn::Module& module, std::int64_t in_channels, const std::filesystem::path& path) {
  const auto file = weights_file_in(path);  // a hub folder: its model.safetensors
  auto state = load_state_dict_file(file);
  const std::string stem(Descriptor::stem_weight);
  if (in_channels == 1) {
    if (const auto w = state.find(stem); w.defined() && w.dim() == 4 && w.size(1) == 3) sum_input_channels(state, stem);
  } else if (in_channels != 3) {
    throw WeightsError(file.string() + ": pretrained " + std::string(Descriptor::name) +
                       " stems take 3 (RGB) or 1 (gray) channels, not " + std::to_string(in_channels) +
                       "; load the rest with load_into(module, file, {.skip_prefixes = {\"" + stem + "\"}})");
  }
  try {
    return load_into(module, state, {.skip_prefixes = {std::string(Descriptor::classifier_prefix)}});
  } catch (const WeightsError& e) {
    throw WeightsError(file.string() + ": " + e.what());
  }
}

template <>
struct backbone_module<backbones::EfficientNetLite0> {
  using type = EfficientNetLite0;
  static type make(std::int64_t in_channels) { return type(in_channels, /*num_classes=*/0); }
  static std::filesystem::path pretrained() { return lite0_pretrained_weights(); }
  /// Strict for the backbone (the file's classifier is not part of it); a grayscale stem gets the
  /// sum of the RGB kernels.
  static LoadReport load(type& module, const std::filesystem::path& file) { return load_lite0_pretrained(*module, file); }
};

namespace detail {
// torchvision backbones: ftmeta ships no file of their weights (torchvision downloads them).
template <class Descriptor, class Module>
struct torchvision_binding {
  using type = Module;
  static std::filesystem::path pretrained() {
    throw FileError("ftmeta: no bundled weights for " + std::string(Descriptor::name) +
                    "; pass torchvision's file (torch.hub's cache, e.g. ~/.cache/torch/hub/checkpoints/) to "
                    "load_pretrained_backbone(path)");
  }
  static LoadReport load(type& module, const std::filesystem::path& file) {
    return load_backbone_weights<Descriptor>(*module, module->in_channels(), file);
  }
};
}  // namespace detail

template <>
struct backbone_module<backbones::ResNet18> : detail::torchvision_binding<backbones::ResNet18, ResNet> {
  static type make(std::int64_t in_channels) { return type(backbones::ResNet18{}, in_channels); }
};
template <>
struct backbone_module<backbones::ResNet34> : detail::torchvision_binding<backbones::ResNet34, ResNet> {
  static type make(std::int64_t in_channels) { return type(backbones::ResNet34{}, in_channels); }
};
template <>
struct backbone_module<backbones::ResNet50> : detail::torchvision_binding<backbones::ResNet50, ResNet> {
  static type make(std::int64_t in_channels) { return type(backbones::ResNet50{}, in_channels); }
};
template <>
struct backbone_module<backbones::MobileNetV2> : detail::torchvision_binding<backbones::MobileNetV2, MobileNetV2> {
  static type make(std::int64_t in_channels) { return type(in_channels); }
};

/// Whether `Backbone` has a LibTorch module bound by backbone_module.
template <class Backbone>
concept BoundBackbone = requires(std::int64_t c) {
  typename backbone_module<Backbone>::type;
  backbone_module<Backbone>::make(c);
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
/// The module of a model spec `Spec` (a struct deriving from Model<...>). Submodules are named
/// "backbone" and "head", so a state dict reads `backbone._conv_stem.weight`, `head.0.weight`, ...
/// (the keys of a Python module with attributes `backbone` and `head`).
/// Named parts ("backbone", "head", "backbone.<stage>") can be frozen: their parameters stop
/// requiring gradients and their BatchNorm layers stay in eval mode (running statistics kept).
///   Classifier<Net> net(10);
///   net->freeze("backbone");
///   net->unfreeze("backbone.stage7");
template <ModelSpec Spec>
class ClassifierImpl : public torch::nn::Module {
  static_assert(BoundBackbone<typename Spec::backbone>,
                "ftmeta: Classifier<Spec>: the backbone has no LibTorch module; specialize ftmeta::nn::backbone_module<YourBackbone> (see nn/model.hpp)");

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

  /// The parts that parameter groups and freezing can name: "backbone", "head", then
  /// "backbone.<stage>" for each of the backbone's stages, input to output.
  std::vector<std::string> parts() const {
    std::vector<std::string> out{"backbone", "head"};
    for (auto s : Spec::backbone::stages) out.push_back("backbone." + std::string(s));
    return out;
  }

  /// The parameters of one named part (see parts()) with their keys in this module's state dict
  /// (`backbone.layer1.0.conv1.weight`, `head.2.bias`), in registration order. Throws UsageError
  /// naming the part and listing the parts for any other name.
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters_of(std::string_view part) {
    const auto which = part_index(part);
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : named_parameters(true))
      if (in_part(which, p.key())) out.emplace_back(p.key(), p.value());
    return out;
  }
  /// The parameters of one named part, as parameter groups select them.
  std::vector<torch::Tensor> parameters_of(std::string_view part) {
    std::vector<torch::Tensor> out;
    for (auto& [key, tensor] : named_parameters_of(part)) out.push_back(tensor);
    return out;
  }

  /// Stops training `part`: its parameters no longer require gradients, and its BatchNorm layers
  /// stay in eval mode (their running statistics are not updated) even in train().
  void freeze(std::string_view part) { set_frozen(part, true); }
  /// Trains `part` again (parameters require gradients; BatchNorm follows train()/eval()).
  void unfreeze(std::string_view part) { set_frozen(part, false); }
  /// Whether every parameter of `part` is frozen.
  bool is_frozen(std::string_view part) const {
    const auto which = part_index(part);
    bool any = false;
    for (const auto& p : named_parameters(true))
      if (in_part(which, p.key())) {
        if (p.value().requires_grad()) return false;
        any = true;
      }
    return any;
  }

  /// Keeps (or stops keeping) the BatchNorm running statistics of `part` as they are: its BatchNorm
  /// layers normalize with their running statistics and leave them unchanged even in train(), while
  /// their weights and biases still train. For small batches and small data, where batch
  /// statistics are noisy and slow-moving running averages (Lite0's momentum is 0.01) lag behind.
  void freeze_batch_norm_statistics(std::string_view part, bool frozen = true) {
    const auto which = part_index(part);
    auto& list = bn_stats_frozen_;
    list.erase(std::remove(list.begin(), list.end(), which), list.end());
    if (frozen) list.push_back(which);
    apply_batch_norm_modes();
  }
  /// Whether freeze_batch_norm_statistics(part) is in force.
  bool batch_norm_statistics_frozen(std::string_view part) const {
    return std::find(bn_stats_frozen_.begin(), bn_stats_frozen_.end(), part_index(part)) != bn_stats_frozen_.end();
  }

  /// As Module::train, except that BatchNorm layers of frozen parts, and of parts whose statistics
  /// are frozen, stay in eval mode.
  void train(bool on = true) override {
    torch::nn::Module::train(on);
    apply_batch_norm_modes();
  }

  /// Loads the backbone's pretrained weights (the file's own classifier is left out); a file that
  /// does not fit is a WeightsError naming it, and nothing is copied then.
  LoadReport load_pretrained_backbone(const std::filesystem::path& file) { return backbone_binding::load(backbone_, file); }
  LoadReport load_pretrained_backbone() { return load_pretrained_backbone(backbone_binding::pretrained()); }

 private:
  static constexpr std::size_t backbone_part = 0, head_part = 1, first_stage = 2;

  std::size_t part_index(std::string_view part) const {
    if (part == "backbone") return backbone_part;
    if (part == "head") return head_part;
    if (part.starts_with("backbone."))
      for (std::size_t i = 0; i < Spec::backbone::stages.size(); ++i)
        if (part.substr(9) == Spec::backbone::stages[i]) return first_stage + i;
    std::string known;
    for (const auto& p : parts()) known += (known.empty() ? "" : ", ") + p;
    throw UsageError("ftmeta: model " + Spec::describe() + " has no part '" + std::string(part) + "'; its parts: " + known);
  }
  // Whether the key (of this module's state dict) belongs to part `which`.
  static bool in_part(std::size_t which, std::string_view key) {
    if (which == head_part) return key.starts_with("head.");
    if (!key.starts_with("backbone.")) return false;
    if (which == backbone_part) return true;
    return Spec::backbone::stage_of(key.substr(9)) == Spec::backbone::stages[which - first_stage];
  }
  void set_frozen(std::string_view part, bool frozen) {
    const auto which = part_index(part);
    for (const auto& p : named_parameters(true))
      if (in_part(which, p.key())) p.value().requires_grad_(!frozen);
    apply_batch_norm_modes();
  }
  // A BatchNorm layer trains when the model does, its weight is not frozen, and the statistics of
  // no part holding it are frozen.
  void apply_batch_norm_modes() {
    for (const auto& m : named_modules("", /*include_self=*/false)) {
      torch::nn::Module* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.value().get());
      if (!bn) bn = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m.value().get());
      if (!bn) continue;
      const auto own = bn->named_parameters(/*recurse=*/false);  // find() points into it: keep it alive
      const auto* weight = own.find("weight");
      bool frozen = weight && !weight->requires_grad();
      for (auto which : bn_stats_frozen_) frozen = frozen || in_part(which, m.key() + ".weight");
      bn->torch::nn::Module::train(is_training() && !frozen);
    }
  }

  std::int64_t num_classes_;
  std::vector<std::size_t> bn_stats_frozen_;  // parts whose BatchNorm statistics stay as they are
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
