// ftmeta/train/head_fit.hpp: the head phase of fine-tuning as ordinary functions: pooled features of a
// split computed once with the backbone in eval mode, and a head fitted on them (AdamW, cosine).
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/train/loop.hpp>

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numbers>
#include <vector>

namespace ftmeta::train {

/// Pooled features of a split, [N, F] float on the CPU, with their labels [N] int64.
struct FeatureSet {
  torch::Tensor features, labels;
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  /// Both sets, one after the other.
  static FeatureSet cat(const FeatureSet& a, const FeatureSet& b) {
    if (a.size() == 0) return b;
    if (b.size() == 0) return a;
    return {torch::cat({a.features, b.features}), torch::cat({a.labels, b.labels})};
  }
};

/// Runs `features` (backbone and pooling) over every batch `next` gives, with `model` in eval mode
/// and no gradients; the result stays on the CPU.
inline FeatureSet extract_features(torch::nn::Module& model, const Forward& features, const NextBatch& next, torch::Device device) {
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> f, l;
  while (auto batch = next()) {
    f.push_back(features(batch->images.to(device, true)).to(torch::kFloat).cpu());
    l.push_back(batch->labels);
  }
  if (f.empty()) return {};
  return {torch::cat(f), torch::cat(l)};
}

/// How fit_head trains the head on cached features.
struct HeadFitOptions {
  std::int64_t steps = 1000;   ///< minibatches, over as many shuffled passes as they take
  std::int64_t batch_size = 256;
  double lr = 1e-3;            ///< AdamW's peak, cosine-annealed to 0 over the run
  double weight_decay = 1e-4;  ///< decoupled, on the weights (2-D tensors) only
  double label_smoothing = 0;
  std::uint64_t seed = 0;      ///< the minibatch order (torch's generator is seeded with it)
};

/// What the head phase gave.
struct HeadFitResult {
  EpochStats train;   ///< the last pass over the cached training features
  EpochStats val;     ///< the fitted head on the validation features (accuracy 0, samples 0 without any)
  std::int64_t steps = 0;
  double seconds = 0;
};

/// Loss and top-1 accuracy of `head_forward` on cached features, in eval mode.
inline EpochStats evaluate_features(torch::nn::Module& head, const Forward& head_forward, const FeatureSet& set,
                                    torch::Device device, std::int64_t batch_size = 1024) {
  head.eval();
  torch::NoGradGuard no_grad;
  EpochStats s;
  for (std::int64_t i = 0; i < set.size(); i += batch_size) {
    const auto end = std::min(set.size(), i + batch_size);
    auto x = set.features.slice(0, i, end).to(device);
    auto y = set.labels.slice(0, i, end).to(device);
    auto logits = head_forward(x).to(torch::kFloat);
    s.loss_sum += torch::nn::functional::cross_entropy(logits, y).item<double>() * static_cast<double>(end - i);
    s.correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
    s.samples += end - i;
  }
  s.finalize();
  return s;
}

/// Fits `head` (whose forward is `head_forward`) on cached training features: AdamW (no decay on
/// 1-D tensors), the lr cosine-annealed to zero over options.steps shuffled minibatches.
/// A minibatch of one is skipped when the head has BatchNorm (it cannot normalize one sample).
inline HeadFitResult fit_head(torch::nn::Module& head, const Forward& head_forward, const FeatureSet& train, const FeatureSet& val,
                              torch::Device device, const HeadFitOptions& options) {
  if (train.size() == 0) throw UsageError("fit_head: no training features");
  if (options.steps < 1 || options.batch_size < 1 || !(options.lr > 0))
    throw UsageError("fit_head: HeadFitOptions needs steps >= 1, batch_size >= 1 and lr > 0");
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : head.parameters())
    if (p.requires_grad()) (p.dim() > 1 ? decay : no_decay).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options.lr).weight_decay(options.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(options.lr).weight_decay(0)));
  torch::optim::AdamW optimizer(std::move(groups));

  const auto n = train.size();
  const auto batch = std::min(options.batch_size, n);
  const auto total = options.steps;
  auto x_all = train.features.to(device), y_all = train.labels.to(device);
  auto generator = torch::make_generator<torch::CPUGeneratorImpl>(options.seed);
  HeadFitResult r;
  while (r.steps < total) {
    head.train();
    auto order = torch::randperm(n, generator, torch::kLong).to(device);
    EpochStats s;
    for (std::int64_t i = 0; i < n && r.steps < total; i += batch) {
      const auto end = std::min(n, i + batch);
      if (end - i < 2 && n > 1) continue;  // BatchNorm1d cannot train on one sample
      const double lr = options.lr * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(r.steps) / static_cast<double>(total)));
      for (auto& g : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      auto idx = order.slice(0, i, end);
      auto logits = head_forward(x_all.index_select(0, idx)).to(torch::kFloat);
      auto y = y_all.index_select(0, idx);
      auto loss = torch::nn::functional::cross_entropy(logits, y,
                                                        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      ++r.steps;
      s.loss_sum += loss.item<double>() * static_cast<double>(end - i);
      s.correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
      s.samples += end - i;
    }
    s.finalize();
    r.train = s;
  }
  r.val = evaluate_features(head, head_forward, val, device);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.train.seconds = r.seconds;
  return r;
}

}  // namespace ftmeta::train
