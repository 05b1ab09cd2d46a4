// ftmeta/transforms/kernels/antialias.hpp: PIL's antialiased bilinear resample (torchvision's resize of PIL images), separable, row by row.
// The triangle filter stretched by the scale factor, with PIL's arithmetic: weights computed once per output
// column and row, normalized to 22-bit fixed point, a horizontal pass to uint8, then a vertical pass to uint8
// (Pillow's Resample.c, the 8-bit path). AntialiasRows hands out the output one row at a time as R, G, B
// planes: the pixel pass asks for the rows it writes, so no output image is made; the horizontal rows a
// vertical tap needs are kept in a small ring. Compiled twice on plain x86-64 (baseline and AVX2, chosen at
// run time), with the same bits. OpenCV only.
#pragma once

#include <opencv2/core.hpp>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ftmeta::transforms {

namespace detail {

/// One axis of the resample: output pixel i reads `count[i]` input pixels from `first[i]` with weights
/// `weight[i * taps + k]` (PIL's 22-bit fixed point; they sum to about 1 << 22).
struct AxisFilter {
  static constexpr int precision = 22;  // PIL: 32 bits - 8 (values) - 2 (headroom)
  int taps = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weight;
  // The same weights for 8 outputs at a time (gather_layout): tap k of output x at [k * padded + x], with the
  // byte offset of its pixel (clamped to the output's last tap, weight 0 past its count), and per group of 8
  // the most taps any of them has. Empty unless made.
  int padded = 0, channels = 0;
  std::vector<std::int32_t> lane_offset, lane_weight;
  std::vector<int> group_taps;
};

/// Lays `f` out for the gathering horizontal pass on rows of `size` pixels of `cn` bytes.
inline void gather_layout(AxisFilter& f, int size, int cn) {
  const int n = static_cast<int>(f.first.size());
  f.padded = (n + 7) / 8 * 8, f.channels = cn;
  f.lane_offset.assign(std::size_t(f.padded) * std::size_t(f.taps), 0);
  f.lane_weight.assign(std::size_t(f.padded) * std::size_t(f.taps), 0);
  f.group_taps.assign(std::size_t(f.padded / 8), 0);
  for (int x = 0; x < n; ++x) {
    const int c = f.count[std::size_t(x)];
    int& g = f.group_taps[std::size_t(x / 8)];
    g = std::max(g, c);
    for (int k = 0; k < f.taps; ++k) {
      const std::size_t at = std::size_t(k) * std::size_t(f.padded) + std::size_t(x);
      f.lane_offset[at] = std::clamp(f.first[std::size_t(x)] + std::max(0, std::min(k, c - 1)), 0, std::max(size - 1, 0)) * cn;
      f.lane_weight[at] = k < c ? f.weight[std::size_t(x) * std::size_t(f.taps) + std::size_t(k)] : 0;
    }
  }
}

/// PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter: `out` output pixels
/// cover the input interval [in0, in1) (edge coordinates); taps are clipped to the input pixels [0, size).
/// With `reversed`, output i gets the weights of output out - 1 - i (a flip folded into the resample).
inline AxisFilter triangle_filter(double in0, double in1, int size, int out, bool reversed = false) {
  AxisFilter f;
  const double scale = (in1 - in0) / out, filterscale = std::max(scale, 1.0), support = filterscale;
  f.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  f.first.assign(std::size_t(out), 0);
  f.count.assign(std::size_t(out), 0);
  f.weight.assign(std::size_t(out) * std::size_t(f.taps), 0);
  std::vector<double> k(std::size_t(f.taps));
  for (int xx = 0; xx < out; ++xx) {
    const double center = in0 + (xx + 0.5) * scale, ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);  // C truncation, as PIL
    const int xmax = std::min(static_cast<int>(center + support + 0.5), size) - xmin;
    double ww = 0;
    for (int x = 0; x < xmax; ++x) {
      const double t = std::abs((x + xmin - center + 0.5) * ss);
      k[std::size_t(x)] = t < 1.0 ? 1.0 - t : 0.0;
      ww += k[std::size_t(x)];
    }
    const int at = reversed ? out - 1 - xx : xx;
    f.first[std::size_t(at)] = xmin;
    f.count[std::size_t(at)] = std::max(xmax, 0);
    for (int x = 0; x < xmax; ++x) {
      const double w = (ww != 0.0 ? k[std::size_t(x)] / ww : k[std::size_t(x)]) * (1 << AxisFilter::precision);
      f.weight[std::size_t(at) * std::size_t(f.taps) + std::size_t(x)] = static_cast<std::int32_t>(w < 0 ? w - 0.5 : w + 0.5);
    }
  }
  return f;
}

#if defined(__GNUC__) || defined(__clang__)
#define FTMETA_DETAIL_AA_HOT [[gnu::always_inline]] inline
#else
#define FTMETA_DETAIL_AA_HOT inline
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
#define FTMETA_DETAIL_AA_AVX2 1
#endif

/// PIL's clip8: the accumulator's integer part, clamped to [0, 255].
FTMETA_DETAIL_AA_HOT std::uint8_t aa_clip8(std::int32_t v) {
  v >>= AxisFilter::precision;
  return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

/// Horizontal pass of one input row (cn = 1, 3 or 4 interleaved 8-bit channels, BGR(A) or gray) into
/// planes R, G, B of `n` values.
FTMETA_DETAIL_AA_HOT void aa_horizontal_body(const AxisFilter& f, const std::uint8_t* __restrict src, int cn, int n,
                                             std::uint8_t* __restrict R, std::uint8_t* __restrict G,
                                             std::uint8_t* __restrict B) {
  constexpr std::int32_t half = 1 << (AxisFilter::precision - 1);
  const int taps = f.taps;
  if (cn == 1) {
    for (int x = 0; x < n; ++x) {
      const std::int32_t* w = f.weight.data() + std::size_t(x) * std::size_t(taps);
      const std::uint8_t* p = src + f.first[std::size_t(x)];
      std::int32_t s = half;
      for (int k = 0, c = f.count[std::size_t(x)]; k < c; ++k) s += p[k] * w[k];
      R[x] = G[x] = B[x] = aa_clip8(s);
    }
    return;
  }
  for (int x = 0; x < n; ++x) {
    const std::int32_t* w = f.weight.data() + std::size_t(x) * std::size_t(taps);
    const std::uint8_t* p = src + std::ptrdiff_t(f.first[std::size_t(x)]) * cn;
    std::int32_t sb = half, sg = half, sr = half;
    for (int k = 0, c = f.count[std::size_t(x)]; k < c; ++k, p += cn) sb += p[0] * w[k], sg += p[1] * w[k], sr += p[2] * w[k];
    R[x] = aa_clip8(sr), G[x] = aa_clip8(sg), B[x] = aa_clip8(sb);
  }
}

/// Vertical pass: out[x] = clip8(sum_k rows[k][x] * w[k]) for one plane of n values.
FTMETA_DETAIL_AA_HOT void aa_vertical_body(const std::uint8_t* const* rows, const std::int32_t* w, int count, int n,
                                           std::int32_t* __restrict acc, std::uint8_t* __restrict out) {
  constexpr std::int32_t half = 1 << (AxisFilter::precision - 1);
  for (int x = 0; x < n; ++x) acc[x] = half;
  for (int k = 0; k < count; ++k) {
    const std::uint8_t* __restrict r = rows[k];
    const std::int32_t wk = w[k];
    for (int x = 0; x < n; ++x) acc[x] += r[x] * wk;
  }
  for (int x = 0; x < n; ++x) out[x] = aa_clip8(acc[x]);
}

#ifdef FTMETA_DETAIL_AA_AVX2
/// The horizontal pass 8 outputs at a time (BGR or BGRA): each tap gathers 8 pixels as 32-bit words and
/// multiplies each channel by the 8 outputs' weights; the same integer sums as aa_horizontal_body. Reads up to
/// one byte past a BGR row's last pixel: the caller checks that the byte is readable (`padded_row`).
[[gnu::target("avx2")]] inline void aa_horizontal_gather(const AxisFilter& f, const std::uint8_t* src, int n, std::uint8_t* R,
                                                         std::uint8_t* G, std::uint8_t* B) {
  const __m256i half = _mm256_set1_epi32(1 << (AxisFilter::precision - 1)), byte = _mm256_set1_epi32(0xff);
  const __m256i lo = _mm256_setzero_si256(), hi = _mm256_set1_epi32(255);
  alignas(32) std::int32_t out[3][8];
  for (int x0 = 0; x0 < n; x0 += 8) {
    __m256i sb = half, sg = half, sr = half;
    const int taps = f.group_taps[std::size_t(x0 / 8)];
    for (int k = 0; k < taps; ++k) {
      const std::size_t at = std::size_t(k) * std::size_t(f.padded) + std::size_t(x0);
      const __m256i offset = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f.lane_offset.data() + at));
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f.lane_weight.data() + at));
      const __m256i v = _mm256_i32gather_epi32(reinterpret_cast<const int*>(src), offset, 1);
      sb = _mm256_add_epi32(sb, _mm256_mullo_epi32(_mm256_and_si256(v, byte), w));
      sg = _mm256_add_epi32(sg, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 8), byte), w));
      sr = _mm256_add_epi32(sr, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 16), byte), w));
    }
    // clip8: the integer part, clamped to [0, 255] (no lambda: it would not inherit the target)
    sr = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(sr, AxisFilter::precision), lo), hi);
    sg = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(sg, AxisFilter::precision), lo), hi);
    sb = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(sb, AxisFilter::precision), lo), hi);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[0]), sr);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[1]), sg);
    _mm256_store_si256(reinterpret_cast<__m256i*>(out[2]), sb);
    for (int i = 0, e = std::min(8, n - x0); i < e; ++i)
      R[x0 + i] = std::uint8_t(out[0][i]), G[x0 + i] = std::uint8_t(out[1][i]), B[x0 + i] = std::uint8_t(out[2][i]);
  }
}
[[gnu::target("avx2")]] inline void aa_horizontal_avx2(const AxisFilter& f, const std::uint8_t* src, int cn, int n,
                                                       std::uint8_t* R, std::uint8_t* G, std::uint8_t* B) {
  aa_horizontal_body(f, src, cn, n, R, G, B);
}
[[gnu::target("avx2")]] inline void aa_vertical_avx2(const std::uint8_t* const* rows, const std::int32_t* w, int count, int n,
                                                     std::int32_t* acc, std::uint8_t* out) {
  aa_vertical_body(rows, w, count, n, acc, out);
}
inline bool aa_cpu_has_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
#endif

/// `padded_row`: a byte past the row's last pixel may be read (for the 8-wide gathers).
inline void aa_horizontal(const AxisFilter& f, const std::uint8_t* src, int cn, int n, std::uint8_t* R, std::uint8_t* G,
                          std::uint8_t* B, bool padded_row = false) {
#ifdef FTMETA_DETAIL_AA_AVX2
  if (aa_cpu_has_avx2()) {
    if (f.channels == cn && (cn == 4 || (cn == 3 && padded_row))) return aa_horizontal_gather(f, src, n, R, G, B);
    return aa_horizontal_avx2(f, src, cn, n, R, G, B);
  }
#endif
  aa_horizontal_body(f, src, cn, n, R, G, B);
}
inline void aa_vertical(const std::uint8_t* const* rows, const std::int32_t* w, int count, int n, std::int32_t* acc,
                        std::uint8_t* out) {
#ifdef FTMETA_DETAIL_AA_AVX2
  if (aa_cpu_has_avx2()) return aa_vertical_avx2(rows, w, count, n, acc, out);
#endif
  aa_vertical_body(rows, w, count, n, acc, out);
}
#undef FTMETA_DETAIL_AA_HOT
#undef FTMETA_DETAIL_AA_AVX2

/// The resample of the box [x0, x1) x [y0, y1) of `src` (edge coordinates, taps clipped to `src`) to
/// width x height, as PIL's Image.resize(size, BILINEAR, box) on `src`; flip_x reverses each row.
/// row(y) gives output row y as planes R, G, B. PIL (13) runs the horizontal pass first unless the
/// height shrinks by more than twice as many pixels as the width: then the vertical pass, on the source
/// rows, comes first (the passes round to uint8 in between, so the order shows in the last bit). Rows
/// asked in increasing or decreasing order cost one horizontal pass per input row (horizontal first) or
/// one vertical and one horizontal pass per output row (vertical first). Not thread-safe (one per sample).
class AntialiasRows {
 public:
  AntialiasRows(const cv::Mat& src, double x0, double x1, double y0, double y1, int width, int height, bool flip_x = false)
      : src_(src), width_(width), fx_(triangle_filter(x0, x1, src.cols, width, flip_x)),
        fy_(triangle_filter(y0, y1, src.rows, height)) {
    const double shrink_y = (y1 - y0) - height, shrink_x = (x1 - x0) - width;
    vertical_first_ = shrink_y > 0 && shrink_y > 2 * shrink_x;
    int ring = 1;
    for (int c : fy_.count) ring = std::max(ring, c);
    ring_ = vertical_first_ ? 1 : ring;
    const std::size_t line = std::size_t(src.cols) * std::size_t(src.channels());
    buffer_.resize(vertical_first_ ? line + 4 : std::size_t(ring) * 3 * std::size_t(width));  // + 4: the gathers' slack
    gather_layout(fx_, src.cols, src.channels());
    tag_.assign(std::size_t(ring_), -1);
    acc_.resize(std::max(std::size_t(width), vertical_first_ ? line : 0));
    if (vertical_first_) {  // the source columns the horizontal pass reads
      lo_ = src.cols, hi_ = 0;
      for (std::size_t x = 0; x < fx_.first.size(); ++x)
        if (fx_.count[x] > 0) lo_ = std::min(lo_, fx_.first[x]), hi_ = std::max(hi_, fx_.first[x] + fx_.count[x]);
      hi_ = std::max(hi_, lo_);
    }
  }
  int width() const { return width_; }
  int height() const { return static_cast<int>(fy_.count.size()); }

  void row(int y, std::uint8_t* R, std::uint8_t* G, std::uint8_t* B) {
    const int first = fy_.first[std::size_t(y)], count = fy_.count[std::size_t(y)];
    const std::int32_t* w = fy_.weight.data() + std::size_t(y) * std::size_t(fy_.taps);
    if (vertical_first_) {  // the source rows' columns [lo_, hi_) interleaved, then the horizontal pass
      const int cn = src_.channels();
      rows_.resize(std::max(rows_.size(), std::size_t(count)));
      for (int k = 0; k < count; ++k) rows_[std::size_t(k)] = src_.ptr<std::uint8_t>(first + k) + std::ptrdiff_t(lo_) * cn;
      aa_vertical(rows_.data(), w, count, (hi_ - lo_) * cn, acc_.data(), buffer_.data() + std::ptrdiff_t(lo_) * cn);
      aa_horizontal(fx_, buffer_.data(), cn, width_, R, G, B, true);
      return;
    }
    const std::uint8_t* planes[3][64];
    const std::uint8_t* const* rows[3] = {planes[0], planes[1], planes[2]};
    std::vector<const std::uint8_t*> spill;  // more than 64 taps: a shrink by more than 31x
    if (count > 64) spill.resize(3 * std::size_t(count));
    for (int k = 0; k < count; ++k) {
      const std::uint8_t* h = horizontal(first + k);
      for (int c = 0; c < 3; ++c) {
        const std::uint8_t* p = h + std::size_t(c) * std::size_t(width_);
        if (count > 64) spill[std::size_t(c) * std::size_t(count) + std::size_t(k)] = p;
        else planes[c][k] = p;
      }
    }
    if (count > 64)
      for (int c = 0; c < 3; ++c) rows[c] = spill.data() + std::size_t(c) * std::size_t(count);
    std::uint8_t* out[3] = {R, G, B};
    for (int c = 0; c < 3; ++c) aa_vertical(rows[c], w, count, width_, acc_.data(), out[c]);
  }

  /// The whole output as an 8-bit BGR image (for the passes that need an image: whole-image ops).
  cv::Mat image() {
    cv::Mat bgr(height(), width_, CV_8UC3);
    std::vector<std::uint8_t> planes(3 * std::size_t(width_));
    for (int y = 0; y < bgr.rows; ++y) {
      row(y, planes.data(), planes.data() + width_, planes.data() + 2 * width_);
      std::uint8_t* q = bgr.ptr<std::uint8_t>(y);
      for (int x = 0; x < width_; ++x, q += 3)
        q[0] = planes[std::size_t(2 * width_ + x)], q[1] = planes[std::size_t(width_ + x)], q[2] = planes[std::size_t(x)];
    }
    return bgr;
  }

 private:
  // Input row `y` after the horizontal pass: planes R, G, B of width_ values, from the ring.
  const std::uint8_t* horizontal(int y) {
    const std::size_t slot = std::size_t(y % ring_);
    std::uint8_t* h = buffer_.data() + slot * 3 * std::size_t(width_);
    if (tag_[slot] != y) {
      const std::uint8_t* p = src_.ptr<std::uint8_t>(y);
      const bool padded = p + std::ptrdiff_t(src_.cols) * src_.channels() + 1 <= src_.datalimit;
      aa_horizontal(fx_, p, src_.channels(), width_, h, h + width_, h + 2 * width_, padded);
      tag_[slot] = y;
    }
    return h;
  }

  cv::Mat src_;
  int width_;
  AxisFilter fx_, fy_;
  std::vector<const std::uint8_t*> rows_;
  bool vertical_first_ = false;
  int lo_ = 0, hi_ = 0;
  int ring_ = 1;
  std::vector<std::uint8_t> buffer_;
  std::vector<int> tag_;
  std::vector<std::int32_t> acc_;
};

/// PIL's Image.resize((width, height), BILINEAR) of `src` (8-bit gray, BGR or BGRA) as an 8-bit BGR image.
inline cv::Mat antialias_resize(const cv::Mat& src, int width, int height) {
  return AntialiasRows(src, 0, src.cols, 0, src.rows, width, height).image();
}

}  // namespace detail

}  // namespace ftmeta::transforms
