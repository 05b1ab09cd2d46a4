// benchmarks/compile_time/one_recipe_trainer.cpp: what a user's trainer TU costs to compile: one model
// spec, one recipe, a Trainer built, fitted, resumed, tested and swept (benchmarks/run_compile_time.sh).
#include <ftmeta/nn/model.hpp>
#include <ftmeta/optim/groups.hpp>
#include <ftmeta/train/trainer.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

using namespace ftmeta;
using namespace ftmeta::optim;

struct Net : nn::Model<nn::backbones::EfficientNetLite0, nn::AvgPool, nn::Head<nn::Dropout<0.2>, nn::Linear<nn::Classes>>> {};
struct Recipe : AdamW<OneCycle<>, Group<NormAndBias<BackbonePart>, LrScale<0.1>, WeightDecay<0>>, Group<BackbonePart, LrScale<0.1>>,
                      Group<HeadPart, LrScale<1>>, BaseLr<1e-3>, ClipGradNorm<1.0>> {};

// Two batches of random images.
struct Source {
  struct Batch {
    torch::Tensor images, labels;
  };
  std::int64_t at = 0;
  void start_epoch(std::int64_t) { at = 0; }
  std::int64_t batches_per_epoch() const { return 2; }
  std::optional<Batch> next() {
    if (at++ == 2) return std::nullopt;
    return Batch{torch::rand({4, 3, 32, 32}), torch::randint(0, 2, {4})};
  }
};

int main(int argc, char**) {
  train::TrainOptions o;
  o.epochs = 1;
  o.pretrained = false;
  train::Trainer<Net, Recipe> trainer({"a", "b"}, o);
  Source train, val;
  if (argc > 1) return static_cast<int>(trainer.find_lr(train).lrs.size());
  trainer.fit(train, val);
  if (argc > 2) trainer.resume("last.pt");
  return trainer.test(val).samples > 0 ? 0 : 1;
}
