// examples/finetune.cpp: the main job. Fine-tunes the ImageNet-pretrained EfficientNet-Lite0 with the
// blog's recipe (examples/recipe.hpp) on Fashion-MNIST from the Debian package, or on any
// ImageFolder tree (--data DIR), and prints the test accuracy. The same binary runs alone or as one
// rank of a data-parallel group: under torchrun or examples/launch.sh, by the environment alone.
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
    {"out", true, "output folder: checkpoints, metrics.csv/.jsonl, TensorBoard scalars, plots, test.json (default out/finetune)"},
    {"epochs", true, "epochs to train (default 2)"},
    {"device", true, "auto, cpu, cuda or cuda:N (default auto: CUDA when present)"},
    {"seed", true, "seed of the split, the shuffling, the augmentation and the head's init (default 0)"},
    {"batch-size", true, "global batch size, divided among the ranks of a distributed run (default 64)"},
    {"workers", true, "decoding threads of the loaders (default 1)"},
    {"recipe", true, "blog (the blog's recipe, the default) or tuned (one-cycle lr, weight decay, milder crops: for long runs)"},
    {"image-size", true, "input side: 64, 128 or 224 (default 64)"},
    {"per-class", true, "Fashion-MNIST only: images per class exported for training (default 1000; 0 = all 6000)"},
    {"test-per-class", true, "Fashion-MNIST only: test images per class (default: as --per-class, at most 1000; 0 = all 1000)"},
    {"fashion-mnist", true, "folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)"},
    {"no-pretrained", false, "start the backbone from random weights (training from scratch)"},
    {"resume", false, "continue the run in --out from its last.pt (weights, optimizer, schedules, epoch, history)"},
    {"precision", true, "fp32, fp16 or bf16: autocast of the forward pass (fp16, with loss scaling, needs CUDA; default fp32)"},
    {"channels-last", false, "NHWC memory format for weights and inputs"},
    {"label-smoothing", true, "label smoothing epsilon in [0, 1) (default 0)"},
    {"mixup", true, "mixup with Beta(A, A) (default 0: off)"},
    {"cutmix", true, "cutmix with Beta(A, A) (default 0: off; with --mixup, one of the two per batch)"},
    {"ema", true, "keep an exponential moving average of the weights with this decay in (0, 1), validated alongside"},
    {"early-stop", true, "stop after N epochs without improvement of --early-stop-metric (default 0: never)"},
    {"early-stop-metric", true, "val_loss or val_acc (default val_loss)"},
    {"keep-best", true, "keep the K best epochs as best-epochN.pt besides best.pt (default 1: best.pt only)"},
    {"lr-find", false, "sweep the learning rate, print the suggestion, write lr_find.png and lr_find.csv, and exit"},
    {"lr-find-steps", true, "steps of the --lr-find sweep (default 100)"},
    {"sync-bn", false, "distributed: BatchNorm statistics over the global batch of all ranks (synchronized BatchNorm)"},
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
Splits load_splits(const fs::path& root, std::uint64_t seed, const fs::path& manifest, std::ostream& say) {
  std::ostream& warn = &say == &std::cout ? std::cerr : say;
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
    for (auto& w : layout.train.warnings) warn << "finetune: warning: " << w << "\n";
  } else {  // split once, per class, and keep the split: a later run reuses it or reports what changed
    auto plan = data::plan_splits(root, {0.8, 0.1, 0.1}, seed, manifest);
    for (auto& w : plan.warnings) warn << "finetune: warning: " << w << "\n";
    say << (plan.reused ? "split: reusing " : "split: wrote ") << manifest.string() << std::endl;
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

/// A hash of the class map and the three splits (paths and labels): a resumed checkpoint must match it.
std::string split_hash(const Splits& s) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto eat = [&h](const std::string& text) {
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (auto& name : s.classes.names()) eat(name);
  for (auto* split : {&s.train, &s.val, &s.test}) {
    eat("|");
    for (auto& sample : *split) eat(sample.path.string() + '\t' + std::to_string(sample.label));
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// Rank r of w evaluates positions r, r + w, ... of the split in order: disjoint shards that
/// together cover every image once (no padding), so the summed metrics are exact.
data::SamplerFn eval_shard(int rank, int world) {
  return [rank, world](std::int64_t n, std::uint64_t, std::uint64_t) {
    std::vector<std::int64_t> out;
    for (std::int64_t i = rank; i < n; i += world) out.push_back(i);
    return out;
  };
}

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
  const auto global_batch = args.get_int("batch-size", 64, 2, 65536);
  const auto workers = static_cast<int>(args.get_int("workers", 1, 0, 64));
  const auto image_size = args.get_int("image-size", 64, 1, 4096);
  auto device = ftmeta::train::resolve_device(args.get("device", "auto"));
  const auto precision = ftmeta::train::parse_precision(args.get("precision", "fp32"));
  if (precision == ftmeta::train::Precision::fp16 && !device.is_cuda())
    throw ftmeta::UsageError("--precision fp16: needs a CUDA device (on the CPU use bf16 or fp32)");
  const double label_smoothing = args.get_double("label-smoothing", 0, 0, 0.999);
  const double mixup = args.get_double("mixup", 0, 0, 1e6), cutmix = args.get_double("cutmix", 0, 0, 1e6);
  const double ema = args.get_double("ema", 0, 0, 0.999999);
  if (args.has("ema") && !(ema > 0)) throw ftmeta::UsageError("--ema " + args.get("ema") + ": the decay must be in (0, 1)");
  const auto early_stop = args.get_int("early-stop", 0, 0, 100000);
  const auto stop_metric = ftmeta::train::parse_stop_metric(args.get("early-stop-metric", "val_loss"));
  const auto keep_best = args.get_int("keep-best", 1, 1, 1000);
  const auto t0 = std::chrono::steady_clock::now();

  // One process, or one rank of a group that torchrun's environment describes (RANK, WORLD_SIZE,
  // LOCAL_RANK, MASTER_ADDR, MASTER_PORT): each rank on its own GPU, rank 0 writing and printing.
  const auto env = ftmeta::distributed::launch_env();
  if (env.distributed() && device.is_cuda()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  auto group = std::make_shared<ftmeta::distributed::ProcessGroup>(ftmeta::distributed::ProcessGroup::connect(env, device));
  const int world = group->world_size();
  if (global_batch % world != 0)
    throw ftmeta::UsageError("--batch-size " + std::to_string(global_batch) + ": the global batch must divide among the " +
                             std::to_string(world) + " ranks");
  const auto batch_size = global_batch / world;
  std::ostream nowhere(nullptr);
  std::ostream& say = group->is_main() ? std::cout : nowhere;  // only rank 0 prints
  // One run per --out (a second one is refused, naming the first's PID; a killed run's lock is
  // taken over), and SIGINT/SIGTERM stop at the next step with a checkpoint to --resume from.
  std::optional<ftmeta::util::RunLock> lock;
  if (group->is_main()) {
    try {
      lock.emplace(out);
    } catch (const ftmeta::FileError& e) {
      throw ftmeta::UsageError(std::string(e.what()).substr(8) + " (--out " + out.string() + ")");  // "ftmeta: " dropped
    }
    if (lock->stale_pid()) say << "lock: took over " << lock->path().string() << " from PID " << *lock->stale_pid() << " (no longer running)" << std::endl;
  }
  ftmeta::train::StopOnSignal stop;

  fs::path root;
  if (!group->is_main()) group->barrier();  // rank 0 exports and splits first; the others reuse both
  if (args.has("data")) {
    root = args.get("data");
    if (!fs::is_directory(root)) throw ftmeta::UsageError("--data " + root.string() + ": no such folder");
  } else {
    const fs::path src = args.get("fashion-mnist", data::fashion_mnist_dir().string());
    const auto per_class = args.get_int("per-class", 1000, 0, 6000);
    root = out / "fashion-mnist";
    data::ExportOptions options;
    if (per_class > 0) options.limit_per_class = per_class;
    if (args.has("test-per-class")) options.test_limit_per_class = args.get_int("test-per-class", 0, 0, 1000);
    say << "exporting Fashion-MNIST from " << src << " to " << root << " as an ImageFolder tree" << std::endl;
    auto result = data::export_fashion_mnist(src, root, options);
    say << (result.written ? "  wrote " + std::to_string(result.images) + " PNG files" : std::string("  already there"))
              << std::endl;
  }
  auto splits = load_splits(root, seed, out / "split.tsv", say);
  if (group->is_main()) group->barrier();
  say << "data " << root << ": " << splits.classes.size() << " classes, " << splits.train.size() << " train / "
            << splits.val.size() << " val / " << splits.test.size() << " test images" << std::endl;

  const auto recipe = args.get("recipe", "blog");
  return example::with_image_size(image_size, [&]<int Size>() { return example::with_recipe(recipe, [&]<class R>() {
    using Trainer = ftmeta::train::Trainer<example::Net, typename R::Optimizer>;
    using TrainAug = typename R::template Train<Size>;
    ftmeta::train::TrainOptions options;
    options.epochs = epochs;
    options.device = device;
    options.seed = seed;
    options.out_dir = out;
    options.pretrained = !args.has("no-pretrained");
    options.image_size = Size;
    options.precision = precision;
    options.channels_last = args.has("channels-last");
    options.label_smoothing = label_smoothing;
    options.mixup_alpha = mixup;
    options.cutmix_alpha = cutmix;
    options.ema_decay = ema;
    options.early_stop = early_stop;
    options.early_stop_metric = stop_metric;
    options.keep_best = keep_best;
    options.split_hash = split_hash(splits);
    options.log = &say;
    options.stop_requested = [&stop] { return stop.requested(); };
    // Distributed: the Trainer broadcasts rank 0's weights, averages gradients (GradientSync) and
    // sums the metrics; --sync-bn synchronizes the model's BatchNorm layers before fit().
    options.group = group;
    say << "model: " << Trainer::model_name() << "\nrecipe: " << R::name << ": " << R::Optimizer::describe() << "\ntrain: "
              << TrainAug::describe() << "\ndevice: " << device << ", " << epochs << " epoch(s), batch "
              << global_batch << (world > 1 ? " (" + std::to_string(batch_size) + " on each of " + std::to_string(world) + " ranks)" : "")
              << std::endl;
    // [train]
    Trainer trainer(splits.classes.names(), options);

    data::LoaderOptions train_opts{.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed, .num_workers = workers};
    data::LoaderOptions eval_opts{.batch_size = batch_size, .shuffle = false, .drop_last = false, .seed = seed, .num_workers = workers};
    if (world > 1) {  // each rank its shard: disjoint, equal-length, reshuffled every epoch
      train_opts.sampler = data::DistributedSampler{.rank = group->rank(), .world_size = world, .shuffle = true, .drop_last = true};
      eval_opts.sampler = eval_shard(group->rank(), world);
    }
    auto train = loader_for<TrainAug>(splits.train, train_opts);
    auto val = loader_for<example::EvalAug<Size>>(splits.val, eval_opts);
    if (args.has("resume")) {
      if (!fs::exists(out / "last.pt")) throw ftmeta::UsageError("--resume: " + (out / "last.pt").string() + " does not exist");
      const auto done = trainer.resume(out / "last.pt");  // before printing: a refusal is then one clean line
      say << "resuming " << (out / "last.pt").string() << " after epoch " << done << std::endl;
    }
    if (args.has("lr-find")) {
      const auto sweep = trainer.find_lr(*train, {.steps = args.get_int("lr-find-steps", 100, 5, 100000)});
      say << "lr finder: suggested lr " << sweep.suggestion << " for group 0 (the others keep their ratio); curve in "
          << (out / "lr_find.png").string() << " and " << (out / "lr_find.csv").string() << std::endl;
      return 0;
    }
    if (args.has("sync-bn"))  // after --lr-find, whose ranks sweep their shards apart
      say << "synchronized BatchNorm: " << ftmeta::distributed::sync_batch_norm(*trainer.model(), *group) << " layers across "
          << world << (world > 1 ? " ranks" : " rank (plain BatchNorm)") << std::endl;
    try {
      trainer.fit(*train, *val);
    } catch (const ftmeta::train::Interrupted& e) {
      std::string again;
      for (int i = 0; i < argc; ++i) again += (i ? " " : "") + std::string(argv[i]);
      if (!args.has("resume")) again += " --resume";
      std::cerr << "finetune: interrupted by " << stop.signal_name() << ": " << e.what() << "; to continue exactly: " << again << std::endl;
      return stop.exit_status();
    }
    trainer.load_best();
    // [train]
    if (!splits.test.empty()) {
      auto test = loader_for<example::EvalAug<Size>>(splits.test, eval_opts);
      const auto report = trainer.test(*test);  // also test.json and confusion_test.png
      say << std::fixed << std::setprecision(4) << "test top-5 accuracy: " << report.confusion.top5_accuracy() << ", macro F1 "
          << report.confusion.macro_f1() << "\ntest accuracy: " << report.accuracy() << " (" << report.samples << " images, loss "
          << report.loss << ")" << std::endl;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    say << "checkpoint: " << (out / "best.pt").string() << "\nmetrics: " << (out / "metrics.csv").string() << "\ntotal time "
              << std::setprecision(1) << seconds << " s" << std::endl;
    return 0;
  }); });
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
