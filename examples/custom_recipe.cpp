// examples/custom_recipe.cpp: a fine-tuning policy of your own, declared as types: your augmentation
// (Compose), your head, your parameter groups, schedule and phases, your BatchNorm rule.
// Usage: custom_recipe DATA_DIR [OUT_DIR] [EPOCHS]
#include <ftmeta.hpp>

#include <filesystem>
#include <iostream>
#include <string>

// [custom]
using namespace ftmeta;
using namespace ftmeta::optim;

// A two-layer head with dropout on the pooled features.
struct MyHead : nn::Head<nn::Dropout<0.2>, nn::Linear<256>, nn::ELU, nn::Linear<nn::Classes>> {};
struct MyNet : nn::Model<nn::backbones::EfficientNetLite0, nn::AvgPool, MyHead> {};

// Milder crops, flips and a little colour jitter, then the backbone's normalization.
template <int Size, class Backbone>
struct MyAugment : transforms::Compose<transforms::RandomResizedCrop<Size, Size, 0.5, 1.0>, transforms::HFlip,
                                       transforms::ColorJitter<0.2, 0.2>, transforms::ToTensor, transforms::Normalize<Backbone>> {};

// The head first on cached features (two augmented views per image), then SGD with Nesterov
// momentum: the backbone's stages with layer-wise decaying rates, the stem frozen in a first
// epoch, one cycle per phase; the backbone's BatchNorm statistics frozen; the final weights kept.
struct MyPolicy : train::FineTune<train::HeadFirst<train::Steps<300>, train::Views<2>>,
                                  Sgd<Momentum<0.9>, Nesterov, OneCycle<0, 0.2>, Phase<1, Stage<"stem">>,
                                      Group<BackbonePart, Lr<5e-3>, LayerDecay<0.8>>, Group<NormAndBias<BackbonePart>, Lr<5e-3>>,
                                      Group<HeadPart, Lr<5e-2>>>,
                                  train::FrozenStatistics, train::LabelSmoothing<0.1>, train::MinSteps<200>, train::BatchSize<16>,
                                  train::ChannelsLast, train::KeepFinal, train::Augment<MyAugment>,
                                  train::Evaluate<train::FineTuneEvaluate>> {};
// [custom]

int main(int argc, char** argv) try {
  if (argc < 2) return std::cerr << "usage: custom_recipe DATA_DIR [OUT_DIR] [EPOCHS]\n", 2;
  const std::filesystem::path out = argc > 2 ? argv[2] : "out/custom_recipe";
  std::filesystem::create_directories(out);
  const auto splits = data::resolve_splits(argv[1], {.manifest = out / "split.tsv"});
  std::cout << "policy: " << MyPolicy::describe() << "\n";
  train::FineTuneOptions options;
  options.train.out_dir = out;
  options.train.epochs = argc > 3 ? std::stoll(argv[3]) : 0;
  const auto result = train::fine_tune<MyNet, MyPolicy, 64>(splits, options);
  if (result.test) std::cout << "test accuracy: " << result.test->accuracy() << "\n";
} catch (const std::exception& e) {
  return std::cerr << "custom_recipe: " << e.what() << "\n", 1;
}
