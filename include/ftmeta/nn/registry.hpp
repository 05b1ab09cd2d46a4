// ftmeta/nn/registry.hpp: the models that can be chosen by name at run time (compiled Model types behind a type-erased classifier), their weights loader and preprocessing.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/fixed_string.hpp>
#include <ftmeta/nn/model.hpp>
#include <ftmeta/nn/preprocess.hpp>
#include <ftmeta/nn/timm_models.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace ftmeta::nn {

/// A classifier whose compiled Model type was chosen at run time: the module (its state dict under
/// the Classifier's keys, `backbone.*`, `head.*`), its forward, and the strict loader of its
/// backbone's weights (a .pth, .safetensors or hub folder; the file's classifier left out).
struct AnyClassifier {
  std::string name;
  std::shared_ptr<torch::nn::Module> module;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  /// Strict: WeightsError (one line: the file, the first offending key) when the file does not
  /// fit, and nothing is loaded then; else the report.
  std::function<LoadReport(const std::filesystem::path&)> load_backbone;
  std::vector<std::string> parts;
};

/// One entry of the registry: a compiled Model type under a name.
struct RegisteredModel {
  std::string name;
  std::string description;  ///< Spec::describe()
  std::int64_t input_size = 224, feature_width = 0;
  Preprocessing preprocessing;  ///< the backbone descriptor's
  std::function<AnyClassifier(std::int64_t classes, ModelOptions)> make;

  /// The preprocessing for `weights`: its timm config.json when it has one, else the descriptor's.
  Preprocessing preprocessing_for(const std::filesystem::path& weights) const {
    return weights.empty() ? preprocessing : preprocessing_for_weights(weights, preprocessing);
  }
};

/// Names mapped to compiled Model types. A user's own joins in one line:
///   ftmeta::nn::registry().add<MyNet>("mynet");
/// and `registry().find("resnet18").make(classes, {})` builds one.
class ModelRegistry {
 public:
  /// Adds Spec (a Model<Backbone, Pool, Head>) under `name`; UsageError if the name is taken.
  template <ModelSpec Spec>
  ModelRegistry& add(std::string name) {
    if (name.empty() || std::any_of(models_.begin(), models_.end(), [&](const auto& m) { return m.name == name; }))
      throw UsageError("ModelRegistry::add: the name '" + name + "' is " + (name.empty() ? "empty" : "taken"));
    RegisteredModel m;
    m.name = name;
    m.description = Spec::describe();
    m.preprocessing = preprocessing_of<typename Spec::backbone>();
    m.input_size = m.preprocessing.input_size;
    m.feature_width = Spec::feature_width;
    m.make = [name](std::int64_t classes, ModelOptions options) {
      Classifier<Spec> net(classes, options);
      AnyClassifier out;
      out.name = name;
      out.module = net.ptr();
      out.forward = [net](const torch::Tensor& x) mutable { return net->forward(x); };
      out.load_backbone = [net](const std::filesystem::path& file) mutable { return net->load_pretrained_backbone(file); };
      out.parts = net->parts();
      return out;
    };
    models_.push_back(std::move(m));
    return *this;
  }

  /// The entry named `name`; UsageError naming it and listing the names otherwise.
  const RegisteredModel& find(std::string_view name) const {
    for (const auto& m : models_)
      if (m.name == name) return m;
    std::string known;
    for (const auto& m : models_) known += (known.empty() ? "" : ", ") + m.name;
    throw UsageError("no model named '" + std::string(name) + "'; the models: " + known);
  }
  /// The entry whose Model type has this description (Spec::describe(), what a checkpoint's
  /// `model` records), or nullptr: how a checkpoint alone names the model to rebuild.
  const RegisteredModel* described_as(std::string_view description) const {
    for (const auto& m : models_)
      if (m.description == description) return &m;
    return nullptr;
  }
  bool contains(std::string_view name) const {
    return std::any_of(models_.begin(), models_.end(), [&](const auto& m) { return m.name == name; });
  }
  const std::vector<RegisteredModel>& models() const { return models_; }

  /// One line per model: name, input size, feature width, e.g.
  /// "resnet18               224 px   512 features   resnet18 (512 features) -> avg -> Linear(classes)".
  std::string list() const {
    std::string out;
    for (const auto& m : models_) {
      std::string line = m.name;
      line.resize(std::max<std::size_t>(line.size() + 1, 24), ' ');
      line += std::to_string(m.input_size) + " px";
      line.resize(std::max<std::size_t>(line.size() + 1, 33), ' ');
      line += std::to_string(m.feature_width) + " features   " + m.description;
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<RegisteredModel> models_;
};

/// A compiled Model type under a name, an entry of ModelList.
template <meta::FixedString Name, ModelSpec Spec>
struct Named {
  static constexpr std::string_view name = Name;
  using spec = Spec;
};

/// Names chosen at run time among Model types listed at compile time, for code templated on the
/// spec (a Trainer<Spec, Recipe>):
///   using Models = ModelList<Named<"resnet18", R18Net>, Named<"convnext_tiny", ConvNeXtNet>>;
///   Models::with("resnet18", [&]<class Spec>() { train::Trainer<Spec, Recipe> trainer(...); ... });
/// An unknown name is a UsageError listing the names.
template <class... Entries>
struct ModelList {
  static_assert(sizeof...(Entries) > 0, "ftmeta: ModelList<>: list at least one Named<\"name\", Spec>");

  template <class F>
  static decltype(auto) with(std::string_view name, F&& f) {
    using First = typename std::tuple_element_t<0, std::tuple<Entries...>>::spec;
    using R = decltype(f.template operator()<First>());
    if constexpr (std::is_void_v<R>) {
      const bool found = ((name == Entries::name ? (f.template operator()<typename Entries::spec>(), true) : false) || ...);
      if (!found) unknown(name);
    } else {
      std::optional<R> out;
      const bool found =
          ((name == Entries::name ? (out.emplace(f.template operator()<typename Entries::spec>()), true) : false) || ...);
      if (!found) unknown(name);
      return R(std::move(*out));
    }
  }
  /// Adds every entry to a registry (for `--model list` and type-erased use).
  template <class Registry = ModelRegistry>
  static void add_to(Registry& r) { (r.template add<typename Entries::spec>(std::string(Entries::name)), ...); }

 private:
  [[noreturn]] static void unknown(std::string_view name) {
    std::string known;
    ((known += (known.empty() ? "" : ", ") + std::string(Entries::name)), ...);
    throw UsageError("no model named '" + std::string(name) + "'; the models: " + known);
  }
};

/// The head the built-in entries carry: one Linear to the classes.
struct LinearClassesHead : Head<Linear<Classes>> {};

/// ftmeta's backbones, each with AvgPool and `H`, under their own names (AvgPool is global average pooling;
/// the ViT backbone already returns its class token as a 1 x 1 map, which AvgPool passes on): resnet18/34/50,
/// mobilenet_v2 (torchvision's keys), efficientnet_lite0, and timm's mobilenetv3_small_100,
/// mobilenetv3_large_100, efficientnet_b0, convnext_tiny, vit_small_patch16_224. For code templated on the
/// spec: `BuiltinModels<>::with(name, [&]<class Spec>() { ... })`.
template <class H = LinearClassesHead>
using BuiltinModels = ModelList<Named<"resnet18", Model<backbones::ResNet18, AvgPool, H>>,
                                Named<"resnet34", Model<backbones::ResNet34, AvgPool, H>>,
                                Named<"resnet50", Model<backbones::ResNet50, AvgPool, H>>,
                                Named<"mobilenet_v2", Model<backbones::MobileNetV2, AvgPool, H>>,
                                Named<"efficientnet_lite0", Model<backbones::EfficientNetLite0, AvgPool, H>>,
                                Named<"mobilenetv3_small_100", Model<backbones::MobileNetV3Small, AvgPool, H>>,
                                Named<"mobilenetv3_large_100", Model<backbones::MobileNetV3Large, AvgPool, H>>,
                                Named<"efficientnet_b0", Model<backbones::EfficientNetB0, AvgPool, H>>,
                                Named<"convnext_tiny", Model<backbones::ConvNeXtTiny, AvgPool, H>>,
                                Named<"vit_small_patch16_224", Model<backbones::ViTSmall16, AvgPool, H>>>;

/// Adds BuiltinModels<H> to `r`: a ModelRegistry, or anything with the same `add<Spec>(name)` that
/// wants the types (the ONNX test exports every built-in model through one).
template <class H = LinearClassesHead, class Registry = ModelRegistry>
void add_builtin_models(Registry& r) {
  BuiltinModels<H>::add_to(r);
}

/// The process-wide registry, holding the built-in models (add_builtin_models) from the start.
inline ModelRegistry& registry() {
  static ModelRegistry r = [] {
    ModelRegistry built;
    add_builtin_models(built);
    return built;
  }();
  return r;
}

}  // namespace ftmeta::nn
