// ftmeta/transforms/kernels/impl/resample.ipp: the definition of resample() (kernels/resample.hpp): included by that
// header when header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/transforms/kernels/resample.hpp>

namespace ftmeta::transforms::detail {

FTMETA_DECL Resampled resample(const cv::Mat& src, const GeomStep& step) {
  Resampled r;
  r.out = step.out;
  const Affine2D& m = step.map;
  const int W = step.out.width, H = step.out.height;
  r.clips = step.clips, r.clip = step.clip, r.clip_size = step.clip_size, r.fill = step.fill;
  if (!m.axis_aligned() || step.clips2) {  // rotations (and flips, crops, resizes with them): one bilinear warp
    // Where the map shrinks more than 2x along both output axes, an area pre-shrink of the needed part
    // of the input first (as the axis-aligned path), so the warp does not alias.
    const double step_x = std::hypot(m.a, m.d), step_y = std::hypot(m.b, m.e);
    cv::Mat base = src;
    Affine2D k = m;
    if (step_x > 2 && step_y > 2) {
      double lo_x = 1e300, lo_y = 1e300, hi_x = -1e300, hi_y = -1e300;
      for (const auto& [x, y] : {std::pair{0.0, 0.0}, std::pair{double(W), 0.0}, std::pair{0.0, double(H)}, std::pair{double(W), double(H)}}) {
        const double u = m.a * x + m.b * y + m.c, v = m.d * x + m.e * y + m.f;
        lo_x = std::min(lo_x, u), hi_x = std::max(hi_x, u), lo_y = std::min(lo_y, v), hi_y = std::max(hi_y, v);
      }
      const cv::Rect need = cv::Rect(cv::Point(int(std::floor(lo_x)) - 1, int(std::floor(lo_y)) - 1),
                                     cv::Point(int(std::ceil(hi_x)) + 1, int(std::ceil(hi_y)) + 1)) & cv::Rect(0, 0, src.cols, src.rows);
      const double shrink = std::min(step_x, step_y) / 1.5;
      const cv::Size pre(std::max(1, round_int(need.width / shrink)), std::max(1, round_int(need.height / shrink)));
      if (!need.empty() && pre.width < need.width && pre.height < need.height) {
        cv::resize(src(need), base, pre, 0, 0, cv::INTER_AREA);
        const double kx = double(need.width) / pre.width, ky = double(need.height) / pre.height;
        k = {m.a / kx, m.b / kx, (m.c - need.x) / kx, m.d / ky, m.e / ky, (m.f - need.y) / ky};
      }
    }
    // Outside the input is zero (torchvision pads with zeros), then the fill of the earlier filling op's
    // frame; the last filling op's frame is applied by the pixel pass (clip).
    r.rows = std::make_shared<WarpRows>(base, k, step.out, m, ImageSize{src.rows, src.cols}, step.clips2, step.clip2, step.clip2_size, step.fill2);
    r.window = cv::Rect(0, 0, W, H);
    return r;
  }
  // Flips become reversed reads in the pixel pass; what is left is scale + offset per axis.
  double sx = m.a, ox = m.c, sy = m.e, oy = m.f;
  if (sx < 0) r.flip_x = true, ox += sx * W, sx = -sx;
  if (sy < 0) r.flip_y = true, oy += sy * H, sy = -sy;
  const auto [x0, x1] = axis_window(sx, ox, W, src.cols);
  const auto [y0, y1] = axis_window(sy, oy, H, src.rows);
  r.window = cv::Rect(x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0));
  if (r.window.empty()) return r;
  const cv::Size wsize = r.window.size();
  const cv::Rect whole(0, 0, src.cols, src.rows);

  // A: the window comes from a whole-pixel box of the input: a view, or one resize of that ROI.
  const double left = ox + sx * x0, right = ox + sx * x1, top = oy + sy * y0, bottom = oy + sy * y1;
  if (near_integer(left) && near_integer(right) && near_integer(top) && near_integer(bottom)) {
    const cv::Rect roi = cv::Rect(round_int(left), round_int(top), round_int(right) - round_int(left),
                                  round_int(bottom) - round_int(top)) & whole;
    if (roi.size() == wsize) r.image = src(roi);
    else r.rows = std::make_shared<AntialiasRows>(src(roi), 0, roi.width, 0, roi.height, wsize.width, wsize.height, r.flip_x);
    return r;
  }
  // B: the output pixels are whole pixels of the input resized to a whole-pixel grid (Resize then a
  // crop): one resize, then a view of the window.
  const double grid_w = src.cols / sx, grid_h = src.rows / sy, cx = ox / sx, cy = oy / sy;
  if (near_integer(grid_w) && near_integer(grid_h) && near_integer(cx) && near_integer(cy)) {
    const cv::Size grid_size(round_int(grid_w), round_int(grid_h));
    const cv::Rect roi = cv::Rect(round_int(cx) + x0, round_int(cy) + y0, wsize.width, wsize.height) &
                         cv::Rect(cv::Point(0, 0), grid_size);
    if (roi.size() == wsize) {  // PIL resizes the whole image, then crops: the same weights, only the window's
      const double kx = double(src.cols) / grid_size.width, ky = double(src.rows) / grid_size.height;
      if (grid_size == cv::Size(src.cols, src.rows)) r.image = src(roi);
      else r.rows = std::make_shared<AntialiasRows>(src, kx * roi.x, kx * (roi.x + roi.width), ky * roi.y, ky * (roi.y + roi.height),
                                                    wsize.width, wsize.height, r.flip_x);
      return r;
    }
  }
  // C: any other scale + offset (several resamples folded into one, or a source decoded at a reduced
  // scale): one antialiased resample of the box [left, right) x [top, bottom), its taps kept inside the
  // box's whole pixels (as torchvision's crop, then resize).
  const cv::Rect hull = cv::Rect(cv::Point(static_cast<int>(std::floor(left + 1e-9)), static_cast<int>(std::floor(top + 1e-9))),
                                 cv::Point(static_cast<int>(std::ceil(right - 1e-9)), static_cast<int>(std::ceil(bottom - 1e-9)))) & whole;
  if (hull.empty()) {
    r.window = cv::Rect();
    return r;
  }
  r.rows = std::make_shared<AntialiasRows>(src(hull), left - hull.x, right - hull.x, top - hull.y, bottom - hull.y, wsize.width,
                                           wsize.height, r.flip_x);
  return r;
}

}  // namespace ftmeta::transforms::detail

