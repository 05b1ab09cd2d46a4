// ftmeta/train/metrics.hpp: classification metrics from (label, prediction) counts: accuracy,
// top-k, per-class precision, recall and F1, and the confusion matrix. Plain code, no torch.
// ftmeta:pure
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ftmeta::train {

/// Per-class figures derived from a confusion matrix.
struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  std::int64_t support = 0;  ///< samples whose true class this is
};

/// Counts of (true class, predicted class) pairs, plus top-k hits when ranks are given.
/// Rows are true classes, columns predictions, as scikit-learn's confusion_matrix.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::int64_t classes = 0) { reset(classes); }

  void reset(std::int64_t classes) {
    if (classes < 0) throw std::invalid_argument("ConfusionMatrix: negative class count");
    n_ = classes;
    counts_.assign(static_cast<std::size_t>(n_ * n_), 0);
    total_ = top5_hits_ = 0;
  }
  std::int64_t classes() const { return n_; }
  std::int64_t total() const { return total_; }

  /// One sample: its true label, the predicted label, and whether the label was among the five
  /// highest scores (pass `in_top5 = predicted == label` when fewer than five classes).
  void add(std::int64_t label, std::int64_t predicted, bool in_top5) {
    if (label < 0 || label >= n_ || predicted < 0 || predicted >= n_)
      throw std::out_of_range("ConfusionMatrix::add: label " + std::to_string(label) + " or prediction " +
                              std::to_string(predicted) + " outside [0, " + std::to_string(n_) + ")");
    ++counts_[static_cast<std::size_t>(label * n_ + predicted)];
    ++total_;
    top5_hits_ += in_top5 ? 1 : 0;
  }
  /// Adds another matrix of the same size (metrics reduced across workers or ranks).
  void merge(const ConfusionMatrix& o) {
    if (o.n_ != n_) throw std::invalid_argument("ConfusionMatrix::merge: class counts differ");
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    top5_hits_ += o.top5_hits_;
  }

  /// Adds counts gathered elsewhere (e.g. summed across ranks): `counts` row-major [classes x
  /// classes] as counts() gives them, and the top-5 hits as top5_hits() gives them.
  void add_counts(const std::vector<std::int64_t>& counts, std::int64_t top5_hits) {
    if (counts.size() != counts_.size())
      throw std::invalid_argument("ConfusionMatrix::add_counts: expected " + std::to_string(counts_.size()) + " counts, got " +
                                  std::to_string(counts.size()));
    for (std::size_t i = 0; i < counts.size(); ++i) {
      counts_[i] += counts[i];
      total_ += counts[i];
    }
    top5_hits_ += top5_hits;
  }
  std::int64_t top5_hits() const { return top5_hits_; }

  std::int64_t at(std::int64_t label, std::int64_t predicted) const { return counts_[static_cast<std::size_t>(label * n_ + predicted)]; }
  const std::vector<std::int64_t>& counts() const { return counts_; }

  double accuracy() const {
    std::int64_t hit = 0;
    for (std::int64_t c = 0; c < n_; ++c) hit += at(c, c);
    return total_ ? static_cast<double>(hit) / total_ : 0.0;
  }
  double top5_accuracy() const { return total_ ? static_cast<double>(top5_hits_) / total_ : 0.0; }

  /// Precision, recall and F1 of class c (0 where undefined, as scikit-learn's zero_division=0).
  ClassScores scores(std::int64_t c) const {
    std::int64_t tp = at(c, c), predicted = 0, actual = 0;
    for (std::int64_t k = 0; k < n_; ++k) {
      predicted += at(k, c);
      actual += at(c, k);
    }
    ClassScores s;
    s.support = actual;
    s.precision = predicted ? static_cast<double>(tp) / predicted : 0.0;
    s.recall = actual ? static_cast<double>(tp) / actual : 0.0;
    s.f1 = (s.precision + s.recall) > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    return s;
  }
  /// The unweighted mean F1 over classes (scikit-learn's f1_score(average="macro")).
  double macro_f1() const {
    if (n_ == 0) return 0.0;
    double sum = 0;
    for (std::int64_t c = 0; c < n_; ++c) sum += scores(c).f1;
    return sum / n_;
  }

 private:
  std::int64_t n_ = 0, total_ = 0, top5_hits_ = 0;
  std::vector<std::int64_t> counts_;
};

}  // namespace ftmeta::train
