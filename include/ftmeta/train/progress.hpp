// ftmeta/train/progress.hpp: a progress bar per epoch (loss, throughput, time left) on a terminal,
// and plain lines every tenth of the epoch when the output is a file or a pipe.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>

namespace ftmeta::train {

/// "1:05" or "1:02:03".
inline std::string format_duration(double seconds) {
  auto s = static_cast<std::int64_t>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                               static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

/// Progress of one pass over `total` batches.
class ProgressBar {
 public:
  /// `tty`: redraw one line with '\r' (a terminal); otherwise a plain line every tenth.
  ProgressBar(std::ostream& out, std::string label, std::int64_t total, bool tty)
      : out_(out), label_(std::move(label)), total_(std::max<std::int64_t>(total, 1)), tty_(tty), t0_(clock::now()) {}

  /// Whether standard output is a terminal.
  static bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }

  /// After batch `done` (1-based): the running loss and the images seen so far.
  void update(std::int64_t done, double loss, std::int64_t images) {
    const double elapsed = std::chrono::duration<double>(clock::now() - t0_).count();
    const double rate = elapsed > 0 ? images / elapsed : 0;
    const double left = done > 0 ? elapsed / done * (total_ - std::min(done, total_)) : 0;
    char stats[128];
    std::snprintf(stats, sizeof stats, "%lld/%lld  loss %.4f  %.1f img/s  %s left", static_cast<long long>(done),
                  static_cast<long long>(total_), loss, rate, format_duration(left).c_str());
    if (tty_) {
      const int width = 30, filled = static_cast<int>(width * std::min(done, total_) / total_);
      out_ << '\r' << label_ << " [" << std::string(static_cast<std::size_t>(filled), '=')
           << std::string(static_cast<std::size_t>(width - filled), ' ') << "] " << stats << std::flush;
    } else {
      const std::int64_t tenth = done * 10 / total_;
      if (tenth > last_tenth_ || done == total_) {
        last_tenth_ = tenth;
        out_ << label_ << ' ' << stats << '\n' << std::flush;
      }
    }
  }
  /// Ends the bar's line on a terminal.
  void finish() {
    if (tty_) out_ << '\n' << std::flush;
  }

 private:
  using clock = std::chrono::steady_clock;
  std::ostream& out_;
  std::string label_;
  std::int64_t total_;
  bool tty_;
  clock::time_point t0_;
  std::int64_t last_tenth_ = 0;
};

}  // namespace ftmeta::train
