// ftmeta/train/fit_state.hpp: the ordinary (non-template) state of a Trainer run: per-epoch
// records and their text form inside checkpoints, the best-k bookkeeping, early stopping replayed
// from the records, metric reduction across ranks, and the per-epoch seed of torch's generator.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/distributed/process_group.hpp>
#include <ftmeta/optim/optimizer.hpp>
#include <ftmeta/train/loop.hpp>
#include <ftmeta/train/report.hpp>
#include <ftmeta/util/atomic_file.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ftmeta::train {

/// What a run recorded for one epoch.
struct EpochRecord {
  std::int64_t epoch = 0;
  EpochStats train, val;
  std::vector<double> lrs;          ///< lr of each param group at the epoch's start
  std::optional<EpochStats> ema_val;  ///< the weight average on validation, when kept
  ConfusionMatrix val_confusion;    ///< validation's counts (top-5 and per-class figures)
};

/// The metric early stopping watches.
enum class StopMetric { val_loss, val_acc };

/// "val_loss" | "val_acc"; UsageError naming the option (early_stop_metric) otherwise.
inline StopMetric parse_stop_metric(const std::string& s) {
  if (s == "val_loss") return StopMetric::val_loss;
  if (s == "val_acc") return StopMetric::val_acc;
  throw UsageError("early_stop_metric " + s + ": expected val_loss or val_acc");
}

namespace detail {

/// The seed of torch's generator for epoch `epoch` (dropout, random init inside the epoch): a pure
/// function of (seed, epoch), so an epoch after a resume draws what it drew in the first run.
inline std::uint64_t epoch_seed(std::uint64_t seed, std::int64_t epoch) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(epoch + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (z ^ (z >> 31)) >> 1;  // torch::manual_seed takes it as a signed value in places
}

inline std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// One line per epoch, every number exact: the history a checkpoint carries.
inline std::string history_text(const std::vector<EpochRecord>& history) {
  std::string s;
  auto stats = [&](const EpochStats& e) {
    s += ' ' + exact(e.loss) + ' ' + exact(e.accuracy) + ' ' + std::to_string(e.samples) + ' ' + exact(e.seconds) + ' ' +
         exact(e.loss_sum) + ' ' + std::to_string(e.correct) + ' ' + std::to_string(e.steps);
  };
  for (const auto& r : history) {
    s += "epoch " + std::to_string(r.epoch);
    stats(r.train);
    stats(r.val);
    s += ' ' + std::to_string(r.lrs.size());
    for (double lr : r.lrs) s += ' ' + exact(lr);
    s += r.ema_val ? " 1" : " 0";
    if (r.ema_val) stats(*r.ema_val);
    // the validation confusion matrix, sparse: classes, top-5 hits, then (label, predicted, count)
    const auto& m = r.val_confusion;
    std::string cells;
    std::int64_t nonzero = 0;
    for (std::int64_t a = 0; a < m.classes(); ++a)
      for (std::int64_t b = 0; b < m.classes(); ++b)
        if (m.at(a, b)) {
          cells += ' ' + std::to_string(a) + ' ' + std::to_string(b) + ' ' + std::to_string(m.at(a, b));
          ++nonzero;
        }
    s += ' ' + std::to_string(m.classes()) + ' ' + std::to_string(m.top5_hits()) + ' ' + std::to_string(nonzero) + cells + '\n';
  }
  return s;
}

/// The head phase's validation figures as the first line of a checkpoint's history ("" without one).
inline std::string baseline_text(const std::optional<EpochStats>& b) {
  if (!b) return "";
  return "baseline " + exact(b->loss) + ' ' + exact(b->accuracy) + ' ' + std::to_string(b->samples) + ' ' + exact(b->loss_sum) + ' ' +
         std::to_string(b->correct) + '\n';
}
/// Splits a checkpoint's history into its baseline line (when it has one) and the epoch lines.
inline std::pair<std::optional<EpochStats>, std::string> split_baseline(const std::string& text) {
  if (!text.starts_with("baseline ")) return {std::nullopt, text};
  const auto eol = text.find('\n');
  std::istringstream in(text.substr(9, eol == std::string::npos ? std::string::npos : eol - 9));
  EpochStats b;
  in >> b.loss >> b.accuracy >> b.samples >> b.loss_sum >> b.correct;
  if (!in) return {std::nullopt, text};
  return {b, eol == std::string::npos ? std::string() : text.substr(eol + 1)};
}

/// Parses history_text(); FileError naming `where` when it is damaged.
inline std::vector<EpochRecord> parse_history(const std::string& text, const std::string& where) {
  std::vector<EpochRecord> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::string word;
    EpochRecord r;
    auto stats = [&](EpochStats& e) { in >> e.loss >> e.accuracy >> e.samples >> e.seconds >> e.loss_sum >> e.correct >> e.steps; };
    std::size_t n = 0;
    in >> word >> r.epoch;
    stats(r.train);
    stats(r.val);
    in >> n;
    r.lrs.resize(n);
    for (auto& lr : r.lrs) in >> lr;
    int has_ema = 0;
    in >> has_ema;
    if (has_ema) stats(r.ema_val.emplace());
    std::int64_t classes = 0, top5 = 0, nonzero = 0;
    in >> classes >> top5 >> nonzero;
    if (!in || word != "epoch" || classes < 0 || nonzero < 0)
      throw FileError("ftmeta: the run history in " + where + " is damaged (line '" + line.substr(0, 60) + "')");
    std::vector<std::int64_t> counts(static_cast<std::size_t>(classes * classes), 0);
    for (std::int64_t i = 0; i < nonzero; ++i) {
      std::int64_t a = -1, b = -1, c = 0;
      in >> a >> b >> c;
      if (!in || a < 0 || b < 0 || a >= classes || b >= classes)
        throw FileError("ftmeta: the run history in " + where + " is damaged (epoch " + std::to_string(r.epoch) + ")");
      counts[static_cast<std::size_t>(a * classes + b)] = c;
    }
    r.val_confusion.reset(classes);
    r.val_confusion.add_counts(counts, top5);
    out.push_back(std::move(r));
  }
  return out;
}

/// The record as RunReport writes it.
inline EpochReport epoch_report(const EpochRecord& r, std::int64_t skipped = 0) {
  EpochReport e;
  e.epoch = r.epoch;
  e.train_loss = r.train.loss;
  e.train_accuracy = r.train.accuracy;
  e.train_seconds = r.train.seconds;
  e.train_images_per_second = r.train.images_per_second();
  e.skipped = skipped;
  e.val = SplitReport{r.val.loss, r.val.samples, r.val.seconds, r.val_confusion};
  e.lrs = r.lrs;
  if (r.ema_val) {
    ConfusionMatrix m(r.val_confusion.classes());  // only loss and accuracy are recorded for the average
    std::vector<std::int64_t> counts(static_cast<std::size_t>(m.classes() * m.classes()), 0);
    if (m.classes() > 1) {
      counts[0] = r.ema_val->correct;  // accuracy() reads the diagonal
      counts[1] = r.ema_val->samples - r.ema_val->correct;
    }
    m.add_counts(counts, 0);
    e.ema_val = SplitReport{r.ema_val->loss, r.ema_val->samples, r.ema_val->seconds, m};
  }
  return e;
}

/// Sums a pass's loss, hits and samples over the ranks of `group` (every rank then holds the
/// global figures) and recomputes its means.
inline void reduce_stats(const distributed::ProcessGroup* group, EpochStats& s) {
  if (group && group->distributed()) {
    const auto sums = group->sum(std::vector<double>{s.loss_sum});
    const auto counts = group->sum(std::vector<std::int64_t>{s.correct, s.samples});
    s.loss_sum = sums[0];
    s.correct = counts[0];
    s.samples = counts[1];
  }
  s.finalize();
}
/// The same for a confusion matrix's counts.
inline void reduce_confusion(const distributed::ProcessGroup* group, ConfusionMatrix& m) {
  if (!group || !group->distributed()) return;
  auto counts = m.counts();
  counts.push_back(m.top5_hits());
  counts = group->sum(std::move(counts));
  const auto top5 = counts.back();
  counts.pop_back();
  m.reset(m.classes());
  m.add_counts(counts, top5);
}

/// Keeps metrics.csv and metrics.jsonl to the epochs a checkpoint has (a run killed after writing
/// an epoch's line and before its checkpoint repeats that epoch when resumed). The run-configuration
/// lines of metrics.jsonl (RunReport::run_started) are kept while they come after no dropped epoch.
inline void truncate_metrics(const std::filesystem::path& dir, std::int64_t epochs_done) {
  auto keep = [&](const std::filesystem::path& p, bool has_header, auto epoch_of) {
    if (!std::filesystem::exists(p)) return;
    std::ifstream in(p);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    in.close();
    std::string kept;  // replaced whole: a run killed here (or a full disk) leaves the old file, never half of it
    for (std::size_t i = 0; i < lines.size(); ++i)
      if ((has_header && i == 0) || epoch_of(lines[i]) <= epochs_done) kept += lines[i] + '\n';
    util::write_file_atomically(p, kept);
  };
  auto leading = [](const std::string& s, std::size_t from) -> std::int64_t {
    try {
      return std::stoll(s.substr(from));
    } catch (...) {
      return INT64_MAX;  // not an epoch line: dropped
    }
  };
  keep(dir / "metrics.csv", true, [&](const std::string& l) { return leading(l, 0); });
  keep(dir / "metrics.jsonl", false, [&](const std::string& l) {
    if (l.starts_with("{\"run_config\": ")) {  // a run's start: kept when it started within the kept epochs
      const auto at = l.rfind("\"after_epoch\": ");
      return at == std::string::npos ? INT64_MAX : leading(l, at + 15);
    }
    const auto at = l.find("\"epoch\": ");
    return at == std::string::npos ? INT64_MAX : leading(l, at + 9);
  });
}

/// The best k epochs by validation accuracy (ties: the earlier epoch), as checkpoints: best.pt is
/// always the best; with k > 1 the k best are also kept as best-epochN.pt (others removed).
class BestCheckpoints {
 public:
  explicit BestCheckpoints(std::int64_t k = 1) : k_(std::max<std::int64_t>(k, 1)) {}

  /// Records an epoch; returns what to write: whether it is the new best, and whether it enters
  /// the top k (then its best-epochN.pt is written when k > 1). Removes the files that drop out.
  struct Verdict {
    bool best = false, kept = false;
  };
  Verdict add(std::int64_t epoch, double metric, const std::filesystem::path& dir, bool write) {
    ranked_.push_back({metric, epoch});
    std::stable_sort(ranked_.begin(), ranked_.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    Verdict v;
    v.best = ranked_.front().second == epoch;
    for (std::size_t i = 0; i < ranked_.size() && i < static_cast<std::size_t>(k_); ++i) v.kept |= ranked_[i].second == epoch;
    while (ranked_.size() > static_cast<std::size_t>(k_)) {
      if (write && k_ > 1 && !dir.empty()) {
        std::error_code ec;
        std::filesystem::remove(dir / name(ranked_.back().second), ec);
      }
      ranked_.pop_back();
    }
    return v;
  }
  std::int64_t k() const { return k_; }
  double best() const { return ranked_.empty() ? -1 : ranked_.front().first; }
  static std::string name(std::int64_t epoch) { return "best-epoch" + std::to_string(epoch) + ".pt"; }

 private:
  std::int64_t k_;
  std::vector<std::pair<double, std::int64_t>> ranked_;
};

/// A group name as a CSV column / TensorBoard tag: letters, digits, '.', '_' and '-' kept, the
/// rest '_' ("norm and bias of backbone" -> "norm_and_bias_of_backbone").
inline std::string column_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  return out;
}

}  // namespace detail
}  // namespace ftmeta::train
