// ftmeta/train/fine_tune.hpp: fine_tune<Net, Policy, Size>(splits, options), fastai's fine_tune in
// one call: the run sized from the data (batch, epochs, BatchNorm statistics), the head phase on
// cached features, the whole network, the best checkpoint and the test. The template lowers the
// policy to a PolicyDescriptor and the model, recipe and pipelines to FineTuneParts; run_fine_tune,
// an ordinary function (compiled once with FTMETA_SEPARATE_COMPILATION), does the rest.
#pragma once

#include <ftmeta/core/config.hpp>
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

#include <boost/hana/tuple.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
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
FTMETA_DECL RunPlan plan_run(std::int64_t train_images, int world, std::int64_t batch, std::int64_t epochs, std::int64_t min_steps,
                             std::int64_t min_epochs, BatchNormMode bn_rule, std::int64_t min_batch, std::int64_t min_images);

/// "frozen" | "train" | "auto"; UsageError naming the option otherwise.
FTMETA_DECL BatchNormMode parse_batch_norm_rule(const std::string& s);

/// A fine-tuning policy (FineTunePolicy) at run time, with its input side.
struct PolicyDescriptor {
  int image_size = 224;
  std::int64_t batch_size = 32, min_steps = 0, min_epochs = 0;
  BatchNormMode batch_norm = BatchNormMode::train;
  std::int64_t min_batch = 0, min_images = 0;  ///< the automatic BatchNorm rule's thresholds
  double label_smoothing = 0;
  bool channels_last = false;
  bool keep_final = false;
  bool head_first = false;                     ///< a head phase (HeadFirst) and its settings:
  std::int64_t head_steps = 0, head_views = 0;
  double head_lr = 0, head_weight_decay = 0;
};

/// The network of a fine_tune run with its type erased: the Trainer (kept alive by `owner`), its
/// core, and what the head phase needs of the model.
struct FineTuneNet {
  std::shared_ptr<void> owner;
  TrainerCore* core = nullptr;
  std::function<void()> freeze_batch_norm_statistics;  ///< of the backbone
  Forward features;                                    ///< pooled features, before the head
  torch::nn::Module* head = nullptr;
  Forward head_forward;
};

/// What the typed side gives run_fine_tune: loaders of the policy's two pipelines and the trainer.
struct FineTuneParts {
  using MakeLoader = std::function<std::unique_ptr<data::Loader>(const std::vector<data::Sample>&, const data::LoaderOptions&)>;
  MakeLoader train_loader, eval_loader;
  std::function<FineTuneNet(std::vector<std::string>, const TrainOptions&)> make_net;
  /// The weights' preprocessing: the backbone descriptor's, the pipelines' Normalize, what the evaluation pipeline
  /// amounts to, and the training loader with its Normalize<Backbone> moved onto given statistics (empty when the
  /// training pipeline names its own).
  nn::Preprocessing descriptor_preprocessing;
  PipelineNormalize train_normalize, eval_normalize;
  std::optional<nn::Preprocessing> pipeline_preprocessing;
  std::function<std::unique_ptr<data::Loader>(const std::vector<data::Sample>&, const data::LoaderOptions&, const nn::Preprocessing&)>
      train_loader_normalized;
};

/// fine_tune's run over a lowered policy and type-erased parts (see fine_tune below).
FTMETA_DECL FineTuneResult run_fine_tune(const data::Splits& splits, FineTuneOptions options, const PolicyDescriptor& policy,
                                         const FineTuneParts& parts);
/// find_lr's run over a lowered policy and type-erased parts (see find_lr below).
FTMETA_DECL LrFinderResult run_find_lr(const data::Splits& splits, FineTuneOptions options, const LrFinderOptions& finder,
                                       const PolicyDescriptor& policy, const FineTuneParts& parts);

/// `Policy` at input side `Size` as run-time data.
template <FineTunePolicy Policy, int Size>
PolicyDescriptor lower_policy() {
  using BN = typename Policy::batch_norm;
  PolicyDescriptor d;
  d.image_size = Size;
  d.batch_size = Policy::batch_size;
  d.min_steps = Policy::min_steps;
  d.min_epochs = Policy::min_epochs;
  d.batch_norm = BN::mode;
  const bool policy_thresholds = BN::mode == BatchNormMode::automatic;
  d.min_batch = policy_thresholds ? BN::min_batch : AutoStatistics<>::min_batch;
  d.min_images = policy_thresholds ? BN::min_images : AutoStatistics<>::min_images;
  d.label_smoothing = Policy::label_smoothing;
  d.channels_last = Policy::channels_last;
  d.keep_final = Policy::keep_final;
  if constexpr (!std::is_void_v<typename Policy::head_first>) {
    using H = typename Policy::head_first;
    d.head_first = true;
    d.head_steps = H::steps;
    d.head_views = H::views;
    d.head_lr = H::lr;
    d.head_weight_decay = H::weight_decay;
  }
  return d;
}

/// The pipelines of `Policy` at side `Size` for `Net`, and the Trainer of `Net` with the policy's recipe.
template <nn::ModelSpec Net, FineTunePolicy Policy, int Size>
FineTuneParts fine_tune_parts() {
  using TrainPipeline = typename Policy::template train_pipeline<Size, typename Net::backbone>;
  using EvalPipeline = typename Policy::template eval_pipeline<Size, typename Net::backbone>;
  FineTuneParts p;
  p.train_loader = [](const std::vector<data::Sample>& s, const data::LoaderOptions& o) { return data::pipeline_loader<TrainPipeline>(s, o); };
  p.eval_loader = [](const std::vector<data::Sample>& s, const data::LoaderOptions& o) { return data::pipeline_loader<EvalPipeline>(s, o); };
  using Backbone = typename Net::backbone;
  p.descriptor_preprocessing = nn::preprocessing_of<Backbone>();
  p.train_normalize = pipeline_normalize<TrainPipeline, Backbone>();
  p.eval_normalize = pipeline_normalize<EvalPipeline, Backbone>();
  p.pipeline_preprocessing = preprocessing_of_pipeline<EvalPipeline>();
  if constexpr (pipeline_normalize<TrainPipeline, Backbone>().backbone_own)
    p.train_loader_normalized = [norm = p.train_normalize](const std::vector<data::Sample>& s, const data::LoaderOptions& o,
                                                           const nn::Preprocessing& pre) {
      return data::make_loader(std::make_shared<data::FileSource>(s), Renormalized<TrainPipeline>(norm, pre.mean, pre.std),
                               data::output_size_v<TrainPipeline>, o);
    };
  p.make_net = [](std::vector<std::string> names, const TrainOptions& t) {
    auto trainer = std::make_shared<Trainer<Net, typename Policy::recipe>>(std::move(names), t);
    auto& model = *trainer->model();
    FineTuneNet n;
    n.core = &trainer->core();
    n.freeze_batch_norm_statistics = [&model] { model.freeze_batch_norm_statistics("backbone"); };
    n.features = [&model](const torch::Tensor& x) { return model.features(x); };
    n.head = model.head().ptr().get();
    n.head_forward = [&model](const torch::Tensor& x) { return model.head()->forward(x); };
    n.owner = std::move(trainer);
    return n;
  };
  return p;
}

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
  return run_fine_tune(splits, std::move(options), lower_policy<Policy, Size>(), fine_tune_parts<Net, Policy, Size>());
}

/// The learning-rate finder over the run fine_tune would make (same model, recipe, batch and
/// pipeline): lr_find.csv and lr_find.png in options.train.out_dir; the weights are left as they were.
template <nn::ModelSpec Net, FineTunePolicy Policy = DefaultFineTune, int Size = 224>
LrFinderResult find_lr(const data::Splits& splits, FineTuneOptions options, const LrFinderOptions& finder = {}) {
  return run_find_lr(splits, std::move(options), finder, lower_policy<Policy, Size>(), fine_tune_parts<Net, Policy, Size>());
}

}  // namespace ftmeta::train

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/train/impl/fine_tune.ipp>
#endif
