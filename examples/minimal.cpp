// examples/minimal.cpp: the shortest fine-tuning program: your image folder, an ImageNet-pretrained
// backbone under a Linear head, ftmeta's default policy. Prints the test accuracy.
// Usage: minimal DATA_DIR [OUT_DIR] [EPOCHS]   (EPOCHS 0 or left out: as the policy sizes the run)
#include <ftmeta.hpp>

#include <filesystem>
#include <iostream>
#include <string>

// [minimal]
using namespace ftmeta;

// EfficientNet-Lite0 with its ImageNet weights, its classifier replaced by one Linear layer.
struct Net : nn::Model<nn::backbones::EfficientNetLite0, nn::AvgPool, nn::Head<nn::Linear<nn::Classes>>> {};

int main(int argc, char** argv) try {
  if (argc < 2) return std::cerr << "usage: minimal DATA_DIR [OUT_DIR] [EPOCHS]\n", 2;
  const std::filesystem::path out = argc > 2 ? argv[2] : "out/minimal";
  std::filesystem::create_directories(out);
  // Class folders (split 80/10/10 per class, the split kept in split.tsv), or train/ val/ test/.
  const auto splits = data::resolve_splits(argv[1], {.manifest = out / "split.tsv"});
  train::FineTuneOptions options;
  options.train.out_dir = out;  // best.pt, last.pt, metrics.csv, plots, test.json
  options.train.epochs = argc > 3 ? std::stoll(argv[3]) : 0;
  // 64-pixel inputs (Fashion-MNIST's images are 28x28); photos would take 224, the default.
  const auto result = train::fine_tune<Net, train::DefaultFineTune, 64>(splits, options);
  if (result.test) std::cout << "test accuracy: " << result.test->accuracy() << "\n";
} catch (const std::exception& e) {
  return std::cerr << "minimal: " << e.what() << "\n", 1;
}
// [minimal]
