// examples/recipe.hpp: the recipe of the finetune and predict examples, declared as types.
// It is the blog's PyTorch recipe (docs/results.md compares against it), written in ftmeta.
#pragma once

#include <ftmeta.hpp>

namespace example {

using namespace ftmeta::nn;
using namespace ftmeta::optim;
using namespace ftmeta::transforms;

// [recipe]
// The blog's MLP head on global-average-pooled features: BN, Dropout, Linear, BN, ELU, Dropout, Linear.
struct BlogHead : Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>> {};

// The ImageNet-pretrained EfficientNet-Lite0, its classifier removed, with that head.
struct Net : Model<backbones::EfficientNetLite0, AvgPool, BlogHead> {};

// Two parameter groups: the backbone at 1e-2, the new head at 1e-3, SGD with momentum 0.9.
struct Recipe : Sgd<Momentum<0.9>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>> {};

// Augmentation for training, and the deterministic pipeline for evaluation and prediction. The
// blog normalizes with ImageNet's statistics; these weights (TensorFlow's Lite0) expect [-1, 1].
template <int Size>
struct TrainAug : Compose<RandomResizedCrop<Size>, HFlip, ToTensor, Normalize<backbones::EfficientNetLite0>> {};
template <int Size>
struct EvalAug : Compose<Resize<Size>, CenterCrop<Size>, ToTensor, Normalize<backbones::EfficientNetLite0>> {};
// [recipe]

// [tuned]
// A recipe for a long run on the whole of Fashion-MNIST (docs/results.md): the same network, a
// one-cycle schedule over the whole run (warm up over the first tenth, then cosine down to almost
// zero) with a gentler peak for the backbone than for the new head, light weight decay, and crops
// that keep most of each 28-pixel garment.
struct TunedRecipe : Sgd<Momentum<0.9>, Nesterov, WeightDecay<5e-5>, OneCycle<0, 0.1>,
                         Group<BackbonePart, Lr<5e-3>>, Group<HeadPart, Lr<2e-2>>> {};
template <int Size>
struct TunedAug : Compose<RandomResizedCrop<Size, Size, 0.6, 1.0>, HFlip, ToTensor, Normalize<backbones::EfficientNetLite0>> {};
// [tuned]

/// A recipe by name: its optimizer recipe and its training augmentation for an input size.
struct Blog {
  static constexpr const char* name = "blog";
  using Optimizer = Recipe;
  template <int Size>
  using Train = TrainAug<Size>;
};
struct Tuned {
  static constexpr const char* name = "tuned";
  using Optimizer = TunedRecipe;
  template <int Size>
  using Train = TunedAug<Size>;
};

/// Calls f.template operator()<R>() with the recipe named `name` (blog or tuned); another is a UsageError.
template <class F>
decltype(auto) with_recipe(const std::string& name, F&& f) {
  if (name == Blog::name) return f.template operator()<Blog>();
  if (name == Tuned::name) return f.template operator()<Tuned>();
  throw ftmeta::UsageError("--recipe " + name + ": use blog (the blog's recipe) or tuned (one-cycle, milder crops)");
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
