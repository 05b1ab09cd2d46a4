// ftmeta/train/lr_finder.hpp: the learning-rate finder (fastai's sweep): train a few hundred steps
// with the learning rate growing exponentially, record the smoothed loss, suggest a rate, and put
// the model and optimizer back as they were.
#pragma once

#include <ftmeta/train/loop.hpp>
#include <ftmeta/train/plots.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <filesystem>
#include <limits>
#include <vector>

namespace ftmeta::train {

/// Settings of a sweep. Every parameter group's rate is multiplied by the same factor, so the
/// recipe's ratios between groups are kept; `start_lr`/`end_lr` are those of group 0.
struct LrFinderOptions {
  double start_lr = 1e-7, end_lr = 10.0;
  std::int64_t steps = 100;
  double smoothing = 0.98;       ///< exponential smoothing of the loss (bias-corrected)
  double divergence = 4.0;       ///< stop once the smoothed loss exceeds this many times its minimum
  std::size_t skip_start = 10;   ///< points left out of the suggestion at the start of the sweep
};

/// The sweep: learning rates (of group 0) and smoothed losses, and the suggested rate.
struct LrFinderResult {
  std::vector<double> lrs, losses;
  double suggestion = 0;  ///< the rate where the smoothed loss falls fastest (steepest descent in log lr)
};

/// Runs the sweep over batches from `next` (restarted with `restart` when it runs dry). The
/// module's parameters and buffers and the optimizer's state are restored afterwards.
inline LrFinderResult find_learning_rate(torch::nn::Module& model, const Forward& forward, torch::optim::Optimizer& optimizer,
                                         const NextBatch& next, const std::function<void()>& restart, torch::Device device,
                                         const LrFinderOptions& o = {}) {
  // Keep what the sweep will change.
  std::vector<torch::Tensor> saved;
  for (auto& t : model.parameters()) saved.push_back(t.detach().clone());
  for (auto& t : model.buffers()) saved.push_back(t.detach().clone());
  std::vector<double> base;
  for (auto& g : optimizer.param_groups()) base.push_back(g.options().get_lr());
  torch::serialize::OutputArchive state_out;
  optimizer.save(state_out);
  std::ostringstream state_bytes;
  state_out.save_to(state_bytes);

  LrFinderResult r;
  const double ratio = std::pow(o.end_lr / o.start_lr, 1.0 / std::max<std::int64_t>(o.steps - 1, 1));
  double avg = 0, best = std::numeric_limits<double>::infinity();
  model.train();
  for (std::int64_t i = 0; i < o.steps; ++i) {
    auto batch = next();
    if (!batch) {
      restart();
      batch = next();
      if (!batch) break;
    }
    const double lr = o.start_lr * std::pow(ratio, static_cast<double>(i));
    for (std::size_t g = 0; g < optimizer.param_groups().size(); ++g)
      optimizer.param_groups()[g].options().set_lr(lr * base[g] / base[0]);
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(forward(batch->images.to(device)), batch->labels.to(device));
    const double value = loss.item<double>();
    if (!std::isfinite(value)) break;
    loss.backward();
    optimizer.step();
    avg = o.smoothing * avg + (1 - o.smoothing) * value;
    const double smoothed = avg / (1 - std::pow(o.smoothing, static_cast<double>(i + 1)));
    r.lrs.push_back(lr);
    r.losses.push_back(smoothed);
    best = std::min(best, smoothed);
    if (i > 10 && smoothed > o.divergence * best) break;
  }
  // Steepest descent of the smoothed loss against log(lr), up to its minimum; the first points are
  // left out (as fastai does), where the smoothing has seen too few batches to be trusted.
  double steepest = 0;
  const auto lowest = static_cast<std::size_t>(std::min_element(r.losses.begin(), r.losses.end()) - r.losses.begin());
  const std::size_t skip = std::min<std::size_t>(o.skip_start, lowest);
  for (std::size_t i = std::max<std::size_t>(skip, 1); i <= lowest && i < r.lrs.size(); ++i) {
    const double slope = (r.losses[i] - r.losses[i - 1]) / (std::log(r.lrs[i]) - std::log(r.lrs[i - 1]));
    if (slope < steepest) steepest = slope, r.suggestion = r.lrs[i];
  }
  // Put everything back.
  {
    torch::NoGradGuard no_grad;
    std::size_t k = 0;
    for (auto& t : model.parameters()) t.copy_(saved[k++]);
    for (auto& t : model.buffers()) t.copy_(saved[k++]);
  }
  std::istringstream in(state_bytes.str());
  torch::serialize::InputArchive state_in;
  state_in.load_from(in);
  optimizer.load(state_in);
  for (std::size_t g = 0; g < optimizer.param_groups().size(); ++g) optimizer.param_groups()[g].options().set_lr(base[g]);
  return r;
}

/// The finder's curve as a PNG (log-scaled learning rate), with the suggestion in the legend.
inline void plot_lr_finder(const std::filesystem::path& path, const LrFinderResult& r) {
  char label[64];
  std::snprintf(label, sizeof label, "loss (suggested lr %.2g)", r.suggestion);
  plot_lines(path, {{label, r.lrs, r.losses}}, {"learning-rate finder", "learning rate (group 0)", "smoothed loss", true});
}

}  // namespace ftmeta::train
