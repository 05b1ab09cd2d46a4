// ftmeta/train/loop.hpp: the type-erased per-epoch core (train and evaluate) that every Trainer
// instantiation calls: ordinary functions over std::function, compiled once per program.
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/train/amp.hpp>
#include <ftmeta/train/regularize.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::train {

/// One batch as the loop sees it: images [B,C,H,W] float, labels [B] int64 (on the CPU).
struct LoopBatch {
  torch::Tensor images;
  torch::Tensor labels;
};

/// Returns the next batch of the epoch, or nothing at its end.
using NextBatch = std::function<std::optional<LoopBatch>()>;
/// The model's forward pass.
using Forward = std::function<torch::Tensor(const torch::Tensor&)>;
/// Called after each batch with (batches done, running loss, images so far).
using Progress = std::function<void(std::int64_t, double, std::int64_t)>;

/// What one pass over a split measured. The sums are kept so that passes on several ranks add up.
struct EpochStats {
  double loss = 0;            ///< mean cross-entropy per sample
  double accuracy = 0;        ///< top-1, in [0, 1]
  std::int64_t samples = 0;
  double seconds = 0;
  double loss_sum = 0;        ///< loss times samples, summed over batches
  std::int64_t correct = 0;   ///< top-1 hits
  std::int64_t steps = 0;     ///< optimizer steps taken (training only)
  std::int64_t batches = 0;   ///< training: batches of the epoch done when it returned (first_batch included)
  bool stopped = false;       ///< training: StepControl::stop_requested ended it early
  double images_per_second() const { return seconds > 0 ? samples / seconds : 0; }
  /// Recomputes the means from the sums (after they were summed across ranks).
  void finalize() {
    loss = samples ? loss_sum / samples : 0;
    accuracy = samples ? static_cast<double>(correct) / samples : 0;
  }
};

/// Thrown when the loss becomes NaN or infinite; the caller keeps the last good checkpoint.
struct NonFiniteLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// How the optimizer steps: gradients accumulated over `accumulate` batches (each loss scaled by
/// 1/accumulate; a shorter last window at the end of the epoch still steps), clipped by total norm
/// and/or by value before the step (0: off), and `after_step` called after each step. The rest
/// are the loop's options: a plain struct, so new ones cost no template instantiation.
struct StepControl {
  std::int64_t accumulate = 1;
  double clip_grad_norm = 0;
  double clip_grad_value = 0;
  std::function<void()> after_step{};
  /// fp16 loss scaling (null or disabled: none); unscaled before clipping, a step with an
  /// infinite gradient is skipped.
  GradScaler* scaler = nullptr;
  /// Soft targets: label smoothing ε, mixup and cutmix with Beta(α, α) (0: off; with both, each
  /// batch picks one with equal odds, as torchvision's RandomChoice). `classes` is needed by them.
  std::int64_t classes = 0;
  double label_smoothing = 0;
  double mixup_alpha = 0;
  double cutmix_alpha = 0;
  /// The mixing randomness of batch `step` of epoch `e` is Rng(mix_seed, e, step): a pure function
  /// of (seed, epoch, step), so a resumed run mixes exactly as an uninterrupted one.
  std::uint64_t mix_seed = 0;
  /// Distributed data parallelism (GradientSync): `sync_enabled(true)` before the backward that
  /// ends an accumulation window (false before the others), `sync_finish()` after it, before
  /// clipping and stepping. Empty: a single process.
  std::function<void(bool)> sync_enabled{};
  std::function<void()> sync_finish{};
  /// Asked after each optimizer step: true ends the epoch there (EpochStats::stopped), at a step
  /// boundary, so the state can be saved and the epoch continued exactly from `first_batch`.
  std::function<bool()> stop_requested{};
  /// The batch index `next`'s first batch has in its epoch (a continued epoch; a multiple of
  /// `accumulate`): it numbers the mixing randomness and the progress.
  std::int64_t first_batch = 0;
};

namespace detail {
inline void clip_and_step(torch::optim::Optimizer& optimizer, const StepControl& control) {
  if (control.sync_finish) control.sync_finish();
  if (control.scaler) control.scaler->unscale(optimizer);
  if (control.clip_grad_norm > 0 || control.clip_grad_value > 0) {
    std::vector<torch::Tensor> params;
    for (auto& g : optimizer.param_groups())
      for (auto& p : g.params())
        if (p.grad().defined()) params.push_back(p);
    if (control.clip_grad_value > 0) torch::nn::utils::clip_grad_value_(params, control.clip_grad_value);
    if (control.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, control.clip_grad_norm);
  }
  if (control.scaler) {
    control.scaler->step(optimizer);
    control.scaler->update();
  } else {
    optimizer.step();
  }
  optimizer.zero_grad();
  if (control.after_step) control.after_step();
}
}  // namespace detail

/// One training epoch: forward, cross-entropy (against soft targets with label smoothing, mixup
/// or cutmix), backward, step, for every batch `next` gives. Top-1 accuracy is counted against
/// the batch's own labels.
inline EpochStats train_epoch(torch::nn::Module& model, const Forward& forward, torch::optim::Optimizer& optimizer,
                              const NextBatch& next, torch::Device device, std::int64_t epoch, const Progress& progress = {},
                              const StepControl& control = {}) {
  model.train();
  const auto t0 = std::chrono::steady_clock::now();
  EpochStats s;
  std::int64_t step = control.first_batch;
  const std::int64_t accumulate = std::max<std::int64_t>(control.accumulate, 1);
  const bool mixing = control.mixup_alpha > 0 || control.cutmix_alpha > 0;
  if ((mixing || control.label_smoothing > 0) && control.classes < 1)
    throw std::invalid_argument("train_epoch: label smoothing, mixup and cutmix need StepControl::classes");
  optimizer.zero_grad();
  while (auto batch = next()) {
    auto images = batch->images.to(device, /*non_blocking=*/true);
    auto labels = batch->labels.to(device, /*non_blocking=*/true);
    torch::Tensor logits, loss;
    if (mixing) {
      Rng rng(control.mix_seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(step));
      const bool use_cutmix = control.cutmix_alpha > 0 && (control.mixup_alpha <= 0 || rng.uniform() < 0.5);
      auto mixed = use_cutmix ? cutmix(images, labels, control.classes, control.cutmix_alpha, rng, control.label_smoothing)
                              : mixup(images, labels, control.classes, control.mixup_alpha, rng, control.label_smoothing);
      logits = forward(mixed.images).to(torch::kFloat);
      loss = soft_cross_entropy(logits, mixed.targets);
    } else {
      logits = forward(images).to(torch::kFloat);
      loss = control.label_smoothing > 0 ? soft_cross_entropy(logits, soft_targets(labels, control.classes, control.label_smoothing))
                                         : torch::nn::functional::cross_entropy(logits, labels);
    }
    const double value = loss.item<double>();
    if (!std::isfinite(value))
      throw NonFiniteLoss("ftmeta: the loss became " + std::to_string(value) + " at epoch " + std::to_string(epoch) + ", step " +
                          std::to_string(step) + "; stopping (the last good checkpoint is kept)");
    const bool window_end = (step + 1) % accumulate == 0;
    if (control.sync_enabled) control.sync_enabled(window_end);
    auto scaled = accumulate > 1 ? loss / static_cast<double>(accumulate) : loss;
    (control.scaler ? control.scaler->scale(scaled) : scaled).backward();
    if (window_end) {
      detail::clip_and_step(optimizer, control);
      ++s.steps;
    }
    const auto n = labels.size(0);
    s.loss_sum += value * n;
    s.correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
    s.samples += n;
    ++step;
    if (progress) progress(step, s.loss_sum / s.samples, s.samples);
    if (window_end && control.stop_requested && control.stop_requested()) {
      s.stopped = true;
      break;
    }
  }
  s.batches = step;
  if (step % accumulate != 0) {  // the last, shorter window: its gradients are reduced now
    if (control.sync_enabled) control.sync_enabled(true);
    detail::clip_and_step(optimizer, control);
    ++s.steps;
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.finalize();
  return s;
}

/// Loss and top-1 accuracy over every batch `next` gives, in eval mode without gradients.
/// `on_logits`, when given, sees each batch's logits and labels (for confusion matrices, predictions).
inline EpochStats evaluate(torch::nn::Module& model, const Forward& forward, const NextBatch& next, torch::Device device,
                           const std::function<void(const torch::Tensor&, const torch::Tensor&)>& on_logits = {}) {
  model.eval();
  torch::NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  EpochStats s;
  while (auto batch = next()) {
    auto images = batch->images.to(device, true);
    auto labels = batch->labels.to(device, true);
    auto logits = forward(images).to(torch::kFloat);
    const auto n = labels.size(0);
    s.loss_sum += torch::nn::functional::cross_entropy(logits, labels).item<double>() * n;
    s.correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
    s.samples += n;
    if (on_logits) on_logits(logits.cpu(), labels.cpu());
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.finalize();
  return s;
}

}  // namespace ftmeta::train
