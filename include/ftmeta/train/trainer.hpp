// ftmeta/train/trainer.hpp: Trainer<Model, Recipe>, a thin template per model type over the
// type-erased loop: it owns the model and optimizer, logs each epoch to CSV, keeps checkpoints.
#pragma once

#include <ftmeta/nn/model.hpp>
#include <ftmeta/optim/optimizer.hpp>
#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/loop.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
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

/// Settings of a run that are runtime values.
struct TrainOptions {
  std::int64_t epochs = 2;
  torch::Device device = torch::kCPU;
  std::uint64_t seed = 0;
  std::filesystem::path out_dir;     ///< checkpoints and metrics.csv; empty: nothing written
  bool pretrained = true;            ///< load the backbone's pretrained weights
  std::int64_t in_channels = 3;
  std::int64_t image_size = 0;       ///< recorded in checkpoints, so prediction uses the same size
  std::ostream* log = &std::cout;    ///< per-epoch lines; nullptr for silence
};

/// One line of metrics.csv.
struct EpochRecord {
  std::int64_t epoch = 0;
  EpochStats train, val;
  std::vector<double> lrs;
};

namespace detail {
/// ", skipped N bad files" when the source counts skipped samples and skipped some this epoch.
template <class L>
std::string skipped_note(const L& source) {
  if constexpr (requires { source.stats().skipped; }) {
    const auto n = source.stats().skipped;
    if (n > 0) return ", skipped " + std::to_string(n) + " unreadable file(s)";
  }
  return {};
}

template <class L>
NextBatch next_of(L& loader) {
  return [&loader]() -> std::optional<LoopBatch> {
    auto b = loader.next();
    if (!b) return std::nullopt;
    return LoopBatch{b->images, b->labels};
  };
}
inline void write_csv_header(std::ostream& out, std::size_t groups) {
  out << "epoch,train_loss,train_acc,val_loss,val_acc";
  for (std::size_t g = 0; g < groups; ++g) out << ",lr_group" << g;
  out << ",train_seconds,train_images_per_s\n";
}
inline void write_csv_row(std::ostream& out, const EpochRecord& r) {
  out << r.epoch << std::setprecision(6) << ',' << r.train.loss << ',' << r.train.accuracy << ',' << r.val.loss << ','
      << r.val.accuracy;
  for (double lr : r.lrs) out << ',' << lr;
  out << ',' << r.train.seconds << ',' << r.train.images_per_second() << '\n';
}
}  // namespace detail

/// The generic training loop, instantiated per model type:
/// `Trainer<Net, Recipe> trainer(class_names, options); trainer.fit(train_loader, val_loader);`
template <nn::ModelSpec Spec, class Recipe>
class Trainer {
 public:
  Trainer(std::vector<std::string> class_names, TrainOptions options)
      : class_names_(std::move(class_names)),
        options_(std::move(options)),
        model_(seeded_model(options_.seed, static_cast<std::int64_t>(class_names_.size()), options_.in_channels)) {
    if (options_.pretrained) model_->load_pretrained_backbone();
    model_->to(options_.device);
    run_ = std::make_unique<optim::RecipeRun>(optim::make_recipe_run<Recipe>(*model_));
  }

  nn::Classifier<Spec>& model() { return model_; }
  torch::optim::Optimizer& optimizer() { return run_->optimizer(); }
  /// The recipe's state over this run: param groups, phases, schedules.
  optim::RecipeRun& recipe_run() { return *run_; }
  /// The recipe over this model: groups with their parameter counts, schedules, phases.
  std::string describe_recipe() { return optim::describe<Recipe>(*model_); }
  const std::vector<std::string>& class_names() const { return class_names_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  static std::string model_name() { return Spec::describe(); }

  /// Trains for options.epochs, validating after each; writes metrics.csv, last.pt and best.pt
  /// (by validation accuracy) into out_dir. Returns the best validation accuracy. The recipe's
  /// phases switch at epoch boundaries; its schedules step per optimizer step or per epoch (after
  /// validation), as each says; gradients are clipped and accumulated as it declares. The lr of
  /// every param group at the start of each epoch goes to metrics.csv.
  template <BatchSource Train, BatchSource Val>
  double fit(Train& train, Val& val) {
    std::ofstream csv;
    if (!options_.out_dir.empty()) {
      std::filesystem::create_directories(options_.out_dir);
      csv.open(options_.out_dir / "metrics.csv");
      detail::write_csv_header(csv, run_->optimizer().param_groups().size());
    }
    double best = -1;
    for (std::int64_t epoch = 1; epoch <= options_.epochs; ++epoch) {
      EpochRecord r;
      r.epoch = epoch;
      run_->begin_epoch(epoch, options_.epochs, steps_per_epoch(train));
      r.lrs = run_->lrs();
      train.start_epoch(epoch);
      StepControl control{Recipe::accumulate, Recipe::clip_grad_norm, Recipe::clip_grad_value, [this] { run_->after_step(); }};
      r.train = train_epoch(*model_, forward_fn(), run_->optimizer(), detail::next_of(train), options_.device, epoch, {}, control);
      val.start_epoch(0);
      r.val = evaluate(*model_, forward_fn(), detail::next_of(val), options_.device);
      run_->end_epoch({r.val.loss, r.val.accuracy});
      history_.push_back(r);
      if (options_.log)
        *options_.log << "epoch " << epoch << "/" << options_.epochs << std::fixed << std::setprecision(4) << "  train loss "
                      << r.train.loss << " acc " << r.train.accuracy << "  val loss " << r.val.loss << " acc " << r.val.accuracy
                      << std::setprecision(1) << "  " << r.train.images_per_second() << " img/s, " << r.train.seconds << " s"
                      << detail::skipped_note(train) << std::endl;
      if (csv.is_open()) {
        detail::write_csv_row(csv, r);
        csv.flush();
      }
      if (!options_.out_dir.empty()) {
        save_checkpoint(options_.out_dir / "last.pt", *model_, info(epoch, r.val.accuracy));
        if (r.val.accuracy > best) save_checkpoint(options_.out_dir / "best.pt", *model_, info(epoch, r.val.accuracy));
      }
      best = std::max(best, r.val.accuracy);
    }
    return best;
  }

  /// Loss and top-1 accuracy of the current weights on a split.
  template <BatchSource Eval>
  EpochStats evaluate_on(Eval& source) {
    source.start_epoch(0);
    return evaluate(*model_, forward_fn(), detail::next_of(source), options_.device);
  }

  /// Restores the weights of best.pt (after fit) for testing.
  void load_best() {
    if (!options_.out_dir.empty() && std::filesystem::exists(options_.out_dir / "best.pt")) {
      load_checkpoint(options_.out_dir / "best.pt", *model_, model_name());
      model_->to(options_.device);
    }
  }

  CheckpointInfo info(std::int64_t epoch, double metric) const {
    CheckpointInfo i;
    i.class_names = class_names_;
    i.model = model_name();
    i.epoch = epoch;
    i.metric = metric;
    i.image_size = options_.image_size;
    i.step = run_->steps();
    i.phase = std::max<std::int64_t>(run_->phase(), 0);
    return i;
  }

 private:
  // The head's initial weights are a function of the seed.
  static nn::Classifier<Spec> seeded_model(std::uint64_t seed, std::int64_t classes, std::int64_t channels) {
    torch::manual_seed(seed);
    return nn::Classifier<Spec>(classes, nn::ModelOptions{channels});
  }
  // Optimizer steps per epoch, when the source knows its batch count (else 0).
  template <class L>
  static std::int64_t steps_per_epoch(const L& source) {
    if constexpr (requires { source.batches_per_epoch(); }) {
      const std::int64_t batches = source.batches_per_epoch();
      return (batches + Recipe::accumulate - 1) / Recipe::accumulate;
    } else {
      return 0;
    }
  }
  Forward forward_fn() {
    return [this](const torch::Tensor& x) { return model_->forward(x); };
  }

  std::vector<std::string> class_names_;
  TrainOptions options_;
  nn::Classifier<Spec> model_;
  std::unique_ptr<optim::RecipeRun> run_;
  std::vector<EpochRecord> history_;
};

}  // namespace ftmeta::train
