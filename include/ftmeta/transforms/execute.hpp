// ftmeta/transforms/execute.hpp: the kernels (OpenCV + torch) that run a pipeline's plan, fused or op by op.
// The fused path: one resample for the geometric stage (a view, one cv::resize of an ROI, or one warp),
// then one pass that runs the photometric steps (ColorJitter, RandomGrayscale) on each row and writes
// float32 RGB CHW (or uint8) straight into the caller's tensor. The unfused path runs each op alone
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

/// Executes a folded geometric step on an image: the non-template core of every GeometricStage.
inline Resampled resample(const cv::Mat& src, const GeomStep& step) {
  Resampled r;
  r.out = step.out;
  const Affine2D& m = step.map;
  const int W = step.out.width, H = step.out.height;
  r.clips = step.clips, r.clip = step.clip, r.clip_size = step.clip_size, r.fill = step.fill;
  if (!m.axis_aligned()) {  // rotations (and flips, crops, resizes with them): one bilinear warp
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
  const Affine2D& m = r.clip;
  double lo = 0, hi = r.out.width;
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
  limit(m.a, m.b * yc + m.c, r.clip_size.width);
  limit(m.d, m.e * yc + m.f, r.clip_size.height);
  const int x0 = std::clamp(static_cast<int>(std::ceil(lo - 0.5 - 1e-9)), 0, r.out.width);
  const int x1 = std::clamp(static_cast<int>(std::ceil(hi - 0.5 - 1e-9)), x0, r.out.width);
  return {x0, x1};
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

// GCC keeps float compares as branches (so no SIMD) unless it may assume they do not trap; the float
// pixel steps below are written to vectorize, so they are compiled without trapping math (scoped here).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif
/// The photometric steps in float on planar rows (the fused path): the same blends as PIL, clipped to
/// [0, 255] and cut to whole levels after each step as PIL does; hue is the continuous HSV hue rotation
/// (PIL quantizes h and s to 8 bits), rounded; contrast's mean is the grey mean of the image as it is at that step
/// (rounded as PIL). Within a few grey levels of PIL's uint8 arithmetic (tested), and several times faster.
struct FloatSteps {
  const PixelProgram& program;
  int means[PixelProgram::capacity] = {};

  explicit FloatSteps(const PixelProgram& p) : program(p) {}

  // Each step ends on whole grey levels as PIL's do: blends truncate, the HSV round trip rounds, grey
  // (ITU-R 601-2 luma) rounds. Inputs are >= 0, so int conversion is floor.
  // Ternaries, not std::min/max: those are compiled outside this region and would not inline here.
  static float lo0(float v) { return v < 0.0f ? 0.0f : v; }
  static float least(float a, float b) { return b < a ? b : a; }
  static float most(float a, float b) { return a < b ? b : a; }
  static float clamp01(float v) { return least(lo0(v), 1.0f); }
  static float trunc255(float v) { return static_cast<float>(static_cast<int>(least(lo0(v), 255.0f))); }
  static float round255(float v) { return static_cast<float>(static_cast<int>(v + 0.5f)); }
  static float luma(float r, float g, float b) { return round255(0.299f * r + 0.587f * g + 0.114f * b); }

  void run(float* __restrict R, float* __restrict G, float* __restrict B, int n) const { run(0, program.size, R, G, B, n); }
  /// The sum of the grey (rounded luma) of n pixels.
  float luma_sum(const float* __restrict R, const float* __restrict G, const float* __restrict B, int n) const {
    float sum = 0;  // a row of whole levels: exact in float up to 65536 pixels
    for (int i = 0; i < n; ++i) sum += luma(R[i], G[i], B[i]);
    return sum;
  }

  /// Steps [from, to) on n pixels.
  void run(int from, int to, float* __restrict R, float* __restrict G, float* __restrict B, int n) const {
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
          const float turn = static_cast<float>(6.0 * s.hue_shift / 255.0);  // PIL's shift, in sixths of a turn
          for (int i = 0; i < n; ++i) {
            const float r = R[i], g = G[i], b = B[i];
            const float mx = most(r, most(g, b)), mn = least(r, least(g, b)), d = mx - mn;
            const float inv = 1.0f / most(d, 1e-6f);  // d == 0: any hue, the pixel stays grey
            const float hr = (g - b) * inv, hg = 2.0f + (b - r) * inv, hb = 4.0f + (r - g) * inv;
            float h = r == mx ? hr : (g == mx ? hg : hb);
            h += turn;  // in [-1, 11)
            h += h < 0.0f ? 6.0f : 0.0f;
            h -= h >= 6.0f ? 6.0f : 0.0f;
            float kr = 5.0f + h, kg = 3.0f + h, kb = 1.0f + h;
            kr -= kr >= 6.0f ? 6.0f : 0.0f;
            kg -= kg >= 6.0f ? 6.0f : 0.0f;
            kb -= kb >= 6.0f ? 6.0f : 0.0f;
            R[i] = round255(mx - d * clamp01(least(kr, 4.0f - kr)));
            G[i] = round255(mx - d * clamp01(least(kg, 4.0f - kg)));
            B[i] = round255(mx - d * clamp01(least(kb, 4.0f - kb)));
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

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/// The single pixel pass: reads the resampled uint8 pixels (BGR, BGRA or gray) row by row, applies the
/// flips, padding and fill, and writes planes R, G, B of `out` (3 x H x W, contiguous). Without
/// photometric steps each value goes through a per-channel lookup table (ToTensor, Normalize folded);
/// with them the row runs the steps in float, then one multiply-add per channel (`affine`; for uint8
/// output, rounding). A contrast step needs the grey mean: one extra read of the input before.
template <class T>
void pixel_pass(const Resampled& r, const PixelProgram& program, const ChannelAffine& affine, T* out) {
  const int W = r.out.width, H = r.out.height;
  const std::size_t plane = std::size_t(W) * std::size_t(H);
  std::vector<std::uint8_t> row(std::size_t(3) * W);
  if (program.size == 0) {
    std::array<std::array<T, 256>, 3> lut;
    for (int c = 0; c < 3; ++c)
      for (int v = 0; v < 256; ++v) {
        if constexpr (std::is_same_v<T, std::uint8_t>) lut[c][v] = static_cast<T>(v);
        else lut[c][v] = static_cast<T>(affine.scale[c] * v + affine.bias[c]);
      }
    for (int y = 0; y < H; ++y) {
      gather_row(r, y, row.data());
      T* R = out + std::size_t(y) * W;
      T* G = R + plane;
      T* B = G + plane;
      const std::uint8_t* p = row.data();
      for (int x = 0; x < W; ++x, p += 3) R[x] = lut[0][p[0]], G[x] = lut[1][p[1]], B[x] = lut[2][p[2]];
    }
    return;
  }
  const float s0 = float(affine.scale[0]), s1 = float(affine.scale[1]), s2 = float(affine.scale[2]);
  const float b0 = float(affine.bias[0]), b1 = float(affine.bias[1]), b2 = float(affine.bias[2]);
  auto write_row = [&](int y, const float* __restrict fr, const float* __restrict fg, const float* __restrict fb) {
    T* __restrict R = out + std::size_t(y) * W;
    T* __restrict G = R + plane;
    T* __restrict B = G + plane;
    if constexpr (std::is_same_v<T, std::uint8_t>) {
      for (int x = 0; x < W; ++x) R[x] = T(fr[x] + 0.5f), G[x] = T(fg[x] + 0.5f), B[x] = T(fb[x] + 0.5f);
    } else {
      for (int x = 0; x < W; ++x) R[x] = s0 * fr[x] + b0, G[x] = s1 * fg[x] + b1, B[x] = s2 * fb[x] + b2;
    }
  };
  auto load_row = [&](int y, float* __restrict fr, float* __restrict fg, float* __restrict fb) {
    gather_row(r, y, row.data());
    const std::uint8_t* p = row.data();
    for (int x = 0; x < W; ++x, p += 3) fr[x] = p[0], fg[x] = p[1], fb[x] = p[2];
  };
  // Rows in float planes (L1-resident); a contrast step needs the grey mean of the image as it is at that
  // step: a first read runs the steps before it on every row and sums the grey (the steps are cheap next
  // to holding the whole image in float), then the pass proper runs them all.
  FloatSteps steps(program);
  std::vector<float> planes(std::size_t(3) * W);
  float *fr = planes.data(), *fg = fr + W, *fb = fg + W;
  for (int i = 0; i < program.size; ++i) {
    if (program.steps[i].kind != PixelStep::Kind::contrast) continue;
    double total = 0;
    for (int y = 0; y < H; ++y) {
      load_row(y, fr, fg, fb);
      steps.run(0, i, fr, fg, fb, W);
      total += steps.luma_sum(fr, fg, fb, W);
    }
    steps.means[i] = static_cast<int>(total / double(plane) + 0.5);
  }
  for (int y = 0; y < H; ++y) {
    load_row(y, fr, fg, fb);
    steps.run(fr, fg, fb, W);
    write_row(y, fr, fg, fb);
  }
}

template <class Plan>
struct plan_parts {
  static constexpr bool supported = false;
  using geometric = GeometricStage<>;
  using pixel = PixelStage<>;
};
template <class... G, class... X>
struct plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X...>>> {
  static constexpr bool supported = true;
  using geometric = GeometricStage<G...>;
  using pixel = PixelStage<X...>;
};
template <class... X>
struct plan_parts<meta::TypeList<PixelStage<X...>>> : plan_parts<meta::TypeList<GeometricStage<>, PixelStage<X...>>> {};

/// What one sample draws: the folded geometric step and the photometric steps.
struct Sampled {
  GeomStep step;
  PixelProgram pixels;
};

template <class P>
struct kernels {
  using parts = plan_parts<plan_t<P>>;
  static_assert(parts::supported,
                "ftmeta: apply<P>: photometric ops (ColorJitter) must come after every geometric op (crops, flips, "
                "rotations) for the fused kernel; move them just before ToTensor");
  static_assert(parts::pixel::channel_affine,
                "ftmeta: apply<P>: no kernel for this plan yet (non-pointwise tensor ops are not in this slice)");
  static_assert(parts::pixel::max_steps <= PixelProgram::capacity,
                "ftmeta: apply<P>: too many photometric steps in one pipeline (at most 16: four ColorJitters)");

  static Sampled sample(Rng& rng, ImageSize in) {
    Sampled s;
    s.step = parts::geometric::sample(rng, in);
    s.pixels = parts::pixel::sample(rng);
    return s;
  }

  // `out` has been checked: [3, H, W] contiguous CPU, float32 or uint8.
  static void run(const cv::Mat& image, const Sampled& s, torch::Tensor& out) {
    const Resampled r = resample(image, s.step);
    constexpr ChannelAffine f = parts::pixel::affine();
    if (out.scalar_type() == torch::kUInt8) pixel_pass(r, s.pixels, f, out.data_ptr<std::uint8_t>());
    else pixel_pass(r, s.pixels, f, out.data_ptr<float>());
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
  const detail::Sampled sampled = detail::kernels<P>::sample(rng, {image.rows, image.cols});
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
  const detail::Sampled sampled = detail::kernels<P>::sample(rng, {image.rows, image.cols});
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

template <int L, int T, int R, int B>
void unfused_image_op(const Pad<L, T, R, B>&, Rng&, cv::Mat& img) {
  cv::Mat out;
  cv::copyMakeBorder(img, out, T, B, L, R, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  img = out;
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
    else if constexpr (OpTraits<Op>::input == Domain::image) detail::unfused_image_op(Op{}, rng, img);
    else detail::unfused_tensor_op(Op{}, rng, t);
  });
  return t;
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
