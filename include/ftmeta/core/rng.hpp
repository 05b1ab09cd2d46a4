// ftmeta/core/rng.hpp: counter-based randomness: every draw is a function of (seed, epoch, index).
// ftmeta:pure
// Pure C++: the transforms, samplers and loaders share it, so an augmentation does not depend on
// which thread ran it or in what order.
#pragma once

#include <cmath>
#include <cstdint>

namespace ftmeta {

/// splitmix64 finalizer: a strong 64-bit mixing function.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A small, fast generator (xoshiro256** core) seeded from a (seed, stream, counter) triple.
class Rng {
 public:
  using result_type = std::uint64_t;

  constexpr explicit Rng(std::uint64_t seed, std::uint64_t stream = 0, std::uint64_t counter = 0) noexcept {
    std::uint64_t x = mix64(seed) ^ mix64(stream + 0x632BE59BD9B4E019ull) ^ mix64(counter * 0xD1342543DE82EF95ull + 1);
    for (auto& s : s_) s = x = mix64(x);
  }
  /// The generator of one sample's augmentation in one epoch.
  static constexpr Rng for_sample(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index) noexcept {
    return Rng(seed, epoch, index);
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }

  constexpr result_type operator()() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform double in [0, 1).
  constexpr double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }
  /// Uniform double in [lo, hi).
  constexpr double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi] (inclusive), as torch.randint(lo, hi + 1).
  constexpr std::int64_t integer(std::int64_t lo, std::int64_t hi) noexcept {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::int64_t>(span == 0 ? (*this)() : (*this)() % span);
  }
  /// True with probability p.
  constexpr bool bernoulli(double p) noexcept { return uniform() < p; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace ftmeta
