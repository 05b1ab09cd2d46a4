// ftmeta/train/interrupt.hpp: stopping a run cleanly on SIGINT/SIGTERM: StopOnSignal (the first signal asks the trainer to stop at the next step boundary, a second SIGINT exits at once) and the Interrupted exception the trainer throws after saving.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/train/loop.hpp>
#include <ftmeta/util/atomic_file.hpp>

#include <torch/torch.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ftmeta::train {

/// Thrown by Trainer::fit when TrainOptions::stop_requested said stop: the run stopped at a step
/// boundary and `checkpoint` (out_dir/last.pt) holds everything needed to continue exactly
/// (weights, optimizer, schedules, torch's generator, the batches of `epoch` already seen).
struct Interrupted : std::runtime_error {
  Interrupted(const std::string& what, std::filesystem::path checkpoint, std::int64_t epoch, std::int64_t batches)
      : std::runtime_error(what), checkpoint(std::move(checkpoint)), epoch(epoch), batches(batches) {}
  std::filesystem::path checkpoint;  ///< empty when nothing was written (no out_dir)
  std::int64_t epoch = 0;            ///< the epoch it stopped in
  std::int64_t batches = 0;          ///< batches of that epoch trained
};

/// While alive, SIGINT and SIGTERM ask for a stop instead of killing the process: requested()
/// turns true and signal_number() says which; the trainer (TrainOptions::stop_requested) stops at
/// the next optimizer step, saves, and throws Interrupted. A second SIGINT (or SIGTERM) exits at
/// once with status 128 + signal, printing one line; the last checkpoint on disk stays as it was
/// (checkpoints are replaced atomically). The previous handlers are restored on destruction.
/// One instance per process.
///
///   ftmeta::train::StopOnSignal stop;
///   options.stop_requested = [&stop] { return stop.requested(); };
class StopOnSignal {
 public:
  StopOnSignal() {
    signal_number_ref().store(0);
    struct sigaction sa {};
    sa.sa_handler = &StopOnSignal::handle;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  ~StopOnSignal() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }

  bool requested() const { return signal_number_ref().load() != 0; }
  /// SIGINT or SIGTERM once one came, else 0.
  int signal_number() const { return signal_number_ref().load(); }
  /// The exit status a program stopped by it returns: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
  int exit_status() const { return 128 + signal_number(); }
  /// "SIGINT" or "SIGTERM".
  std::string signal_name() const { return signal_number() == SIGTERM ? "SIGTERM" : "SIGINT"; }

 private:
  static std::atomic<int>& signal_number_ref() {
    static std::atomic<int> s{0};
    return s;
  }
  static void handle(int sig) {  // async-signal-safe: an atomic, write(2), _exit(2)
    int expected = 0;
    if (signal_number_ref().compare_exchange_strong(expected, sig)) {
      static constexpr char msg[] = "\nstopping at the next step boundary to save a checkpoint (again to exit at once)\n";
      [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
      return;
    }
    static constexpr char msg[] = "\nsecond signal: exiting now; the last checkpoint on disk is the previous one\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    util::detail::unlink_pending_temp();  // a checkpoint being written: its temporary file goes
    ::_exit(128 + sig);
  }

  struct sigaction old_int_ {}, old_term_ {};
};

/// An epoch stopped at a step boundary, as a checkpoint keeps it (CheckpointInfo::partial and
/// ::generators) to continue it exactly: the batches already trained, their sums (over all ranks),
/// and torch's generator states at that point (the CPU's, then the device's).
struct PartialEpoch {
  std::int64_t epoch = 0;
  std::int64_t batches = 0;
  EpochStats stats;
  std::vector<torch::Tensor> generators;

  /// One line, every number exact.
  std::string text() const {
    char buf[320];
    std::snprintf(buf, sizeof buf, "epoch %lld batches %lld %.17g %lld %lld %lld %.17g", static_cast<long long>(epoch),
                  static_cast<long long>(batches), stats.loss_sum, static_cast<long long>(stats.correct),
                  static_cast<long long>(stats.samples), static_cast<long long>(stats.steps), stats.seconds);
    return buf;
  }
  /// Parses text(); FileError naming `where` when it is damaged.
  static PartialEpoch parse(const std::string& text, std::vector<torch::Tensor> generators, const std::string& where) {
    PartialEpoch p;
    std::istringstream in(text);
    std::string w1, w2;
    in >> w1 >> p.epoch >> w2 >> p.batches >> p.stats.loss_sum >> p.stats.correct >> p.stats.samples >> p.stats.steps >> p.stats.seconds;
    if (!in || w1 != "epoch" || w2 != "batches" || p.epoch < 1 || p.batches < 0)
      throw FileError("ftmeta: the interrupted epoch recorded in " + where + " is damaged ('" + text.substr(0, 60) + "')");
    p.generators = std::move(generators);
    return p;
  }
};

/// The states of torch's default generators: the CPU's, and `device`'s when it is a CUDA device.
inline std::vector<torch::Tensor> generator_states(const torch::Device& device) {
  std::vector<torch::Tensor> out;
  auto take = [&](at::Generator g) {  // a handle: the copy shares the generator
    std::lock_guard<std::mutex> lock(g.mutex());
    out.push_back(g.get_state());
  };
  take(at::globalContext().defaultGenerator(torch::kCPU));
  if (device.is_cuda()) take(at::globalContext().defaultGenerator(device));
  return out;
}
/// Puts generator_states() back.
inline void set_generator_states(const std::vector<torch::Tensor>& states, const torch::Device& device) {
  auto put = [&](at::Generator g, const torch::Tensor& t) {
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_state(t);
  };
  if (!states.empty()) put(at::globalContext().defaultGenerator(torch::kCPU), states[0]);
  if (states.size() > 1 && device.is_cuda()) put(at::globalContext().defaultGenerator(device), states[1]);
}

}  // namespace ftmeta::train
