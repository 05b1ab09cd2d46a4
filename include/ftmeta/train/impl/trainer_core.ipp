// ftmeta/train/impl/trainer_core.ipp: the definitions of TrainerCore (trainer_core.hpp): included by
// that header when header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION.
#pragma once

#include <ftmeta/train/plots.hpp>
#include <ftmeta/train/progress.hpp>
#include <ftmeta/train/run_config.hpp>
#include <ftmeta/train/trainer_core.hpp>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>

namespace ftmeta::train {
namespace detail {
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

FTMETA_DECL TrainerCore::TrainerCore(std::vector<std::string> class_names, TrainOptions options, TrainerModel model,
                                     optim::RecipeDescriptor recipe)
    : class_names_(std::move(class_names)),
      options_(std::move(options)),
      model_(std::move(model)),
      recipe_(std::move(recipe)),
      best_(options_.keep_best) {
  if (options_.run_config.empty()) options_.run_config = run_config_json(options_);  // fine_tune records its own
  if (options_.precision == Precision::fp16 && !options_.device.is_cuda())
    throw UsageError("TrainOptions::precision fp16: autocast to fp16 needs a CUDA device; on the CPU use bf16 or fp32");
  if (options_.keep_best < 1) throw UsageError("TrainOptions::keep_best " + std::to_string(options_.keep_best) + ": must be at least 1");
  if (options_.ema_decay != 0 && !(options_.ema_decay > 0 && options_.ema_decay < 1))
    throw UsageError("TrainOptions::ema_decay " + std::to_string(options_.ema_decay) + ": the decay must be in (0, 1)");
  if (options_.label_smoothing < 0 || options_.label_smoothing >= 1)
    throw UsageError("TrainOptions::label_smoothing " + std::to_string(options_.label_smoothing) + ": must be in [0, 1)");
  if (options_.mixup_alpha < 0 || options_.cutmix_alpha < 0) throw UsageError("TrainOptions::mixup_alpha/cutmix_alpha: must be positive (0: off)");
  if (options_.early_stop < 0) throw UsageError("TrainOptions::early_stop " + std::to_string(options_.early_stop) + ": must be 0 (off) or more");
  if (!options_.weights.empty()) model_.load_backbone(options_.weights);
  else if (options_.pretrained) model_.load_backbone({});
  place_model();
  if (group()) group()->broadcast_module(module());  // every rank starts from rank 0's weights
  run_ = std::make_unique<optim::RecipeRun>(optim::make_recipe_run(recipe_, model_.parts));
  if (options_.precision == Precision::fp16) scaler_ = std::make_unique<GradScaler>(options_.device, true);
  if (options_.ema_decay > 0) ema_ = std::make_unique<WeightEma>(module(), options_.ema_decay);
  if (group() && group()->distributed()) sync_ = std::make_unique<distributed::GradientSync>(*group(), module().parameters());
  if (options_.early_stop > 0) stopper_.emplace(options_.early_stop, options_.early_stop_metric == StopMetric::val_acc);
}

FTMETA_DECL TrainerCore::~TrainerCore() = default;

FTMETA_DECL std::string TrainerCore::describe_recipe() { return optim::describe_recipe(recipe_, model_.parts); }

FTMETA_DECL void TrainerCore::record_head_phase(const EpochStats& val) {
  baseline_ = val;
  const auto verdict = best_.add(0, val.accuracy, options_.out_dir, write_files());
  if (write_files() && verdict.best) save_checkpoint(options_.out_dir / "best.pt", module(), info(0, val.accuracy));
}

FTMETA_DECL double TrainerCore::fit(const SourceRef& train, const SourceRef& val) {
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
      bar.emplace(*options_.log, "epoch " + std::to_string(epoch) + "/" + std::to_string(options_.epochs), train.batches_per_epoch(),
                  options_.log == &std::cout && ProgressBar::stdout_is_tty());
    Progress progress;
    if (bar) progress = [&bar](std::int64_t done, double loss, std::int64_t images) { bar->update(done, loss, images); };
    auto steps = control();
    std::optional<PartialEpoch> cont;  // an epoch a stop request cut: continued where it stood
    if (partial_ && partial_->epoch == epoch) cont = continue_partial(train, steps);
    r.train = train_epoch(module(), forward_fn(), run_->optimizer(), train.next, options_.device, epoch, progress, steps);
    if (bar) bar->finish();
    if (cont && is_main()) detail::add_sums(r.train, cont->stats);
    if (r.train.stopped) stop_at(epoch, r.train, train.batches_per_epoch());
    detail::reduce_stats(group(), r.train);
    if (r.train.samples == 0)
      throw DataError("ftmeta: epoch " + std::to_string(epoch) +
                      " trained on no image: the training split holds fewer images than one batch (the loader drops a "
                      "last, smaller batch); use a smaller batch_size");
    if (group()) group()->broadcast_buffers(module());  // BatchNorm statistics: rank 0's everywhere
    auto v = evaluate_split(val);
    r.val = v.stats;
    r.val_confusion = v.report.confusion;
    if (ema_) {
      ema_->swap_into(module());
      r.ema_val = evaluate_split(val).stats;
      ema_->swap_into(module());
    }
    run_->end_epoch({r.val.loss, r.val.accuracy});
    history_.push_back(r);
    const auto skipped = train.skipped();
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
      save_checkpoint(options_.out_dir / "last.pt", module(), info_now, &run_->optimizer(), /*keep_previous=*/true);
      if (verdict.best) save_checkpoint(options_.out_dir / "best.pt", module(), info_now);
      if (verdict.kept && best_.k() > 1) save_checkpoint(options_.out_dir / best_.name(epoch), module(), info_now);
    }
    if (stopper_ && stopper_->update(stop_value(r))) {
      stopped_ = true;
      if (options_.log && is_main())
        *options_.log << "early stop: " << (options_.early_stop_metric == StopMetric::val_acc ? "val_acc" : "val_loss")
                      << " has not improved for " << options_.early_stop << " epoch(s) (best " << stopper_->best() << ")" << std::endl;
    }
  }
  if (group()) group()->barrier();  // rank 0's files are written before any rank goes on
  return best_.best();
}

FTMETA_DECL std::int64_t TrainerCore::resume(const std::filesystem::path& checkpoint) {
  const auto info = read_checkpoint_info(checkpoint);
  if (info.class_names != class_names_)
    throw DataError("ftmeta: cannot resume from " + checkpoint.string() + ": it was trained on the classes " +
                    detail::joined(info.class_names) + ", the data has " + detail::joined(class_names_));
  if (!options_.split_hash.empty() && !info.split_hash.empty() && info.split_hash != options_.split_hash)
    throw DataError("ftmeta: cannot resume from " + checkpoint.string() + ": it was trained on the split " + info.split_hash +
                    ", the data now gives the split " + options_.split_hash);
  load_checkpoint(checkpoint, module(), model_name());
  place_model();
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
    ema_ = std::make_unique<WeightEma>(module(), options_.ema_decay);
    const auto& shadow = ema_->parameters();
    if (info.extra.size() == shadow.size()) {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < shadow.size(); ++i) shadow[i].copy_(info.extra[i]);
    }
  }
  if (scaler_ && !info.scaler.empty()) scaler_->load_state(info.scaler);  // else it starts afresh, as at step 0
  partial_.reset();
  if (!info.partial.empty()) partial_ = PartialEpoch::parse(info.partial, info.generators, checkpoint.string());
  if (group()) group()->broadcast_module(module());
  restore_pending_ = true;
  resumed_ = true;
  return epochs_done();
}

FTMETA_DECL SplitReport TrainerCore::evaluate_report(const SourceRef& source) { return evaluate_split(source).report; }

FTMETA_DECL EpochStats TrainerCore::evaluate_on(const SourceRef& source) { return evaluate_split(source).stats; }

FTMETA_DECL SplitReport TrainerCore::test(const SourceRef& source) {
  auto r = evaluate_split(source).report;
  if (write_files()) {
    open_report();
    report_->test(r);
  }
  return r;
}

FTMETA_DECL LrFinderResult TrainerCore::find_lr(const SourceRef& train, const LrFinderOptions& o) {
  torch::manual_seed(detail::epoch_seed(options_.seed, 0));
  run_->begin_epoch(1, options_.epochs, steps_per_epoch(train));
  std::int64_t restarts = 0;
  train.start_epoch(1);
  if (sync_) sync_->set_enabled(false);  // each rank sweeps on its own shard
  auto result = find_learning_rate(module(), forward_fn(), run_->optimizer(), train.next, [&] { train.start_epoch(1 + ++restarts); },
                                   options_.device, o);
  if (sync_) sync_->set_enabled(true);
  if (write_files()) {
    std::filesystem::create_directories(options_.out_dir);
    std::ostringstream csv;  // replaced whole (a full disk: FileError, the previous file intact)
    csv << "lr,smoothed_loss\n";
    for (std::size_t i = 0; i < result.lrs.size(); ++i) csv << detail::exact(result.lrs[i]) << ',' << detail::exact(result.losses[i]) << '\n';
    util::write_file_atomically(options_.out_dir / "lr_find.csv", csv.str());
    plot_lr_finder(options_.out_dir / "lr_find.png", result);
  }
  return result;
}

FTMETA_DECL void TrainerCore::save_as_best() {
  if (!write_files()) return;
  const auto epoch = epochs_done();
  save_checkpoint(options_.out_dir / "best.pt", module(), info(epoch, history_.empty() ? 0.0 : history_.back().val.accuracy));
}

FTMETA_DECL void TrainerCore::load_best() {
  if (!options_.out_dir.empty() && std::filesystem::exists(options_.out_dir / "best.pt")) {
    if (group()) group()->barrier();
    load_checkpoint(options_.out_dir / "best.pt", module(), model_name());
    place_model();
  }
}

FTMETA_DECL CheckpointInfo TrainerCore::info(std::int64_t epoch, double metric) const {
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

// Optimizer steps per epoch, when the source knows its batch count (else 0).
FTMETA_DECL std::int64_t TrainerCore::steps_per_epoch(const SourceRef& source) const {
  const std::int64_t batches = source.batches_per_epoch();
  return (batches + recipe_.accumulate - 1) / recipe_.accumulate;
}

// Each rank draws its own dropout masks and mixing: the same (seed, epoch) stream would give
// every rank's row i the same mask. Rank 0 (and a single process) keeps the plain seed.
FTMETA_DECL std::uint64_t TrainerCore::rank_seed(std::uint64_t s) const {
  const auto rank = group() ? static_cast<std::int64_t>(group()->rank()) : 0;
  return rank == 0 ? s : detail::epoch_seed(s, rank);
}

FTMETA_DECL double TrainerCore::stop_value(const EpochRecord& r) const {
  return options_.early_stop_metric == StopMetric::val_acc ? r.val.accuracy : r.val.loss;
}

// The weights on the run's device, in the run's memory format.
FTMETA_DECL void TrainerCore::place_model() {
  module().to(options_.device);
  if (options_.channels_last) detail::to_channels_last(module());
}

FTMETA_DECL void TrainerCore::open_report() {
  if (report_ || !write_files()) return;
  std::vector<std::string> groups;
  for (auto& g : run_->groups()) groups.push_back(detail::column_name(g.name));
  if (resumed_) detail::truncate_metrics(options_.out_dir, epochs_done());
  report_ = std::make_unique<RunReport>(options_.out_dir, class_names_, groups, resumed_, options_.ema_decay > 0,
                                        baseline_ ? std::optional<double>(baseline_->accuracy) : std::nullopt);
  report_->run_started(options_.run_config, resumed_ ? epochs_done() : 0);
  if (resumed_) {
    std::vector<EpochReport> earlier;
    for (auto& r : history_) earlier.push_back(detail::epoch_report(r));
    report_->restore(std::move(earlier));
  }
}

FTMETA_DECL StepControl TrainerCore::control() {
  StepControl c;
  c.accumulate = recipe_.accumulate;
  c.clip_grad_norm = recipe_.clip_grad_norm;
  c.clip_grad_value = recipe_.clip_grad_value;
  c.after_step = [this] {
    run_->after_step();
    if (ema_) ema_->update(module());
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
FTMETA_DECL std::optional<PartialEpoch> TrainerCore::continue_partial(const SourceRef& train, StepControl& steps) {
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
FTMETA_DECL void TrainerCore::stop_at(std::int64_t epoch, const EpochStats& trained, std::int64_t batches_per_epoch) {
  PartialEpoch p{epoch, trained.batches, trained, generator_states(options_.device)};
  detail::reduce_stats(group(), p.stats);  // the sums over all ranks: rank 0 adds them back
  std::filesystem::path saved;
  if (write_files()) {
    auto i = info(epoch - 1, history_.empty() ? 0.0 : history_.back().val.accuracy);
    i.partial = p.text();
    i.generators = p.generators;
    saved = options_.out_dir / "last.pt";
    save_checkpoint(saved, module(), i, &run_->optimizer(), /*keep_previous=*/true);
  }
  if (group()) group()->barrier();
  throw Interrupted("stopped on request in epoch " + std::to_string(epoch) + " after batch " + std::to_string(p.batches) +
                        (batches_per_epoch > 0 ? " of " + std::to_string(batches_per_epoch) : std::string()) +
                        (saved.empty() ? std::string(" (nothing saved: no out_dir)") : "; saved " + saved.string()),
                    saved, epoch, p.batches);
}

FTMETA_DECL TrainerCore::Evaluated TrainerCore::evaluate_split(const SourceRef& source) {
  source.start_epoch(0);
  Evaluated e;
  e.report.confusion.reset(static_cast<std::int64_t>(class_names_.size()));
  e.stats = evaluate(module(), forward_fn(), source.next, options_.device,
                     [&](const torch::Tensor& logits, const torch::Tensor& labels) { add_batch(e.report.confusion, logits, labels); });
  detail::reduce_stats(group(), e.stats);
  detail::reduce_confusion(group(), e.report.confusion);
  e.report.loss = e.stats.loss;
  e.report.samples = e.stats.samples;
  e.report.seconds = e.stats.seconds;
  return e;
}

FTMETA_DECL Forward TrainerCore::forward_fn() {
  return [this](const torch::Tensor& x) {
    AutocastScope autocast(options_.device, options_.precision);
    return model_.forward(options_.channels_last && x.dim() == 4 ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x);
  };
}

}  // namespace ftmeta::train
