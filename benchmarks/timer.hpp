// benchmarks/timer.hpp: the benchmarks' clocks and their best-of-rounds timing loop, shared by benchmarks/*.cpp.
// Benchmark support only (not part of the library).
#pragma once

#include <opencv2/core.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace ftmeta::bench {

/// Seconds on the steady (wall) clock.
inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// CPU seconds of this process, all threads.
inline double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Whether FTMETA_BENCH_CLOCK=cpu asks for this thread's CPU time instead of the wall (steadier on a
/// shared machine: time spent waiting for a core does not count; transforms_peers.py reads it too).
inline bool thread_cpu_clock() {
  static const bool cpu = [] {
    const char* c = std::getenv("FTMETA_BENCH_CLOCK");
    return c && std::string(c) == "cpu";
  }();
  return cpu;
}

/// Milliseconds now: wall-clock, or with FTMETA_BENCH_CLOCK=cpu this thread's CPU time.
inline double now_ms() {
  if (thread_cpu_clock()) {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
  }
  return wall_seconds() * 1e3;
}

/// Milliseconds per image: the best of `rounds` rounds of `passes` passes over `images`, calling
/// f(image, index) with an index that counts on across rounds (a fresh Rng stream per call).
template <class F>
double time_per_image(const std::vector<cv::Mat>& images, int rounds, int passes, F&& f) {
  double best = 1e300;
  std::uint64_t index = 0;
  for (int r = 0; r < rounds; ++r) {
    const double t0 = now_ms();
    for (int p = 0; p < passes; ++p)
      for (const auto& image : images) f(image, index++);
    best = std::min(best, (now_ms() - t0) / double(passes * images.size()));
  }
  return best;
}

}  // namespace ftmeta::bench
