// ftmeta/train/trainer.hpp: Trainer<Model, Recipe>, a thin template per model type over the
// type-erased loop (loop.hpp) and run state (fit_state.hpp): it owns the model and optimizer,
// reports each epoch (RunReport), keeps checkpoints, resumes exactly, and runs data-parallel.
#pragma once

#include <ftmeta/distributed/grad_sync.hpp>
#include <ftmeta/distributed/process_group.hpp>
#include <ftmeta/nn/model.hpp>
#include <ftmeta/optim/optimizer.hpp>
#include <ftmeta/train/amp.hpp>
#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/fit_state.hpp>
#include <ftmeta/train/interrupt.hpp>
#include <ftmeta/train/loop.hpp>
#include <ftmeta/train/lr_finder.hpp>
#include <ftmeta/train/progress.hpp>
#include <ftmeta/train/regularize.hpp>
#include <ftmeta/train/report.hpp>

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
  std::filesystem::path out_dir;     ///< checkpoints, metrics, plots; empty: nothing written
  bool pretrained = true;            ///< load the backbone's pretrained weights
  /// The backbone's initial weights instead (.pth, .safetensors or a hub folder), loaded strictly in
  /// the constructor before anything derives from them (EMA, broadcast, cached features).
  std::filesystem::path weights;
  std::int64_t in_channels = 3;
  std::int64_t image_size = 0;       ///< recorded in checkpoints, so prediction uses the same size
  std::ostream* log = &std::cout;    ///< per-epoch lines and the progress bar; nullptr for silence
  bool progress = true;              ///< a progress bar per epoch on `log` (plain lines unless a terminal)
  Precision precision = Precision::fp32;  ///< autocast of the forward pass; fp16 needs CUDA (with loss scaling)
  bool channels_last = false;        ///< NHWC weights and inputs
  double label_smoothing = 0;        ///< ε of the soft targets
  double mixup_alpha = 0;            ///< mixup's Beta(α, α); 0: off
  double cutmix_alpha = 0;           ///< cutmix's Beta(α, α); 0: off (with mixup: one of them per batch)
  double ema_decay = 0;              ///< a weight average (WeightEma) evaluated alongside; 0: none
  std::int64_t early_stop = 0;       ///< stop after this many epochs without improvement; 0: never
  StopMetric early_stop_metric = StopMetric::val_loss;
  std::int64_t keep_best = 1;        ///< best.pt, plus best-epochN.pt of the k best when k > 1
  std::string split_hash;            ///< of the class map and split; a resumed checkpoint must match it
  std::string preprocessing;         ///< nn::Preprocessing::serialize() of the evaluation, recorded in checkpoints
  std::string run_config;            ///< the run's options as JSON (train/run_config.hpp), recorded in checkpoints
  /// The data-parallel group (distributed::ProcessGroup::from_env()); null or a group of one: a
  /// single process. Every rank builds the same Trainer; rank 0's weights are broadcast, gradients
  /// averaged, metrics summed; only rank 0 writes files and prints.
  std::shared_ptr<distributed::ProcessGroup> group;
  /// Asked after each optimizer step (StopOnSignal::requested): true stops fit() there, saves
  /// out_dir/last.pt with the state to continue the epoch exactly, and throws Interrupted.
  std::function<bool()> stop_requested;
};

namespace detail {
/// Unreadable files the source skipped this epoch, when it counts them.
template <class L>
std::int64_t skipped_of(const L& source) {
  if constexpr (requires { source.stats().skipped; }) return source.stats().skipped;
  return 0;
}
template <class L>
NextBatch next_of(L& loader) {
  return [&loader]() -> std::optional<LoopBatch> {
    auto b = loader.next();
    if (!b) return std::nullopt;
    return LoopBatch{b->images, b->labels};
  };
}
template <class L>
std::int64_t batches_of(const L& source) {
  if constexpr (requires { source.batches_per_epoch(); }) return source.batches_per_epoch();
  return 0;
}
inline void to_channels_last(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters())
    if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
  for (auto& b : m.buffers())
    if (b.dim() == 4) b.set_data(b.data().contiguous(torch::MemoryFormat::ChannelsLast));
}
// A continued epoch's stats: the part before the stop added to the part after it.
inline void add_sums(EpochStats& s, const EpochStats& before) {
  s.loss_sum += before.loss_sum;
  s.correct += before.correct;
  s.samples += before.samples;
  s.steps += before.steps;
  s.seconds += before.seconds;
  s.finalize();
}
inline std::string joined(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size() && i < 12; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > 12) s += ", ... (" + std::to_string(v.size()) + " classes)";
  return s + "]";
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
        model_(seeded_model(options_.seed, static_cast<std::int64_t>(class_names_.size()), options_.in_channels)),
        best_(options_.keep_best) {
    if (options_.precision == Precision::fp16 && !options_.device.is_cuda())
      throw UsageError("--precision fp16: autocast to fp16 needs a CUDA device; on the CPU use bf16 or fp32");
    if (options_.keep_best < 1) throw UsageError("--keep-best " + std::to_string(options_.keep_best) + ": must be at least 1");
    if (options_.ema_decay != 0 && !(options_.ema_decay > 0 && options_.ema_decay < 1))
      throw UsageError("--ema " + std::to_string(options_.ema_decay) + ": the decay must be in (0, 1)");
    if (options_.label_smoothing < 0 || options_.label_smoothing >= 1)
      throw UsageError("--label-smoothing " + std::to_string(options_.label_smoothing) + ": must be in [0, 1)");
    if (options_.mixup_alpha < 0 || options_.cutmix_alpha < 0) throw UsageError("--mixup/--cutmix: alpha must be positive (0: off)");
    if (options_.early_stop < 0) throw UsageError("--early-stop " + std::to_string(options_.early_stop) + ": must be 0 (off) or more");
    if (!options_.weights.empty()) model_->load_pretrained_backbone(options_.weights);
    else if (options_.pretrained) model_->load_pretrained_backbone();
    model_->to(options_.device);
    if (options_.channels_last) detail::to_channels_last(*model_);
    if (group()) group()->broadcast_module(*model_);  // every rank starts from rank 0's weights
    run_ = std::make_unique<optim::RecipeRun>(optim::make_recipe_run<Recipe>(*model_));
    if (options_.precision == Precision::fp16) scaler_ = std::make_unique<GradScaler>(options_.device, true);
    if (options_.ema_decay > 0) ema_ = std::make_unique<WeightEma>(*model_, options_.ema_decay);
    if (group() && group()->distributed()) sync_ = std::make_unique<distributed::GradientSync>(*group(), model_->parameters());
    if (options_.early_stop > 0) stopper_.emplace(options_.early_stop, options_.early_stop_metric == StopMetric::val_acc);
  }

  nn::Classifier<Spec>& model() { return model_; }
  torch::optim::Optimizer& optimizer() { return run_->optimizer(); }
  /// The recipe's state over this run: param groups, phases, schedules.
  optim::RecipeRun& recipe_run() { return *run_; }
  /// The recipe over this model: groups with their parameter counts, schedules, phases.
  std::string describe_recipe() { return optim::describe<Recipe>(*model_); }
  const std::vector<std::string>& class_names() const { return class_names_; }
  /// Every epoch so far, those before a resume included.
  const std::vector<EpochRecord>& history() const { return history_; }
  /// Epochs completed (the next fit() starts after them).
  std::int64_t epochs_done() const { return static_cast<std::int64_t>(history_.size()); }
  /// Whether early stopping ended the run.
  bool stopped_early() const { return stopped_; }
  /// The weight average, when options.ema_decay > 0.
  WeightEma* ema() { return ema_.get(); }
  static std::string model_name() { return Spec::describe(); }
  /// Rank 0 (or a single process): the one that writes files and prints.
  bool is_main() const { return !group() || group()->is_main(); }

  /// Records the head phase (the head fitted on the frozen backbone's cached features, see
  /// fine_tune) as epoch 0: its validation figures become the run's baseline, printed and written
  /// next to every epoch (the lp_val_acc column of metrics.csv/.jsonl, test.json), and its weights,
  /// the current ones, are best.pt until an epoch validates strictly better. Call before fit().
  void record_head_phase(const EpochStats& val) {
    baseline_ = val;
    const auto verdict = best_.add(0, val.accuracy, options_.out_dir, write_files());
    if (write_files() && verdict.best) save_checkpoint(options_.out_dir / "best.pt", *model_, info(0, val.accuracy));
  }
  /// The head phase's validation figures, when record_head_phase() was called (also after resume()).
  const std::optional<EpochStats>& baseline() const { return baseline_; }

  /// Trains until options.epochs (from epochs_done(), so after resume() it continues), validating
  /// after each epoch. Each epoch: torch's generator is seeded from (seed, epoch); the recipe's
  /// phase and lrs are set; the train pass runs with a progress bar; validation gives loss, top-1,
  /// top-5 and the confusion matrix (and the weight average's, with ema). RunReport records it
  /// (metrics.csv, metrics.jsonl, TensorBoard, plots), then last.pt (weights, optimizer, recipe
  /// state, history) and the best k are written atomically. Returns the best validation accuracy.
  template <BatchSource Train, BatchSource Val>
  double fit(Train& train, Val& val) {
    const auto spe = steps_per_epoch(train);
    if (restore_pending_) {
      std::vector<optim::RecipeRun::EpochTrace> traces;
      for (auto& r : history_) traces.push_back({r.train.steps, {r.val.loss, r.val.accuracy}});
      run_->restore(options_.epochs, spe, traces);
      restore_pending_ = false;
    }
    open_report();
    for (std::int64_t epoch = epochs_done() + 1; epoch <= options_.epochs && !stopped_; ++epoch) {
      torch::manual_seed(rank_seed(detail::epoch_seed(options_.seed, epoch)));
      run_->begin_epoch(epoch, options_.epochs, spe);
      EpochRecord r;
      r.epoch = epoch;
      r.lrs = run_->lrs();
      train.start_epoch(epoch);
      std::optional<ProgressBar> bar;
      if (options_.log && options_.progress && is_main())
        bar.emplace(*options_.log, "epoch " + std::to_string(epoch) + "/" + std::to_string(options_.epochs), detail::batches_of(train),
                    options_.log == &std::cout && ProgressBar::stdout_is_tty());
      Progress progress;
      if (bar) progress = [&bar](std::int64_t done, double loss, std::int64_t images) { bar->update(done, loss, images); };
      auto steps = control();
      std::optional<PartialEpoch> cont;  // an epoch a stop request cut: continued where it stood
      if (partial_ && partial_->epoch == epoch) cont = continue_partial(train, steps);
      r.train = train_epoch(*model_, forward_fn(), run_->optimizer(), detail::next_of(train), options_.device, epoch, progress, steps);
      if (bar) bar->finish();
      if (cont && is_main()) detail::add_sums(r.train, cont->stats);
      if (r.train.stopped) stop_at(epoch, r.train, detail::batches_of(train));
      detail::reduce_stats(group(), r.train);
      if (r.train.samples == 0)
        throw DataError("ftmeta: epoch " + std::to_string(epoch) +
                        " trained on no image: the training split holds fewer images than one batch (the loader drops a "
                        "last, smaller batch); use a smaller batch_size");
      if (group()) group()->broadcast_buffers(*model_);  // BatchNorm statistics: rank 0's everywhere
      auto v = evaluate_split(val);
      r.val = v.stats;
      r.val_confusion = v.report.confusion;
      if (ema_) {
        ema_->swap_into(*model_);
        r.ema_val = evaluate_split(val).stats;
        ema_->swap_into(*model_);
      }
      run_->end_epoch({r.val.loss, r.val.accuracy});
      history_.push_back(r);
      const auto skipped = detail::skipped_of(train);
      if (options_.log && is_main()) {
        *options_.log << "epoch " << epoch << "/" << options_.epochs << std::fixed << std::setprecision(4) << "  train loss "
                      << r.train.loss << " acc " << r.train.accuracy << "  val loss " << r.val.loss << " acc " << r.val.accuracy
                      << " top5 " << r.val_confusion.top5_accuracy();
        if (r.ema_val) *options_.log << "  ema val loss " << r.ema_val->loss << " acc " << r.ema_val->accuracy;
        if (baseline_) *options_.log << "  (head phase val acc " << baseline_->accuracy << ")";
        *options_.log << std::setprecision(1) << "  " << r.train.images_per_second() << " img/s, " << r.train.seconds << " s"
                      << (skipped > 0 ? ", skipped " + std::to_string(skipped) + " unreadable file(s)" : std::string()) << std::endl;
      }
      if (report_) report_->epoch(detail::epoch_report(r, skipped));
      const auto verdict = best_.add(epoch, r.val.accuracy, options_.out_dir, write_files());
      if (write_files()) {
        const auto info_now = info(epoch, r.val.accuracy);
        save_checkpoint(options_.out_dir / "last.pt", *model_, info_now, &run_->optimizer(), /*keep_previous=*/true);
        if (verdict.best) save_checkpoint(options_.out_dir / "best.pt", *model_, info_now);
        if (verdict.kept && best_.k() > 1) save_checkpoint(options_.out_dir / best_.name(epoch), *model_, info_now);
      }
      if (stopper_ && stopper_->update(stop_value(r))) {
        stopped_ = true;
        if (options_.log && is_main())
          *options_.log << "early stop: " << (options_.early_stop_metric == StopMetric::val_acc ? "val_acc" : "val_loss")
                        << " has not improved for " << options_.early_stop << " epoch(s) (best " << stopper_->best() << ")"
                        << std::endl;
      }
    }
    if (group()) group()->barrier();  // rank 0's files are written before any rank goes on
    return best_.best();
  }

  /// Continues the run a checkpoint (normally out_dir/last.pt) recorded: weights, optimizer
  /// state, the recipe's phase and schedules (restored at the next fit()), the epoch and history
  /// (metrics files continue), early stopping and the weight average. The data's class map and
  /// split hash must match the checkpoint's (DataError naming both). Returns the epochs done.
  std::int64_t resume(const std::filesystem::path& checkpoint) {
    const auto info = read_checkpoint_info(checkpoint);
    if (info.class_names != class_names_)
      throw DataError("ftmeta: cannot resume from " + checkpoint.string() + ": it was trained on the classes " +
                      detail::joined(info.class_names) + ", the data has " + detail::joined(class_names_));
    if (!options_.split_hash.empty() && !info.split_hash.empty() && info.split_hash != options_.split_hash)
      throw DataError("ftmeta: cannot resume from " + checkpoint.string() + ": it was trained on the split " + info.split_hash +
                      ", the data now gives the split " + options_.split_hash);
    load_checkpoint(checkpoint, *model_, model_name());
    model_->to(options_.device);
    if (options_.channels_last) detail::to_channels_last(*model_);
    if (!load_optimizer_state(checkpoint, run_->optimizer()))
      throw FileError("ftmeta: cannot resume from " + checkpoint.string() + ": it holds no optimizer state (a best.pt? use last.pt)");
    auto [baseline, history] = detail::split_baseline(info.history);
    baseline_ = baseline;
    history_ = detail::parse_history(history, checkpoint.string());
    if (epochs_done() != info.epoch)
      throw FileError("ftmeta: cannot resume from " + checkpoint.string() + ": its history has " + std::to_string(epochs_done()) +
                      " epochs, its header says " + std::to_string(info.epoch));
    best_ = detail::BestCheckpoints(options_.keep_best);
    if (stopper_) stopper_.emplace(options_.early_stop, options_.early_stop_metric == StopMetric::val_acc);
    stopped_ = false;
    if (baseline_) best_.add(0, baseline_->accuracy, {}, false);
    for (auto& r : history_) {
      best_.add(r.epoch, r.val.accuracy, {}, false);
      if (stopper_ && stopper_->update(stop_value(r))) stopped_ = true;
    }
    if (ema_) {
      ema_ = std::make_unique<WeightEma>(*model_, options_.ema_decay);
      const auto& shadow = ema_->parameters();
      if (info.extra.size() == shadow.size()) {
        torch::NoGradGuard no_grad;
        for (std::size_t i = 0; i < shadow.size(); ++i) shadow[i].copy_(info.extra[i]);
      }
    }
    if (scaler_ && !info.scaler.empty()) scaler_->load_state(info.scaler);  // else it starts afresh, as at step 0
    partial_.reset();
    if (!info.partial.empty()) partial_ = PartialEpoch::parse(info.partial, info.generators, checkpoint.string());
    if (group()) group()->broadcast_module(*model_);
    restore_pending_ = true;
    resumed_ = true;
    return epochs_done();
  }

  /// Loss, top-1, top-5 and the confusion matrix of the current weights on a split (summed over
  /// the ranks of a group), without writing anything.
  template <BatchSource Eval>
  SplitReport evaluate_report(Eval& source) {
    return evaluate_split(source).report;
  }
  /// Loss and top-1 accuracy of the current weights on a split.
  template <BatchSource Eval>
  EpochStats evaluate_on(Eval& source) {
    return evaluate_split(source).stats;
  }
  /// The final test: evaluates, writes test.json (overall and per class) and confusion_test.png.
  template <BatchSource Eval>
  SplitReport test(Eval& source) {
    auto r = evaluate_split(source).report;
    if (write_files()) {
      open_report();
      report_->test(r);
    }
    return r;
  }

  /// The learning-rate finder's sweep over training batches (weights and optimizer restored
  /// after); writes lr_find.csv and lr_find.png into out_dir.
  template <BatchSource Train>
  LrFinderResult find_lr(Train& train, const LrFinderOptions& o = {}) {
    torch::manual_seed(detail::epoch_seed(options_.seed, 0));
    run_->begin_epoch(1, options_.epochs, steps_per_epoch(train));
    std::int64_t restarts = 0;
    train.start_epoch(1);
    if (sync_) sync_->set_enabled(false);  // each rank sweeps on its own shard
    auto result = find_learning_rate(*model_, forward_fn(), run_->optimizer(), detail::next_of(train),
                                     [&] { train.start_epoch(1 + ++restarts); }, options_.device, o);
    if (sync_) sync_->set_enabled(true);
    if (write_files()) {
      std::filesystem::create_directories(options_.out_dir);
      std::ofstream csv(options_.out_dir / "lr_find.csv");
      csv << "lr,smoothed_loss\n";
      for (std::size_t i = 0; i < result.lrs.size(); ++i) csv << detail::exact(result.lrs[i]) << ',' << detail::exact(result.losses[i]) << '\n';
      plot_lr_finder(options_.out_dir / "lr_find.png", result);
    }
    return result;
  }

  /// Makes the current weights best.pt (after fit, for a policy that keeps its final weights),
  /// recorded with the last epoch and its validation accuracy.
  void save_as_best() {
    if (!write_files()) return;
    const auto epoch = epochs_done();
    save_checkpoint(options_.out_dir / "best.pt", *model_, info(epoch, history_.empty() ? 0.0 : history_.back().val.accuracy));
  }

  /// Restores the weights of best.pt (after fit) for testing.
  void load_best() {
    if (!options_.out_dir.empty() && std::filesystem::exists(options_.out_dir / "best.pt")) {
      if (group()) group()->barrier();
      load_checkpoint(options_.out_dir / "best.pt", *model_, model_name());
      model_->to(options_.device);
      if (options_.channels_last) detail::to_channels_last(*model_);
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
    i.split_hash = options_.split_hash;
    i.preprocessing = options_.preprocessing;
    i.run_config = options_.run_config;
    i.history = detail::baseline_text(baseline_) + detail::history_text(history_);
    if (ema_) i.extra = ema_->parameters();
    if (scaler_) i.scaler = scaler_->state();
    return i;
  }

 private:
  struct Evaluated {
    EpochStats stats;
    SplitReport report;
  };

  // The head's initial weights are a function of the seed.
  static nn::Classifier<Spec> seeded_model(std::uint64_t seed, std::int64_t classes, std::int64_t channels) {
    torch::manual_seed(seed);
    return nn::Classifier<Spec>(classes, nn::ModelOptions{channels});
  }
  // Optimizer steps per epoch, when the source knows its batch count (else 0).
  template <class L>
  static std::int64_t steps_per_epoch(const L& source) {
    const std::int64_t batches = detail::batches_of(source);
    return (batches + Recipe::accumulate - 1) / Recipe::accumulate;
  }
  distributed::ProcessGroup* group() const { return options_.group.get(); }
  bool write_files() const { return !options_.out_dir.empty() && is_main(); }
  // Each rank draws its own dropout masks and mixing: the same (seed, epoch) stream would give
  // every rank's row i the same mask. Rank 0 (and a single process) keeps the plain seed.
  std::uint64_t rank_seed(std::uint64_t s) const {
    const auto rank = group() ? static_cast<std::int64_t>(group()->rank()) : 0;
    return rank == 0 ? s : detail::epoch_seed(s, rank);
  }
  double stop_value(const EpochRecord& r) const {
    return options_.early_stop_metric == StopMetric::val_acc ? r.val.accuracy : r.val.loss;
  }
  void open_report() {
    if (report_ || !write_files()) return;
    std::vector<std::string> groups;
    for (auto& g : run_->groups()) groups.push_back(detail::column_name(g.name));
    if (resumed_) detail::truncate_metrics(options_.out_dir, epochs_done());
    report_ = std::make_unique<RunReport>(options_.out_dir, class_names_, groups, resumed_, options_.ema_decay > 0,
                                          baseline_ ? std::optional<double>(baseline_->accuracy) : std::nullopt);
    if (resumed_) {
      std::vector<EpochReport> earlier;
      for (auto& r : history_) earlier.push_back(detail::epoch_report(r));
      report_->restore(std::move(earlier));
    }
  }
  StepControl control() {
    StepControl c;
    c.accumulate = Recipe::accumulate;
    c.clip_grad_norm = Recipe::clip_grad_norm;
    c.clip_grad_value = Recipe::clip_grad_value;
    c.after_step = [this] {
      run_->after_step();
      if (ema_) ema_->update(*model_);
    };
    c.scaler = scaler_.get();
    c.classes = static_cast<std::int64_t>(class_names_.size());
    c.label_smoothing = options_.label_smoothing;
    c.mixup_alpha = options_.mixup_alpha;
    c.cutmix_alpha = options_.cutmix_alpha;
    c.mix_seed = rank_seed(detail::epoch_seed(options_.seed, -1));
    if (sync_) {
      c.sync_enabled = [this](bool on) { sync_->set_enabled(on); };
      c.sync_finish = [this] { sync_->finish(); };
    }
    if (options_.stop_requested)  // every rank stops at the same step: any rank's request counts
      c.stop_requested = [this] {
        const bool mine = options_.stop_requested();
        if (!group() || !group()->distributed()) return mine;
        return group()->sum(std::vector<std::int64_t>{mine ? 1 : 0})[0] > 0;
      };
    return c;
  }
  // Continues an epoch a stop request cut: its trained batches are drawn and dropped (the loader
  // gives the same batches at the same positions), the recipe replays its steps, torch's generator
  // is put back, and the loop numbers its batches from there.
  template <class L>
  std::optional<PartialEpoch> continue_partial(L& train, StepControl& steps) {
    PartialEpoch p = std::move(*partial_);
    partial_.reset();
    for (std::int64_t b = 0; b < p.batches; ++b)
      if (!train.next()) throw DataError("ftmeta: cannot continue epoch " + std::to_string(p.epoch) + ": the data has fewer than " +
                                         std::to_string(p.batches) + " batches now");
    for (std::int64_t i = 0; i < p.stats.steps; ++i) run_->after_step();
    set_generator_states(p.generators, options_.device);
    steps.first_batch = p.batches;
    return p;
  }
  // A stop request ended the epoch at a step boundary: last.pt gets the state to continue it.
  void stop_at(std::int64_t epoch, const EpochStats& trained, std::int64_t batches_per_epoch) {
    PartialEpoch p{epoch, trained.batches, trained, generator_states(options_.device)};
    detail::reduce_stats(group(), p.stats);  // the sums over all ranks: rank 0 adds them back
    std::filesystem::path saved;
    if (write_files()) {
      auto i = info(epoch - 1, history_.empty() ? 0.0 : history_.back().val.accuracy);
      i.partial = p.text();
      i.generators = p.generators;
      saved = options_.out_dir / "last.pt";
      save_checkpoint(saved, *model_, i, &run_->optimizer(), /*keep_previous=*/true);
    }
    if (group()) group()->barrier();
    throw Interrupted("stopped on request in epoch " + std::to_string(epoch) + " after batch " + std::to_string(p.batches) +
                          (batches_per_epoch > 0 ? " of " + std::to_string(batches_per_epoch) : std::string()) +
                          (saved.empty() ? std::string(" (nothing saved: no out_dir)") : "; saved " + saved.string()),
                      saved, epoch, p.batches);
  }
  template <class Eval>
  Evaluated evaluate_split(Eval& source) {
    source.start_epoch(0);
    Evaluated e;
    e.report.confusion.reset(static_cast<std::int64_t>(class_names_.size()));
    e.stats = evaluate(*model_, forward_fn(), detail::next_of(source), options_.device,
                       [&](const torch::Tensor& logits, const torch::Tensor& labels) { add_batch(e.report.confusion, logits, labels); });
    detail::reduce_stats(group(), e.stats);
    detail::reduce_confusion(group(), e.report.confusion);
    e.report.loss = e.stats.loss;
    e.report.samples = e.stats.samples;
    e.report.seconds = e.stats.seconds;
    return e;
  }
  Forward forward_fn() {
    return [this](const torch::Tensor& x) {
      AutocastScope autocast(options_.device, options_.precision);
      return model_->forward(options_.channels_last && x.dim() == 4 ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x);
    };
  }

  std::vector<std::string> class_names_;
  TrainOptions options_;
  nn::Classifier<Spec> model_;
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
