// examples/own_backbone.cpp: your backbone's weights from a file: ResNet-18 under a Linear head, its
// backbone loaded from a torchvision .pth, a .safetensors, or timm's folder (model.safetensors and
// config.json, whose mean, std and crop_pct then preprocess), fine-tuned with the default policy.
// Usage: own_backbone DATA_DIR WEIGHTS [OUT_DIR] [EPOCHS]
#include <ftmeta.hpp>

#include <filesystem>
#include <iostream>
#include <string>

// [own_backbone]
using namespace ftmeta;

// ResNet-18 (torchvision's key names), its classifier replaced by one Linear layer.
struct Net : nn::Model<nn::backbones::ResNet18, nn::AvgPool, nn::Head<nn::Linear<nn::Classes>>> {};

int main(int argc, char** argv) try {
  if (argc < 3) return std::cerr << "usage: own_backbone DATA_DIR WEIGHTS [OUT_DIR] [EPOCHS]\n", 2;
  const std::filesystem::path out = argc > 3 ? argv[3] : "out/own_backbone";
  std::filesystem::create_directories(out);
  const auto splits = data::resolve_splits(argv[1], {.manifest = out / "split.tsv"});
  train::FineTuneOptions options;
  options.train.out_dir = out;
  // Loaded strictly before anything derives from them (a file that does not fit stops here, naming
  // the file and the first offending key); a config.json next to them sets the preprocessing.
  options.train.weights = argv[2];
  options.train.epochs = argc > 4 ? std::stoll(argv[4]) : 0;
  const auto result = train::fine_tune<Net, train::DefaultFineTune, 64>(splits, options);
  if (result.test) std::cout << "test accuracy: " << result.test->accuracy() << "\n";
} catch (const std::exception& e) {
  return std::cerr << "own_backbone: " << e.what() << "\n", 1;
}
// [own_backbone]
