// ftmeta/transforms/execute.hpp: the kernels (OpenCV + torch) that run a pipeline's plan, fused or op by op.
// The fused path: one resample for the geometric stage (a view, one cv::resize of an ROI, or one warp),
// then one pass that runs the photometric steps (ColorJitter, RandomGrayscale) on each row and writes
// float32 RGB CHW (or uint8) straight into the caller's tensor. Where the plan needs them: the source
// padded first (Pad/RandomCrop with edge/reflect/symmetric padding), a blur pass between the photometric
// steps (GaussianBlur), RandomErasing in place on the finished output. The unfused path runs each op alone
// (OpenCV/torch calls; ColorJitter with PIL's exact uint8 arithmetic); it is the reference the fused
// path is tested against. Both sample the same parameters from the caller's Rng, in op order.
// Thread-safe: no shared state; per call, OpenCV temporaries and one row buffer; cv::setNumThreads is
// the caller's.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/transforms/compose.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ftmeta::transforms {

namespace detail {

/// What is wrong with an input image, or "" when it is usable.
inline std::string image_problem(const cv::Mat& image) {
  if (image.empty()) return "the image is empty (did cv::imread fail?)";
  if (image.dims != 2 || image.depth() != CV_8U ||
      (image.channels() != 1 && image.channels() != 3 && image.channels() != 4))
    return "the image must be 2-D, 8-bit, with 1, 3 or 4 channels (gray, BGR or BGRA as cv::imread gives); got " +
           cv::typeToString(image.type());
  return {};
}

/// "[3, 224, 224] float32", "undefined".
inline std::string tensor_text(const torch::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "] " + std::string(c10::toString(t.scalar_type())) + (t.is_contiguous() ? "" : " non-contiguous") +
         (t.device().is_cpu() ? "" : " on " + t.device().str());
}

/// What is wrong with an output tensor for an H x W result, or "".
inline std::string out_problem(const torch::Tensor& out, ImageSize size) {
  const bool ok = out.defined() && out.device().is_cpu() && out.dim() == 3 && out.size(0) == 3 &&
                  out.size(1) == size.height && out.size(2) == size.width && out.is_contiguous() &&
                  (out.scalar_type() == torch::kFloat32 || out.scalar_type() == torch::kUInt8);
  if (ok) return {};
  return "`out` must be a contiguous CPU float32 (or uint8) tensor of shape [3, " + std::to_string(size.height) +
         ", " + std::to_string(size.width) + "]; got " + tensor_text(out);
}

template <class P>
std::string api_name(const char* function) {
  return std::string("ftmeta::transforms::") + function + "<" + type_name<P>() + ">";
}

/// The interpolation both paths use: area averaging when shrinking (the closest OpenCV mode to PIL's
/// antialiased bilinear), bilinear otherwise.
inline int resize_interpolation(cv::Size from, cv::Size to) {
  return (to.width <= from.width && to.height <= from.height) ? cv::INTER_AREA : cv::INTER_LINEAR;
}

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
  cv::Rect window;
  ImageSize out;
  bool flip_x = false, flip_y = false;
  bool clips = false;   // output pixels whose centres `clip` maps outside clip_size get `fill`
  Affine2D clip{};
  ImageSize clip_size{};
  int fill = 0;
};

/// Output columns [lo, hi) (of `width`) of row y whose centres the map `m` sends inside `frame`.
inline std::pair<int, int> frame_span(const Affine2D& m, ImageSize frame, int width, int y) {
  double lo = 0, hi = width;
  const double yc = y + 0.5;
  // u = a * xc + (b * yc + c) in [0, w), v = d * xc + (e * yc + f) in [0, h), xc = x + 0.5
  auto limit = [&](double slope, double offset, double size) {
    if (std::abs(slope) < 1e-12) {
      if (offset < 0 || offset >= size) hi = lo;
      return;
    }
    double t0 = (0 - offset) / slope, t1 = (size - offset) / slope;
    if (t0 > t1) std::swap(t0, t1);
    lo = std::max(lo, t0), hi = std::min(hi, t1);
  };
  limit(m.a, m.b * yc + m.c, frame.width);
  limit(m.d, m.e * yc + m.f, frame.height);
  const int x0 = std::clamp(static_cast<int>(std::ceil(lo - 0.5 - 1e-9)), 0, width);
  const int x1 = std::clamp(static_cast<int>(std::ceil(hi - 0.5 - 1e-9)), x0, width);
  return {x0, x1};
}

/// In a warped output (one image of the output's size): the pixels whose centres `m` maps outside
/// `frame` become `fill` (all channels).
inline void fill_outside(cv::Mat& image, const Affine2D& m, ImageSize frame, int fill) {
  const int cn = image.channels();
  const auto f = static_cast<std::uint8_t>(fill);
  for (int y = 0; y < image.rows; ++y) {
    const auto [x0, x1] = frame_span(m, frame, image.cols, y);
    std::uint8_t* row = image.ptr<std::uint8_t>(y);
    std::fill(row, row + std::ptrdiff_t(x0) * cn, f);
    std::fill(row + std::ptrdiff_t(x1) * cn, row + std::ptrdiff_t(image.cols) * cn, f);
  }
}

/// Executes a folded geometric step on an image: the non-template core of every GeometricStage.
inline Resampled resample(const cv::Mat& src, const GeomStep& step) {
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
    const cv::Matx23d centre_map(k.a, k.b, k.c + 0.5 * (k.a + k.b) - 0.5, k.d, k.e, k.f + 0.5 * (k.d + k.e) - 0.5);
    cv::warpAffine(base, r.image, centre_map, cv::Size(W, H), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    r.window = cv::Rect(0, 0, W, H);
    // Outside the input is zero (torchvision pads with zeros), then the fill of the earlier filling op's
    // frame; the last filling op's frame is applied by the pixel pass (clip).
    fill_outside(r.image, m, {src.rows, src.cols}, 0);
    if (step.clips2) fill_outside(r.image, step.clip2, step.clip2_size, step.fill2);
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
    else cv::resize(src(roi), r.image, wsize, 0, 0, resize_interpolation(roi.size(), wsize));
    return r;
  }
  // B: the output pixels are whole pixels of the input resized to a whole-pixel grid (Resize then a
  // crop): one resize, then a view of the window.
  const double grid_w = src.cols / sx, grid_h = src.rows / sy, cx = ox / sx, cy = oy / sy;
  if (near_integer(grid_w) && near_integer(grid_h) && near_integer(cx) && near_integer(cy)) {
    const cv::Size grid_size(round_int(grid_w), round_int(grid_h));
    const cv::Rect roi = cv::Rect(round_int(cx) + x0, round_int(cy) + y0, wsize.width, wsize.height) &
                         cv::Rect(cv::Point(0, 0), grid_size);
    if (roi.size() == wsize) {
      cv::Mat grid;
      cv::resize(src, grid, grid_size, 0, 0, resize_interpolation(src.size(), grid_size));
      r.image = grid(roi);
      return r;
    }
  }
  // C: any other scale + offset (several resamples folded into one): area pre-shrink of the needed ROI
  // where the map shrinks more than 2x, then one bilinear warp with replicated borders.
  const cv::Rect need = cv::Rect(cv::Point(static_cast<int>(std::floor(left)) - 1, static_cast<int>(std::floor(top)) - 1),
                                 cv::Point(static_cast<int>(std::ceil(right)) + 1, static_cast<int>(std::ceil(bottom)) + 1)) & whole;
  cv::Mat base = src(need);
  double kx = 1, ky = 1;
  if (sx > 2 || sy > 2) {
    const cv::Size pre(sx > 2 ? std::max(1, round_int(need.width / sx)) : need.width,
                       sy > 2 ? std::max(1, round_int(need.height / sy)) : need.height);
    cv::Mat shrunk;
    cv::resize(base, shrunk, pre, 0, 0, cv::INTER_AREA);
    kx = double(need.width) / pre.width;
    ky = double(need.height) / pre.height;
    base = shrunk;
  }
  const double a = sx / kx, c = (sx * x0 + ox - need.x) / kx, e = sy / ky, f = (sy * y0 + oy - need.y) / ky;
  const cv::Matx23d centre_map(a, 0, 0.5 * a + c - 0.5, 0, e, 0.5 * e + f - 0.5);
  cv::warpAffine(base, r.image, centre_map, wsize, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return r;
}

// --- PIL's uint8 arithmetic (torchvision's ColorJitter on PIL images), shared by both paths -----------

/// PIL's Image.blend of one value: in1 + alpha * (in2 - in1) in float, clipped, truncated to uint8.
inline std::uint8_t pil_blend(int in1, int in2, float alpha) {
  const float v = static_cast<float>(in1) + alpha * static_cast<float>(in2 - in1);
  return v <= 0.0f ? 0 : v >= 255.0f ? 255 : static_cast<std::uint8_t>(v);
}
/// PIL's convert("L") of one RGB pixel (ITU-R 601-2 luma in 16-bit fixed point).
inline int pil_luma(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

/// PIL's RGB -> HSV -> (hue + shift) -> RGB of one pixel, in place (Convert.c's rgb2hsv and hsv2rgb).
inline void pil_shift_hue(std::uint8_t* p, int shift) {
  const int r = p[0], g = p[1], b = p[2];
  const int maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  if (maxc == minc) return;  // s == 0: grey stays grey whatever the hue
  const float cr = static_cast<float>(maxc - minc);
  const float s = cr / static_cast<float>(maxc);
  const float rc = static_cast<float>(maxc - r) / cr, gc = static_cast<float>(maxc - g) / cr,
              bc = static_cast<float>(maxc - b) / cr;
  float h = r == maxc ? bc - gc : g == maxc ? static_cast<float>(2.0 + rc - bc) : static_cast<float>(4.0 + gc - rc);
  const double wrapped = h / 6.0 + 1.0;  // in (0, 2): fmod(x, 1) is x or x - 1, exactly
  h = static_cast<float>(wrapped >= 1.0 ? wrapped - 1.0 : wrapped);
  const int uh = (std::clamp(static_cast<int>(h * 255.0), 0, 255) + shift) & 255;
  const int us = std::clamp(static_cast<int>(s * 255.0), 0, 255);
  if (us == 0) {
    p[0] = p[1] = p[2] = static_cast<std::uint8_t>(maxc);
    return;
  }
  const int i = static_cast<int>(static_cast<float>(uh) * 6.0 / 255.0);  // >= 0: truncation is floor
  const float f = static_cast<float>(static_cast<float>(uh) * 6.0 / 255.0 - static_cast<float>(i));
  const float fs = static_cast<float>(static_cast<float>(us) / 255.0);
  const float v = static_cast<float>(maxc);
  // round() of non-negative values below 256: add a half and truncate
  const auto up = static_cast<std::uint8_t>(std::min(static_cast<int>(v * (1.0 - fs) + 0.5), 255));
  const auto uq = static_cast<std::uint8_t>(std::min(static_cast<int>(v * (1.0 - fs * f) + 0.5), 255));
  const auto ut = static_cast<std::uint8_t>(std::min(static_cast<int>(v * (1.0 - fs * (1.0 - f)) + 0.5), 255));
  const auto uv = static_cast<std::uint8_t>(maxc);
  switch (i % 6) {
    case 0: p[0] = uv, p[1] = ut, p[2] = up; break;
    case 1: p[0] = uq, p[1] = uv, p[2] = up; break;
    case 2: p[0] = up, p[1] = uv, p[2] = ut; break;
    case 3: p[0] = up, p[1] = uq, p[2] = uv; break;
    case 4: p[0] = ut, p[1] = up, p[2] = uv; break;
    default: p[0] = uv, p[1] = up, p[2] = uq; break;
  }
}

/// The sum of PIL's luma over n RGB pixels.
inline long long luma_sum(const std::uint8_t* rgb, int n) {
  long long sum = 0;
  for (int i = 0; i < n; ++i, rgb += 3) sum += pil_luma(rgb[0], rgb[1], rgb[2]);
  return sum;
}
/// ImageEnhance.Contrast's mean: the grey image's mean, rounded (int(mean + 0.5)).
inline int contrast_mean(long long luma_total, long long pixels) {
  return pixels == 0 ? 0 : static_cast<int>(static_cast<double>(luma_total) / static_cast<double>(pixels) + 0.5);
}

/// Output columns [lo, hi) of row y whose centres `clip` maps inside the clip frame (the rest get fill).
inline std::pair<int, int> clip_span(const Resampled& r, int y) {
  if (!r.clips) return {0, r.out.width};
  return frame_span(r.clip, r.clip_size, r.out.width, y);
}

/// Row y of the resampled output as RGB uint8: flips applied, zero outside the input window (padding),
/// the fill outside the clip frame (rotations).
inline void gather_row(const Resampled& r, int y, std::uint8_t* rgb) {
  const int W = r.out.width, H = r.out.height;
  const cv::Rect& win = r.window;
  const int cn = r.image.empty() ? 3 : r.image.channels();
  const int ri = cn == 1 ? 0 : 2, gi = cn == 1 ? 0 : 1;  // BGR(A) -> RGB; gray is replicated
  const int yy = r.flip_y ? H - 1 - y : y;
  if (win.empty() || yy < win.y || yy >= win.y + win.height) {
    std::fill(rgb, rgb + 3 * W, std::uint8_t(0));
  } else {
    const int cx0 = r.flip_x ? W - win.x - win.width : win.x, cx1 = cx0 + win.width;
    std::fill(rgb, rgb + 3 * cx0, std::uint8_t(0));
    std::fill(rgb + 3 * cx1, rgb + 3 * W, std::uint8_t(0));
    const std::uint8_t* p = r.image.ptr<std::uint8_t>(yy - win.y) + std::ptrdiff_t(r.flip_x ? win.width - 1 : 0) * cn;
    const std::ptrdiff_t step = r.flip_x ? -cn : cn;
    std::uint8_t* q = rgb + 3 * cx0;
    if (cn == 3 && !r.flip_x) {
      for (int x = cx0; x < cx1; ++x, p += 3, q += 3) q[0] = p[2], q[1] = p[1], q[2] = p[0];
    } else {
      for (int x = cx0; x < cx1; ++x, p += step, q += 3) q[0] = p[ri], q[1] = p[gi], q[2] = p[0];
    }
  }
  if (r.clips) {
    const auto [x0, x1] = clip_span(r, y);
    const auto f = static_cast<std::uint8_t>(r.fill);
    std::fill(rgb, rgb + 3 * x0, f);
    std::fill(rgb + 3 * x1, rgb + 3 * W, f);
  }
}

// GCC keeps float compares as branches (so no SIMD) unless it may assume they do not trap, and clamps as
// compare-and-blend unless it may assume no NaN and no signed zero (then they are min/max instructions).
// The float pixel steps below hold finite values in [0, 255] and are written to vectorize, so they are
// compiled with those assumptions (scoped here; the results are the same bits).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math", "finite-math-only", "no-signed-zeros")
#endif
// The pass below is compiled twice where the build targets plain x86-64 (SSE2) with GCC: as is, and for
// AVX2 (8 floats a vector), chosen at run time by the CPU. Both run the same IEEE operations in the same
// order (no FMA), so they give the same bits. The hot functions are always inlined into each copy.
#if defined(__GNUC__) || defined(__clang__)
#define FTMETA_DETAIL_HOT [[gnu::always_inline]] inline
#else
#define FTMETA_DETAIL_HOT inline
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
#define FTMETA_DETAIL_AVX2_COPY 1
#endif
/// The photometric steps in float on planar rows (the fused path): the same blends as PIL, clipped to
/// [0, 255] and cut to whole levels after each step as PIL does; hue is the continuous HSV hue rotation
/// (PIL quantizes h and s to 8 bits), rounded; contrast's mean is the grey mean of the image as it is at that step
/// (rounded as PIL). Within a few grey levels of PIL's uint8 arithmetic (tested), and several times faster.
/// Every value between steps is a whole level in [0, 255], so the image between steps fits uint8 exactly.
struct FloatSteps {
  const PixelProgram& program;
  int means[PixelProgram::capacity] = {};

  explicit FloatSteps(const PixelProgram& p) : program(p) {}

  // Each step ends on whole grey levels as PIL's do: blends truncate, the HSV round trip rounds, grey
  // (ITU-R 601-2 luma) rounds. Inputs are >= 0, so int conversion is floor.
  // Ternaries, not std::min/max: those are compiled outside this region and would not inline here.
  FTMETA_DETAIL_HOT static float lo0(float v) { return v < 0.0f ? 0.0f : v; }
  FTMETA_DETAIL_HOT static float least(float a, float b) { return b < a ? b : a; }
  FTMETA_DETAIL_HOT static float most(float a, float b) { return a < b ? b : a; }
  FTMETA_DETAIL_HOT static float clamp01(float v) { return least(lo0(v), 1.0f); }
  FTMETA_DETAIL_HOT static float trunc255(float v) { return static_cast<float>(static_cast<int>(least(lo0(v), 255.0f))); }
  FTMETA_DETAIL_HOT static float round255(float v) { return static_cast<float>(static_cast<int>(v + 0.5f)); }
  FTMETA_DETAIL_HOT static float luma(float r, float g, float b) { return round255(0.299f * r + 0.587f * g + 0.114f * b); }

  FTMETA_DETAIL_HOT void run(float* __restrict R, float* __restrict G, float* __restrict B, int n) const {
    run(0, program.size, R, G, B, n);
  }
  /// The sum of the grey (rounded luma) of n pixels (whole levels: summed as integers, so it vectorizes).
  FTMETA_DETAIL_HOT static long long luma_sum(const float* __restrict R, const float* __restrict G, const float* __restrict B, int n) {
    int sum = 0;  // at most 255 * n: n < 8 million
    for (int i = 0; i < n; ++i) sum += static_cast<int>(luma(R[i], G[i], B[i]));
    return sum;
  }

  /// Steps [from, to) on n pixels.
  FTMETA_DETAIL_HOT void run(int from, int to, float* __restrict R, float* __restrict G, float* __restrict B, int n) const {
    for (int k = from; k < to; ++k) {
      const PixelStep& s = program.steps[k];
      const float f = static_cast<float>(s.factor);
      switch (s.kind) {
        case PixelStep::Kind::brightness:
          for (int i = 0; i < n; ++i)
            R[i] = trunc255(R[i] * f), G[i] = trunc255(G[i] * f), B[i] = trunc255(B[i] * f);
          break;
        case PixelStep::Kind::contrast: {
          const float m = static_cast<float>(means[k]), o = m - f * m;
          for (int i = 0; i < n; ++i) R[i] = trunc255(o + f * R[i]), G[i] = trunc255(o + f * G[i]), B[i] = trunc255(o + f * B[i]);
          break;
        }
        case PixelStep::Kind::saturation:
          for (int i = 0; i < n; ++i) {
            const float l = luma(R[i], G[i], B[i]), o = l - f * l;
            R[i] = trunc255(o + f * R[i]), G[i] = trunc255(o + f * G[i]), B[i] = trunc255(o + f * B[i]);
          }
          break;
        case PixelStep::Kind::hue: {
          // The hue h in [0, 6) sixths of a turn, scaled by the chroma d = max - min so that no division is
          // needed: hd = d * h. Each channel is max - d * clamp(min(k, 4 - k), 0, 1), k = (h + 5, 3, 1) mod 6.
          const float turn = static_cast<float>(6.0 * s.hue_shift / 255.0);  // PIL's shift, in sixths of a turn
          for (int i = 0; i < n; ++i) {
            const float r = R[i], g = G[i], b = B[i];
            const float mx = most(r, most(g, b)), mn = least(r, least(g, b)), d = mx - mn;
            const float d2 = d + d, d4 = d2 + d2, d6 = d4 + d2;
            float hd = r == mx ? g - b : (g == mx ? d2 + (b - r) : d4 + (r - g));  // in [-d, 5d)
            hd += turn * d;                                                          // in [-d, 11d)
            hd += hd < 0.0f ? d6 : 0.0f;
            hd -= hd >= d6 ? d6 : 0.0f;
            float kr = (d4 + d) + hd, kg = (d2 + d) + hd, kb = d + hd;
            kr -= kr >= d6 ? d6 : 0.0f;
            kg -= kg >= d6 ? d6 : 0.0f;
            kb -= kb >= d6 ? d6 : 0.0f;
            R[i] = round255(mx - least(lo0(least(kr, d4 - kr)), d));
            G[i] = round255(mx - least(lo0(least(kg, d4 - kg)), d));
            B[i] = round255(mx - least(lo0(least(kb, d4 - kb)), d));
          }
          break;
        }
        case PixelStep::Kind::grayscale:
          for (int i = 0; i < n; ++i) R[i] = G[i] = B[i] = luma(R[i], G[i], B[i]);
          break;
      }
    }
  }
};

/// gather_row into planes: row y of the resampled output as R, G, B uint8 rows of W values each.
FTMETA_DETAIL_HOT void gather_planes(const Resampled& r, int y, std::uint8_t* __restrict R, std::uint8_t* __restrict G,
                                     std::uint8_t* __restrict B) {
  const int W = r.out.width, H = r.out.height;
  const cv::Rect& win = r.window;
  const int yy = r.flip_y ? H - 1 - y : y;
  int x0 = 0, x1 = 0;  // output columns [x0, x1) come from the image, the others are zero (padding)
  if (!win.empty() && yy >= win.y && yy < win.y + win.height) {
    x0 = r.flip_x ? W - win.x - win.width : win.x, x1 = x0 + win.width;
    const int n = win.width, cn = r.image.channels();
    const std::uint8_t* p = r.image.ptr<std::uint8_t>(yy - win.y);
    std::uint8_t *__restrict r_ = R + x0, *__restrict g_ = G + x0, *__restrict b_ = B + x0;
    if (cn == 3 && !r.flip_x) {
      for (int x = 0; x < n; ++x) r_[x] = p[3 * x + 2], g_[x] = p[3 * x + 1], b_[x] = p[3 * x];
    } else if (cn == 3) {
      const std::uint8_t* q = p + 3 * (n - 1);
      for (int x = 0; x < n; ++x) r_[x] = q[2 - 3 * x], g_[x] = q[1 - 3 * x], b_[x] = q[-3 * x];
    } else {  // BGRA (alpha dropped) or gray (replicated)
      const int ri = cn == 1 ? 0 : 2, gi = cn == 1 ? 0 : 1;
      for (int x = 0; x < n; ++x) {
        const std::uint8_t* s = p + std::ptrdiff_t(r.flip_x ? n - 1 - x : x) * cn;
        r_[x] = s[ri], g_[x] = s[gi], b_[x] = s[0];
      }
    }
  }
  for (std::uint8_t* plane : {R, G, B}) {
    std::fill(plane, plane + x0, std::uint8_t(0));
    std::fill(plane + x1, plane + W, std::uint8_t(0));
  }
  if (r.clips) {
    const auto [c0, c1] = clip_span(r, y);
    const auto f = static_cast<std::uint8_t>(r.fill);
    for (std::uint8_t* plane : {R, G, B}) {
      std::fill(plane, plane + c0, f);
      std::fill(plane + c1, plane + W, f);
    }
  }
}

/// uint8 planes to float planes and back (whole levels in [0, 255]: exact).
FTMETA_DETAIL_HOT void u8_to_float(const std::uint8_t* __restrict p, float* __restrict f, int n) {
  for (int x = 0; x < n; ++x) f[x] = p[x];
}
FTMETA_DETAIL_HOT void float_to_u8(const float* __restrict f, std::uint8_t* __restrict p, int n) {
  for (int x = 0; x < n; ++x) p[x] = static_cast<std::uint8_t>(static_cast<int>(f[x]));
}
/// The last multiply-add of a row (ToTensor, Normalize), or for uint8 output the rounding.
template <class T>
FTMETA_DETAIL_HOT void finish_plane(const float* __restrict f, T* __restrict out, float scale, float bias, int n) {
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    for (int x = 0; x < n; ++x) out[x] = static_cast<T>(static_cast<int>(f[x] + 0.5f));
  } else {
    for (int x = 0; x < n; ++x) out[x] = scale * f[x] + bias;
  }
}

/// The body of pixel_pass, inlined into each ISA's copy.
template <class T>
FTMETA_DETAIL_HOT void pixel_pass_body(const Resampled& r, const PixelProgram& program, const ChannelAffine& affine, T* out) {
  const int W = r.out.width, H = r.out.height;
  const std::size_t plane = std::size_t(W) * std::size_t(H);
  std::vector<std::uint8_t> row(std::size_t(3) * W);
  std::uint8_t *ur = row.data(), *ug = ur + W, *ub = ug + W;
  if (program.size == 0) {  // ToTensor and Normalize only: one multiply-add per value, in double as a table would be
    for (int y = 0; y < H; ++y) {
      T* R = out + std::size_t(y) * W;
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        gather_planes(r, y, R, R + plane, R + 2 * plane);
      } else {
        gather_planes(r, y, ur, ug, ub);
        const std::uint8_t* in[3] = {ur, ug, ub};
        for (int c = 0; c < 3; ++c) {
          const double scale = affine.scale[c], bias = affine.bias[c];
          const std::uint8_t* __restrict v = in[c];
          T* __restrict o = R + std::size_t(c) * plane;
          for (int x = 0; x < W; ++x) o[x] = static_cast<T>(scale * v[x] + bias);
        }
      }
    }
    return;
  }
  // Rows in float planes (L1-resident). A contrast step needs the grey mean of the image as it is at that
  // step, so contrast steps cut the program into segments: a segment runs its steps on every row and,
  // when a contrast step follows, sums the grey and keeps the rows in uint8 planes (exact, see
  // FloatSteps) for the next segment, which starts from them. The last segment writes `out`.
  FloatSteps steps(program);
  std::vector<float> planes(std::size_t(3) * W);
  float *fr = planes.data(), *fg = fr + W, *fb = fg + W;
  std::unique_ptr<std::uint8_t[]> kept;  // not value-initialized: every row is written before it is read
  int from = 0;
  for (bool from_input = true;; from_input = false) {
    // Steps [from, to): up to the next contrast step after `from` (the first segment stops at any,
    // even at step 0: that contrast's mean is the input's).
    int to = from_input ? from : from + 1;
    while (to < program.size && program.steps[to].kind != PixelStep::Kind::contrast) ++to;
    const bool last = to == program.size;
    if (!last && !kept) kept.reset(new std::uint8_t[3 * plane]);
    long long total = 0;
    for (int y = 0; y < H; ++y) {
      std::uint8_t* k = kept ? kept.get() + std::size_t(y) * W : nullptr;  // row y of the kept planes R, G, B
      if (from_input) {
        gather_planes(r, y, ur, ug, ub);
        u8_to_float(ur, fr, W), u8_to_float(ug, fg, W), u8_to_float(ub, fb, W);
      } else {
        u8_to_float(k, fr, W), u8_to_float(k + plane, fg, W), u8_to_float(k + 2 * plane, fb, W);
      }
      steps.run(from, to, fr, fg, fb, W);
      if (last) {
        T* R = out + std::size_t(y) * W;
        finish_plane(fr, R, float(affine.scale[0]), float(affine.bias[0]), W);
        finish_plane(fg, R + plane, float(affine.scale[1]), float(affine.bias[1]), W);
        finish_plane(fb, R + 2 * plane, float(affine.scale[2]), float(affine.bias[2]), W);
      } else {
        total += FloatSteps::luma_sum(fr, fg, fb, W);
        float_to_u8(fr, k, W), float_to_u8(fg, k + plane, W), float_to_u8(fb, k + 2 * plane, W);
      }
    }
    if (last) break;
    steps.means[to] = static_cast<int>(double(total) / double(plane) + 0.5);
    from = to;
  }
}

#ifdef FTMETA_DETAIL_AVX2_COPY
template <class T>
[[gnu::target("avx2")]] void pixel_pass_avx2(const Resampled& r, const PixelProgram& program, const ChannelAffine& affine, T* out) {
  pixel_pass_body(r, program, affine, out);
}
inline bool cpu_has_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();  // needed where this runs before libgcc's constructors (a static initializer)
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

/// The single pixel pass: reads the resampled uint8 pixels (BGR, BGRA or gray) row by row, applies the
/// flips, padding and fill, and writes planes R, G, B of `out` (3 x H x W, contiguous). Without
/// photometric steps each value gets one multiply-add per channel (ToTensor, Normalize folded: `affine`);
/// with them the row runs the steps in float first (for uint8 output, rounding instead). A contrast step
/// needs the grey mean of the image at its turn: the steps before it run on the whole image first, kept
/// in uint8 (see pixel_pass_body). Vectorized: SSE2, or AVX2 where the CPU has it.
template <class T>
void pixel_pass(const Resampled& r, const PixelProgram& program, const ChannelAffine& affine, T* out) {
#ifdef FTMETA_DETAIL_AVX2_COPY
  if (cpu_has_avx2()) return pixel_pass_avx2(r, program, affine, out);
#endif
  pixel_pass_body(r, program, affine, out);
}

/// Which copy of the pixel pass runs on this CPU, in words (benchmark reports, tests).
inline const char* pixel_pass_isa() {
#ifdef FTMETA_DETAIL_AVX2_COPY
  return cpu_has_avx2() ? "AVX2 (run-time dispatch from a baseline x86-64 build)" : "baseline x86-64 (SSE2)";
#else
  return "the build's target ISA (no run-time dispatch)";
#endif
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#undef FTMETA_DETAIL_HOT
#undef FTMETA_DETAIL_AVX2_COPY

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

template <class Op>
constexpr bool pads_source() {
  if constexpr (requires { Op::padding_mode; }) return Op::padding_mode != PaddingMode::constant;
  else return false;
}
/// The first op of a pipeline when it pads with a mode other than constant (the fused kernel pads the
/// source with it, then folds the rest), else void; `ok` is false when such an op is not first.
template <class... Ops>
struct source_padding {
  using first = void;
  static constexpr bool ok = true;
};
template <class First, class... Rest>
struct source_padding<First, Rest...> {
  using first = std::conditional_t<pads_source<First>(), First, void>;
  static constexpr bool ok = !(pads_source<Rest>() || ...);
};
template <class... Ops>
source_padding<Ops...> source_padding_of(meta::TypeList<Ops...>);

// --- neighbourhood ops of the fused path (GaussianBlur, RandomErasing), beside the pixel pass -----------

/// torchvision's 1-D Gaussian kernel (_get_gaussian_kernel1d, float32): exp(-x^2 / (2 sigma^2)) at
/// x = -(k-1)/2 .. (k-1)/2, divided by its sum.
inline cv::Mat gaussian_kernel(int kernel, double sigma) {
  cv::Mat k(kernel, 1, CV_32F);
  const float half = static_cast<float>((kernel - 1) * 0.5), s = static_cast<float>(sigma);
  float sum = 0;
  for (int i = 0; i < kernel; ++i) {
    const float x = kernel == 1 ? 0.0f : -half + static_cast<float>(i) * (2 * half / static_cast<float>(kernel - 1));
    const float v = std::exp(-0.5f * (x / s) * (x / s));
    k.at<float>(i) = v, sum += v;
  }
  return k / sum;
}

/// torchvision's gaussian_blur on an 8-bit image: separable, reflected borders (torch's "reflect" is
/// OpenCV's BORDER_REFLECT_101), rounded to uint8.
inline cv::Mat gaussian_blur_image(const cv::Mat& image, int kernel, double sigma) {
  const cv::Mat k = gaussian_kernel(kernel, sigma);
  cv::Mat out;
  cv::sepFilter2D(image, out, CV_8U, k, k, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
  return out;
}

/// The fused pixel pass with blurs among the steps: the steps before a blur run as a pixel pass into
/// uint8 planes, the blur runs on that image, and the pass goes on from the blurred image.
template <class T>
void pixel_pass_with_blurs(const Resampled& r, const PixelProgram& program, const ChannelAffine& affine, T* out) {
  const int W = r.out.width, H = r.out.height;
  const std::size_t plane = std::size_t(W) * std::size_t(H);
  Resampled current = r;
  std::vector<std::uint8_t> planes(3 * plane);
  int from = 0;
  for (int b = 0; b < program.blur_count; ++b) {
    const PixelBlur& blur = program.blurs[b];
    PixelProgram before;
    for (int i = from; i < blur.at; ++i) before.push(program.steps[i]);
    pixel_pass(current, before, ChannelAffine{}, planes.data());
    cv::Mat bgr;
    cv::merge(std::vector<cv::Mat>{cv::Mat(H, W, CV_8U, planes.data() + 2 * plane), cv::Mat(H, W, CV_8U, planes.data() + plane),
                                   cv::Mat(H, W, CV_8U, planes.data())},
              bgr);
    current = Resampled{};
    current.image = gaussian_blur_image(bgr, blur.kernel, blur.sigma);
    current.window = cv::Rect(0, 0, W, H);
    current.out = r.out;
    from = blur.at;
  }
  PixelProgram rest;
  for (int i = from; i < program.size; ++i) rest.push(program.steps[i]);
  pixel_pass(current, rest, affine, out);
}

/// Standard normal values from a generator (Box-Muller), for RandomErasing's value 'random'.
inline void fill_normal(Rng& rng, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 2) {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();  // u1 in (0, 1]
    const double radius = std::sqrt(-2.0 * std::log(u1)), angle = 6.283185307179586 * u2;
    out[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < n) out[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
}

/// F.erase in place on a contiguous float32 [C, H, W] buffer: the box gets `value`, or (noise) standard
/// normal values drawn from Rng(noise_seed) in [C, h, w] order.
inline void erase_box(float* chw, int channels, ImageSize size, const EraseParams& p, bool noise, double value) {
  if (!p.erase) return;
  std::vector<float> values;
  if (noise) {
    values.resize(std::size_t(channels) * std::size_t(p.height) * std::size_t(p.width));
    Rng rng(p.noise_seed);
    fill_normal(rng, values.data(), values.size());
  }
  const float* v = values.data();
  for (int c = 0; c < channels; ++c)
    for (int y = p.top; y < p.top + p.height; ++y) {
      float* row = chw + (std::size_t(c) * size.height + std::size_t(y)) * size.width + p.left;
      if (noise) std::copy(v, v + p.width, row), v += p.width;
      else std::fill(row, row + p.width, static_cast<float>(value));
    }
}

/// Whether every op after the first non-pointwise tensor op (RandomErasing) is one too: the fused
/// kernel erases the pixel pass's finished output, so nothing may follow that changes values.
template <class... Ops>
constexpr bool erasing_last(meta::TypeList<Ops...>) {
  bool seen = false, ok = true;
  ((seen = seen || (OpTraits<Ops>::kind == OpKind::tensor && !OpTraits<Ops>::pointwise),
    ok = ok && (!seen || (OpTraits<Ops>::kind == OpKind::tensor && !OpTraits<Ops>::pointwise))), ...);
  return ok;
}

template <class Plan>
struct plan_parts {
  static constexpr bool supported = false;
  using source = PixelStage<>;
  using geometric = GeometricStage<>;
  using image = ImageStage<>;
  using pixel = PixelStage<>;
  using tensor = TensorStage<>;
};
template <class... G, class... X>
struct plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X...>>> {
  static constexpr bool supported = true;
  using source = PixelStage<>;
  using geometric = GeometricStage<G...>;
  using image = ImageStage<>;
  using pixel = PixelStage<X...>;
  using tensor = TensorStage<>;
};
template <class... X>
struct plan_parts<meta::TypeList<PixelStage<X...>>> : plan_parts<meta::TypeList<GeometricStage<>, PixelStage<X...>>> {};
template <class... G, class... X, class... E>
struct plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X...>, TensorStage<E...>>>
    : plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X...>>> {
  using tensor = TensorStage<E...>;
};
template <class... X, class... E>
struct plan_parts<meta::TypeList<PixelStage<X...>, TensorStage<E...>>>
    : plan_parts<meta::TypeList<GeometricStage<>, PixelStage<X...>, TensorStage<E...>>> {};

// Whole-image uint8 ops (TrivialAugmentWide, RandAugment) between the resample and the pixel pass: the resampled image
// is materialized, the ops run on it (autoaugment_kernels.hpp), the pixel pass reads the result.
template <class... G, class... I, class... Rest>
struct plan_parts<meta::TypeList<GeometricStage<G...>, ImageStage<I...>, Rest...>>
    : plan_parts<meta::TypeList<GeometricStage<G...>, Rest...>> {
  static_assert(((Rest::kind != StageKind::geometric) && ...),
                "ftmeta: apply<P>: image ops (TrivialAugmentWide, RandAugment) must come after every geometric op "
                "(crops, flips, rotations) for the fused kernel");
  using image = ImageStage<I...>;
};
template <class... I, class... Rest>
struct plan_parts<meta::TypeList<ImageStage<I...>, Rest...>>
    : plan_parts<meta::TypeList<GeometricStage<>, ImageStage<I...>, Rest...>> {};

// Photometric ops before every geometric op (ColorJitter first): one pass over the source image with
// torchvision's semantics (contrast's mean is the whole source's; the padding and fill added later stay
// as they are), then the rest of the plan.
template <class... J, class... G, class... Rest>
struct plan_parts<meta::TypeList<PixelStage<J...>, GeometricStage<G...>, Rest...>>
    : plan_parts<meta::TypeList<GeometricStage<G...>, Rest...>> {
  using source = PixelStage<J...>;
};

/// The photometric steps (and blurs) of `program` on a whole 8-bit image: a BGR image of the same size.
inline cv::Mat source_pixel_pass(const cv::Mat& image, const PixelProgram& program) {
  const int W = image.cols, H = image.rows;
  const std::size_t plane = std::size_t(W) * std::size_t(H);
  Resampled whole;
  whole.image = image;
  whole.window = cv::Rect(0, 0, W, H);
  whole.out = {H, W};
  std::vector<std::uint8_t> planes(3 * plane);
  if (program.blur_count > 0) pixel_pass_with_blurs(whole, program, ChannelAffine{}, planes.data());
  else pixel_pass(whole, program, ChannelAffine{}, planes.data());
  cv::Mat bgr;
  cv::merge(std::vector<cv::Mat>{cv::Mat(H, W, CV_8U, planes.data() + 2 * plane), cv::Mat(H, W, CV_8U, planes.data() + plane),
                                 cv::Mat(H, W, CV_8U, planes.data())},
            bgr);
  return bgr;
}

/// The draws of a TensorStage's ops (each a RandomErasing-like op: `Params` is EraseParams).
template <class Stage>
struct tensor_draws;
template <class... E>
struct tensor_draws<TensorStage<E...>> {
  static_assert((std::is_same_v<typename E::Params, EraseParams> && ...),
                "ftmeta: apply<P>: the fused kernel runs RandomErasing after the pixel pass; no kernel for other "
                "non-pointwise tensor ops");
  std::array<EraseParams, sizeof...(E)> params{};
  void sample(Rng& rng, ImageSize size) {
    std::size_t i = 0;
    ((params[i++] = E::sample(rng, size)), ...);
  }
  void run(float* chw, ImageSize size) const {
    std::size_t i = 0;
    ((erase_box(chw, 3, size, params[i++], E::random, E::value)), ...);
  }
};

/// What one sample draws: the folded geometric step and the photometric steps.
struct Sampled {
  GeomStep step;
  PixelProgram pixels;
};

template <class P>
struct kernels {
  using parts = plan_parts<plan_t<P>>;
  static constexpr bool erasing_ok = erasing_last(typename P::ops{});
  static_assert(erasing_ok,
                "ftmeta: apply<P>: RandomErasing must be the last op (after Normalize) for the fused kernel, which "
                "erases the finished output");
  static_assert(!erasing_ok || parts::supported,
                "ftmeta: apply<P>: photometric ops (ColorJitter) must come before or after all the geometric ops "
                "(crops, flips, rotations), not between them, for the fused kernel; move them just before ToTensor");
  static_assert(parts::pixel::channel_affine,
                "ftmeta: apply<P>: no kernel for this plan yet (non-pointwise tensor ops are not in this slice)");
  static_assert(parts::pixel::max_steps <= PixelProgram::capacity,
                "ftmeta: apply<P>: too many photometric steps in one pipeline (at most 16: four ColorJitters)");
  static_assert(parts::pixel::neighbourhood_ops <= PixelProgram::blur_capacity,
                "ftmeta: apply<P>: too many GaussianBlur ops in one pipeline (at most 4)");
  using SourcePadding = decltype(source_padding_of(typename P::ops{}));
  static_assert(SourcePadding::ok,
                "ftmeta: apply<P>: a Pad or RandomCrop with a padding mode other than constant must be the first op "
                "for the fused kernel (it pads the source image); constant padding can go anywhere");
  using Erasing = tensor_draws<typename parts::tensor>;
  static constexpr bool erases = meta::size_v<typename parts::tensor::ops> > 0;

  using Source = typename parts::source;
  static constexpr bool source_pass = meta::size_v<typename Source::ops> > 0;

  struct Draw : Sampled {
    PixelProgram source;
    Erasing erasing;
    typename parts::image::Params image;
  };

  static Draw sample(Rng& rng, ImageSize in) {
    Draw s;
    if constexpr (source_pass) s.source = Source::sample(rng);
    s.step = parts::geometric::sample(rng, in);
    s.image = parts::image::sample(rng);
    s.pixels = parts::pixel::sample(rng);
    if constexpr (erases) s.erasing.sample(rng, s.step.out);
    return s;
  }

  // `out` has been checked: [3, H, W] contiguous CPU, float32 or uint8.
  static void run(const cv::Mat& input, const Draw& s, torch::Tensor& out) {
    cv::Mat image = input;
    if constexpr (source_pass) image = source_pixel_pass(input, s.source);
    Resampled r;
    if constexpr (!std::is_void_v<typename SourcePadding::first>) {  // pad the source, shift the map onto it
      using First = typename SourcePadding::first;
      const Border b = First::border({image.rows, image.cols});
      GeomStep step = s.step;
      step.map.c += b.left, step.map.f += b.top;
      r = resample(pad_image(image, b, First::padding_mode, 0), step);
    } else {
      r = resample(image, s.step);
    }
    if constexpr (parts::image::size > 0) r = run_image_stage(typename parts::image{}, s.image, r);
    constexpr ChannelAffine f = parts::pixel::affine();
    if (out.scalar_type() == torch::kUInt8) {
      if constexpr (erases)
        throw Error(api_name<P>("apply") + ": RandomErasing works on the float tensor; uint8 output (the pixels "
                    "before ToTensor) cannot hold it: ask for float32");
      if (s.pixels.blur_count > 0) pixel_pass_with_blurs(r, s.pixels, f, out.data_ptr<std::uint8_t>());
      else pixel_pass(r, s.pixels, f, out.data_ptr<std::uint8_t>());
    } else {
      if (s.pixels.blur_count > 0) pixel_pass_with_blurs(r, s.pixels, f, out.data_ptr<float>());
      else pixel_pass(r, s.pixels, f, out.data_ptr<float>());
      if constexpr (erases) s.erasing.run(out.data_ptr<float>(), s.step.out);
    }
  }
};

}  // namespace detail

/// Runs pipeline P on one image, fused, into the caller's tensor (e.g. `batch[i]`), from worker threads.
/// image: 8-bit gray, BGR or BGRA (as cv::imread gives; gray is replicated, alpha dropped).
/// out: contiguous CPU [3, P::out_height, P::out_width], float32 (the full pipeline) or uint8 (the
/// pixels before ToTensor; finish them on the GPU with normalize_uint8<P>).
///   struct TrainAug : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>> {};
///   auto rng = ftmeta::Rng::for_sample(seed, epoch, index);
///   apply_into<TrainAug>(cv::imread(path), rng, batch[i]);
template <class P>
void apply_into(const cv::Mat& image, Rng& rng, torch::Tensor out) {
  static_assert(Pipeline<P>, "ftmeta: apply_into<P>: P must be a Compose<...> or a struct derived from one");
  static_assert(P::fixed_size,
                "ftmeta: apply_into<P>: P's ops do not fix the output size (Resize<S> keeps the aspect ratio); "
                "end P with CenterCrop or RandomResizedCrop, or use apply<P>, which allocates");
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError(detail::api_name<P>("apply_into") + ": " + problem);
  if (auto problem = detail::out_problem(out, {P::out_height, P::out_width}); !problem.empty())
    throw Error(detail::api_name<P>("apply_into") + ": " + problem);
  const auto sampled = detail::kernels<P>::sample(rng, {image.rows, image.cols});
  detail::kernels<P>::run(image, sampled, out);
}

/// Runs pipeline P on one image, fused, into a new [3, H, W] tensor (float32, or uint8 for the pixels
/// before ToTensor). Works for every pipeline, including those whose output size depends on the input.
template <class P>
torch::Tensor apply(const cv::Mat& image, Rng& rng, torch::Dtype dtype = torch::kFloat32) {
  static_assert(Pipeline<P>, "ftmeta: apply<P>: P must be a Compose<...> or a struct derived from one");
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError(detail::api_name<P>("apply") + ": " + problem);
  if (dtype != torch::kFloat32 && dtype != torch::kUInt8)
    throw Error(detail::api_name<P>("apply") + ": dtype must be float32 or uint8");
  const auto sampled = detail::kernels<P>::sample(rng, {image.rows, image.cols});
  auto out = torch::empty({3, sampled.step.out.height, sampled.step.out.width}, torch::TensorOptions().dtype(dtype));
  detail::kernels<P>::run(image, sampled, out);
  return out;
}

/// Finishes uint8 output of apply/apply_into on any device: P's ToTensor and Normalize as one
/// multiply-add per channel. u8: [..., 3, H, W] uint8. Returns float32 on the same device.
template <class P>
torch::Tensor normalize_uint8(const torch::Tensor& u8) {
  static_assert(Pipeline<P>, "ftmeta: normalize_uint8<P>: P must be a Compose<...> or a struct derived from one");
  if (!u8.defined() || u8.scalar_type() != torch::kUInt8 || u8.dim() < 3 || u8.size(-3) != 3)
    throw Error(detail::api_name<P>("normalize_uint8") + ": expects a uint8 [..., 3, H, W] tensor; got " +
                detail::tensor_text(u8));
  constexpr ChannelAffine f = detail::kernels<P>::parts::pixel::affine();
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(u8.device());
  const auto scale = torch::tensor({float(f.scale[0]), float(f.scale[1]), float(f.scale[2])}, opts).view({3, 1, 1});
  const auto bias = torch::tensor({float(f.bias[0]), float(f.bias[1]), float(f.bias[2])}, opts).view({3, 1, 1});
  return torch::addcmul(bias, u8.to(torch::kFloat32), scale);
}

// --- conversions ------------------------------------------------------------------------------

/// An 8-bit gray/BGR/BGRA image as 3-channel BGR (torchvision's convert('RGB'), in OpenCV's order).
inline cv::Mat to_bgr(const cv::Mat& image) {
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError("ftmeta::transforms::to_bgr: " + problem);
  if (image.channels() == 3) return image;
  cv::Mat bgr;
  cv::cvtColor(image, bgr, image.channels() == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_BGRA2BGR);
  return bgr;
}

/// torchvision's ToTensor on an OpenCV image: float32 RGB [3, H, W] in [0, 1] (x / 255).
inline torch::Tensor to_tensor(const cv::Mat& image) {
  const cv::Mat bgr = to_bgr(image);
  const auto hwc = torch::from_blob(bgr.data, {bgr.rows, bgr.cols, 3},
                                    {static_cast<int64_t>(bgr.step[0]), 3, 1}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).flip({0}).to(torch::kFloat32).div(255).contiguous();
}

/// A [3, H, W] RGB tensor (float in [0, 1], or uint8) back to an 8-bit BGR image, e.g. to look at it.
inline cv::Mat to_mat(const torch::Tensor& chw) {
  if (!chw.defined() || chw.dim() != 3 || chw.size(0) != 3 ||
      (chw.scalar_type() != torch::kFloat32 && chw.scalar_type() != torch::kUInt8))
    throw Error("ftmeta::transforms::to_mat: expects a float32 or uint8 [3, H, W] RGB tensor; got " +
                detail::tensor_text(chw));
  auto t = chw.detach().to(torch::kCPU);
  if (t.scalar_type() == torch::kFloat32) t = t.mul(255).round().clamp(0, 255).to(torch::kUInt8);
  t = t.flip({0}).permute({1, 2, 0}).contiguous();
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3, t.data_ptr<std::uint8_t>()).clone();
}

/// to_mat of a normalized tensor: undoes Normalize<Stats> first: to_mat(t, Normalize<>{}).
template <class Stats>
cv::Mat to_mat(const torch::Tensor& chw, Normalize<Stats>) {
  if (!chw.defined() || chw.dim() != 3 || chw.size(0) != 3 || chw.scalar_type() != torch::kFloat32)
    throw Error("ftmeta::transforms::to_mat: expects a normalized float32 [3, H, W] tensor; got " +
                detail::tensor_text(chw));
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const auto mean = torch::tensor({float(Stats::mean[0]), float(Stats::mean[1]), float(Stats::mean[2])}, opts).view({3, 1, 1});
  const auto stdv = torch::tensor({float(Stats::std[0]), float(Stats::std[1]), float(Stats::std[2])}, opts).view({3, 1, 1});
  return to_mat(chw.detach().to(torch::kCPU) * stdv + mean);
}

// --- the unfused reference path -----------------------------------------------------------------

namespace detail {

template <int H, int W>
void unfused_image_op(const Resize<H, W>&, Rng& rng, cv::Mat& img) {
  Resize<H, W>::sample(rng, {img.rows, img.cols});
  const ImageSize to = Resize<H, W>::output_size({img.rows, img.cols});
  cv::Mat out;
  cv::resize(img, out, cv::Size(to.width, to.height), 0, 0, resize_interpolation(img.size(), cv::Size(to.width, to.height)));
  img = out;
}

template <int H, int W>
void unfused_image_op(const CenterCrop<H, W>&, Rng& rng, cv::Mat& img) {
  CenterCrop<H, W>::sample(rng, {img.rows, img.cols});
  const int top = center_crop_offset(img.rows, H), left = center_crop_offset(img.cols, W);
  cv::Mat out(H, W, img.type(), cv::Scalar::all(0));
  const cv::Rect box = cv::Rect(left, top, W, H) & cv::Rect(0, 0, img.cols, img.rows);
  if (!box.empty()) img(box).copyTo(out(box - cv::Point(left, top)));
  img = out;
}

template <int H, int W, double S0, double S1, double R0, double R1>
void unfused_image_op(const RandomResizedCrop<H, W, S0, S1, R0, R1>&, Rng& rng, cv::Mat& img) {
  const CropBox b = RandomResizedCrop<H, W, S0, S1, R0, R1>::sample(rng, {img.rows, img.cols});
  cv::Mat out;
  cv::resize(img(cv::Rect(b.left, b.top, b.width, b.height)), out, cv::Size(W, H), 0, 0,
             resize_interpolation(cv::Size(b.width, b.height), cv::Size(W, H)));
  img = out;
}

template <double P>
void unfused_image_op(const RandomHorizontalFlip<P>&, Rng& rng, cv::Mat& img) {
  if (RandomHorizontalFlip<P>::sample(rng, {img.rows, img.cols}).flip) {
    cv::Mat out;
    cv::flip(img, out, 1);
    img = out;
  }
}

template <double P>
void unfused_image_op(const RandomVerticalFlip<P>&, Rng& rng, cv::Mat& img) {
  if (RandomVerticalFlip<P>::sample(rng, {img.rows, img.cols}).flip) {
    cv::Mat out;
    cv::flip(img, out, 0);
    img = out;
  }
}

template <auto D, int Fill>
void unfused_image_op(const RandomRotation<D, Fill>&, Rng& rng, cv::Mat& img) {
  const ImageSize size{img.rows, img.cols};
  const Affine2D m = RandomRotation<D, Fill>::step(RandomRotation<D, Fill>::sample(rng, size), size).map;
  const cv::Matx23d centre_map(m.a, m.b, m.c + 0.5 * (m.a + m.b) - 0.5, m.d, m.e, m.f + 0.5 * (m.d + m.e) - 0.5);
  cv::Mat out;
  cv::warpAffine(img, out, centre_map, img.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar::all(Fill));
  img = out;
}

/// One photometric step on a whole 8-bit BGR image, as torchvision's F.adjust_* on a PIL image.
inline cv::Mat run_pixel_step(const cv::Mat& bgr, const PixelStep& s) {
  cv::Mat out = bgr.clone();
  const auto f = static_cast<float>(s.factor);
  int mean = 0;
  if (s.kind == PixelStep::Kind::contrast) {
    long long total = 0;
    for (int y = 0; y < bgr.rows; ++y) {
      const std::uint8_t* p = bgr.ptr<std::uint8_t>(y);
      for (int x = 0; x < bgr.cols; ++x, p += 3) total += pil_luma(p[2], p[1], p[0]);
    }
    mean = contrast_mean(total, static_cast<long long>(bgr.rows) * bgr.cols);
  }
  for (int y = 0; y < out.rows; ++y) {
    std::uint8_t* p = out.ptr<std::uint8_t>(y);
    for (int x = 0; x < out.cols; ++x, p += 3) {
      std::uint8_t rgb[3] = {p[2], p[1], p[0]};
      switch (s.kind) {
        case PixelStep::Kind::brightness:
          for (auto& v : rgb) v = pil_blend(0, v, f);
          break;
        case PixelStep::Kind::contrast:
          for (auto& v : rgb) v = pil_blend(mean, v, f);
          break;
        case PixelStep::Kind::saturation: {
          const int l = pil_luma(rgb[0], rgb[1], rgb[2]);
          for (auto& v : rgb) v = pil_blend(l, v, f);
          break;
        }
        case PixelStep::Kind::hue: pil_shift_hue(rgb, s.hue_shift); break;
        case PixelStep::Kind::grayscale: rgb[0] = rgb[1] = rgb[2] = static_cast<std::uint8_t>(pil_luma(rgb[0], rgb[1], rgb[2])); break;
      }
      p[0] = rgb[2], p[1] = rgb[1], p[2] = rgb[0];
    }
  }
  return out;
}

template <int L, int T, int R, int B, int Fill, PaddingMode Mode>
void unfused_image_op(const Pad<L, T, R, B, Fill, Mode>&, Rng&, cv::Mat& img) {
  img = pad_image(img, {T, B, L, R}, Mode, Fill);
}

template <int H, int W, int Padding, bool PadIfNeeded, int Fill, PaddingMode Mode>
void unfused_image_op(const RandomCrop<H, W, Padding, PadIfNeeded, Fill, Mode>&, Rng& rng, cv::Mat& img) {
  using Op = RandomCrop<H, W, Padding, PadIfNeeded, Fill, Mode>;
  const ImageSize in{img.rows, img.cols};
  const CropOffset o = Op::sample(rng, in);
  const ImageSize pad = Op::padding(in);
  const cv::Mat padded = pad_image(img, Op::border(in), Mode, Fill);
  img = padded(cv::Rect(o.left + pad.width, o.top + pad.height, W, H)).clone();
}

template <auto D, auto TX, auto TY, auto S0, auto S1, auto SX, auto SY, int Fill>
void unfused_image_op(const RandomAffine<D, TX, TY, S0, S1, SX, SY, Fill>&, Rng& rng, cv::Mat& img) {
  using Op = RandomAffine<D, TX, TY, S0, S1, SX, SY, Fill>;
  const ImageSize size{img.rows, img.cols};
  const Affine2D m = Op::step(Op::sample(rng, size), size).map;
  const cv::Matx23d centre_map(m.a, m.b, m.c + 0.5 * (m.a + m.b) - 0.5, m.d, m.e, m.f + 0.5 * (m.d + m.e) - 0.5);
  cv::Mat out;
  cv::warpAffine(img, out, centre_map, img.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar::all(Fill));
  img = out;
}

template <int K, double S0, double S1>
void unfused_image_op(const GaussianBlur<K, S0, S1>&, Rng& rng, cv::Mat& img) {
  img = gaussian_blur_image(img, K, GaussianBlur<K, S0, S1>::sample(rng).sigma);
}

/// Any photometric op (ColorJitter, RandomGrayscale): its sampled steps, each over the whole image.
template <class Op>
  requires(OpTraits<Op>::kind == OpKind::photometric)
void unfused_image_op(const Op&, Rng& rng, cv::Mat& img) {
  PixelProgram program;
  Op::steps(Op::sample(rng, {img.rows, img.cols}), program);
  for (int i = 0; i < program.size; ++i) img = run_pixel_step(img, program.steps[i]);
}

template <class Stats>
void unfused_tensor_op(const Normalize<Stats>&, Rng&, torch::Tensor& t) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const auto mean = torch::tensor({float(Stats::mean[0]), float(Stats::mean[1]), float(Stats::mean[2])}, opts).view({3, 1, 1});
  const auto stdv = torch::tensor({float(Stats::std[0]), float(Stats::std[1]), float(Stats::std[2])}, opts).view({3, 1, 1});
  t = t.sub(mean).div(stdv);
}

template <double P, double S0, double S1, double R0, double R1, auto V>
void unfused_tensor_op(const RandomErasing<P, S0, S1, R0, R1, V>&, Rng& rng, torch::Tensor& t) {
  using Op = RandomErasing<P, S0, S1, R0, R1, V>;
  const EraseParams p = Op::sample(rng, {int(t.size(1)), int(t.size(2))});
  if (!p.erase) return;
  t = t.contiguous().clone();
  erase_box(t.data_ptr<float>(), int(t.size(0)), {int(t.size(1)), int(t.size(2))}, p, Op::random, Op::value);
}

}  // namespace detail

/// The reference path: each op of P alone, as torchvision would run it (image ops on a BGR cv::Mat, then
/// ToTensor, then tensor ops), with the same parameters as apply/apply_into sample from the same Rng.
template <class P>
torch::Tensor apply_unfused(const cv::Mat& image, Rng& rng) {
  static_assert(Pipeline<P>, "ftmeta: apply_unfused<P>: P must be a Compose<...> or a struct derived from one");
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError(detail::api_name<P>("apply_unfused") + ": " + problem);
  cv::Mat img = to_bgr(image);
  torch::Tensor t;
  meta::for_each_type(typename P::ops{}, [&]<class Op, std::size_t>() {
    if constexpr (OpTraits<Op>::kind == OpKind::to_tensor) t = to_tensor(img);
    else if constexpr (OpTraits<Op>::kind == OpKind::image) run_image_op(Op{}, Op::sample(rng, {img.rows, img.cols}), img);
    else if constexpr (OpTraits<Op>::input == Domain::image) detail::unfused_image_op(Op{}, rng, img);
    else detail::unfused_tensor_op(Op{}, rng, t);
  });
  return t;
}

/// torchvision's F.erase(img, i, j, h, w, v) on a float32 [C, H, W] tensor: a copy whose rows [top, top +
/// height) and columns [left, left + width) are `value`.
inline torch::Tensor erase(const torch::Tensor& chw, int top, int left, int height, int width, double value) {
  if (!chw.defined() || chw.dim() != 3 || chw.scalar_type() != torch::kFloat32 || !chw.device().is_cpu())
    throw Error("ftmeta::transforms::erase: expects a CPU float32 [C, H, W] tensor; got " + detail::tensor_text(chw));
  const ImageSize size{int(chw.size(1)), int(chw.size(2))};
  if (top < 0 || left < 0 || height < 0 || width < 0 || top + height > size.height || left + width > size.width)
    throw UsageError("ftmeta::transforms::erase: the box (top " + std::to_string(top) + ", left " + std::to_string(left) +
                     ", " + std::to_string(height) + "x" + std::to_string(width) + ") is not inside the " +
                     std::to_string(size.height) + "x" + std::to_string(size.width) + " tensor");
  auto out = chw.contiguous().clone();
  detail::erase_box(out.data_ptr<float>(), int(out.size(0)), size, {true, top, left, height, width, 0}, false, value);
  return out;
}

/// torchvision's F.gaussian_blur(img, [kernel, kernel], [sigma, sigma]) on an 8-bit image (gray, BGR or
/// BGRA; the result is BGR): separable, reflected borders, rounded.
inline cv::Mat gaussian_blur(const cv::Mat& image, int kernel, double sigma) {
  if (kernel <= 0 || kernel % 2 == 0) throw UsageError("ftmeta::transforms::gaussian_blur: kernel must be odd and positive");
  if (!(sigma > 0)) throw UsageError("ftmeta::transforms::gaussian_blur: sigma must be > 0");
  return detail::gaussian_blur_image(to_bgr(image), kernel, sigma);
}

/// torchvision's F.adjust_brightness / adjust_contrast / adjust_saturation / adjust_hue on an 8-bit image
/// (gray, BGR or BGRA; the result is BGR), with PIL's uint8 arithmetic.
inline cv::Mat adjust_brightness(const cv::Mat& image, double factor) {
  if (!(factor >= 0)) throw UsageError("ftmeta::transforms::adjust_brightness: factor must be >= 0");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::brightness, factor, 0});
}
inline cv::Mat adjust_contrast(const cv::Mat& image, double factor) {
  if (!(factor >= 0)) throw UsageError("ftmeta::transforms::adjust_contrast: factor must be >= 0");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::contrast, factor, 0});
}
inline cv::Mat adjust_saturation(const cv::Mat& image, double factor) {
  if (!(factor >= 0)) throw UsageError("ftmeta::transforms::adjust_saturation: factor must be >= 0");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::saturation, factor, 0});
}
inline cv::Mat adjust_hue(const cv::Mat& image, double hue_factor) {
  if (!(hue_factor >= -0.5 && hue_factor <= 0.5))
    throw UsageError("ftmeta::transforms::adjust_hue: hue_factor must be in [-0.5, 0.5]");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::hue, hue_factor, hue_shift_of(hue_factor)});
}

}  // namespace ftmeta::transforms
