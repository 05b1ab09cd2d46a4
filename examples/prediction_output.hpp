// examples/prediction_output.hpp: what predict and predict_onnx share: the --topk and
// --exif-orientation flags (PredictionFlags), the IMAGE<TAB>CLASS_NAME<TAB>PROBABILITY lines, the line of an image
// that cannot be read, and the closing count. No LibTorch (predict_onnx includes it).
#pragma once

#include <ftmeta/core/reflect.hpp>

#include <boost/hana/tuple.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

namespace example {

/// The flags both programs take (--topk, --exif-orientation), described once.
struct PredictionFlags {
  std::int64_t topk = 1;
  bool exif_orientation = false;
  static constexpr auto fields() {
    using ftmeta::reflect::field, ftmeta::reflect::Range;
    return boost::hana::make_tuple(
        field("topk", &PredictionFlags::topk, "classes to print per image", Range{1, 1000}),
        field("exif_orientation", &PredictionFlags::exif_orientation,
              "turn images upright by their EXIF orientation tag (default: ignore it, as training does)"));
  }
};

/// A class and its probability, as predict_onnx computes them (predict's Predictor gives
/// ftmeta::train::Prediction, with the same two fields).
struct Scored {
  std::string class_name;
  double probability = 0;
};

/// The k most probable classes of `logits` (softmax over `names.size()` values), most probable
/// first, ties in class order.
inline std::vector<Scored> top_k(const float* logits, const std::vector<std::string>& names, std::int64_t k) {
  const std::size_t n = names.size();
  const double top = *std::max_element(logits, logits + n);
  std::vector<double> prob(n);
  double sum = 0;
  for (std::size_t c = 0; c < n; ++c) sum += prob[c] = std::exp(static_cast<double>(logits[c]) - top);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return prob[a] > prob[b]; });
  std::vector<Scored> out;
  for (std::size_t j = 0; j < std::min<std::size_t>(static_cast<std::size_t>(k), n); ++j)
    out.push_back({names[order[j]], prob[order[j]] / sum});
  return out;
}

/// One line per prediction: IMAGE<TAB>CLASS_NAME<TAB>PROBABILITY (4 decimals).
template <class Predictions>
void print_predictions(std::ostream& out, const std::string& image, const Predictions& top) {
  for (const auto& p : top) out << image << '\t' << p.class_name << '\t' << std::fixed << std::setprecision(4) << p.probability << '\n';
}
/// The line of an image that cannot be read: IMAGE<TAB>error: WHY.
inline void print_image_error(std::ostream& out, const std::string& image, const std::string& why) {
  out << image << "\terror: " << why << '\n';
}
/// Flushes the predictions, reports the images that could not be read on stderr, and returns the
/// exit status (1 when there were any).
inline int finish_predictions(const char* program, int failures) {
  std::cout.flush();
  if (failures) std::cerr << program << ": " << failures << " image(s) could not be read" << std::endl;
  return failures ? 1 : 0;
}

}  // namespace example
