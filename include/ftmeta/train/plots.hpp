// ftmeta/train/plots.hpp: PNG charts drawn with OpenCV: line charts (loss, accuracy, learning rates,
// the learning-rate finder) and the confusion matrix as a heat map.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/train/metrics.hpp>
#include <ftmeta/util/atomic_file.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace ftmeta::train {

/// One line of a chart.
struct Series {
  std::string name;
  std::vector<double> x, y;
};

/// How a chart is labelled and scaled.
struct ChartOptions {
  std::string title, x_label, y_label;
  bool log_x = false;
  bool log_y = false;
  int width = 800, height = 500;
};

namespace detail {
inline std::string tick_text(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a != 0 && (a < 1e-2 || a >= 1e5)) std::snprintf(buf, sizeof buf, "%.0e", v);
  else if (a < 1) std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
inline const cv::Scalar& palette(std::size_t i) {
  static const cv::Scalar colors[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214},
                                      {189, 103, 148}, {75, 86, 140}, {194, 119, 227}, {127, 127, 127}};
  return colors[i % 8];
}
inline void write_png(const std::filesystem::path& path, const cv::Mat& img) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::vector<std::uint8_t> png;
  if (!cv::imencode(".png", img, png)) throw FileError("ftmeta: cannot write plot " + path.string() + ": PNG encoding failed");
  try {  // whole or not at all: a full disk leaves the previous plot
    util::write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  } catch (const FileError& e) {
    throw FileError(std::string("ftmeta: plot: ") + e.what());
  }
}
}  // namespace detail

/// Draws the series as a line chart and writes it to `path` (PNG). Non-finite points are skipped.
inline void plot_lines(const std::filesystem::path& path, const std::vector<Series>& series, const ChartOptions& o) {
  cv::Mat img(o.height, o.width, CV_8UC3, cv::Scalar(255, 255, 255));
  const int left = 80, right = 170, top = 40, bottom = 60;
  const cv::Rect area(left, top, o.width - left - right, o.height - top - bottom);
  auto tx = [&](double v) { return o.log_x ? std::log10(v) : v; };
  auto ty = [&](double v) { return o.log_y ? std::log10(v) : v; };
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (auto& s : series)
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      const double x = tx(s.x[i]), y = ty(s.y[i]);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (!(x0 <= x1)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to draw: empty axes
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return area.x + static_cast<int>(std::lround((tx(x) - x0) / (x1 - x0) * area.width)); };
  auto py = [&](double y) { return area.y + area.height - static_cast<int>(std::lround((ty(y) - y0) / (y1 - y0) * area.height)); };

  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar ink(40, 40, 40), grid(225, 225, 225);
  for (int i = 0; i <= 5; ++i) {  // ticks and grid
    const double fx = x0 + (x1 - x0) * i / 5, fy = y0 + (y1 - y0) * i / 5;
    const int gx = area.x + area.width * i / 5, gy = area.y + area.height - area.height * i / 5;
    cv::line(img, {gx, area.y}, {gx, area.y + area.height}, grid, 1);
    cv::line(img, {area.x, gy}, {area.x + area.width, gy}, grid, 1);
    cv::putText(img, detail::tick_text(o.log_x ? std::pow(10, fx) : fx), {gx - 20, area.y + area.height + 20}, font, 0.4, ink, 1, cv::LINE_AA);
    cv::putText(img, detail::tick_text(o.log_y ? std::pow(10, fy) : fy), {8, gy + 4}, font, 0.4, ink, 1, cv::LINE_AA);
  }
  cv::rectangle(img, area, ink, 1);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    std::vector<cv::Point> pts;
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(tx(s.x[i])) && std::isfinite(ty(s.y[i]))) pts.emplace_back(px(s.x[i]), py(s.y[i]));
    if (pts.size() == 1) cv::circle(img, pts[0], 3, detail::palette(k), cv::FILLED, cv::LINE_AA);
    if (pts.size() > 1) cv::polylines(img, pts, false, detail::palette(k), 2, cv::LINE_AA);
    const int ly = area.y + 20 + static_cast<int>(k) * 22;
    cv::line(img, {o.width - right + 12, ly - 4}, {o.width - right + 36, ly - 4}, detail::palette(k), 3);
    cv::putText(img, s.name, {o.width - right + 42, ly}, font, 0.45, ink, 1, cv::LINE_AA);
  }
  cv::putText(img, o.title, {left, 26}, font, 0.6, ink, 1, cv::LINE_AA);
  cv::putText(img, o.x_label, {area.x + area.width / 2 - 30, o.height - 18}, font, 0.5, ink, 1, cv::LINE_AA);
  cv::putText(img, o.y_label, {8, area.y - 10}, font, 0.45, ink, 1, cv::LINE_AA);
  detail::write_png(path, img);
}

/// The confusion matrix as a heat map (rows: true class, columns: predicted), with counts, and
/// class names on both axes. Row-normalized shading, so small classes are as visible as large ones.
inline void plot_confusion(const std::filesystem::path& path, const ConfusionMatrix& m, const std::vector<std::string>& names,
                           const std::string& title = "confusion matrix") {
  const int n = static_cast<int>(m.classes());
  const int cell = std::clamp(560 / std::max(n, 1), 14, 60), left = 150, top = 60;
  cv::Mat img(top + n * cell + 140, left + n * cell + 20, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar ink(40, 40, 40);
  for (int r = 0; r < n; ++r) {
    std::int64_t row = 0;
    for (int c = 0; c < n; ++c) row += m.at(r, c);
    for (int c = 0; c < n; ++c) {
      const double f = row ? static_cast<double>(m.at(r, c)) / row : 0.0;
      const cv::Scalar color(255 - 30 * f, 255 - 120 * f, 255 - 200 * f);  // white to blue (BGR)
      const cv::Rect box(left + c * cell, top + r * cell, cell, cell);
      cv::rectangle(img, box, color, cv::FILLED);
      cv::rectangle(img, box, cv::Scalar(200, 200, 200), 1);
      if (cell >= 24) {
        const auto text = std::to_string(m.at(r, c));
        cv::putText(img, text, {box.x + 3, box.y + cell / 2 + 4}, font, 0.35, f > 0.6 ? cv::Scalar(255, 255, 255) : ink, 1, cv::LINE_AA);
      }
    }
    const std::string name = r < static_cast<int>(names.size()) ? names[static_cast<std::size_t>(r)] : std::to_string(r);
    cv::putText(img, name.substr(0, 18), {6, top + r * cell + cell / 2 + 4}, font, 0.4, ink, 1, cv::LINE_AA);
  }
  // Column names: drawn right-aligned in a strip, then turned a quarter counterclockwise so they
  // read upwards and end just below the matrix.
  cv::Mat col_names(cell * std::max(n, 1), 120, CV_8UC3, cv::Scalar(255, 255, 255)), labels;
  for (int c = 0; c < n; ++c) {
    const std::string name =
        (c < static_cast<int>(names.size()) ? names[static_cast<std::size_t>(c)] : std::to_string(c)).substr(0, 18);
    int baseline = 0;
    const auto size = cv::getTextSize(name, font, 0.4, 1, &baseline);
    cv::putText(col_names, name, {116 - size.width, c * cell + cell / 2 + 4}, font, 0.4, ink, 1, cv::LINE_AA);
  }
  cv::rotate(col_names, labels, cv::ROTATE_90_COUNTERCLOCKWISE);
  labels.copyTo(img(cv::Rect(left, top + n * cell + 6, labels.cols, std::min(labels.rows, img.rows - top - n * cell - 6))));
  cv::putText(img, title + " (rows: true, columns: predicted)", {10, 30}, font, 0.55, ink, 1, cv::LINE_AA);
  detail::write_png(path, img);
}

}  // namespace ftmeta::train
