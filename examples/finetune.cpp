// examples/finetune.cpp: the main job. Fine-tunes the ImageNet-pretrained EfficientNet-Lite0 with the
// blog's recipe (examples/recipe.hpp) on Fashion-MNIST from the Debian package, or on any
// ImageFolder tree (--data DIR), and prints the test accuracy.
#include "recipe.hpp"

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

namespace fs = std::filesystem;
namespace data = ftmeta::data;

namespace {

const std::vector<ftmeta::util::Flag> flags = {
    {"data", true, "ImageFolder root (class folders, or train/ val/ test/ of class folders); default: Fashion-MNIST"},
    {"out", true, "output folder for best.pt, last.pt and metrics.csv (default out/finetune)"},
    {"epochs", true, "epochs to train (default 2)"},
    {"device", true, "auto, cpu, cuda or cuda:N (default auto: CUDA when present)"},
    {"seed", true, "seed of the split, the shuffling, the augmentation and the head's init (default 0)"},
    {"batch-size", true, "batch size (default 64)"},
    {"workers", true, "decoding threads of the loaders (default 1)"},
    {"image-size", true, "input side: 64, 128 or 224 (default 64)"},
    {"per-class", true, "Fashion-MNIST only: images per class exported for training (default 1000; 0 = all 6000)"},
    {"fashion-mnist", true, "folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)"},
    {"no-pretrained", false, "start the backbone from random weights (training from scratch)"},
    {"help", false, "print this help"},
};

struct Splits {
  ftmeta::data::ClassMap classes;
  std::vector<data::Sample> train, val, test;
};

std::vector<data::Sample> pick(const std::vector<data::Sample>& all, const std::vector<std::int64_t>& idx) {
  std::vector<data::Sample> out;
  out.reserve(idx.size());
  for (auto i : idx) out.push_back(all[static_cast<std::size_t>(i)]);
  return out;
}

/// train/val/test from a split layout on disk, or a seeded stratified 80/10/10 split of one folder,
/// persisted in `manifest`.
Splits load_splits(const fs::path& root, std::uint64_t seed, const fs::path& manifest) {
  Splits s;
  if (data::has_split_layout(root)) {
    auto layout = data::load_split_layout(root);
    s.classes = layout.classes;
    if (layout.val) {
      s.train = layout.train.samples;
      s.val = layout.val->samples;
    } else {  // hold out 10% of train, per class, for choosing the best epoch
      auto parts = data::stratified_split(layout.train.labels(), {0.9, 0.1, 0.0}, seed);
      s.train = pick(layout.train.samples, parts.train);
      s.val = pick(layout.train.samples, parts.val);
    }
    if (layout.test) s.test = layout.test->samples;
    for (auto& w : layout.train.warnings) std::cerr << "finetune: warning: " << w << "\n";
  } else {  // split once, per class, and keep the split: a later run reuses it or reports what changed
    auto plan = data::plan_splits(root, {0.8, 0.1, 0.1}, seed, manifest);
    for (auto& w : plan.warnings) std::cerr << "finetune: warning: " << w << "\n";
    std::cout << (plan.reused ? "split: reusing " : "split: wrote ") << manifest.string() << std::endl;
    s.classes = plan.classes;
    s.train = std::move(plan.train);
    s.val = std::move(plan.val);
    s.test = std::move(plan.test);
  }
  return s;
}

// [loader]
template <class Pipeline>
std::unique_ptr<data::Loader> loader_for(const std::vector<data::Sample>& samples, data::LoaderOptions options) {
  return data::make_loader(
      std::make_shared<data::FileSource>(samples),
      [](const cv::Mat& image, ftmeta::Rng& rng, torch::Tensor out) { ftmeta::transforms::apply_into<Pipeline>(image, rng, out); },
      data::output_size_v<Pipeline>, options);
}
// [loader]

int run(int argc, char** argv) {
  ftmeta::util::Args args(argc, argv, flags);
  if (args.has("help")) {
    std::cout << "usage: finetune [--data DIR] [--out DIR] [--epochs N] [--device D] [--seed N] ...\n" << args.help();
    return 0;
  }
  if (!args.positional().empty()) throw ftmeta::UsageError("unexpected argument '" + args.positional()[0] + "' (see --help)");
  const fs::path out = args.get("out", "out/finetune");
  const auto epochs = args.get_int("epochs", 2, 1, 100000);
  const auto seed = static_cast<std::uint64_t>(args.get_int("seed", 0, 0));
  const auto batch_size = args.get_int("batch-size", 64, 2, 65536);
  const auto workers = static_cast<int>(args.get_int("workers", 1, 0, 64));
  const auto image_size = args.get_int("image-size", 64, 1, 4096);
  const auto device = ftmeta::train::resolve_device(args.get("device", "auto"));
  const auto t0 = std::chrono::steady_clock::now();

  fs::path root;
  if (args.has("data")) {
    root = args.get("data");
    if (!fs::is_directory(root)) throw ftmeta::UsageError("--data " + root.string() + ": no such folder");
  } else {
    const fs::path src = args.get("fashion-mnist", data::fashion_mnist_dir().string());
    const auto per_class = args.get_int("per-class", 1000, 0, 6000);
    root = out / "fashion-mnist";
    data::ExportOptions options;
    if (per_class > 0) options.limit_per_class = per_class;
    std::cout << "exporting Fashion-MNIST from " << src << " to " << root << " as an ImageFolder tree" << std::endl;
    auto result = data::export_fashion_mnist(src, root, options);
    std::cout << (result.written ? "  wrote " + std::to_string(result.images) + " PNG files" : std::string("  already there"))
              << std::endl;
  }
  auto splits = load_splits(root, seed, out / "split.tsv");
  std::cout << "data " << root << ": " << splits.classes.size() << " classes, " << splits.train.size() << " train / "
            << splits.val.size() << " val / " << splits.test.size() << " test images" << std::endl;

  return example::with_image_size(image_size, [&]<int Size>() {
    using Trainer = ftmeta::train::Trainer<example::Net, example::Recipe>;
    ftmeta::train::TrainOptions options;
    options.epochs = epochs;
    options.device = device;
    options.seed = seed;
    options.out_dir = out;
    options.pretrained = !args.has("no-pretrained");
    options.image_size = Size;
    std::cout << "model: " << Trainer::model_name() << "\nrecipe: " << example::Recipe::describe() << "\ntrain: "
              << example::TrainAug<Size>::describe() << "\ndevice: " << device << ", " << epochs << " epoch(s), batch "
              << batch_size << std::endl;
    // [train]
    Trainer trainer(splits.classes.names(), options);

    data::LoaderOptions train_opts{.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed, .num_workers = workers};
    data::LoaderOptions eval_opts{.batch_size = batch_size, .shuffle = false, .drop_last = false, .seed = seed, .num_workers = workers};
    auto train = loader_for<example::TrainAug<Size>>(splits.train, train_opts);
    auto val = loader_for<example::EvalAug<Size>>(splits.val, eval_opts);
    trainer.fit(*train, *val);
    trainer.load_best();
    // [train]
    if (!splits.test.empty()) {
      auto test = loader_for<example::EvalAug<Size>>(splits.test, eval_opts);
      const auto stats = trainer.evaluate_on(*test);
      std::cout << std::fixed << std::setprecision(4) << "test accuracy: " << stats.accuracy << " (" << stats.samples
                << " images, loss " << stats.loss << ")" << std::endl;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "checkpoint: " << (out / "best.pt").string() << "\nmetrics: " << (out / "metrics.csv").string() << "\ntotal time "
              << std::setprecision(1) << seconds << " s" << std::endl;
    return 0;
  });
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const ftmeta::UsageError& e) {
    std::cerr << "finetune: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "finetune: " << e.what() << std::endl;
    return 1;
  }
}
