// tests/support/photos.hpp: the reference photos and per-photo arrays the Python reference
// generators write for the transform tests, and the conversions the comparisons need.
// Test support only (not part of the library).
#pragma once

#include <support/npy.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace ftmeta::test {

/// DIR/photoK.png as BGR, as the reference generator saved it.
inline cv::Mat ref_photo(const std::filesystem::path& dir, int k) {
  const auto path = dir / ("photo" + std::to_string(k) + ".png");
  cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (image.empty()) throw std::runtime_error("cannot read " + path.string() + " (did python_refs run?)");
  return image;
}

/// DIR/photoK_WHAT.npy: what the reference did to photo K.
inline torch::Tensor ref_photo_array(const std::filesystem::path& dir, int k, const std::string& what) {
  return load_npy(dir / ("photo" + std::to_string(k) + "_" + what + ".npy"));
}

/// A BGR image as uint8 RGB CHW (the layout of the references).
inline torch::Tensor chw(const cv::Mat& bgr) {
  return torch::from_blob(bgr.data, {bgr.rows, bgr.cols, 3}, {std::int64_t(bgr.step[0]), 3, 1}, torch::kUInt8)
      .permute({2, 0, 1})
      .flip({0})
      .contiguous();
}

/// Column c of a 2-D table, as doubles (sampled parameters against the reference's draws).
inline std::vector<double> column(const torch::Tensor& t, int c) {
  const auto a = t.to(torch::kFloat64).contiguous();
  std::vector<double> v(std::size_t(a.size(0)));
  const auto acc = a.accessor<double, 2>();
  for (std::int64_t i = 0; i < a.size(0); ++i) v[std::size_t(i)] = acc[i][c];
  return v;
}

}  // namespace ftmeta::test
