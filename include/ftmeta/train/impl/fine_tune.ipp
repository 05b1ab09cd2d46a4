// ftmeta/train/impl/fine_tune.ipp: the definitions of fine_tune.hpp's core (plan_run, run_fine_tune,
// run_find_lr): included by that header when header-only, compiled once by src/ftmeta_core.cpp with
// FTMETA_SEPARATE_COMPILATION.
#pragma once

#include <ftmeta/train/fine_tune.hpp>

namespace ftmeta::train {

FTMETA_DECL RunPlan plan_run(std::int64_t train_images, int world, std::int64_t batch, std::int64_t epochs, std::int64_t min_steps,
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

FTMETA_DECL BatchNormMode parse_batch_norm_rule(const std::string& s) {
  if (s == "frozen") return BatchNormMode::frozen;
  if (s == "train") return BatchNormMode::train;
  if (s == "auto") return BatchNormMode::automatic;
  throw UsageError("batch_norm '" + s + "': expected frozen, train or auto");
}

namespace detail {
/// The Trainer's options for a run of `policy`, as `plan` sized it.
inline TrainOptions policy_train_options(const FineTuneOptions& options, const RunPlan& plan, const PolicyDescriptor& policy) {
  TrainOptions t = options.train;
  t.epochs = plan.epochs;
  t.image_size = policy.image_size;
  t.label_smoothing = options.label_smoothing.value_or(policy.label_smoothing);
  t.channels_last = options.channels_last.value_or(policy.channels_last);
  return t;
}

/// The preprocessing a run uses (FineTuneOptions::preprocessing, else train.weights' config.json or the descriptor's
/// when train.weights is set), at the policy's input side; its decisions added to `notes`.
inline std::optional<nn::Preprocessing> run_preprocessing(const FineTuneOptions& options, const PolicyDescriptor& policy,
                                                          const FineTuneParts& parts, std::vector<std::string>& notes) {
  auto pre = options.preprocessing;
  if (!pre && !options.train.weights.empty()) pre = nn::preprocessing_for_weights(options.train.weights, parts.descriptor_preprocessing);
  if (!pre) return pre;
  if (pre->input_size != policy.image_size)
    notes.push_back("preprocessing: the weights expect " + std::to_string(pre->input_size) + " px; the run uses " +
                    std::to_string(policy.image_size) + " px (crop_pct kept)");
  pre->input_size = policy.image_size;
  std::string warning;
  pre = effective_preprocessing(*pre, parts.eval_normalize.found ? parts.eval_normalize : parts.train_normalize, &warning);
  if (!warning.empty()) notes.push_back(warning);
  std::ostringstream crop;
  crop << pre->crop_pct;
  notes.push_back("preprocessing from " + pre->source + ": evaluation " + eval_transform_of(*pre).describe() + " (crop_pct " +
                  crop.str() + ", mean " + detail::triple_text(pre->mean) + ", std " + detail::triple_text(pre->std) + ")");
  return pre;
}

/// The loaders of a run: the policy's pipelines, or with the weights' preprocessing the evaluation transform it
/// describes and the training pipeline normalized with its statistics.
struct RunLoaders {
  const FineTuneParts& parts;
  const std::optional<nn::Preprocessing>& pre;
  std::unique_ptr<data::Loader> train(const std::vector<data::Sample>& s, const data::LoaderOptions& o) const {
    if (pre && parts.train_loader_normalized) return parts.train_loader_normalized(s, o, *pre);
    return parts.train_loader(s, o);
  }
  std::unique_ptr<data::Loader> eval(const std::vector<data::Sample>& s, const data::LoaderOptions& o) const {
    if (!pre) return parts.eval_loader(s, o);
    const auto t = eval_transform_of(*pre);
    return data::make_loader(std::make_shared<data::FileSource>(s), t, data::OutputSize{t.crop, t.crop}, o);
  }
};
}  // namespace detail

FTMETA_DECL FineTuneResult run_fine_tune(const data::Splits& splits, FineTuneOptions options, const PolicyDescriptor& policy,
                                         const FineTuneParts& parts) {
  std::ostream nowhere(nullptr);  // discards what it is given
  auto* group = options.train.group.get();
  const bool main = !group || group->is_main();
  std::ostream& say = options.train.log && main ? *options.train.log : nowhere;

  if (splits.classes.size() < 2)
    throw DataError("ftmeta: fine_tune: the data has " + std::to_string(splits.classes.size()) +
                    " class(es); a classifier needs at least two");
  const int world = group ? group->world_size() : 1;
  const auto bn_rule = options.batch_norm.value_or(policy.batch_norm);
  auto plan = plan_run(static_cast<std::int64_t>(splits.train.size()), world, options.batch_size ? options.batch_size : policy.batch_size,
                       options.train.epochs, policy.min_steps, policy.min_epochs, bn_rule, policy.min_batch, policy.min_images);
  const std::vector<data::Sample>* val_samples = &splits.val;
  if (splits.val.empty()) {
    plan.notes.push_back("warning: no validation images: validating on the training images, so best.pt is the best fit, not the best "
                         "generalization (give a val/ folder or more images per class)");
    val_samples = &splits.train;
  }
  const auto pre = detail::run_preprocessing(options, policy, parts, plan.notes);
  const detail::RunLoaders loaders{parts, pre};
  for (auto& n : plan.notes) say << "fine_tune: " << n << "\n";
  say << std::flush;

  TrainOptions t = detail::policy_train_options(options, plan, policy);
  if (t.split_hash.empty()) t.split_hash = data::split_hash(splits);
  if (const auto recorded = pre ? pre : parts.pipeline_preprocessing) t.preprocessing = recorded->serialize();
  if (t.run_config.empty()) {
    FineTuneOptions recorded = options;
    recorded.train = t;  // as run: the epochs and the channels the plan and the policy decided
    t.run_config = run_config_json(recorded);
  }
  const FineTuneNet net = parts.make_net(splits.classes.names(), t);
  TrainerCore& trainer = *net.core;
  if (plan.freeze_batch_norm) net.freeze_batch_norm_statistics();
  if (options.sync_batch_norm && group) {
    const auto layers = distributed::sync_batch_norm(trainer.module(), *group);
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
  auto train = loaders.train(splits.train, train_opts);
  auto val = loaders.eval(*val_samples, eval_opts);

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
  } else if (policy.head_first && options.head_phase) {
    const auto t0 = std::chrono::steady_clock::now();
    auto& model = trainer.module();
    const Forward features = [&](const torch::Tensor& x) {
      AutocastScope autocast(t.device, t.precision);
      return net.features(t.channels_last && x.dim() == 4 ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x);
    };
    // Every rank embeds the whole training split and fits the same head (then rank 0's is broadcast).
    data::LoaderOptions all{.batch_size = std::max<std::int64_t>(per_rank, 64), .shuffle = false, .drop_last = false, .seed = t.seed,
                            .num_workers = options.workers};
    auto plain = loaders.eval(splits.train, all);
    plain->start_epoch(0);
    FeatureSet train_f = extract_features(model, features, source_ref(*plain).next, t.device);
    if (policy.head_views > 0) {
      auto augmented = loaders.train(splits.train, all);
      for (std::int64_t v = 1; v <= policy.head_views; ++v) {
        augmented->start_epoch(1000000 + v);  // draws of their own, apart from the training epochs
        train_f = FeatureSet::cat(train_f, extract_features(model, features, source_ref(*augmented).next, t.device));
      }
    }
    auto val_all = loaders.eval(*val_samples, all);
    val_all->start_epoch(0);
    const FeatureSet val_f = extract_features(model, features, source_ref(*val_all).next, t.device);
    const auto fit = fit_head(*net.head, net.head_forward, train_f, val_f, t.device,
                              {.steps = policy.head_steps, .batch_size = 256, .lr = policy.head_lr, .weight_decay = policy.head_weight_decay,
                               .label_smoothing = t.label_smoothing, .seed = t.seed});
    if (group) group->broadcast_module(model);
    trainer.record_head_phase(fit.val);
    result.head = fit.val;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    say << std::fixed << std::setprecision(4) << "head phase: " << train_f.size() << " cached feature vectors (" << policy.head_views
        << " augmented view(s) per image), " << policy.head_steps << " steps: val acc " << fit.val.accuracy << " loss " << fit.val.loss
        << std::setprecision(1) << " (" << seconds << " s)" << std::endl;
  }
  trainer.fit(source_ref(*train), source_ref(*val));
  if (policy.keep_final) {
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
    auto test = loaders.eval(splits.test, eval_opts);
    result.test = trainer.test(source_ref(*test));
  }
  return result;
}

FTMETA_DECL LrFinderResult run_find_lr(const data::Splits& splits, FineTuneOptions options, const LrFinderOptions& finder,
                                       const PolicyDescriptor& policy, const FineTuneParts& parts) {
  auto* group = options.train.group.get();
  const int world = group ? group->world_size() : 1;
  const auto plan = plan_run(static_cast<std::int64_t>(splits.train.size()), world, options.batch_size ? options.batch_size : policy.batch_size,
                             std::max<std::int64_t>(options.train.epochs, 1), 0, 1, BatchNormMode::train, 0, 0);
  std::vector<std::string> notes;
  const auto pre = detail::run_preprocessing(options, policy, parts, notes);
  const detail::RunLoaders loaders{parts, pre};
  const TrainOptions t = detail::policy_train_options(options, plan, policy);
  const FineTuneNet net = parts.make_net(splits.classes.names(), t);
  data::LoaderOptions train_opts{.batch_size = plan.batch_size / world, .shuffle = true, .drop_last = true, .seed = t.seed,
                                 .num_workers = options.workers};
  if (world > 1) train_opts.sampler = data::DistributedSampler{.rank = group->rank(), .world_size = world, .shuffle = true, .drop_last = true};
  auto train = loaders.train(splits.train, train_opts);
  return net.core->find_lr(source_ref(*train), finder);
}

}  // namespace ftmeta::train
