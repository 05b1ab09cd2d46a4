// ftmeta/train/trainer.hpp: Trainer<Model, Recipe>, the thin typed shell of a run: it builds the
// model of its spec and lowers its recipe to a descriptor, then hands both, type-erased, to the
// non-template TrainerCore (trainer_core.hpp), which trains, reports each epoch (RunReport), keeps
// checkpoints, resumes exactly, and runs data-parallel.
#pragma once

#include <ftmeta/nn/model.hpp>
#include <ftmeta/optim/optimizer.hpp>
#include <ftmeta/train/trainer_core.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::train {

/// The generic training loop, instantiated per model type:
/// `Trainer<Net, Recipe> trainer(class_names, options); trainer.fit(train_loader, val_loader);`
template <nn::ModelSpec Spec, class Recipe>
class Trainer {
 public:
  Trainer(std::vector<std::string> class_names, TrainOptions options)
      : model_(seeded_model(options.seed, static_cast<std::int64_t>(class_names.size()), options.in_channels)),
        core_(std::move(class_names), std::move(options), erased(model_),
              optim::recipe_descriptor<Recipe, nn::ClassifierImpl<Spec>>()) {}

  nn::Classifier<Spec>& model() { return model_; }
  torch::optim::Optimizer& optimizer() { return core_.optimizer(); }
  /// The recipe's state over this run: param groups, phases, schedules.
  optim::RecipeRun& recipe_run() { return core_.recipe_run(); }
  /// The recipe over this model: groups with their parameter counts, schedules, phases.
  std::string describe_recipe() { return core_.describe_recipe(); }
  const std::vector<std::string>& class_names() const { return core_.class_names(); }
  /// Every epoch so far, those before a resume included.
  const std::vector<EpochRecord>& history() const { return core_.history(); }
  /// Epochs completed (the next fit() starts after them).
  std::int64_t epochs_done() const { return core_.epochs_done(); }
  /// Whether early stopping ended the run.
  bool stopped_early() const { return core_.stopped_early(); }
  /// The weight average, when options.ema_decay > 0.
  WeightEma* ema() { return core_.ema(); }
  static std::string model_name() { return Spec::describe(); }
  /// Rank 0 (or a single process): the one that writes files and prints.
  bool is_main() const { return core_.is_main(); }
  /// The type-erased run under this shell.
  TrainerCore& core() { return core_; }

  /// Records the head phase (the head fitted on the frozen backbone's cached features, see
  /// fine_tune) as epoch 0: its validation figures become the run's baseline, printed and written
  /// next to every epoch (the lp_val_acc column of metrics.csv/.jsonl, test.json), and its weights,
  /// the current ones, are best.pt until an epoch validates strictly better. Call before fit().
  void record_head_phase(const EpochStats& val) { core_.record_head_phase(val); }
  /// The head phase's validation figures, when record_head_phase() was called (also after resume()).
  const std::optional<EpochStats>& baseline() const { return core_.baseline(); }

  /// Trains until options.epochs (from epochs_done(), so after resume() it continues), validating
  /// after each epoch. Each epoch: torch's generator is seeded from (seed, epoch); the recipe's
  /// phase and lrs are set; the train pass runs with a progress bar; validation gives loss, top-1,
  /// top-5 and the confusion matrix (and the weight average's, with ema). RunReport records it
  /// (metrics.csv, metrics.jsonl, TensorBoard, plots), then last.pt (weights, optimizer, recipe
  /// state, history) and the best k are written atomically. Returns the best validation accuracy.
  template <BatchSource Train, BatchSource Val>
  double fit(Train& train, Val& val) {
    return core_.fit(source_ref(train), source_ref(val));
  }

  /// Continues the run a checkpoint (normally out_dir/last.pt) recorded: weights, optimizer
  /// state, the recipe's phase and schedules (restored at the next fit()), the epoch and history
  /// (metrics files continue), early stopping and the weight average. The data's class map and
  /// split hash must match the checkpoint's (DataError naming both). Returns the epochs done.
  std::int64_t resume(const std::filesystem::path& checkpoint) { return core_.resume(checkpoint); }

  /// Loss, top-1, top-5 and the confusion matrix of the current weights on a split (summed over
  /// the ranks of a group), without writing anything.
  template <BatchSource Eval>
  SplitReport evaluate_report(Eval& source) {
    return core_.evaluate_report(source_ref(source));
  }
  /// Loss and top-1 accuracy of the current weights on a split.
  template <BatchSource Eval>
  EpochStats evaluate_on(Eval& source) {
    return core_.evaluate_on(source_ref(source));
  }
  /// The final test: evaluates, writes test.json (overall and per class) and confusion_test.png.
  template <BatchSource Eval>
  SplitReport test(Eval& source) {
    return core_.test(source_ref(source));
  }

  /// The learning-rate finder's sweep over training batches (weights and optimizer restored
  /// after); writes lr_find.csv and lr_find.png into out_dir.
  template <BatchSource Train>
  LrFinderResult find_lr(Train& train, const LrFinderOptions& o = {}) {
    return core_.find_lr(source_ref(train), o);
  }

  /// Makes the current weights best.pt (after fit, for a policy that keeps its final weights),
  /// recorded with the last epoch and its validation accuracy.
  void save_as_best() { core_.save_as_best(); }
  /// Restores the weights of best.pt (after fit) for testing.
  void load_best() { core_.load_best(); }
  CheckpointInfo info(std::int64_t epoch, double metric) const { return core_.info(epoch, metric); }

 private:
  // The head's initial weights are a function of the seed.
  static nn::Classifier<Spec> seeded_model(std::uint64_t seed, std::int64_t classes, std::int64_t channels) {
    torch::manual_seed(seed);
    return nn::Classifier<Spec>(classes, nn::ModelOptions{channels});
  }
  // The model as the core sees it; `model` (a holder of the same module as model_) outlives the core.
  static TrainerModel erased(nn::Classifier<Spec>& model) {
    auto& impl = *model;
    return {model.ptr(), Spec::describe(), [&impl](const torch::Tensor& x) { return impl.forward(x); },
            [&impl](const std::filesystem::path& weights) {
              if (weights.empty()) impl.load_pretrained_backbone();
              else impl.load_pretrained_backbone(weights);
            },
            optim::model_parts(impl)};
  }

  nn::Classifier<Spec> model_;  // before core_: built (seeded) first
  TrainerCore core_;
};

}  // namespace ftmeta::train
