// ftmeta/transforms/kernels/pil.hpp: PIL-exact uint8 kernels: ColorJitter's enhance steps and the auto-augmentation ops.
// torchvision runs these on PIL images; each does what PIL does, with its arithmetic: Image.blend, the
// 8-bit HSV hue shift, convert("L") (ColorJitter, RandomGrayscale: the unfused path and the functional
// adjust_*), and for TrivialAugmentWide's and RandAugment's ops nearest-neighbour affine transforms as
// Image.transform (its 16.16 fixed-point or scaling paths), Image.rotate's special angles, ImageEnhance's
// blends, the SMOOTH filter, and ImageOps' lookup tables. OpenCV only.
#pragma once

#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/ops.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::transforms {

namespace detail {

// --- PIL's uint8 arithmetic (torchvision's ColorJitter on PIL images) ---------------------------------

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

// --- the auto-augmentation ops (TrivialAugmentWide, RandAugment) ------------------------------------

inline constexpr double py_pi = 3.141592653589793;
/// Python's math.radians and math.degrees (x * (pi / 180), x * (180 / pi)).
inline double py_radians(double deg) { return deg * (py_pi / 180.0); }
inline double py_degrees(double rad) { return rad * (180.0 / py_pi); }
/// Python's round(x, 15): correctly rounded to 15 decimals, read back (glibc's printf rounds exactly).
inline double py_round15(double x) {
  char text[64];
  std::snprintf(text, sizeof text, "%.15f", x);
  return std::strtod(text, nullptr);
}
/// Python's float `x % m` for m > 0: the result has the sign of m.
inline double py_mod(double x, double m) {
  double r = std::fmod(x, m);
  if (r != 0 && r < 0) r += m;
  return r == 0 ? 0.0 : r;
}

/// torchvision's _get_inverse_affine_matrix (output -> input, for PIL), term by term as Python computes it.
inline std::array<double, 6> inverse_affine_matrix(double cx, double cy, double angle, double tx, double ty,
                                                   double scale, double shear_x, double shear_y) {
  const double rot = py_radians(angle), sx = py_radians(shear_x), sy = py_radians(shear_y);
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m = {d / scale, -b / scale, 0.0 / scale, -c / scale, a / scale, 0.0 / scale};
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

/// PIL's COORD(): -1 below zero, else truncation.
inline int pil_coord(double v) { return v < 0.0 ? -1 : static_cast<int>(v); }

/// PIL's Image.transform(size, AFFINE, a, NEAREST, fillcolor=fill) of an 8-bit image onto the same size:
/// a maps output pixel centres to input coordinates. Pixels that fall outside keep the fill.
inline cv::Mat pil_affine_nearest(const cv::Mat& src, const std::array<double, 6>& a, int fill) {
  const int W = src.cols, H = src.rows;
  const std::size_t px = src.elemSize();
  cv::Mat out(src.size(), src.type(), cv::Scalar::all(fill));
  auto copy = [&](int y, int x, int yin, int xin) {
    std::uint8_t* q = out.ptr<std::uint8_t>(y) + std::size_t(x) * px;
    const std::uint8_t* p = src.ptr<std::uint8_t>(yin) + std::size_t(xin) * px;
    if (px == 3) q[0] = p[0], q[1] = p[1], q[2] = p[2];
    else std::memcpy(q, p, px);
  };
  if (a[1] == 0 && a[3] == 0) {  // ImagingScaleAffine
    std::vector<int> xin(std::size_t(W), -1);
    double xo = a[2] + a[0] * 0.5, yo = a[5] + a[4] * 0.5;
    for (int x = 0; x < W; ++x, xo += a[0])
      if (const int xi = pil_coord(xo); xi >= 0 && xi < W) xin[std::size_t(x)] = xi;
    for (int y = 0; y < H; ++y, yo += a[4]) {
      const int yi = pil_coord(yo);
      if (yi < 0 || yi >= H) continue;
      for (int x = 0; x < W;) {
        const int xi = xin[std::size_t(x)];
        if (xi < 0) {
          ++x;
          continue;
        }
        int run = 1;  // consecutive output columns reading consecutive input columns: one copy
        while (x + run < W && xin[std::size_t(x + run)] == xi + run) ++run;
        std::memcpy(out.ptr<std::uint8_t>(y) + std::size_t(x) * px, src.ptr<std::uint8_t>(yi) + std::size_t(xi) * px,
                    std::size_t(run) * px);
        x += run;
      }
    }
    return out;
  }
  auto fits = [&](double x, double y) {
    return std::abs(x * a[0] + y * a[1] + a[2]) < 32768.0 && std::abs(x * a[3] + y * a[4] + a[5]) < 32768.0;
  };
  if (fits(0, 0) && fits(W, H) && fits(0, H) && fits(W, 0)) {  // affine_fixed: 16.16 fixed point
    auto fix = [](double v) {
      const double s = v * 65536.0 + 0.5;
      return s < 0.0 ? static_cast<int>(std::floor(s)) : static_cast<int>(s);
    };
    const int a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4]);
    int a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5), a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
    for (int y = 0; y < H; ++y, a2 += a1, a5 += a4) {
      int xx = a2, yy = a5;
      for (int x = 0; x < W; ++x, xx += a0, yy += a3) {
        const int xi = xx >> 16;
        if (xi < 0 || xi >= W) continue;
        const int yi = yy >> 16;
        if (yi >= 0 && yi < H) copy(y, x, yi, xi);
      }
    }
    return out;
  }
  double xo = a[2] + a[1] * 0.5 + a[0] * 0.5, yo = a[5] + a[4] * 0.5 + a[3] * 0.5;  // the floating-point path
  for (int y = 0; y < H; ++y, xo += a[1], yo += a[4]) {
    double xx = xo, yy = yo;
    for (int x = 0; x < W; ++x, xx += a[0], yy += a[3]) {
      const int xi = pil_coord(xx);
      if (xi < 0 || xi >= W) continue;
      const int yi = pil_coord(yy);
      if (yi >= 0 && yi < H) copy(y, x, yi, xi);
    }
  }
  return out;
}

/// PIL's Image.rotate(angle, NEAREST, expand=False, fillcolor=fill) (torchvision's F.rotate on PIL images).
inline cv::Mat pil_rotate_nearest(const cv::Mat& src, double angle, int fill) {
  angle = py_mod(angle, 360.0);
  cv::Mat out;
  if (angle == 0) return src.clone();
  if (angle == 180) {
    cv::rotate(src, out, cv::ROTATE_180);
    return out;
  }
  if ((angle == 90 || angle == 270) && src.cols == src.rows) {
    cv::rotate(src, out, angle == 90 ? cv::ROTATE_90_COUNTERCLOCKWISE : cv::ROTATE_90_CLOCKWISE);
    return out;
  }
  const double cx = src.cols / 2.0, cy = src.rows / 2.0, t = -py_radians(angle);
  std::array<double, 6> m = {py_round15(std::cos(t)), py_round15(std::sin(t)), 0.0,
                             py_round15(-std::sin(t)), py_round15(std::cos(t)), 0.0};
  const double m2 = m[0] * -cx + m[1] * -cy + m[2], m5 = m[3] * -cx + m[4] * -cy + m[5];
  m[2] = m2 + cx, m[5] = m5 + cy;
  return pil_affine_nearest(src, m, fill);
}

// The float loops below vectorize only where GCC may assume float compares do not trap (the values are the
// same either way: IEEE operations in the same order); scoped to pil_sharpness, as in kernels/pixel_pass.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif
/// ImageEnhance.Sharpness(img).enhance(factor): a blend of the image with its ImageFilter.SMOOTH (3x3,
/// 1 1 1 / 1 5 1 / 1 1 1 over 13, float sums rounded; the border rows and columns kept).
inline cv::Mat pil_sharpness(const cv::Mat& src, double factor) {
  const float k1 = 1.0f / 13.0f, k5 = 5.0f / 13.0f, alpha = static_cast<float>(factor);
  const int W = src.cols, H = src.rows, cn = src.channels();
  cv::Mat out = src.clone();
  if (W < 3 || H < 3) return out;
  const int n = (W - 2) * cn;  // the inner values of a row, contiguous
  std::vector<float> smooth(std::size_t(n) + 1);
  for (int y = 1; y < H - 1; ++y) {
    const std::uint8_t* up = src.ptr<std::uint8_t>(y - 1) + cn;
    const std::uint8_t* mid = src.ptr<std::uint8_t>(y) + cn;
    const std::uint8_t* down = src.ptr<std::uint8_t>(y + 1) + cn;
    float* sm = smooth.data();
    for (int i = 0; i < n; ++i) {
      // as Filter.c's KERNEL1x3 sums: each row left to right, the rows bottom, middle, top; then clip8
      float ss = 0.5f;
      ss += static_cast<float>(down[i - cn]) * k1 + static_cast<float>(down[i]) * k1 + static_cast<float>(down[i + cn]) * k1;
      ss += static_cast<float>(mid[i - cn]) * k1 + static_cast<float>(mid[i]) * k5 + static_cast<float>(mid[i + cn]) * k1;
      ss += static_cast<float>(up[i - cn]) * k1 + static_cast<float>(up[i]) * k1 + static_cast<float>(up[i + cn]) * k1;
      ss = ss < 0.0f ? 0.0f : ss;
      sm[i] = static_cast<float>(static_cast<int>(ss > 255.0f ? 255.0f : ss));
    }
    std::uint8_t* o = out.ptr<std::uint8_t>(y) + cn;
    for (int i = 0; i < n; ++i) {  // Image.blend(smooth, image, factor): float, clipped, truncated
      float v = sm[i] + alpha * (static_cast<float>(mid[i]) - sm[i]);
      v = v < 0.0f ? 0.0f : v;
      o[i] = static_cast<std::uint8_t>(v > 255.0f ? 255.0f : v);
    }
  }
  return out;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/// A per-channel lookup table applied to every channel (posterize, solarize).
inline cv::Mat apply_lut(const cv::Mat& src, const std::array<std::uint8_t, 256>& lut) {
  cv::Mat table(1, 256, CV_8U, const_cast<std::uint8_t*>(lut.data())), out;
  cv::LUT(src, table, out);
  return out;
}

/// ImageOps.autocontrast (cutoff 0) or ImageOps.equalize: per-channel tables from each channel's histogram.
inline cv::Mat histogram_lut(const cv::Mat& src, bool equalize) {
  const int cn = src.channels();
  std::vector<std::array<long long, 256>> hist(std::size_t(cn), std::array<long long, 256>{});
  for (int y = 0; y < src.rows; ++y) {
    const std::uint8_t* p = src.ptr<std::uint8_t>(y);
    for (int x = 0; x < src.cols; ++x)
      for (int c = 0; c < cn; ++c) ++hist[std::size_t(c)][*p++];
  }
  cv::Mat table(1, 256, CV_8UC(cn));
  for (int c = 0; c < cn; ++c) {
    const auto& h = hist[std::size_t(c)];
    std::array<int, 256> lut;
    for (int i = 0; i < 256; ++i) lut[std::size_t(i)] = i;
    if (!equalize) {
      int lo = 0, hi = 255;
      while (lo < 255 && !h[std::size_t(lo)]) ++lo;
      while (hi > 0 && !h[std::size_t(hi)]) --hi;
      if (hi > lo) {
        const double scale = 255.0 / (hi - lo), offset = -lo * scale;
        for (int i = 0; i < 256; ++i) lut[std::size_t(i)] = std::clamp(static_cast<int>(i * scale + offset), 0, 255);
      }
    } else {
      long long total = 0, last = 0;
      int nonzero = 0;
      for (int i = 0; i < 256; ++i)
        if (h[std::size_t(i)]) total += h[std::size_t(i)], last = h[std::size_t(i)], ++nonzero;
      const long long step = nonzero <= 1 ? 0 : (total - last) / 255;
      if (step) {
        long long n = step / 2;
        for (int i = 0; i < 256; ++i) lut[std::size_t(i)] = static_cast<int>(n / step), n += h[std::size_t(i)];
      }
    }
    for (int i = 0; i < 256; ++i) table.ptr<std::uint8_t>(0)[i * cn + c] = static_cast<std::uint8_t>(std::min(lut[std::size_t(i)], 255));
  }
  cv::Mat out;
  cv::LUT(src, table, out);
  return out;
}

/// Image.blend of a constant grey `base` with the image (ImageEnhance.Brightness: 0; Contrast: the grey mean)
/// as a lookup table: PIL's float blend, clipped, truncated.
inline cv::Mat blend_lut(const cv::Mat& bgr, int base, double factor) {
  std::array<std::uint8_t, 256> lut;
  for (int i = 0; i < 256; ++i) lut[std::size_t(i)] = pil_blend(base, i, static_cast<float>(factor));
  return apply_lut(bgr, lut);
}
/// The sum of PIL's luma over n BGR pixels.
inline long long bgr_luma_sum(const std::uint8_t* p, int n) {
  long long sum = 0;
  for (int i = 0; i < n; ++i, p += 3) sum += pil_luma(p[2], p[1], p[0]);
  return sum;
}

/// torchvision's _apply_op(img, op, magnitude, NEAREST, fill) on an 8-bit BGR image.
inline cv::Mat run_auto_augment_op(const cv::Mat& bgr, AutoAugmentOp op, double magnitude, int fill) {
  const double cx = bgr.cols * 0.5, cy = bgr.rows * 0.5;
  switch (op) {
    case AutoAugmentOp::identity: return bgr;
    case AutoAugmentOp::shear_x:
      return pil_affine_nearest(bgr, inverse_affine_matrix(0, 0, 0.0, 0, 0, 1.0, py_degrees(std::atan(magnitude)), 0.0), fill);
    case AutoAugmentOp::shear_y:
      return pil_affine_nearest(bgr, inverse_affine_matrix(0, 0, 0.0, 0, 0, 1.0, 0.0, py_degrees(std::atan(magnitude))), fill);
    case AutoAugmentOp::translate_x:
      return pil_affine_nearest(bgr, inverse_affine_matrix(cx, cy, 0.0, static_cast<int>(magnitude), 0, 1.0, 0.0, 0.0), fill);
    case AutoAugmentOp::translate_y:
      return pil_affine_nearest(bgr, inverse_affine_matrix(cx, cy, 0.0, 0, static_cast<int>(magnitude), 1.0, 0.0, 0.0), fill);
    case AutoAugmentOp::rotate: return pil_rotate_nearest(bgr, magnitude, fill);
    case AutoAugmentOp::brightness: return blend_lut(bgr, 0, 1.0 + magnitude);
    case AutoAugmentOp::color: return run_pixel_step(bgr, {PixelStep::Kind::saturation, 1.0 + magnitude, 0});
    case AutoAugmentOp::contrast: {
      long long total = 0;
      for (int y = 0; y < bgr.rows; ++y) total += bgr_luma_sum(bgr.ptr<std::uint8_t>(y), bgr.cols);
      return blend_lut(bgr, contrast_mean(total, static_cast<long long>(bgr.rows) * bgr.cols), 1.0 + magnitude);
    }
    case AutoAugmentOp::sharpness: return pil_sharpness(bgr, 1.0 + magnitude);
    case AutoAugmentOp::posterize: {
      const int bits = static_cast<int>(magnitude);
      const auto mask = static_cast<std::uint8_t>(~((1 << (8 - bits)) - 1));
      std::array<std::uint8_t, 256> lut;
      for (int i = 0; i < 256; ++i) lut[std::size_t(i)] = static_cast<std::uint8_t>(i & mask);
      return apply_lut(bgr, lut);
    }
    case AutoAugmentOp::solarize: {
      std::array<std::uint8_t, 256> lut;
      for (int i = 0; i < 256; ++i) lut[std::size_t(i)] = static_cast<std::uint8_t>(i < magnitude ? i : 255 - i);
      return apply_lut(bgr, lut);
    }
    case AutoAugmentOp::auto_contrast: return histogram_lut(bgr, false);
    case AutoAugmentOp::equalize: return histogram_lut(bgr, true);
  }
  return bgr;
}

}  // namespace detail

/// Runs one TrivialAugmentWide draw on an 8-bit BGR image (both paths; found by argument-dependent lookup).
template <int NumBins, int Fill>
void run_image_op(TrivialAugmentWide<NumBins, Fill>, const AutoAugmentDraw& draw, cv::Mat& bgr) {
  bgr = detail::run_auto_augment_op(bgr, draw.op, TrivialAugmentWide<NumBins, Fill>::magnitude(draw), Fill);
}

/// Runs one RandAugment draw (its ops in turn, each magnitude from the image's size) on an 8-bit BGR image.
template <int NumOps, int Magnitude, int NumBins, int Fill>
void run_image_op(RandAugment<NumOps, Magnitude, NumBins, Fill>, const RandAugmentDraws<NumOps>& draws, cv::Mat& bgr) {
  using Op = RandAugment<NumOps, Magnitude, NumBins, Fill>;
  for (const AutoAugmentDraw& d : draws.ops)
    bgr = detail::run_auto_augment_op(bgr, d.op, Op::magnitude(d, {bgr.rows, bgr.cols}), Fill);
}

}  // namespace ftmeta::transforms
