// ftmeta/transforms/kernels/resample.hpp: the geometric stage's kernel: one folded 2x3 map as a view, a resize or a warp.
// A folded GeomStep runs as a view of the input, one antialiased resample of a box (PIL's triangle filter,
// kernels/antialias.hpp, made row by row as the pixel pass asks; torchvision's crop-then-resize exactly for
// whole-pixel boxes), or, for rotations, one bilinear warp (with an area pre-shrink where it shrinks more
// than 2x); flips become reversed reads in the pixel pass, padding
// and fill are what lies outside the result's window and clip frame. Also the padding of the source for
// the modes other than constant (edge, reflect, symmetric). OpenCV only.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/kernels/antialias.hpp>
#include <ftmeta/transforms/kernels/warp.hpp>
#include <ftmeta/transforms/ops.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <utility>

namespace ftmeta::transforms {

namespace detail {

inline bool near_integer(double v) { return std::abs(v - std::round(v)) < 1e-6; }
inline int round_int(double v) { return static_cast<int>(std::lround(v)); }

/// Output pixels [lo, hi) along one axis whose centres fall inside the input [0, n): x_in = s*x + o.
inline std::pair<int, int> axis_window(double s, double o, int out, int n) {
  const int lo = static_cast<int>(std::ceil((0.0 - o) / s - 0.5 - 1e-9));
  const int hi = static_cast<int>(std::ceil((n - o) / s - 0.5 - 1e-9));
  return {std::clamp(lo, 0, out), std::clamp(hi, 0, out)};
}

/// The result of a geometric stage before the pixel pass: the pixels of the window of the unflipped
/// output that lies inside the input; outside it the output is zero (torchvision pads with 0).
struct Resampled {
  cv::Mat image;  // a view of the input or an OpenCV temporary; 1, 3 or 4 channels as the input
  // or the window's rows made on demand (a resize, flip_x already folded in, or a warp); image is then empty
  std::shared_ptr<RowSource> rows;
  cv::Rect window;
  ImageSize out;
  bool flip_x = false, flip_y = false;
  bool clips = false;   // output pixels whose centres `clip` maps outside clip_size get `fill`
  Affine2D clip{};
  ImageSize clip_size{};
  int fill = 0;
};

/// Executes a folded geometric step on an image: the non-template core of every GeometricStage.
FTMETA_DECL Resampled resample(const cv::Mat& src, const GeomStep& step);

// --- padding modes other than constant: the source is padded before the resample --------------------

/// torchvision's padding modes as OpenCV borders (np.pad's "reflect" is BORDER_REFLECT_101, "symmetric"
/// BORDER_REFLECT).
inline int border_type(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::edge: return cv::BORDER_REPLICATE;
    case PaddingMode::reflect: return cv::BORDER_REFLECT_101;
    case PaddingMode::symmetric: return cv::BORDER_REFLECT;
    default: return cv::BORDER_CONSTANT;
  }
}

/// F.pad of an 8-bit image: `b` pixels on each side, as `mode` (constant: the grey level `fill`).
inline cv::Mat pad_image(const cv::Mat& image, const Border& b, PaddingMode mode, int fill) {
  cv::Mat out;
  cv::copyMakeBorder(image, out, b.top, b.bottom, b.left, b.right, border_type(mode), cv::Scalar::all(fill));
  return out;
}

}  // namespace detail

}  // namespace ftmeta::transforms

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/transforms/kernels/impl/resample.ipp>
#endif
