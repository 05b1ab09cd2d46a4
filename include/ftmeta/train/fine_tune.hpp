// ftmeta/train/fine_tune.hpp: fine_tune<Net, Policy, Size>(splits, options), fastai's fine_tune in
// one call: the run sized from the data (batch, epochs, BatchNorm statistics), the head phase on
// cached features, the whole network, the best checkpoint and the test.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/pipeline_loader.hpp>
#include <ftmeta/data/sampler.hpp>
#include <ftmeta/data/splits.hpp>
#include <ftmeta/distributed/sync_batchnorm.hpp>
#include <ftmeta/train/default_policy.hpp>
#include <ftmeta/train/head_fit.hpp>
#include <ftmeta/nn/preprocess.hpp>
#include <ftmeta/train/policy.hpp>
#include <ftmeta/train/preprocessing.hpp>
#include <ftmeta/train/run_config.hpp>
#include <ftmeta/train/trainer.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <type_traits>
#include <cstdint>
#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace ftmeta::train {

/// Runtime settings of fine_tune. What is left unset comes from the policy.
struct FineTuneOptions {
  /// Device, seed, out_dir, log, precision, mixup, EMA, early stopping, the process group... as for
  /// a Trainer. `train.epochs` 0 (the default here): as many as the policy's MinSteps and MinEpochs ask.
  TrainOptions train = [] {
    TrainOptions t;
    t.epochs = 0;
    return t;
  }();
  std::int64_t batch_size = 0;              ///< the global batch; 0: the policy's BatchSize
  std::optional<double> label_smoothing;    ///< else the policy's LabelSmoothing
  std::optional<bool> channels_last;        ///< else whether the policy lists ChannelsLast
  std::optional<BatchNormMode> batch_norm;  ///< the backbone's BatchNorm statistics; else the policy's rule
  bool sync_batch_norm = false;             ///< distributed: BatchNorm over the global batch (distributed::sync_batch_norm)
  bool head_phase = true;                   ///< run the policy's HeadFirst phase (when it has one)
  int workers = 1;                          ///< decoding threads of each loader
  bool resume = false;                      ///< continue the run in train.out_dir from its last.pt
  /// What the weights expect (mean, std, crop_pct); unset: train.weights' config.json, or the backbone descriptor's
  /// when train.weights is set, else the policy's pipelines as they are. Evaluation then resizes to
  /// floor(Size / crop_pct) and centre-crops Size; both pipelines normalize with its mean and std, unless the
  /// policy's pipelines name their own Normalize statistics (those win, with a warning when they disagree).
  std::optional<nn::Preprocessing> preprocessing;
};

}  // namespace ftmeta::train

namespace ftmeta::reflect {
/// FineTuneOptions' own fields (its `train` is TrainOptions, described on its own: train/run_config.hpp).
template <>
struct Fields<train::FineTuneOptions> {
  using T = train::FineTuneOptions;
  static constexpr auto get() {
    using train::BatchNormMode;
    return boost::hana::make_tuple(
        field("batch_size", &T::batch_size, "global batch size, divided among the ranks of a distributed run (0: the policy's)",
              Range{0, 65536}),
        field("label_smoothing", &T::label_smoothing, "label smoothing epsilon in [0, 1) (unset: the policy's)", Range{0, 0.999}),
        field("channels_last", &T::channels_last, "NHWC memory format for weights and inputs (unset: the policy's choice)"),
        field("batch_norm", &T::batch_norm, "the backbone's BatchNorm statistics (unset: the policy's rule)",
              {choice("frozen", BatchNormMode::frozen), choice("train", BatchNormMode::train), choice("auto", BatchNormMode::automatic)}),
        field("sync_batch_norm", &T::sync_batch_norm, "distributed: BatchNorm statistics over the global batch of all ranks")
            .as_flag("sync_bn"),
        field("head_phase", &T::head_phase, "run the policy's head phase on cached features"),
        field("workers", &T::workers, "decoding threads of each loader", Range{0, 64}),
        field("resume", &T::resume, "continue the run in out_dir from its last.pt (weights, optimizer, schedules, epoch, history)"));
  }
};
}  // namespace ftmeta::reflect

namespace ftmeta::train {

/// The run configuration fine_tune records in its checkpoints: {"train": TrainOptions, "fine_tune": FineTuneOptions}.
inline std::string run_config_json(const FineTuneOptions& o) {
  return "{\"train\": " + reflect::to_json(o.train) + ", \"fine_tune\": " + reflect::to_json(o) + "}";
}

/// What a fine_tune run did and measured.
struct FineTuneResult {
  std::int64_t batch_size = 0, epochs = 0, steps_per_epoch = 0;
  bool batch_norm_frozen = false;
  std::optional<EpochStats> head;   ///< the head phase on validation (the baseline)
  double best_val_accuracy = 0;
  std::int64_t best_epoch = 0;      ///< 0: the head phase's weights stayed the best
  std::optional<SplitReport> test;  ///< when the splits have a test part
  std::vector<std::string> notes;   ///< the decisions made (also printed to train.log)
};

/// How a run is sized from its data: the decisions fine_tune prints before training.
struct RunPlan {
  std::int64_t batch_size = 0;       ///< global
  std::int64_t epochs = 0;
  std::int64_t steps_per_epoch = 0;  ///< per rank (every rank takes as many)
  std::int64_t passes_per_epoch = 1; ///< shuffled passes over the training split in one epoch (small data)
  bool freeze_batch_norm = false;
  std::vector<std::string> notes;
};

/// Sizes a run of `train_images` images over `world` ranks: the batch (`batch`, shrunk when the
/// images do not fill one per rank), the epochs (`epochs`, or 0: enough for `min_steps` optimizer
/// steps and at least `min_epochs`; when that takes more than 8 passes over the data, a single
/// process makes each epoch several passes, so that the run validates and checkpoints about 8
/// times rather than once per pass), and whether the backbone's BatchNorm statistics stay frozen
/// (`bn_rule`: frozen, trained, or automatic: frozen below `min_batch` per rank or `min_images`).
inline RunPlan plan_run(std::int64_t train_images, int world, std::int64_t batch, std::int64_t epochs, std::int64_t min_steps,
                        std::int64_t min_epochs, BatchNormMode bn_rule, std::int64_t min_batch, std::int64_t min_images) {
  RunPlan p;
  if (train_images < 1) throw DataError("ftmeta: fine_tune: the training split has no image");
  if (batch < 1) throw UsageError("ftmeta: fine_tune: FineTuneOptions::batch_size must be >= 1 (0: the policy's)");
  if (world < 1) world = 1;
  const std::int64_t per_rank_images = train_images / world;
  if (per_rank_images < 1)
    throw DataError("ftmeta: fine_tune: " + std::to_string(train_images) + " training image(s) cannot feed " + std::to_string(world) +
                    " ranks");
  if (batch % world != 0) batch += world - batch % world;  // the global batch divides among the ranks
  std::int64_t per_rank = batch / world;
  if (per_rank > per_rank_images) {
    per_rank = per_rank_images;
    p.notes.push_back("warning: the training split has " + std::to_string(train_images) + " image(s), fewer than a batch of " +
                      std::to_string(batch) + ": the batch shrinks to " + std::to_string(per_rank * world));
  }
  p.batch_size = per_rank * world;
  p.steps_per_epoch = per_rank_images / per_rank;  // whole batches (the loader drops a last, smaller one)
  p.notes.push_back("batch " + std::to_string(p.batch_size) +
                    (world > 1 ? " (" + std::to_string(per_rank) + " on each of " + std::to_string(world) + " ranks)" : std::string()));
  if (epochs > 0) {
    p.epochs = epochs;
  } else {
    constexpr std::int64_t most_epochs = 8;
    const auto passes = std::max<std::int64_t>({min_epochs, 1, (min_steps + p.steps_per_epoch - 1) / p.steps_per_epoch});
    if (world == 1 && passes > std::max(most_epochs, min_epochs)) {
      p.passes_per_epoch = (passes + most_epochs - 1) / most_epochs;
      p.steps_per_epoch *= p.passes_per_epoch;
    }
    p.epochs = (passes + p.passes_per_epoch - 1) / p.passes_per_epoch;
    p.notes.push_back(std::to_string(p.epochs) + " epoch(s) of " + std::to_string(p.steps_per_epoch) + " step(s)" +
                      (p.passes_per_epoch > 1 ? " (" + std::to_string(p.passes_per_epoch) + " passes over the data each)" : std::string()) +
                      ": " +
                      std::to_string(p.epochs * p.steps_per_epoch) + " optimizer steps" +
                      (min_steps > 0 ? " (the policy asks for at least " + std::to_string(min_steps) + ")" : std::string()));
  }
  if (p.epochs * p.steps_per_epoch < 50)
    p.notes.push_back("warning: only " + std::to_string(p.epochs * p.steps_per_epoch) +
                      " optimizer steps in all; fewer than about 50 rarely fine-tune a network (give more epochs or a smaller batch)");
  if (bn_rule == BatchNormMode::frozen) {
    p.freeze_batch_norm = true;
  } else if (bn_rule == BatchNormMode::automatic) {
    p.freeze_batch_norm = per_rank < min_batch || train_images < min_images;
    if (p.freeze_batch_norm)
      p.notes.push_back("BatchNorm: the backbone keeps its pretrained statistics (" +
                        std::string(per_rank < min_batch ? "a batch of " + std::to_string(per_rank) + " per device" :
                                                           std::to_string(train_images) + " training images") +
                        " would estimate them poorly); its BatchNorm weights still train");
  }
  return p;
}

/// "frozen" | "train" | "auto"; UsageError naming the option otherwise.
inline BatchNormMode parse_batch_norm_rule(const std::string& s) {
  if (s == "frozen") return BatchNormMode::frozen;
  if (s == "train") return BatchNormMode::train;
  if (s == "auto") return BatchNormMode::automatic;
  throw UsageError("batch_norm '" + s + "': expected frozen, train or auto");
}

namespace detail {
/// The Trainer's options for a run of Policy at input side Size, as `plan` sized it.
template <class Policy, int Size>
TrainOptions policy_train_options(const FineTuneOptions& options, const RunPlan& plan) {
  TrainOptions t = options.train;
  t.epochs = plan.epochs;
  t.image_size = Size;
  t.label_smoothing = options.label_smoothing.value_or(Policy::label_smoothing);
  t.channels_last = options.channels_last.value_or(Policy::channels_last);
  return t;
}

/// The training loader: TrainPipeline, its normalization moved onto the weights' when it uses the backbone
/// descriptor's (Normalize<Backbone>).
template <class TrainPipeline, class Backbone>
std::unique_ptr<data::Loader> train_loader(const std::vector<data::Sample>& samples, const data::LoaderOptions& o,
                                           const std::optional<nn::Preprocessing>& pre) {
  constexpr auto norm = pipeline_normalize<TrainPipeline, Backbone>();
  if constexpr (norm.found) {
    if (pre && norm.backbone_own)
      return data::make_loader(std::make_shared<data::FileSource>(samples), Renormalized<TrainPipeline>(norm, pre->mean, pre->std),
                               data::output_size_v<TrainPipeline>, o);
  }
  return data::pipeline_loader<TrainPipeline>(samples, o);
}
/// The evaluation loader: the transform the preprocessing describes, else EvalPipeline.
template <class EvalPipeline>
std::unique_ptr<data::Loader> eval_loader(const std::vector<data::Sample>& samples, const data::LoaderOptions& o,
                                          const std::optional<nn::Preprocessing>& pre) {
  if (!pre) return data::pipeline_loader<EvalPipeline>(samples, o);
  const auto t = eval_transform_of(*pre);
  return data::make_loader(std::make_shared<data::FileSource>(samples), t, data::OutputSize{t.crop, t.crop}, o);
}
/// The preprocessing a run of Net at side Size uses (FineTuneOptions::preprocessing), its notes added to `notes`.
template <class Net, class TrainPipeline, class EvalPipeline, int Size>
std::optional<nn::Preprocessing> run_preprocessing(const FineTuneOptions& options, std::vector<std::string>& notes) {
  using Backbone = typename Net::backbone;
  auto pre = options.preprocessing;
  if (!pre && !options.train.weights.empty())
    pre = nn::preprocessing_for_weights(options.train.weights, nn::preprocessing_of<Backbone>());
  if (!pre) return pre;
  if (pre->input_size != Size)
    notes.push_back("preprocessing: the weights expect " + std::to_string(pre->input_size) + " px; the run uses " +
                    std::to_string(Size) + " px (crop_pct kept)");
  pre->input_size = Size;
  constexpr auto eval_norm = pipeline_normalize<EvalPipeline, Backbone>();
  constexpr auto train_norm = pipeline_normalize<TrainPipeline, Backbone>();
  std::string warning;
  pre = effective_preprocessing(*pre, eval_norm.found ? eval_norm : train_norm, &warning);
  if (!warning.empty()) notes.push_back(warning);
  std::ostringstream crop;
  crop << pre->crop_pct;
  notes.push_back("preprocessing from " + pre->source + ": evaluation " + eval_transform_of(*pre).describe() + " (crop_pct " +
                  crop.str() + ", mean " + detail::triple_text(pre->mean) + ", std " + detail::triple_text(pre->std) + ")");
  return pre;
}
}  // namespace detail

/// Fine-tunes `Net` on `splits` with `Policy` (DefaultFineTune unless given) at input side `Size`:
/// plans the run (plan_run), fits the head on cached features of the frozen backbone (the policy's
/// HeadFirst: its validation accuracy is the run's baseline and its weights epoch 0), trains the
/// whole network with the policy's recipe, keeps the final weights (KeepFinal) or the best epoch by
/// validation accuracy (the head phase's weights when no epoch beats them), and tests them on
/// splits.test when there is one.
/// A split without validation images validates on the training images (said in the notes).
///
///   auto splits = ftmeta::data::resolve_splits("photos", {.manifest = "out/split.tsv"});
///   ftmeta::train::FineTuneOptions options;
///   options.train.out_dir = "out";
///   auto result = ftmeta::train::fine_tune<Net>(splits, options);
template <nn::ModelSpec Net, FineTunePolicy Policy = DefaultFineTune, int Size = 224>
FineTuneResult fine_tune(const data::Splits& splits, FineTuneOptions options) {
  using TrainPipeline = typename Policy::template train_pipeline<Size, typename Net::backbone>;
  using EvalPipeline = typename Policy::template eval_pipeline<Size, typename Net::backbone>;
  using BN = typename Policy::batch_norm;
  std::ostream nowhere(nullptr);  // discards what it is given
  auto* group = options.train.group.get();
  const bool main = !group || group->is_main();
  std::ostream& say = options.train.log && main ? *options.train.log : nowhere;

  if (splits.classes.size() < 2)
    throw DataError("ftmeta: fine_tune: the data has " + std::to_string(splits.classes.size()) +
                    " class(es); a classifier needs at least two");
  const int world = group ? group->world_size() : 1;
  const auto bn_rule = options.batch_norm.value_or(BN::mode);
  const bool policy_thresholds = BN::mode == BatchNormMode::automatic;
  auto plan = plan_run(static_cast<std::int64_t>(splits.train.size()), world, options.batch_size ? options.batch_size : Policy::batch_size,
                       options.train.epochs, Policy::min_steps, Policy::min_epochs, bn_rule,
                       policy_thresholds ? BN::min_batch : AutoStatistics<>::min_batch,
                       policy_thresholds ? BN::min_images : AutoStatistics<>::min_images);
  const std::vector<data::Sample>* val_samples = &splits.val;
  if (splits.val.empty()) {
    plan.notes.push_back("warning: no validation images: validating on the training images, so best.pt is the best fit, not the best "
                         "generalization (give a val/ folder or more images per class)");
    val_samples = &splits.train;
  }
  const auto pre = detail::run_preprocessing<Net, TrainPipeline, EvalPipeline, Size>(options, plan.notes);
  for (auto& n : plan.notes) say << "fine_tune: " << n << "\n";
  say << std::flush;

  TrainOptions t = detail::policy_train_options<Policy, Size>(options, plan);
  if (t.split_hash.empty()) t.split_hash = data::split_hash(splits);
  if (const auto recorded = pre ? pre : preprocessing_of_pipeline<EvalPipeline>()) t.preprocessing = recorded->serialize();
  if (t.run_config.empty()) {
    FineTuneOptions recorded = options;
    recorded.train = t;  // as run: the epochs and the channels the plan and the policy decided
    t.run_config = run_config_json(recorded);
  }
  Trainer<Net, typename Policy::recipe> trainer(splits.classes.names(), t);
  if (plan.freeze_batch_norm) trainer.model()->freeze_batch_norm_statistics("backbone");
  if (options.sync_batch_norm && group) {
    const auto layers = distributed::sync_batch_norm(*trainer.model(), *group);
    say << "synchronized BatchNorm: " << layers << " layers across " << world << (world > 1 ? " ranks" : " rank (plain BatchNorm)")
        << std::endl;
  }

  const auto per_rank = plan.batch_size / world;
  data::LoaderOptions train_opts{.batch_size = per_rank, .shuffle = true, .drop_last = true, .seed = t.seed, .num_workers = options.workers};
  data::LoaderOptions eval_opts{.batch_size = per_rank, .shuffle = false, .drop_last = false, .seed = t.seed, .num_workers = options.workers};
  if (world > 1) {
    train_opts.sampler = data::DistributedSampler{.rank = group->rank(), .world_size = world, .shuffle = true, .drop_last = true};
    eval_opts.sampler = data::eval_shard(group->rank(), world);
  } else if (plan.passes_per_epoch > 1) {
    train_opts.sampler = data::RepeatedSampler{plan.passes_per_epoch};
  }
  auto train = detail::train_loader<TrainPipeline, typename Net::backbone>(splits.train, train_opts, pre);
  auto val = detail::eval_loader<EvalPipeline>(*val_samples, eval_opts, pre);

  FineTuneResult result;
  result.batch_size = plan.batch_size;
  result.epochs = plan.epochs;
  result.steps_per_epoch = plan.steps_per_epoch;
  result.batch_norm_frozen = plan.freeze_batch_norm;
  result.notes = plan.notes;

  const auto last = t.out_dir / "last.pt";
  if (options.resume) {
    if (t.out_dir.empty() || !std::filesystem::exists(last))
      throw UsageError("ftmeta: fine_tune: FineTuneOptions::resume: " + last.string() + " does not exist");
    const auto done = trainer.resume(last);  // before printing: a refusal leaves no half line
    say << "resuming " << last.string() << " after epoch " << done << std::endl;
  } else if constexpr (!std::is_void_v<typename Policy::head_first>) {
    if (options.head_phase) {
      using H = typename Policy::head_first;
      const auto t0 = std::chrono::steady_clock::now();
      auto& model = *trainer.model();
      const Forward features = [&](const torch::Tensor& x) {
        AutocastScope autocast(t.device, t.precision);
        return model.features(t.channels_last && x.dim() == 4 ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x);
      };
      // Every rank embeds the whole training split and fits the same head (then rank 0's is broadcast).
      data::LoaderOptions all{.batch_size = std::max<std::int64_t>(per_rank, 64), .shuffle = false, .drop_last = false, .seed = t.seed,
                              .num_workers = options.workers};
      auto plain = detail::eval_loader<EvalPipeline>(splits.train, all, pre);
      plain->start_epoch(0);
      FeatureSet train_f = extract_features(model, features, detail::next_of(*plain), t.device);
      if constexpr (H::views > 0) {
        auto augmented = detail::train_loader<TrainPipeline, typename Net::backbone>(splits.train, all, pre);
        for (std::int64_t v = 1; v <= H::views; ++v) {
          augmented->start_epoch(1000000 + v);  // draws of their own, apart from the training epochs
          train_f = FeatureSet::cat(train_f, extract_features(model, features, detail::next_of(*augmented), t.device));
        }
      }
      auto val_all = detail::eval_loader<EvalPipeline>(*val_samples, all, pre);
      val_all->start_epoch(0);
      const FeatureSet val_f = extract_features(model, features, detail::next_of(*val_all), t.device);
      auto& head = *model.head();
      const auto fit = fit_head(head, [&](const torch::Tensor& x) { return head.forward(x); }, train_f, val_f, t.device,
                                {.steps = H::steps, .batch_size = 256, .lr = H::lr, .weight_decay = H::weight_decay,
                                 .label_smoothing = t.label_smoothing, .seed = t.seed});
      if (group) group->broadcast_module(model);
      trainer.record_head_phase(fit.val);
      result.head = fit.val;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      say << std::fixed << std::setprecision(4) << "head phase: " << train_f.size() << " cached feature vectors (" << H::views
          << " augmented view(s) per image), " << H::steps << " steps: val acc " << fit.val.accuracy << " loss " << fit.val.loss
          << std::setprecision(1) << " (" << seconds << " s)" << std::endl;
    }
  }
  trainer.fit(*train, *val);
  if constexpr (Policy::keep_final) {
    trainer.save_as_best();
    result.best_epoch = trainer.epochs_done();
    result.best_val_accuracy = trainer.history().empty() ? 0.0 : trainer.history().back().val.accuracy;
  } else {
    trainer.load_best();
    result.best_val_accuracy = -1;
    if (trainer.baseline()) result.best_val_accuracy = trainer.baseline()->accuracy;
    for (auto& r : trainer.history())
      if (r.val.accuracy > result.best_val_accuracy) result.best_val_accuracy = r.val.accuracy, result.best_epoch = r.epoch;
    if (trainer.baseline() && result.best_epoch == 0)
      say << "fine_tune: no epoch validated better than the head phase (" << std::fixed << std::setprecision(4)
          << trainer.baseline()->accuracy << "); best.pt keeps its weights" << std::endl;
  }
  if (!splits.test.empty()) {
    auto test = detail::eval_loader<EvalPipeline>(splits.test, eval_opts, pre);
    result.test = trainer.test(*test);
  }
  return result;
}

/// The learning-rate finder over the run fine_tune would make (same model, recipe, batch and
/// pipeline): lr_find.csv and lr_find.png in options.train.out_dir; the weights are left as they were.
template <nn::ModelSpec Net, FineTunePolicy Policy = DefaultFineTune, int Size = 224>
LrFinderResult find_lr(const data::Splits& splits, FineTuneOptions options, const LrFinderOptions& finder = {}) {
  using TrainPipeline = typename Policy::template train_pipeline<Size, typename Net::backbone>;
  auto* group = options.train.group.get();
  const int world = group ? group->world_size() : 1;
  const auto plan = plan_run(static_cast<std::int64_t>(splits.train.size()), world, options.batch_size ? options.batch_size : Policy::batch_size,
                             std::max<std::int64_t>(options.train.epochs, 1), 0, 1, BatchNormMode::train, 0, 0);
  using EvalPipeline = typename Policy::template eval_pipeline<Size, typename Net::backbone>;
  std::vector<std::string> notes;
  const auto pre = detail::run_preprocessing<Net, TrainPipeline, EvalPipeline, Size>(options, notes);
  const TrainOptions t = detail::policy_train_options<Policy, Size>(options, plan);
  Trainer<Net, typename Policy::recipe> trainer(splits.classes.names(), t);
  data::LoaderOptions train_opts{.batch_size = plan.batch_size / world, .shuffle = true, .drop_last = true, .seed = t.seed,
                                 .num_workers = options.workers};
  if (world > 1) train_opts.sampler = data::DistributedSampler{.rank = group->rank(), .world_size = world, .shuffle = true, .drop_last = true};
  auto train = detail::train_loader<TrainPipeline, typename Net::backbone>(splits.train, train_opts, pre);
  return trainer.find_lr(*train, finder);
}

}  // namespace ftmeta::train
