// ftmeta/train/trainer_core.hpp: the non-template core of every Trainer<Model, Recipe>: fit, resume,
// test, find_lr and checkpoints over a type-erased model (TrainerModel), a recipe lowered to a
// RecipeDescriptor and batch sources behind SourceRef. Compiled inline (header-only) or once, in
// ftmeta::core (FTMETA_SEPARATE_COMPILATION, core/config.hpp).
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/distributed/grad_sync.hpp>
#include <ftmeta/distributed/process_group.hpp>
#include <ftmeta/optim/descriptor.hpp>
#include <ftmeta/optim/optimizer.hpp>
#include <ftmeta/train/amp.hpp>
#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/fit_state.hpp>
#include <ftmeta/train/interrupt.hpp>
#include <ftmeta/train/loop.hpp>
#include <ftmeta/train/lr_finder.hpp>
#include <ftmeta/train/options.hpp>
#include <ftmeta/train/regularize.hpp>
#include <ftmeta/train/report.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ftmeta::train {

/// A source of batches (ftmeta::data::Loader is one): `start_epoch(e)`, then `next()` until it
/// returns an empty optional; each batch has `.images` (float [B,C,H,W]) and `.labels` (int64 [B]).
template <class L>
concept BatchSource = requires(L& l, std::int64_t e) {
  l.start_epoch(e);
  { l.next() };
  l.next()->images;
  l.next()->labels;
};

/// A batch source with its type erased: what the core trains and evaluates on.
struct SourceRef {
  std::function<void(std::int64_t)> start_epoch;
  NextBatch next;
  std::function<std::int64_t()> batches_per_epoch;  ///< 0: unknown
  std::function<std::int64_t()> skipped;            ///< unreadable files skipped this epoch
};

/// `source` behind a SourceRef (which refers to it).
template <BatchSource L>
SourceRef source_ref(L& source) {
  SourceRef r;
  r.start_epoch = [&source](std::int64_t e) { source.start_epoch(e); };
  r.next = [&source]() -> std::optional<LoopBatch> {
    auto b = source.next();
    if (!b) return std::nullopt;
    return LoopBatch{b->images, b->labels};
  };
  r.batches_per_epoch = [&source]() -> std::int64_t {
    if constexpr (requires { source.batches_per_epoch(); }) return source.batches_per_epoch();
    return 0;
  };
  r.skipped = [&source]() -> std::int64_t {
    if constexpr (requires { source.stats().skipped; }) return source.stats().skipped;
    return 0;
  };
  return r;
}

/// A classifier with its type erased: the module, its name in checkpoints, its forward pass, how
/// its backbone loads initial weights (an empty path: the bundled pretrained ones), and its parts.
struct TrainerModel {
  std::shared_ptr<torch::nn::Module> module;
  std::string name;
  Forward forward;
  std::function<void(const std::filesystem::path&)> load_backbone;
  optim::ModelParts parts;
};

/// The run of one model and recipe, both type-erased: everything a Trainer does (see trainer.hpp).
class TrainerCore {
 public:
  /// Checks the options, loads the initial weights, places the model and builds the optimizer.
  FTMETA_DECL TrainerCore(std::vector<std::string> class_names, TrainOptions options, TrainerModel model, optim::RecipeDescriptor recipe);
  FTMETA_DECL ~TrainerCore();
  TrainerCore(const TrainerCore&) = delete;
  TrainerCore& operator=(const TrainerCore&) = delete;

  torch::nn::Module& module() { return *model_.module; }
  torch::optim::Optimizer& optimizer() { return run_->optimizer(); }
  optim::RecipeRun& recipe_run() { return *run_; }
  const optim::RecipeDescriptor& recipe() const { return recipe_; }
  FTMETA_DECL std::string describe_recipe();
  const TrainOptions& options() const { return options_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  std::int64_t epochs_done() const { return static_cast<std::int64_t>(history_.size()); }
  bool stopped_early() const { return stopped_; }
  WeightEma* ema() { return ema_.get(); }
  const std::string& model_name() const { return model_.name; }
  bool is_main() const { return !group() || group()->is_main(); }

  FTMETA_DECL void record_head_phase(const EpochStats& val);
  const std::optional<EpochStats>& baseline() const { return baseline_; }
  FTMETA_DECL double fit(const SourceRef& train, const SourceRef& val);
  FTMETA_DECL std::int64_t resume(const std::filesystem::path& checkpoint);
  FTMETA_DECL SplitReport evaluate_report(const SourceRef& source);
  FTMETA_DECL EpochStats evaluate_on(const SourceRef& source);
  FTMETA_DECL SplitReport test(const SourceRef& source);
  FTMETA_DECL LrFinderResult find_lr(const SourceRef& train, const LrFinderOptions& o);
  FTMETA_DECL void save_as_best();
  FTMETA_DECL void load_best();
  FTMETA_DECL CheckpointInfo info(std::int64_t epoch, double metric) const;

 private:
  struct Evaluated {
    EpochStats stats;
    SplitReport report;
  };
  FTMETA_DECL std::int64_t steps_per_epoch(const SourceRef& source) const;
  distributed::ProcessGroup* group() const { return options_.group.get(); }
  bool write_files() const { return !options_.out_dir.empty() && is_main(); }
  FTMETA_DECL std::uint64_t rank_seed(std::uint64_t s) const;
  FTMETA_DECL double stop_value(const EpochRecord& r) const;
  FTMETA_DECL void place_model();
  FTMETA_DECL void open_report();
  FTMETA_DECL StepControl control();
  FTMETA_DECL std::optional<PartialEpoch> continue_partial(const SourceRef& train, StepControl& steps);
  FTMETA_DECL void stop_at(std::int64_t epoch, const EpochStats& trained, std::int64_t batches_per_epoch);
  FTMETA_DECL Evaluated evaluate_split(const SourceRef& source);
  FTMETA_DECL Forward forward_fn();

  std::vector<std::string> class_names_;
  TrainOptions options_;
  TrainerModel model_;
  optim::RecipeDescriptor recipe_;
  std::unique_ptr<optim::RecipeRun> run_;
  std::unique_ptr<GradScaler> scaler_;
  std::unique_ptr<WeightEma> ema_;
  std::unique_ptr<distributed::GradientSync> sync_;
  std::optional<EarlyStopping> stopper_;
  detail::BestCheckpoints best_;
  std::unique_ptr<RunReport> report_;
  std::vector<EpochRecord> history_;
  std::optional<EpochStats> baseline_;
  std::optional<PartialEpoch> partial_;  // from resume(): an epoch to continue mid-way
  bool stopped_ = false, restore_pending_ = false, resumed_ = false;
};

}  // namespace ftmeta::train

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/train/impl/trainer_core.ipp>
#endif
