// examples/recipe.hpp: the recipes of the finetune and predict examples, declared as types: ftmeta's
// default policy on the blog's network, the blog's PyTorch recipe as it was (docs/results.md compares
// against it), and a one-cycle recipe for long runs.
#pragma once

#include <ftmeta.hpp>

namespace example {

using namespace ftmeta::nn;
using namespace ftmeta::optim;
using namespace ftmeta::transforms;
using ftmeta::train::FineTune;

// [recipe]
// The blog's MLP head on global-average-pooled features: BN, Dropout, Linear, BN, ELU, Dropout, Linear.
struct BlogHead : Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>> {};

// The ImageNet-pretrained EfficientNet-Lite0, its classifier removed, with that head.
struct Net : Model<backbones::EfficientNetLite0, AvgPool, BlogHead> {};

// Two parameter groups: the backbone at 1e-2, the new head at 1e-3, SGD with momentum 0.9.
struct Recipe : Sgd<Momentum<0.9>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>> {};

// Augmentation for training, and the deterministic pipeline for evaluation and prediction. The
// blog normalizes with ImageNet's statistics; these weights (TensorFlow's Lite0) expect [-1, 1].
template <int Size, class Backbone = backbones::EfficientNetLite0>
struct TrainAug : Compose<RandomResizedCrop<Size>, HFlip, ToTensor, Normalize<Backbone>> {};
template <int Size, class Backbone = backbones::EfficientNetLite0>
struct EvalAug : Compose<Resize<Size>, CenterCrop<Size>, ToTensor, Normalize<Backbone>> {};
// [recipe]

// The blog's run as a fine_tune policy: its recipe and pipelines, BatchNorm trained, batch 64, and
// 2 epochs unless told otherwise.
struct BlogPolicy : FineTune<Recipe, ftmeta::train::TrainStatistics, ftmeta::train::MinEpochs<2>, ftmeta::train::BatchSize<64>,
                             ftmeta::train::Augment<TrainAug>, ftmeta::train::Evaluate<EvalAug>> {};

// [tuned]
// A recipe for a long run on the whole of Fashion-MNIST (docs/results.md): the same network, a
// one-cycle schedule over the whole run (warm up over the first tenth, then cosine down to almost
// zero) with a gentler peak for the backbone than for the new head, light weight decay, and crops
// that keep most of each 28-pixel garment.
struct TunedRecipe : Sgd<Momentum<0.9>, Nesterov, WeightDecay<5e-5>, OneCycle<0, 0.1>,
                         Group<BackbonePart, Lr<5e-3>>, Group<HeadPart, Lr<2e-2>>> {};
template <int Size, class Backbone = backbones::EfficientNetLite0>
struct TunedAug : Compose<RandomResizedCrop<Size, Size, 0.6, 1.0>, HFlip, ToTensor, Normalize<Backbone>> {};
struct TunedPolicy : FineTune<TunedRecipe, ftmeta::train::TrainStatistics, ftmeta::train::MinEpochs<2>, ftmeta::train::BatchSize<64>,
                              ftmeta::train::Augment<TunedAug>, ftmeta::train::Evaluate<EvalAug>> {};
// [tuned]

// [default_model]
// ftmeta's default model: the same backbone with one Linear layer on its pooled features, so that
// the default policy's head phase is a linear probe. (The blog's MLP head, with its BatchNorm and
// two dropouts, collapses under the default policy's learning rates: docs/results.md.)
struct LinearHead : Head<Linear<Classes>> {};
struct DefaultNet : Model<backbones::EfficientNetLite0, AvgPool, LinearHead> {};
// [default_model]

/// A recipe by name: the model it trains and its fine_tune policy.
struct Default {
  static constexpr const char* name = "default";
  using Model = DefaultNet;
  using Policy = ftmeta::train::DefaultFineTune;
};
struct Blog {
  static constexpr const char* name = "blog";
  using Model = Net;
  using Policy = BlogPolicy;
};
struct Tuned {
  static constexpr const char* name = "tuned";
  using Model = Net;
  using Policy = TunedPolicy;
};

/// Calls f.template operator()<R>() with the recipe named `name` (default, blog or tuned); another is a UsageError.
template <class F>
decltype(auto) with_recipe(const std::string& name, F&& f) {
  if (name == Default::name) return f.template operator()<Default>();
  if (name == Blog::name) return f.template operator()<Blog>();
  if (name == Tuned::name) return f.template operator()<Tuned>();
  throw ftmeta::UsageError("--recipe " + name + ": use default (ftmeta's fine-tuning policy), blog (the blog's recipe) or tuned "
                           "(one-cycle, milder crops)");
}

/// Calls f.template operator()<M>() with the model type a checkpoint names (CheckpointInfo::model):
/// the blog's Net or the default DefaultNet; another is a UsageError.
template <class F>
decltype(auto) with_model(const std::string& name, F&& f) {
  if (name == Net::describe()) return f.template operator()<Net>();
  if (name == DefaultNet::describe()) return f.template operator()<DefaultNet>();
  throw ftmeta::UsageError("the checkpoint holds the model '" + name + "', which this program was not built with (it knows '" +
                           Net::describe() + "' and '" + DefaultNet::describe() + "')");
}

/// Calls f.template operator()<Size>() with the compile-time input size matching `size`.
/// The sizes are those the examples are instantiated for; another is a UsageError.
template <class F>
decltype(auto) with_image_size(std::int64_t size, F&& f) {
  switch (size) {
    case 64: return f.template operator()<64>();
    case 128: return f.template operator()<128>();
    case 224: return f.template operator()<224>();
  }
  throw ftmeta::UsageError("--image-size " + std::to_string(size) + ": this build supports 64, 128 and 224");
}

}  // namespace example
