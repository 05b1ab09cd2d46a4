// ftmeta/data/sampler.hpp: the order in which a loader visits samples, as a function of (seed, epoch).
// ftmeta:pure
#pragma once

#include <ftmeta/core/rng.hpp>

#include <cstdint>
#include <numeric>
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

}  // namespace ftmeta::data
