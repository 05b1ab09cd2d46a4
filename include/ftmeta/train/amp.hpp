// ftmeta/train/amp.hpp: automatic mixed precision: an autocast scope (fp16 or bf16) and a gradient
// scaler with torch.amp.GradScaler's semantics, built on ATen's own AMP kernels.
#pragma once

#include <ftmeta/core/error.hpp>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace ftmeta::train {

/// The precision the forward pass runs in.
enum class Precision { fp32, fp16, bf16 };

/// "fp32" | "fp16" | "bf16"; UsageError naming the value otherwise.
inline Precision parse_precision(const std::string& s) {
  if (s == "fp32" || s == "32") return Precision::fp32;
  if (s == "fp16" || s == "16") return Precision::fp16;
  if (s == "bf16") return Precision::bf16;
  throw UsageError("precision " + s + ": expected fp32, fp16 or bf16");
}

/// Autocast for the scope's forward pass on `device` (nothing for fp32). Restores the previous
/// state and clears autocast's weight cache on exit, as torch.autocast's __exit__ does.
class AutocastScope {
 public:
  AutocastScope(torch::Device device, Precision p) : type_(device.type()), active_(p != Precision::fp32) {
    if (!active_) return;
    prev_enabled_ = at::autocast::is_autocast_enabled(type_);
    prev_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_enabled(type_, true);
    at::autocast::set_autocast_dtype(type_, p == Precision::bf16 ? at::kBFloat16 : at::kHalf);
    at::autocast::increment_nesting();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;
  ~AutocastScope() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, prev_enabled_);
    at::autocast::set_autocast_dtype(type_, prev_dtype_);
  }

 private:
  c10::DeviceType type_;
  bool active_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kFloat;
};

/// Dynamic loss scaling for fp16 training (torch.amp.GradScaler): the loss is multiplied by the
/// scale before backward; before the step the gradients are unscaled and checked; a step with an
/// infinite or NaN gradient is skipped and the scale backed off; after `growth_interval` clean
/// steps the scale grows. Disabled, every call is a pass-through.
class GradScaler {
 public:
  GradScaler(torch::Device device, bool enabled, double init_scale = 65536.0, double growth_factor = 2.0,
             double backoff_factor = 0.5, std::int64_t growth_interval = 2000)
      : enabled_(enabled), growth_(growth_factor), backoff_(backoff_factor), interval_(growth_interval) {
    auto f = torch::TensorOptions().dtype(torch::kFloat).device(device);
    scale_ = torch::full({1}, init_scale, f);
    growth_tracker_ = torch::zeros({1}, f.dtype(torch::kInt));
    found_inf_ = torch::zeros({1}, f);
  }
  bool enabled() const { return enabled_; }

  torch::Tensor scale(const torch::Tensor& loss) const { return enabled_ ? loss * scale_.to(loss.dtype()) : loss; }

  /// Divides the gradients by the scale and records whether any is infinite or NaN. Call before
  /// gradient clipping; `step` calls it if you did not.
  void unscale(torch::optim::Optimizer& optimizer) {
    if (!enabled_ || unscaled_) return;
    std::vector<torch::Tensor> grads;
    for (auto& g : optimizer.param_groups())
      for (auto& p : g.params())
        if (p.grad().defined()) grads.push_back(p.grad());
    found_inf_.zero_();
    auto inv = scale_.to(torch::kDouble).reciprocal().to(torch::kFloat);
    if (!grads.empty()) at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, inv);
    unscaled_ = true;
  }

  /// Steps the optimizer unless a gradient was infinite or NaN; returns whether it stepped.
  bool step(torch::optim::Optimizer& optimizer) {
    if (!enabled_) {
      optimizer.step();
      return true;
    }
    unscale(optimizer);
    const bool skip = found_inf_.item<float>() != 0.0f;
    if (!skip) optimizer.step();
    return !skip;
  }

  /// Adjusts the scale after a step (back off after an overflow, grow after enough clean steps).
  void update() {
    if (!enabled_) return;
    at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, growth_, backoff_, interval_);
    unscaled_ = false;
  }

  double get_scale() const { return enabled_ ? scale_.item<double>() : 1.0; }

  /// What a resumed run needs to continue exactly: the scale and the count of clean steps since it
  /// last changed (on the CPU, as a checkpoint stores them). Empty when disabled.
  std::vector<torch::Tensor> state() const {
    if (!enabled_) return {};
    return {scale_.detach().cpu().clone(), growth_tracker_.detach().cpu().clone()};
  }
  /// Restores what state() gave; a disabled scaler ignores it.
  void load_state(const std::vector<torch::Tensor>& s) {
    if (!enabled_) return;
    if (s.size() != 2 || s[0].numel() != 1 || s[1].numel() != 1)
      throw std::invalid_argument("GradScaler::load_state: expected the scale and the growth tracker, one value each");
    scale_.copy_(s[0].to(scale_.dtype()));
    growth_tracker_.copy_(s[1].to(growth_tracker_.dtype()));
    unscaled_ = false;
  }

 private:
  bool enabled_;
  double growth_, backoff_;
  std::int64_t interval_;
  torch::Tensor scale_, growth_tracker_, found_inf_;
  bool unscaled_ = false;
};

}  // namespace ftmeta::train
