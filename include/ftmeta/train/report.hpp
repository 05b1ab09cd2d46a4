// ftmeta/train/report.hpp: what a run leaves in its output folder: metrics.csv and metrics.jsonl
// (one line per epoch), TensorBoard scalars, PNG plots (curves, learning rates, confusion matrices)
// and the test report. Ordinary code; the trainer calls it once per epoch.
#pragma once

#include <ftmeta/train/metrics.hpp>
#include <ftmeta/train/plots.hpp>
#include <ftmeta/train/tensorboard.hpp>
#include <ftmeta/util/atomic_file.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace ftmeta::train {

/// Loss and metrics of one pass over a split.
struct SplitReport {
  double loss = 0;
  std::int64_t samples = 0;
  double seconds = 0;
  ConfusionMatrix confusion;  ///< top-1, top-5, per-class precision/recall/F1 derive from it
  double accuracy() const { return confusion.accuracy(); }
  double images_per_second() const { return seconds > 0 ? samples / seconds : 0; }
};

/// Counts a batch of logits [B, C] against labels [B] (top-1 and top-5) into `m`.
inline void add_batch(ConfusionMatrix& m, const torch::Tensor& logits, const torch::Tensor& labels) {
  auto cpu_logits = logits.detach().to(torch::kCPU, torch::kFloat);
  auto cpu_labels = labels.to(torch::kCPU, torch::kLong);
  const auto k = std::min<std::int64_t>(5, cpu_logits.size(1));
  auto top = std::get<1>(cpu_logits.topk(k, 1)).contiguous();
  auto hits = top.eq(cpu_labels.unsqueeze(1));
  // Top-1 is argmax, as the loop counts it: topk may order tied logits differently.
  auto pred = cpu_logits.argmax(1).contiguous();
  const auto* p = pred.data_ptr<std::int64_t>();
  const auto* l = cpu_labels.data_ptr<std::int64_t>();
  auto any = hits.any(1).logical_or(pred.eq(cpu_labels)).contiguous();
  const auto* h = any.data_ptr<bool>();
  for (std::int64_t i = 0; i < cpu_labels.size(0); ++i) m.add(l[i], p[i], h[i]);
}

/// One epoch as it is recorded.
struct EpochReport {
  std::int64_t epoch = 0;
  double train_loss = 0, train_accuracy = 0, train_seconds = 0, train_images_per_second = 0;
  std::int64_t skipped = 0;  ///< unreadable training files skipped this epoch
  SplitReport val;
  std::vector<double> lrs;   ///< learning rate of each parameter group at the epoch's start
  std::optional<SplitReport> ema_val;  ///< the weight average on validation, when one is kept
};

namespace detail {
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
inline std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out += c;
  }
  return out + "\"";
}
}  // namespace detail

/// Writes a run's records into `out_dir`. Every file is appended or rewritten as the run goes, so a
/// killed run leaves what it had; a resumed run appends (epochs already recorded are not repeated).
/// Each line is appended whole (util::AppendFile) and every other file is replaced atomically, so a
/// full disk stops the run with FileError "cannot write PATH: REASON" and leaves no half-written file.
class RunReport {
 public:
  /// `ema`: the epochs carry ema_val, recorded as the ema_val_loss and ema_val_acc columns.
  /// `baseline`: the head phase's validation accuracy (fine_tune), the lp_val_acc column and a
  /// field of every line and of test.json.
  RunReport(std::filesystem::path out_dir, std::vector<std::string> class_names, std::vector<std::string> group_names,
            bool resume = false, bool ema = false, std::optional<double> baseline = std::nullopt)
      : dir_(std::move(out_dir)), classes_(std::move(class_names)), groups_(std::move(group_names)), ema_(ema), baseline_(baseline) {
    std::filesystem::create_directories(dir_);
    const bool append = resume && std::filesystem::exists(dir_ / "metrics.csv");
    if (!append) {
      std::string header = "epoch,train_loss,train_acc,val_loss,val_acc,val_top5,val_macro_f1";
      for (auto& g : groups_) header += ",lr_" + g;
      header += std::string(",train_seconds,train_images_per_s,skipped") + (ema_ ? ",ema_val_loss,ema_val_acc" : "") +
                (baseline_ ? ",lp_val_acc" : "") + "\n";
      util::write_file_atomically(dir_ / "metrics.csv", header);
      util::write_file_atomically(dir_ / "metrics.jsonl", "");
    }
    csv_.open(dir_ / "metrics.csv");
    jsonl_.open(dir_ / "metrics.jsonl");
    tb_ = std::make_unique<TensorBoardWriter>(dir_ / "tensorboard");
  }

  const std::filesystem::path& dir() const { return dir_; }
  const std::vector<EpochReport>& epochs() const { return epochs_; }
  /// The epochs a resumed run recorded before (their lines are already in the files): the curves
  /// are drawn over them too.
  void restore(std::vector<EpochReport> earlier) { epochs_ = std::move(earlier); }

  /// Records the start (or resumption) of a run in metrics.jsonl: a line {"run_config": CONFIG,
  /// "after_epoch": N} before the epochs' lines, where CONFIG is the run's options as JSON (the
  /// reflected fields of TrainOptions, or FineTuneOptions for fine_tune: train/run_config.hpp) and N
  /// the epochs done before it (0 for a fresh run). A resumed run adds one such line per resumption.
  void run_started(const std::string& run_config, std::int64_t after_epoch) {
    if (run_config.empty()) return;
    jsonl_.append("{\"run_config\": " + run_config + ", \"after_epoch\": " + std::to_string(after_epoch) + "}\n");
  }

  /// Records one epoch in CSV, JSON lines and TensorBoard, and redraws the curves.
  void epoch(const EpochReport& r) {
    epochs_.push_back(r);
    const auto& v = r.val;
    std::ostringstream csv;
    csv << r.epoch << ',' << detail::json_number(r.train_loss) << ',' << detail::json_number(r.train_accuracy) << ','
         << detail::json_number(v.loss) << ',' << detail::json_number(v.accuracy()) << ','
         << detail::json_number(v.confusion.top5_accuracy()) << ',' << detail::json_number(v.confusion.macro_f1());
    for (double lr : r.lrs) csv << ',' << detail::json_number(lr);
    csv << ',' << detail::json_number(r.train_seconds) << ',' << detail::json_number(r.train_images_per_second) << ','
         << r.skipped;
    if (ema_) {
      const auto* e = r.ema_val ? &*r.ema_val : nullptr;
      csv << ',' << (e ? detail::json_number(e->loss) : "") << ',' << (e ? detail::json_number(e->accuracy()) : "");
    }
    if (baseline_) csv << ',' << detail::json_number(*baseline_);
    csv << '\n';
    csv_.append(csv.str());

    std::string j = "{\"epoch\": " + std::to_string(r.epoch) + ", \"train_loss\": " + detail::json_number(r.train_loss) +
                    ", \"train_acc\": " + detail::json_number(r.train_accuracy) + ", \"val_loss\": " + detail::json_number(v.loss) +
                    ", \"val_acc\": " + detail::json_number(v.accuracy()) + ", \"val_top5\": " +
                    detail::json_number(v.confusion.top5_accuracy()) + ", \"val_macro_f1\": " + detail::json_number(v.confusion.macro_f1()) +
                    ", \"lr\": {";
    for (std::size_t g = 0; g < r.lrs.size(); ++g)
      j += (g ? ", " : "") + detail::json_string(g < groups_.size() ? groups_[g] : std::to_string(g)) + ": " + detail::json_number(r.lrs[g]);
    j += "}, \"train_seconds\": " + detail::json_number(r.train_seconds) + ", \"skipped\": " + std::to_string(r.skipped);
    if (r.ema_val)
      j += ", \"ema_val_loss\": " + detail::json_number(r.ema_val->loss) + ", \"ema_val_acc\": " + detail::json_number(r.ema_val->accuracy());
    if (baseline_) j += ", \"lp_val_acc\": " + detail::json_number(*baseline_);
    j += "}";
    jsonl_.append(j + '\n');

    tb_->scalar("train/loss", r.train_loss, r.epoch);
    tb_->scalar("train/accuracy", r.train_accuracy, r.epoch);
    tb_->scalar("val/loss", v.loss, r.epoch);
    tb_->scalar("val/accuracy", v.accuracy(), r.epoch);
    tb_->scalar("val/top5", v.confusion.top5_accuracy(), r.epoch);
    if (r.ema_val) {
      tb_->scalar("ema_val/loss", r.ema_val->loss, r.epoch);
      tb_->scalar("ema_val/accuracy", r.ema_val->accuracy(), r.epoch);
    }
    for (std::size_t g = 0; g < r.lrs.size(); ++g)
      tb_->scalar("lr/" + (g < groups_.size() ? groups_[g] : std::to_string(g)), r.lrs[g], r.epoch);
    tb_->flush();
    draw_curves();
    plot_confusion(dir_ / "confusion_val.png", v.confusion, classes_, "validation, epoch " + std::to_string(r.epoch));
  }

  /// The final test: test.json (overall and per class) and confusion_test.png.
  void test(const SplitReport& t) {
    std::ostringstream out;
    out << "{\"loss\": " << detail::json_number(t.loss) << ", \"accuracy\": " << detail::json_number(t.accuracy())
        << ", \"top5\": " << detail::json_number(t.confusion.top5_accuracy()) << ", \"macro_f1\": "
        << detail::json_number(t.confusion.macro_f1()) << ", \"samples\": " << t.samples;
    if (baseline_) out << ", \"lp_val_acc\": " << detail::json_number(*baseline_);
    out << ", \"classes\": [";
    for (std::int64_t c = 0; c < t.confusion.classes(); ++c) {
      const auto s = t.confusion.scores(c);
      out << (c ? ", " : "") << "{\"name\": " << detail::json_string(c < static_cast<std::int64_t>(classes_.size()) ? classes_[static_cast<std::size_t>(c)] : std::to_string(c))
          << ", \"precision\": " << detail::json_number(s.precision) << ", \"recall\": " << detail::json_number(s.recall)
          << ", \"f1\": " << detail::json_number(s.f1) << ", \"support\": " << s.support << "}";
    }
    out << "]}\n";
    util::write_file_atomically(dir_ / "test.json", out.str());
    tb_->scalar("test/accuracy", t.accuracy(), epochs_.empty() ? 0 : epochs_.back().epoch);
    tb_->flush();
    plot_confusion(dir_ / "confusion_test.png", t.confusion, classes_, "test");
  }

 private:
  void draw_curves() {
    Series tl{"train loss", {}, {}}, vl{"val loss", {}, {}}, ta{"train acc", {}, {}}, va{"val acc", {}, {}};
    std::vector<Series> lrs(groups_.size());
    for (std::size_t g = 0; g < groups_.size(); ++g) lrs[g].name = "lr " + groups_[g];
    for (auto& e : epochs_) {
      const double x = static_cast<double>(e.epoch);
      tl.x.push_back(x), tl.y.push_back(e.train_loss);
      vl.x.push_back(x), vl.y.push_back(e.val.loss);
      ta.x.push_back(x), ta.y.push_back(e.train_accuracy);
      va.x.push_back(x), va.y.push_back(e.val.accuracy());
      for (std::size_t g = 0; g < lrs.size() && g < e.lrs.size(); ++g) lrs[g].x.push_back(x), lrs[g].y.push_back(e.lrs[g]);
    }
    plot_lines(dir_ / "loss.png", {tl, vl}, {"loss", "epoch", "cross-entropy"});
    plot_lines(dir_ / "accuracy.png", {ta, va}, {"top-1 accuracy", "epoch", "accuracy"});
    plot_lines(dir_ / "lr.png", lrs, {"learning rate per group", "epoch", "lr", false, true});
  }

  std::filesystem::path dir_;
  std::vector<std::string> classes_, groups_;
  bool ema_ = false;
  std::optional<double> baseline_;
  util::AppendFile csv_, jsonl_;
  std::unique_ptr<TensorBoardWriter> tb_;
  std::vector<EpochReport> epochs_;
};

}  // namespace ftmeta::train
