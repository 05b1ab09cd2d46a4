// examples/finetune.cpp: the main job. Fine-tunes the ImageNet-pretrained EfficientNet-Lite0 with
// ftmeta's default policy (or the blog's recipe, examples/recipe.hpp), or a built-in model chosen by
// name (--model) from weights in a file (--weights), on Fashion-MNIST from the Debian package, or on
// any ImageFolder tree (--data DIR), and prints the test accuracy. The same binary runs alone or as one
// rank of a data-parallel group: under torchrun or examples/launch.sh, by the environment alone.
#include "recipe.hpp"

#include <ftmeta/nn/registry.hpp>
#include <ftmeta_app/cli.hpp>

#include <boost/hana/tuple.hpp>
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

// The program's own flags. The options' flags (--epochs, --ema, --batch-size, ...) come from the options' fields
// (ftmeta/train/run_config.hpp, FineTuneOptions in fine_tune.hpp): one definition gives the flag, its help and
// its range, and the run configuration the checkpoints record.
struct Flags {
  fs::path data;
  std::string recipe = "default";
  std::string model;
  std::string device = "auto";
  std::int64_t per_class = 1000;
  std::optional<std::int64_t> test_per_class;
  fs::path fashion_mnist = ftmeta::data::fashion_mnist_dir();
  bool lr_find = false;
  std::int64_t lr_find_steps = 100;
  fs::path export_onnx;
  bool help = false;

  static constexpr auto fields() {
    using ftmeta::reflect::field, ftmeta::reflect::Range;
    return boost::hana::make_tuple(
        field("data", &Flags::data, "ImageFolder root (class folders, or train/ val/ test/ of class folders); default: Fashion-MNIST"),
        field("recipe", &Flags::recipe, "default (head first on cached features, then the whole network), blog (the blog's "
                                        "recipe) or tuned (one-cycle lr, weight decay, milder crops: for long runs)"),
        field("model", &Flags::model, "a built-in model by name, with a Linear head, trained with the default recipe (--recipe "
                                      "blog and tuned train their own network); 'list' prints the names with their input size "
                                      "and feature width"),
        field("device", &Flags::device, "auto, cpu, cuda or cuda:N (auto: CUDA when present)"),
        field("per_class", &Flags::per_class, "Fashion-MNIST only: images per class exported for training (0 = all 6000)",
              Range{0, 6000}),
        field("test_per_class", &Flags::test_per_class,
              "Fashion-MNIST only: test images per class (unset: as --per-class, at most 1000; 0 = all 1000)", Range{0, 1000}),
        field("fashion_mnist", &Flags::fashion_mnist, "folder of the Fashion-MNIST IDX files"),
        field("lr_find", &Flags::lr_find, "sweep the learning rate, print the suggestion, write lr_find.png and lr_find.csv, and exit"),
        field("lr_find_steps", &Flags::lr_find_steps, "steps of the --lr-find sweep", Range{5, 100000}),
        field("export_onnx", &Flags::export_onnx, "after training, write best.pt as this ONNX file (for predict_onnx)"),
        field("help", &Flags::help, "print this help"));
  }
};
// TrainOptions' fields that FineTuneOptions decides (label smoothing, channels) or the run does (the rest).
const std::vector<std::string_view> train_fields_not_flags = {"in_channels", "label_smoothing", "channels_last", "split_hash"};

// SIGINT/SIGTERM: the trainer stops at the next step and saves last.pt (fine_tune throws
// Interrupted, main says how to resume); a second signal exits at once.
ftmeta::train::StopOnSignal* stop_signal = nullptr;

int run(int argc, char** argv) {
  // [options]
  Flags flags;
  ftmeta::train::FineTuneOptions options;  // the defaults, but for these two
  options.train.out_dir = "out/finetune";
  options.train.image_size = 64;
  auto known = ftmeta::app::flags_of(flags);
  for (auto& f : ftmeta::app::flags_of(options.train, train_fields_not_flags)) known.push_back(f);
  for (auto& f : ftmeta::app::flags_of(options)) known.push_back(f);
  ftmeta::app::Args args(argc, argv, known);
  if (args.has("help")) {
    std::cout << "usage: finetune [--data DIR] [--out DIR] [--epochs N] [--device D] [--seed N] ...\n" << args.help()
              << "--image-size: 64, 128 or 224 (with --model, the weights' input size unless given)\n";
    return 0;
  }
  if (!args.positional().empty()) throw ftmeta::UsageError("unexpected argument '" + args.positional()[0] + "' (see --help)");
  ftmeta::app::read_flags(args, flags);
  if (flags.model == "list") {
    std::cout << ftmeta::nn::registry().list();
    return 0;
  }
  // --model NAME: an entry of the registry, with the default recipe; its weights from --weights.
  const ftmeta::nn::RegisteredModel* chosen = nullptr;
  if (!flags.model.empty()) {
    if (!ftmeta::nn::registry().contains(flags.model))
      throw ftmeta::UsageError("--model " + flags.model + ": not a built-in model (see --model list)");
    chosen = &ftmeta::nn::registry().find(flags.model);
    if (flags.recipe != "default")
      throw ftmeta::UsageError("--model " + chosen->name + ": trains with the default recipe; --recipe " + flags.recipe +
                               " trains its own network");
    if (!flags.export_onnx.empty()) throw ftmeta::UsageError("--export-onnx: with the recipes' network only (not with --model)");
    if (flags.lr_find) throw ftmeta::UsageError("--lr-find: with the recipes' network only (not with --model)");
  }
  example::with_recipe(flags.recipe, []<class>() {});  // a wrong --recipe stops the run before any data is read or exported
  ftmeta::app::read_flags(args, options.train, train_fields_not_flags);
  ftmeta::app::read_flags(args, options);
  const auto& weights = options.train.weights;  // loaded strictly before training: a bad file stops the run naming it
  if (!weights.empty()) {
    if (!fs::exists(weights)) throw ftmeta::UsageError("--weights " + weights.string() + ": no such file or folder");
    if (args.has("no-pretrained")) throw ftmeta::UsageError("--weights and --no-pretrained: give one of them");
  }
  if (chosen && !args.has("image-size")) options.train.image_size = chosen->preprocessing_for(weights).input_size;
  if (args.has("ema") && !(options.train.ema_decay > 0))
    throw ftmeta::UsageError("--ema " + args.get("ema") + ": the decay must be in (0, 1)");
  auto device = ftmeta::app::with_flag("device", "device", [&] { return ftmeta::train::resolve_device(flags.device); });
  if (options.train.precision == ftmeta::train::Precision::fp16 && !device.is_cuda())
    throw ftmeta::UsageError("--precision fp16: needs a CUDA device (on the CPU use bf16 or fp32)");
  // [options]
  const fs::path out = options.train.out_dir;
  const auto seed = options.train.seed;
  const auto image_size = options.train.image_size;
  const auto& recipe = flags.recipe;
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

  options.train.device = device;
  options.train.log = &say;
  options.train.group = group;  // distributed: rank 0's weights broadcast, gradients averaged, metrics summed
  options.train.stop_requested = [] { return stop_signal && stop_signal->requested(); };

  fs::path root;
  if (!group->is_main()) group->barrier();  // rank 0 exports and splits first; the others reuse both
  if (!flags.data.empty()) {
    root = flags.data;
    if (!fs::is_directory(root)) throw ftmeta::UsageError("--data " + root.string() + ": no such folder");
  } else {
    const fs::path src = flags.fashion_mnist;
    const auto per_class = flags.per_class;
    root = out / "fashion-mnist";
    data::ExportOptions exp;
    if (per_class > 0) exp.limit_per_class = per_class;
    exp.test_limit_per_class = flags.test_per_class;
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
    say << "model: " << M::describe() << "\nrecipe: " << recipe_text << "\ndevice: " << device << "\noptions: "
        << ftmeta::reflect::describe(options) << "; " << ftmeta::reflect::describe(options.train) << std::endl;
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
    if (flags.lr_find) {
      say << "model: " << R::Model::describe() << "\nrecipe: " << R::name << ": " << R::Policy::describe() << "\ndevice: " << device
          << std::endl;
      const auto sweep = ftmeta::train::find_lr<typename R::Model, typename R::Policy, Size>(
          splits, options, {.steps = flags.lr_find_steps});
      say << "lr finder: suggested lr " << sweep.suggestion << " for group 0 (the others keep their ratio); curve in "
          << (out / "lr_find.png").string() << " and " << (out / "lr_find.csv").string() << std::endl;
      return 0;
    }
    train.template operator()<typename R::Model, typename R::Policy, Size>(std::string(R::name) + ": " + R::Policy::describe());
    if (!flags.export_onnx.empty() && group->is_main()) {
#ifdef FTMETA_WITH_ONNX
      using Net = typename R::Model;
      ftmeta::train::export_checkpoint_onnx<Net, example::EvalAug<Size, typename Net::backbone>>(out / "best.pt", flags.export_onnx);
      say << "onnx: " << flags.export_onnx.string() << std::endl;
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
