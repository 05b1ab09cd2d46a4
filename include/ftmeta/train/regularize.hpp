// ftmeta/train/regularize.hpp: batch-level regularizers of the training loop: mixup and cutmix
// (torchvision.transforms.v2 semantics), label-smoothed soft-target loss, an exponential moving
// average of the weights, and early stopping.
#pragma once

#include <ftmeta/core/rng.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ftmeta::train {

namespace detail {
/// Gamma(shape, 1) by Marsaglia and Tsang, from our counter-based generator.
inline double sample_gamma(Rng& rng, double shape) {
  if (shape < 1) return sample_gamma(rng, shape + 1) * std::pow(rng.uniform(), 1.0 / shape);
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9 * d);
  while (true) {
    double x, v;
    do {
      // Box-Muller normal from two uniforms in (0, 1].
      const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
      x = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = 1.0 - rng.uniform();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}
}  // namespace detail

/// Beta(a, b) from two gammas.
inline double sample_beta(Rng& rng, double a, double b) {
  const double x = detail::sample_gamma(rng, a), y = detail::sample_gamma(rng, b);
  return x / (x + y);
}

/// A batch whose targets are soft: probabilities [B, classes].
struct SoftBatch {
  torch::Tensor images, targets;
  double lambda = 1;  ///< the weight of the batch's own labels
};

/// One-hot targets with label smoothing ε: (1 - ε) on the label plus ε / classes everywhere,
/// as torch.nn.functional.cross_entropy(label_smoothing=ε) defines it.
inline torch::Tensor soft_targets(const torch::Tensor& labels, std::int64_t classes, double smoothing = 0) {
  auto t = torch::one_hot(labels, classes).to(torch::kFloat);
  return t * (1 - smoothing) + smoothing / static_cast<double>(classes);
}

/// Cross-entropy against soft targets (equals cross_entropy with label_smoothing for smoothed one-hots).
inline torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
}

/// Mixup (Zhang et al.): λ ~ Beta(α, α); images and targets mixed with the batch rolled by one, as
/// torchvision.transforms.v2.MixUp does.
inline SoftBatch mixup(const torch::Tensor& images, const torch::Tensor& labels, std::int64_t classes, double alpha, Rng& rng,
                       double smoothing = 0) {
  const double lam = sample_beta(rng, alpha, alpha);
  auto t = soft_targets(labels, classes, smoothing);
  return {images * lam + images.roll(1, 0) * (1 - lam), t * lam + t.roll(1, 0) * (1 - lam), lam};
}

/// CutMix (Yun et al.): a box of area (1 - λ) from the batch rolled by one is pasted in; λ is then
/// corrected to the box actually pasted (clipped at the borders), as torchvision.transforms.v2.CutMix does.
inline SoftBatch cutmix(const torch::Tensor& images, const torch::Tensor& labels, std::int64_t classes, double alpha, Rng& rng,
                        double smoothing = 0) {
  double lam = sample_beta(rng, alpha, alpha);
  const auto H = images.size(2), W = images.size(3);
  const auto cx = rng.integer(0, W - 1), cy = rng.integer(0, H - 1);
  const double r = 0.5 * std::sqrt(1.0 - lam);
  const auto rw = static_cast<std::int64_t>(r * W), rh = static_cast<std::int64_t>(r * H);
  const auto x1 = std::max<std::int64_t>(cx - rw, 0), y1 = std::max<std::int64_t>(cy - rh, 0);
  const auto x2 = std::min<std::int64_t>(cx + rw, W), y2 = std::min<std::int64_t>(cy + rh, H);
  auto out = images.clone();
  using torch::indexing::Slice;
  out.index_put_({Slice(), Slice(), Slice(y1, y2), Slice(x1, x2)}, images.roll(1, 0).index({Slice(), Slice(), Slice(y1, y2), Slice(x1, x2)}));
  lam = 1.0 - static_cast<double>((x2 - x1) * (y2 - y1)) / static_cast<double>(W * H);
  auto t = soft_targets(labels, classes, smoothing);
  return {out, t * lam + t.roll(1, 0) * (1 - lam), lam};
}

/// An exponential moving average of a module's parameters and buffers (evaluated alongside the
/// model): shadow = decay * shadow + (1 - decay) * current, after each optimizer step. Buffers
/// such as BatchNorm statistics are copied, as torch.optim.swa_utils.AveragedModel does with
/// use_buffers=False.
class WeightEma {
 public:
  WeightEma(torch::nn::Module& model, double decay) : decay_(decay) {
    if (!(decay > 0 && decay < 1)) throw std::invalid_argument("WeightEma: decay must be in (0, 1)");
    for (auto& p : model.parameters()) params_.push_back(p.detach().clone());
    for (auto& b : model.buffers()) buffers_.push_back(b.detach().clone());
  }
  /// After an optimizer step.
  void update(torch::nn::Module& model) {
    torch::NoGradGuard no_grad;
    auto ps = model.parameters();
    for (std::size_t i = 0; i < ps.size(); ++i) params_[i].mul_(decay_).add_(ps[i].detach(), 1 - decay_);
    auto bs = model.buffers();
    for (std::size_t i = 0; i < bs.size(); ++i) buffers_[i].copy_(bs[i]);
    ++updates_;
  }
  /// Swaps the averaged weights into `model` (call again to swap back): evaluate the EMA in place.
  void swap_into(torch::nn::Module& model) {
    torch::NoGradGuard no_grad;
    auto ps = model.parameters();
    for (std::size_t i = 0; i < ps.size(); ++i) {
      auto tmp = ps[i].detach().clone();
      ps[i].copy_(params_[i]);
      params_[i].copy_(tmp);
    }
    auto bs = model.buffers();
    for (std::size_t i = 0; i < bs.size(); ++i) {
      auto tmp = bs[i].detach().clone();
      bs[i].copy_(buffers_[i]);
      buffers_[i].copy_(tmp);
    }
  }
  std::int64_t updates() const { return updates_; }
  const std::vector<torch::Tensor>& parameters() const { return params_; }

 private:
  double decay_;
  std::vector<torch::Tensor> params_, buffers_;
  std::int64_t updates_ = 0;
};

/// Stops a run when the watched metric has not improved for `patience` epochs.
class EarlyStopping {
 public:
  EarlyStopping(std::int64_t patience, bool higher_is_better = true, double min_delta = 0)
      : patience_(patience), higher_(higher_is_better), min_delta_(min_delta) {}
  /// Records the epoch's metric; true when the run should stop.
  bool update(double metric) {
    const bool better = higher_ ? metric > best_ + min_delta_ : metric < best_ - min_delta_;
    if (!seen_ || better) {
      best_ = metric, bad_ = 0, seen_ = true;
    } else {
      ++bad_;
    }
    return bad_ >= patience_;
  }
  double best() const { return best_; }
  std::int64_t epochs_without_improvement() const { return bad_; }

 private:
  std::int64_t patience_;
  bool higher_;
  double min_delta_;
  double best_ = 0;
  std::int64_t bad_ = 0;
  bool seen_ = false;
};

}  // namespace ftmeta::train
