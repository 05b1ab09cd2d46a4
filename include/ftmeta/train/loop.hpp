// ftmeta/train/loop.hpp: the type-erased per-epoch core (train and evaluate) that every Trainer
// instantiation calls: ordinary functions over std::function, compiled once per program.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <algorithm>

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

/// What one pass over a split measured.
struct EpochStats {
  double loss = 0;            ///< mean cross-entropy per sample
  double accuracy = 0;        ///< top-1, in [0, 1]
  std::int64_t samples = 0;
  double seconds = 0;
  double images_per_second() const { return seconds > 0 ? samples / seconds : 0; }
};

/// Thrown when the loss becomes NaN or infinite; the caller keeps the last good checkpoint.
struct NonFiniteLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// How the optimizer steps: gradients accumulated over `accumulate` batches (each loss scaled by
/// 1/accumulate; a shorter last window at the end of the epoch still steps), clipped by total norm
/// and/or by value before the step (0: off), and `after_step` called after each step.
struct StepControl {
  std::int64_t accumulate = 1;
  double clip_grad_norm = 0;
  double clip_grad_value = 0;
  std::function<void()> after_step;
};

namespace detail {
inline void clip_and_step(torch::optim::Optimizer& optimizer, const StepControl& control) {
  if (control.clip_grad_norm > 0 || control.clip_grad_value > 0) {
    std::vector<torch::Tensor> params;
    for (auto& g : optimizer.param_groups())
      for (auto& p : g.params())
        if (p.grad().defined()) params.push_back(p);
    if (control.clip_grad_value > 0) torch::nn::utils::clip_grad_value_(params, control.clip_grad_value);
    if (control.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(params, control.clip_grad_norm);
  }
  optimizer.step();
  optimizer.zero_grad();
  if (control.after_step) control.after_step();
}
}  // namespace detail

/// One training epoch: forward, cross-entropy, backward, step, for every batch `next` gives.
inline EpochStats train_epoch(torch::nn::Module& model, const Forward& forward, torch::optim::Optimizer& optimizer,
                              const NextBatch& next, torch::Device device, std::int64_t epoch, const Progress& progress = {},
                              const StepControl& control = {}) {
  model.train();
  const auto t0 = std::chrono::steady_clock::now();
  EpochStats s;
  double loss_sum = 0;
  std::int64_t correct = 0, step = 0;
  const std::int64_t accumulate = std::max<std::int64_t>(control.accumulate, 1);
  optimizer.zero_grad();
  while (auto batch = next()) {
    auto images = batch->images.to(device, /*non_blocking=*/true);
    auto labels = batch->labels.to(device, /*non_blocking=*/true);
    auto logits = forward(images);
    auto loss = torch::nn::functional::cross_entropy(logits, labels);
    const double value = loss.item<double>();
    if (!std::isfinite(value))
      throw NonFiniteLoss("ftmeta: the loss became " + std::to_string(value) + " at epoch " + std::to_string(epoch) + ", step " +
                          std::to_string(step) + "; stopping (the last good checkpoint is kept)");
    (accumulate > 1 ? loss / static_cast<double>(accumulate) : loss).backward();
    if ((step + 1) % accumulate == 0) detail::clip_and_step(optimizer, control);
    const auto n = labels.size(0);
    loss_sum += value * n;
    correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
    s.samples += n;
    ++step;
    if (progress) progress(step, loss_sum / s.samples, s.samples);
  }
  if (step % accumulate != 0) detail::clip_and_step(optimizer, control);  // the last, shorter window
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (s.samples) {
    s.loss = loss_sum / s.samples;
    s.accuracy = static_cast<double>(correct) / s.samples;
  }
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
  double loss_sum = 0;
  std::int64_t correct = 0;
  while (auto batch = next()) {
    auto images = batch->images.to(device, true);
    auto labels = batch->labels.to(device, true);
    auto logits = forward(images);
    const auto n = labels.size(0);
    loss_sum += torch::nn::functional::cross_entropy(logits, labels).item<double>() * n;
    correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
    s.samples += n;
    if (on_logits) on_logits(logits.cpu(), labels.cpu());
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (s.samples) {
    s.loss = loss_sum / s.samples;
    s.accuracy = static_cast<double>(correct) / s.samples;
  }
  return s;
}

}  // namespace ftmeta::train
