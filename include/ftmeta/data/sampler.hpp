// ftmeta/data/sampler.hpp: the order in which a loader visits samples, as a function of (seed, epoch): permutations, weighted and distributed samplers.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// A permutation of 0..n-1 that is a function of (seed, epoch) alone (Fisher-Yates driven by
/// Rng(seed, epoch, 2^64-1), a stream no per-sample generator uses); the identity when !shuffle.
///
///   auto order = ftmeta::data::epoch_permutation(10, 42, 3);   // the same on every run and thread count
constexpr std::vector<std::int64_t> epoch_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t epoch,
                                                   bool shuffle = true) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n > 0 ? n : 0));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  if (!shuffle) return p;
  Rng rng(seed, epoch, ~std::uint64_t{0});
  for (std::size_t i = p.size(); i > 1; --i)
    std::swap(p[i - 1], p[static_cast<std::size_t>(rng.integer(0, static_cast<std::int64_t>(i) - 1))]);
  return p;
}

/// A loader's sampler: the sample indices (each in [0, n)) one epoch visits, in order, as a function
/// of (n, seed, epoch) alone. It may repeat or leave out samples and its length need not be n.
/// An empty SamplerFn means epoch_permutation(n, seed, epoch, shuffle).
using SamplerFn = std::function<std::vector<std::int64_t>(std::int64_t n, std::uint64_t seed, std::uint64_t epoch)>;

/// Several shuffled passes over the samples as one epoch: epoch e visits epoch_permutation(n, seed,
/// e * passes + r) for r = 0 .. passes-1, one after the other. For small data, so that an epoch
/// (one validation, one checkpoint) covers enough optimizer steps. A function object usable as a SamplerFn.
struct RepeatedSampler {
  std::int64_t passes = 1;
  std::vector<std::int64_t> operator()(std::int64_t n, std::uint64_t seed, std::uint64_t epoch) const {
    if (passes < 1) throw UsageError("RepeatedSampler: passes must be at least 1");
    std::vector<std::int64_t> out;
    out.reserve(static_cast<std::size_t>(n * passes));
    for (std::int64_t r = 0; r < passes; ++r) {
      const auto p = epoch_permutation(n, seed, epoch * static_cast<std::uint64_t>(passes) + static_cast<std::uint64_t>(r));
      out.insert(out.end(), p.begin(), p.end());
    }
    return out;
  }
};

/// Weights that make every class equally likely under a WeightedSampler: 1 / (samples of its class).
inline std::vector<double> class_balanced_weights(std::span<const std::int64_t> labels) {
  std::map<std::int64_t, std::int64_t> count;
  for (auto l : labels) ++count[l];
  std::vector<double> w;
  w.reserve(labels.size());
  for (auto l : labels) w.push_back(1.0 / static_cast<double>(count[l]));
  return w;
}

/// torch's WeightedRandomSampler with replacement: each epoch draws `num_samples` indices, index i
/// with probability weights[i] / sum(weights), from Rng(seed, epoch, a stream of its own). A
/// function object usable as a SamplerFn; the loader's n must equal weights.size().
///
///   LoaderOptions o{.sampler = WeightedSampler(class_balanced_weights(labels))};
struct WeightedSampler {
  std::vector<double> weights;
  std::int64_t num_samples = -1;  ///< draws per epoch; -1: weights.size()

  explicit WeightedSampler(std::vector<double> w, std::int64_t draws = -1) : weights(std::move(w)), num_samples(draws) {
    double total = 0;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (!(weights[i] >= 0.0) || !std::isfinite(weights[i]))
        throw UsageError("WeightedSampler: weight " + std::to_string(i) + " is negative or not finite");
      total += weights[i];
    }
    if (!(total > 0.0)) throw UsageError("WeightedSampler: the weights sum to zero (" + std::to_string(weights.size()) + " weights)");
    double acc = 0;
    cumulative_.reserve(weights.size());
    for (double x : weights) cumulative_.push_back(acc += x / total);
    if (num_samples < 0) num_samples = static_cast<std::int64_t>(weights.size());
    for (std::size_t i = 0; i < weights.size(); ++i)
      if (weights[i] > 0.0) last_ = static_cast<std::int64_t>(i);
  }

  std::vector<std::int64_t> operator()(std::int64_t n, std::uint64_t seed, std::uint64_t epoch) const {
    if (n != static_cast<std::int64_t>(weights.size()))
      throw UsageError("WeightedSampler: " + std::to_string(weights.size()) + " weights for a source of " +
                       std::to_string(n) + " samples");
    constexpr std::uint64_t stream = 0x7765696768747364ull;  // "weightsd"
    Rng rng(seed ^ stream, epoch, 0);
    std::vector<std::int64_t> out(static_cast<std::size_t>(num_samples));
    for (auto& o : out) {
      const double u = rng.uniform();
      // the first i with cumulative[i] > u: never a zero weight; past the end only by rounding
      const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
      o = it == cumulative_.end() ? last_ : static_cast<std::int64_t>(it - cumulative_.begin());
    }
    return out;
  }

 private:
  std::vector<double> cumulative_;
  std::int64_t last_ = 0;  // the last index with a positive weight
};

/// torch's DistributedSampler as a loader hook: the epoch order of `base` (or epoch_permutation when
/// base is empty; the identity without shuffle), shared by all ranks because it depends on (seed,
/// epoch) only, then cut into world_size shards of equal length: rank r takes positions r,
/// r + world_size, ... With drop_last the tail that does not divide evenly is dropped and the shards
/// are disjoint; without it the order is padded by repeating its start (torch's rule), so a few
/// samples appear on two ranks. Reshuffled every epoch with the loader's seed.
///
///   LoaderOptions o{.sampler = DistributedSampler{.rank = r, .world_size = w}};
struct DistributedSampler {
  int rank = 0;
  int world_size = 1;
  bool shuffle = true;
  bool drop_last = false;
  SamplerFn base{};  ///< the order to shard (e.g. a WeightedSampler); empty: epoch_permutation

  std::vector<std::int64_t> operator()(std::int64_t n, std::uint64_t seed, std::uint64_t epoch) const {
    if (world_size < 1 || rank < 0 || rank >= world_size)
      throw UsageError("DistributedSampler: rank " + std::to_string(rank) + " is not in [0, world_size " +
                       std::to_string(world_size) + ")");
    std::vector<std::int64_t> order = base ? base(n, seed, epoch) : epoch_permutation(n, seed, epoch, shuffle);
    const auto len = static_cast<std::int64_t>(order.size()), w = static_cast<std::int64_t>(world_size);
    if (len == 0) return {};
    const std::int64_t per_rank = drop_last ? len / w : (len + w - 1) / w;
    const std::int64_t total = per_rank * w;
    for (std::int64_t i = len; i < total; ++i) order.push_back(order[static_cast<std::size_t>((i - len) % len)]);
    std::vector<std::int64_t> out;
    out.reserve(static_cast<std::size_t>(per_rank));
    for (std::int64_t i = rank; i < total; i += w) out.push_back(order[static_cast<std::size_t>(i)]);
    return out;
  }
};

}  // namespace ftmeta::data
