// examples/finetune.cpp: the main job. Fine-tunes the ImageNet-pretrained EfficientNet-Lite0 with
// ftmeta's default policy (or the blog's recipe, examples/recipe.hpp), or a built-in model chosen by
// name (--model) from weights in a file (--weights), on Fashion-MNIST from the Debian package, or on
// any ImageFolder tree (--data DIR), and prints the test accuracy. The same binary runs alone or as one
// rank of a data-parallel group: under torchrun or examples/launch.sh, by the environment alone.
#include "recipe.hpp"

#include <ftmeta/nn/registry.hpp>
#ifdef FTMETA_WITH_ONNX
#include <ftmeta/train/onnx_export.hpp>
#endif

#include <algorithm>
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
    {"epochs", true, "epochs to train (default: as the recipe asks; the default recipe sizes the run in optimizer steps)"},
    {"device", true, "auto, cpu, cuda or cuda:N (default auto: CUDA when present)"},
    {"seed", true, "seed of the split, the shuffling, the augmentation and the head's init (default 0)"},
    {"batch-size", true, "global batch size, divided among the ranks of a distributed run (default: the recipe's, 32 or 64)"},
    {"workers", true, "decoding threads of the loaders (default 1)"},
    {"recipe", true, "default (head first on cached features, then the whole network), blog (the blog's recipe) or tuned "
                     "(one-cycle lr, weight decay, milder crops: for long runs)"},
    {"image-size", true, "input side: 64, 128 or 224 (default 64; with --model, the weights' input size)"},
    {"per-class", true, "Fashion-MNIST only: images per class exported for training (default 1000; 0 = all 6000)"},
    {"test-per-class", true, "Fashion-MNIST only: test images per class (default: as --per-class, at most 1000; 0 = all 1000)"},
    {"fashion-mnist", true, "folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)"},
    {"model", true, "a built-in model by name, with a Linear head, trained with the default recipe (--recipe blog and tuned "
                    "train their own network); 'list' prints the names with their input size and feature width"},
    {"weights", true, "the backbone's initial weights: a .pth (zip or legacy), a .safetensors, or a folder holding model.safetensors "
                      "and config.json (timm's: its mean, std, input size and crop_pct then preprocess)"},
    {"no-pretrained", false, "start the backbone from random weights (training from scratch)"},
    {"resume", false, "continue the run in --out from its last.pt (weights, optimizer, schedules, epoch, history)"},
    {"precision", true, "fp32, fp16 or bf16: autocast of the forward pass (fp16, with loss scaling, needs CUDA; default fp32)"},
    {"channels-last", false, "NHWC memory format for weights and inputs (the default recipe's choice)"},
    {"no-channels-last", false, "NCHW memory format, also with the default recipe"},
    {"label-smoothing", true, "label smoothing epsilon in [0, 1) (default: the recipe's, 0.1 for the default)"},
    {"batch-norm", true, "the backbone's BatchNorm statistics: frozen, train, or auto (default: the recipe's)"},
    {"no-head-phase", false, "skip the default recipe's head phase on cached features"},
    {"mixup", true, "mixup with Beta(A, A) (default 0: off)"},
    {"cutmix", true, "cutmix with Beta(A, A) (default 0: off; with --mixup, one of the two per batch)"},
    {"ema", true, "keep an exponential moving average of the weights with this decay in (0, 1), validated alongside"},
    {"early-stop", true, "stop after N epochs without improvement of --early-stop-metric (default 0: never)"},
    {"early-stop-metric", true, "val_loss or val_acc (default val_loss)"},
    {"keep-best", true, "keep the K best epochs as best-epochN.pt besides best.pt (default 1: best.pt only)"},
    {"lr-find", false, "sweep the learning rate, print the suggestion, write lr_find.png and lr_find.csv, and exit"},
    {"lr-find-steps", true, "steps of the --lr-find sweep (default 100)"},
    {"sync-bn", false, "distributed: BatchNorm statistics over the global batch of all ranks (synchronized BatchNorm)"},
    {"export-onnx", true, "after training, write best.pt as this ONNX file (for predict_onnx)"},
    {"help", false, "print this help"},
};

// SIGINT/SIGTERM: the trainer stops at the next step and saves last.pt (fine_tune throws
// Interrupted, main says how to resume); a second signal exits at once.
ftmeta::train::StopOnSignal* stop_signal = nullptr;

int run(int argc, char** argv) {
  ftmeta::util::Args args(argc, argv, flags);
  if (args.has("help")) {
    std::cout << "usage: finetune [--data DIR] [--out DIR] [--epochs N] [--device D] [--seed N] ...\n" << args.help();
    return 0;
  }
  if (!args.positional().empty()) throw ftmeta::UsageError("unexpected argument '" + args.positional()[0] + "' (see --help)");
  if (args.get("model") == "list") {
    std::cout << ftmeta::nn::registry().list();
    return 0;
  }
  const auto recipe = args.get("recipe", "default");
  // --model NAME: an entry of the registry, with the default recipe; its weights from --weights.
  const ftmeta::nn::RegisteredModel* chosen = nullptr;
  if (args.has("model")) {
    if (!ftmeta::nn::registry().contains(args.get("model")))
      throw ftmeta::UsageError("--model " + args.get("model") + ": not a built-in model (see --model list)");
    chosen = &ftmeta::nn::registry().find(args.get("model"));
    if (recipe != "default")
      throw ftmeta::UsageError("--model " + chosen->name + ": trains with the default recipe; --recipe " + recipe + " trains its own network");
    if (args.has("export-onnx")) throw ftmeta::UsageError("--export-onnx: with the recipes' network only (not with --model)");
    if (args.has("lr-find")) throw ftmeta::UsageError("--lr-find: with the recipes' network only (not with --model)");
  }
  const fs::path weights = args.get("weights");
  if (!weights.empty()) {
    if (!fs::exists(weights)) throw ftmeta::UsageError("--weights " + weights.string() + ": no such file or folder");
    if (args.has("no-pretrained")) throw ftmeta::UsageError("--weights and --no-pretrained: give one of them");
  }
  const fs::path out = args.get("out", "out/finetune");
  const auto epochs = args.get_int("epochs", 0, 1, 100000);
  const auto seed = static_cast<std::uint64_t>(args.get_int("seed", 0, 0));
  const auto batch = args.get_int("batch-size", 0, 1, 65536);
  const auto workers = static_cast<int>(args.get_int("workers", 1, 0, 64));
  const auto image_size = args.get_int("image-size", chosen ? chosen->preprocessing_for(weights).input_size : 64, 1, 4096);
  auto device = ftmeta::train::resolve_device(args.get("device", "auto"));
  const auto precision = ftmeta::train::parse_precision(args.get("precision", "fp32"));
  if (precision == ftmeta::train::Precision::fp16 && !device.is_cuda())
    throw ftmeta::UsageError("--precision fp16: needs a CUDA device (on the CPU use bf16 or fp32)");
  const double mixup = args.get_double("mixup", 0, 0, 1e6), cutmix = args.get_double("cutmix", 0, 0, 1e6);
  const double ema = args.get_double("ema", 0, 0, 0.999999);
  if (args.has("ema") && !(ema > 0)) throw ftmeta::UsageError("--ema " + args.get("ema") + ": the decay must be in (0, 1)");
  const auto t0 = std::chrono::steady_clock::now();

  // One process, or one rank of a group that torchrun's environment describes (RANK, WORLD_SIZE,
  // LOCAL_RANK, MASTER_ADDR, MASTER_PORT): each rank on its own GPU, rank 0 writing and printing.
  const auto env = ftmeta::distributed::launch_env();
  if (env.distributed() && device.is_cuda()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
  auto group = std::make_shared<ftmeta::distributed::ProcessGroup>(ftmeta::distributed::ProcessGroup::connect(env, device));
  std::ostream nowhere(nullptr);
  std::ostream& say = group->is_main() ? std::cout : nowhere;  // only rank 0 prints
  // One run per --out: a second one is refused, naming the first's PID; a killed run's lock is taken over.
  std::optional<ftmeta::util::RunLock> lock;
  if (group->is_main()) {
    try {
      lock.emplace(out);
    } catch (const ftmeta::FileError& e) {
      throw ftmeta::UsageError(std::string(e.what()).substr(8) + " (--out " + out.string() + ")");  // "ftmeta: " dropped
    }
    if (lock->stale_pid()) say << "lock: took over " << lock->path().string() << " from PID " << *lock->stale_pid() << " (no longer running)" << std::endl;
  }

  // [options]
  ftmeta::train::FineTuneOptions options;
  options.train.device = device;
  options.train.seed = seed;
  options.train.out_dir = out;
  options.train.epochs = epochs;  // 0: as the recipe sizes the run
  options.train.pretrained = !args.has("no-pretrained");
  options.train.weights = weights;  // loaded strictly before training: a bad file stops the run naming it
  options.train.precision = precision;
  options.train.mixup_alpha = mixup;
  options.train.cutmix_alpha = cutmix;
  options.train.ema_decay = ema;
  options.train.early_stop = args.get_int("early-stop", 0, 0, 100000);
  options.train.early_stop_metric = ftmeta::train::parse_stop_metric(args.get("early-stop-metric", "val_loss"));
  options.train.keep_best = args.get_int("keep-best", 1, 1, 1000);
  options.train.log = &say;
  options.train.group = group;  // distributed: rank 0's weights broadcast, gradients averaged, metrics summed
  options.batch_size = batch;   // 0: the recipe's
  options.workers = workers;
  options.resume = args.has("resume");
  options.head_phase = !args.has("no-head-phase");
  options.sync_batch_norm = args.has("sync-bn");
  if (args.has("label-smoothing")) options.label_smoothing = args.get_double("label-smoothing", 0, 0, 0.999);
  if (args.has("channels-last")) options.channels_last = true;
  if (args.has("no-channels-last")) options.channels_last = false;
  if (args.has("batch-norm")) options.batch_norm = ftmeta::train::parse_batch_norm_rule(args.get("batch-norm"));
  // [options]
  options.train.stop_requested = [] { return stop_signal && stop_signal->requested(); };

  fs::path root;
  if (!group->is_main()) group->barrier();  // rank 0 exports and splits first; the others reuse both
  if (args.has("data")) {
    root = args.get("data");
    if (!fs::is_directory(root)) throw ftmeta::UsageError("--data " + root.string() + ": no such folder");
  } else {
    const fs::path src = args.get("fashion-mnist", data::fashion_mnist_dir().string());
    const auto per_class = args.get_int("per-class", 1000, 0, 6000);
    root = out / "fashion-mnist";
    data::ExportOptions exp;
    if (per_class > 0) exp.limit_per_class = per_class;
    if (args.has("test-per-class")) exp.test_limit_per_class = args.get_int("test-per-class", 0, 0, 1000);
    say << "exporting Fashion-MNIST from " << src << " to " << root << " as an ImageFolder tree" << std::endl;
    auto result = data::export_fashion_mnist(src, root, exp);
    say << (result.written ? "  wrote " + std::to_string(result.images) + " PNG files" : std::string("  already there")) << std::endl;
  }
  // [splits]
  const auto splits = data::resolve_splits(root, {.seed = seed, .manifest = out / "split.tsv"});
  // [splits]
  if (group->is_main()) group->barrier();
  for (auto& note : splits.notes) (note.starts_with("warning") ? std::cerr : say) << "finetune: " << note << std::endl;
  say << "data " << root << ": " << splits.classes.size() << " classes, " << splits.train.size() << " train / " << splits.val.size()
      << " val / " << splits.test.size() << " test images" << std::endl;

  // One run of model M with policy P at input side Size.
  const auto train = [&]<class M, class P, int Size>(const std::string& recipe_text) {
    say << "model: " << M::describe() << "\nrecipe: " << recipe_text << "\ndevice: " << device << std::endl;
    // [train]
    const auto result = ftmeta::train::fine_tune<M, P, Size>(splits, options);
    // [train]
    if (result.test) {
      const auto& test = *result.test;
      say << std::fixed << std::setprecision(4) << "test top-5 accuracy: " << test.confusion.top5_accuracy() << ", macro F1 "
          << test.confusion.macro_f1() << "\ntest accuracy: " << test.accuracy() << " (" << test.samples << " images, loss "
          << test.loss << ")";
      if (result.head) say << "; the head phase alone validated at " << result.head->accuracy;
      say << std::endl;
    }
  };
  const auto finish = [&] {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    say << "checkpoint: " << (out / "best.pt").string() << "\nmetrics: " << (out / "metrics.csv").string() << "\ntotal time "
        << std::setprecision(1) << std::fixed << seconds << " s" << std::endl;
    return 0;
  };

  if (chosen)
    return example::with_image_size(image_size, [&]<int Size>() {
      return ftmeta::nn::BuiltinModels<>::with(chosen->name, [&]<class M>() {
        train.template operator()<M, ftmeta::train::DefaultFineTune, Size>(
            std::string(example::Default::name) + ": " + ftmeta::train::DefaultFineTune::describe());
        return finish();
      });
    });
  return example::with_image_size(image_size, [&]<int Size>() { return example::with_recipe(recipe, [&]<class R>() {
    if (args.has("lr-find")) {
      say << "model: " << R::Model::describe() << "\nrecipe: " << R::name << ": " << R::Policy::describe() << "\ndevice: " << device
          << std::endl;
      const auto sweep = ftmeta::train::find_lr<typename R::Model, typename R::Policy, Size>(
          splits, options, {.steps = args.get_int("lr-find-steps", 100, 5, 100000)});
      say << "lr finder: suggested lr " << sweep.suggestion << " for group 0 (the others keep their ratio); curve in "
          << (out / "lr_find.png").string() << " and " << (out / "lr_find.csv").string() << std::endl;
      return 0;
    }
    train.template operator()<typename R::Model, typename R::Policy, Size>(std::string(R::name) + ": " + R::Policy::describe());
    if (args.has("export-onnx") && group->is_main()) {
#ifdef FTMETA_WITH_ONNX
      using Net = typename R::Model;
      ftmeta::train::export_checkpoint_onnx<Net, example::EvalAug<Size, typename Net::backbone>>(out / "best.pt", args.get("export-onnx"));
      say << "onnx: " << args.get("export-onnx") << std::endl;
#else
      throw ftmeta::UsageError("--export-onnx: this build has no ONNX library (install libonnx-dev and reconfigure)");
#endif
    }
    return finish();
  }); });
}

}  // namespace

int main(int argc, char** argv) {
  ftmeta::train::StopOnSignal stop;
  stop_signal = &stop;
  try {
    return run(argc, argv);
  } catch (const ftmeta::train::Interrupted& e) {
    std::string again;
    for (int i = 0; i < argc; ++i) again += (i ? " " : "") + std::string(argv[i]);
    if (std::find(argv + 1, argv + argc, std::string("--resume")) == argv + argc) again += " --resume";
    std::cerr << "finetune: interrupted by " << stop.signal_name() << ": " << e.what() << "; to continue exactly: " << again << std::endl;
    return stop.exit_status();
  } catch (const ftmeta::UsageError& e) {
    std::cerr << "finetune: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "finetune: " << e.what() << std::endl;
    return 1;
  }
}
