// ftmeta/transforms/kernels/warp.hpp: the bilinear warp of the geometric stage (rotations), row by row into the pixel pass's planes.
// Output pixel (x, y) reads the source at the centre map's (u, v) (source pixel indices), bilinear between
// the four pixels around it, the indices clamped to the image (OpenCV's BORDER_REPLICATE), in float, rounded
// to whole levels; where the map leaves the source frame the output is 0, and where it leaves the earlier
// filling op's frame that op's fill (the pixel pass applies the last one's). Gives OpenCV's warpAffine
// (INTER_LINEAR, which quantizes the position to 1/32 pixel) within a few levels at sharp edges, without an
// intermediate image. Compiled three times on plain x86-64 (baseline; AVX2, 8 pixels a step; AVX-512, 16;
// chosen at run time), with the same bits. OpenCV only.
#pragma once

#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/kernels/antialias.hpp>
#include <ftmeta/transforms/kernels/cpu_features.hpp>
#include <ftmeta/transforms/kernels/row_source.hpp>

#include <opencv2/core.hpp>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace ftmeta::transforms {

namespace detail {

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


#if defined(__GNUC__) || defined(__clang__)
#define FTMETA_DETAIL_WARP_HOT [[gnu::always_inline]] inline
#else
#define FTMETA_DETAIL_WARP_HOT inline
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
#define FTMETA_DETAIL_WARP_AVX2 1
#endif

/// The bilinear samples of one output row, pixels [x0, x1): u = ou + u0 + a * x, v = ov + v0 + d * x (ou, ov
/// whole, u0, v0 in [0, 1): the same bits when the source is a region of a larger image). `fma` is the
/// multiply-add both copies use (a fused one in the AVX2 copy, as its vectors), so every pixel gets the
/// same bits whichever loop computes it.
template <class T, class Fma>
FTMETA_DETAIL_WARP_HOT void warp_pixels(const cv::Mat& src, int ou, float u0, float a, int ov, float v0, float d, int x0, int x1,
                                        T* R, T* G, T* B, Fma fma) {
  const int cn = src.channels(), ri = cn == 1 ? 0 : 2, gi = cn == 1 ? 0 : 1;
  const int last_x = src.cols - 1, last_y = src.rows - 1;
  for (int x = x0; x < x1; ++x) {
    const float u = fma(a, float(x), u0), v = fma(d, float(x), v0);
    const float fu = std::floor(u), fv = std::floor(v), wu = u - fu, wv = v - fv;
    const int iu = int(fu) + ou, iv = int(fv) + ov;
    const int u0i = std::clamp(iu, 0, last_x), u1i = std::clamp(iu + 1, 0, last_x);
    const int v0i = std::clamp(iv, 0, last_y), v1i = std::clamp(iv + 1, 0, last_y);
    const std::uint8_t *top = src.ptr<std::uint8_t>(v0i), *bottom = src.ptr<std::uint8_t>(v1i);
    const std::uint8_t *p00 = top + u0i * cn, *p01 = top + u1i * cn, *p10 = bottom + u0i * cn, *p11 = bottom + u1i * cn;
    float out[3];
    const int at[3] = {0, gi, ri};
    for (int c = 0; c < 3; ++c) {
      const float a0 = p00[at[c]], a1 = p01[at[c]], b0 = p10[at[c]], b1 = p11[at[c]];
      const float t = fma(wu, a1 - a0, a0), b = fma(wu, b1 - b0, b0);
      out[c] = fma(wv, b - t, t);
    }
    aa_put(B, x, out[0]), aa_put(G, x, out[1]), aa_put(R, x, out[2]);
  }
}

#ifdef FTMETA_DETAIL_WARP_AVX2
/// The largest byte offset from src.data at which the vector copies' 8-byte gather elements stay inside the
/// image; groups that would read further go to warp_pixels.
inline int warp_gather_room(const cv::Mat& src) {
  return static_cast<int>(std::min<long long>(static_cast<long long>(src.datalimit - src.data) - 8, 0x7fffffff));
}
/// The AVX2 copy's scalar multiply-add: fused, as its vectors' (inlined, so the instruction, not a call).
struct FusedMultiplyAdd {
  FTMETA_DETAIL_WARP_HOT float operator()(float p, float q, float r) const { return __builtin_fmaf(p, q, r); }
};
/// warp_pixels for BGR with AVX2: 8 pixels a step. Each pixel's two left-right neighbours lie 3 bytes apart,
/// so one 64-bit gather element holds both (B G R B' | G' R' ..): two gathers of 4 elements per source row
/// instead of two of 8. Where the right neighbour is clamped to the left one (the image's edge columns) its
/// weight wu is 0, which gives the scalar loop's bits (t = a0 either way). Groups whose 8 bytes could reach
/// past the image's last byte go to warp_pixels.
template <class T>
[[gnu::target("avx2,fma")]] void warp_row_avx2(const cv::Mat& src, int ou, float u0, float a, int ov, float v0, float d, int x0,
                                               int x1, T* R, T* G, T* B) {
  const FusedMultiplyAdd fma;
  if (src.channels() != 3) return warp_pixels(src, ou, u0, a, ov, v0, d, x0, x1, R, G, B, fma);
  const auto* base = reinterpret_cast<const long long*>(src.data);
  const __m256i room = _mm256_set1_epi32(warp_gather_room(src));
  const __m256 va = _mm256_set1_ps(a), vd = _mm256_set1_ps(d), vu0 = _mm256_set1_ps(u0), vv0 = _mm256_set1_ps(v0);
  const __m256i last_x = _mm256_set1_epi32(src.cols - 1), last_y = _mm256_set1_epi32(src.rows - 1), zero = _mm256_setzero_si256();
  const __m256i step = _mm256_set1_epi32(static_cast<int>(src.step)), one = _mm256_set1_epi32(1);
  const __m256i byte = _mm256_set1_epi32(0xff), vou = _mm256_set1_epi32(ou), vov = _mm256_set1_epi32(ov);
  const __m256i order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);  // gathers of pixels (0 1 4 5) and (2 3 6 7)
  const __m256 lanes = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), half = _mm256_set1_ps(0.5f), top_level = _mm256_set1_ps(255.0f);
  int x = x0;
  for (; x + 8 <= x1; x += 8) {
    const __m256 xs = _mm256_add_ps(_mm256_set1_ps(float(x)), lanes);
    const __m256 u = _mm256_fmadd_ps(va, xs, vu0), v = _mm256_fmadd_ps(vd, xs, vv0);
    const __m256 fu = _mm256_floor_ps(u), fv = _mm256_floor_ps(v), wv = _mm256_sub_ps(v, fv);
    const __m256i iu = _mm256_add_epi32(_mm256_cvttps_epi32(fu), vou), iv = _mm256_add_epi32(_mm256_cvttps_epi32(fv), vov);
    // the right neighbour is the next pixel only for 0 <= iu < last_x; elsewhere it is clamped onto the left one
    const __m256i inside = _mm256_andnot_si256(_mm256_cmpgt_epi32(zero, iu), _mm256_cmpgt_epi32(last_x, iu));
    const __m256 wu = _mm256_and_ps(_mm256_sub_ps(u, fu), _mm256_castsi256_ps(inside));
    const __m256i cu = _mm256_min_epi32(_mm256_max_epi32(iu, zero), last_x), c0 = _mm256_add_epi32(_mm256_slli_epi32(cu, 1), cu);
    const __m256i r0 = _mm256_mullo_epi32(_mm256_min_epi32(_mm256_max_epi32(iv, zero), last_y), step);
    const __m256i r1 = _mm256_mullo_epi32(_mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(iv, one), zero), last_y), step);
    const __m256i o0 = _mm256_add_epi32(r0, c0), o1 = _mm256_add_epi32(r1, c0);
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(_mm256_max_epi32(o0, o1), room)) != 0) {
      warp_pixels(src, ou, u0, a, ov, v0, d, x, x + 8, R, G, B, fma);
      continue;
    }
    // per source row: the low words (B G R B') and high words (G' R' ..) of the 8 pixels, in pixel order
    __m256i lo[2], hi[2];
    const __m256i rows[2] = {_mm256_permutevar8x32_epi32(o0, order), _mm256_permutevar8x32_epi32(o1, order)};
    for (int k = 0; k < 2; ++k) {
      const __m256 ga = _mm256_castsi256_ps(_mm256_i32gather_epi64(base, _mm256_castsi256_si128(rows[k]), 1));
      const __m256 gb = _mm256_castsi256_ps(_mm256_i32gather_epi64(base, _mm256_extracti128_si256(rows[k], 1), 1));
      lo[k] = _mm256_castps_si256(_mm256_shuffle_ps(ga, gb, 0x88)), hi[k] = _mm256_castps_si256(_mm256_shuffle_ps(ga, gb, 0xDD));
    }
    T* planes[3] = {B, G, R};
    for (int c = 0; c < 3; ++c) {
      __m256i left[2], right[2];
      for (int k = 0; k < 2; ++k) {
        left[k] = _mm256_and_si256(_mm256_srli_epi32(lo[k], 8 * c), byte);
        right[k] = c == 0 ? _mm256_srli_epi32(lo[k], 24) : _mm256_and_si256(_mm256_srli_epi32(hi[k], 8 * (c - 1)), byte);
      }
      const __m256 a0 = _mm256_cvtepi32_ps(left[0]), a1 = _mm256_cvtepi32_ps(right[0]);
      const __m256 b0 = _mm256_cvtepi32_ps(left[1]), b1 = _mm256_cvtepi32_ps(right[1]);
      const __m256 t = _mm256_fmadd_ps(wu, _mm256_sub_ps(a1, a0), a0), b = _mm256_fmadd_ps(wu, _mm256_sub_ps(b1, b0), b0);
      const __m256 value = _mm256_fmadd_ps(wv, _mm256_sub_ps(b, t), t);
      const __m256i level = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_add_ps(value, half), top_level));  // aa_level
      if constexpr (std::is_same_v<T, float>) {
        _mm256_storeu_ps(planes[c] + x, _mm256_cvtepi32_ps(level));
      } else {
        const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(level), _mm256_extracti128_si256(level, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(planes[c] + x), _mm_packus_epi16(h, h));
      }
    }
  }
  warp_pixels(src, ou, u0, a, ov, v0, d, x, x1, R, G, B, fma);
}

// As in the AVX-512 resample: no contraction (the AVX2 copy's roundings), and the zero-masked forms with
// every lane kept where GCC 12 warns of an uninitialized source in the unmasked intrinsics.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
/// warp_row_avx2 with AVX-512: 16 pixels a step, the same operations per pixel (the same bits). The two
/// gathers of 8 64-bit elements per source row land in pixel order, so one two-source permute splits
/// them into the low and high words.
template <class T>
[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]] void warp_row_avx512(const cv::Mat& src, int ou, float u0, float a, int ov,
                                                                                 float v0, float d, int x0, int x1, T* R, T* G, T* B) {
  const FusedMultiplyAdd fma;
  if (src.channels() != 3) return warp_pixels(src, ou, u0, a, ov, v0, d, x0, x1, R, G, B, fma);
  constexpr __mmask16 all = 0xffff;
  const auto* base = reinterpret_cast<const long long*>(src.data);
  const __m512i room = _mm512_set1_epi32(warp_gather_room(src));
  const __m512 va = _mm512_set1_ps(a), vd = _mm512_set1_ps(d), vu0 = _mm512_set1_ps(u0), vv0 = _mm512_set1_ps(v0);
  const __m512i last_x = _mm512_set1_epi32(src.cols - 1), last_y = _mm512_set1_epi32(src.rows - 1), zero = _mm512_setzero_si512();
  const __m512i step = _mm512_set1_epi32(static_cast<int>(src.step)), one = _mm512_set1_epi32(1);
  const __m512i byte = _mm512_set1_epi32(0xff), vou = _mm512_set1_epi32(ou), vov = _mm512_set1_epi32(ov);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, one);
  const __m512 lanes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 half = _mm512_set1_ps(0.5f), top_level = _mm512_set1_ps(255.0f);
  int x = x0;
  for (; x + 16 <= x1; x += 16) {
    const __m512 xs = _mm512_add_ps(_mm512_set1_ps(float(x)), lanes);
    const __m512 u = _mm512_fmadd_ps(va, xs, vu0), v = _mm512_fmadd_ps(vd, xs, vv0);
    const __m512 fu = _mm512_maskz_roundscale_ps(all, u, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m512 fv = _mm512_maskz_roundscale_ps(all, v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const __m512 wv = _mm512_sub_ps(v, fv);
    const __m512i iu = _mm512_add_epi32(_mm512_maskz_cvttps_epi32(all, fu), vou), iv = _mm512_add_epi32(_mm512_maskz_cvttps_epi32(all, fv), vov);
    // the right neighbour is the next pixel only for 0 <= iu < last_x; elsewhere it is clamped onto the left one (weight 0)
    const __mmask16 inside = _mm512_cmpge_epi32_mask(iu, zero) & _mm512_cmplt_epi32_mask(iu, last_x);
    const __m512 wu = _mm512_maskz_sub_ps(inside, u, fu);
    const __m512i cu = _mm512_maskz_min_epi32(all, _mm512_maskz_max_epi32(all, iu, zero), last_x), c0 = _mm512_add_epi32(_mm512_maskz_slli_epi32(all, cu, 1), cu);
    const __m512i r0 = _mm512_mullo_epi32(_mm512_maskz_min_epi32(all, _mm512_maskz_max_epi32(all, iv, zero), last_y), step);
    const __m512i r1 = _mm512_mullo_epi32(_mm512_maskz_min_epi32(all, _mm512_maskz_max_epi32(all, _mm512_add_epi32(iv, one), zero), last_y), step);
    const __m512i o0 = _mm512_add_epi32(r0, c0), o1 = _mm512_add_epi32(r1, c0);
    if (_mm512_cmpgt_epi32_mask(_mm512_maskz_max_epi32(all, o0, o1), room) != 0) {
      warp_pixels(src, ou, u0, a, ov, v0, d, x, x + 16, R, G, B, fma);
      continue;
    }
    __m512i lo[2], hi[2];  // per source row: the low words (B G R B') and high words (G' R' ..) of the 16 pixels
    const __m512i rows[2] = {o0, o1};
    for (int k = 0; k < 2; ++k) {
      const __m512i ga = _mm512_mask_i32gather_epi64(zero, 0xff, _mm512_maskz_extracti64x4_epi64(0xf, rows[k], 0), base, 1);
      const __m512i gb = _mm512_mask_i32gather_epi64(zero, 0xff, _mm512_maskz_extracti64x4_epi64(0xf, rows[k], 1), base, 1);
      lo[k] = _mm512_permutex2var_epi32(ga, even, gb), hi[k] = _mm512_permutex2var_epi32(ga, odd, gb);
    }
    T* planes[3] = {B, G, R};
    for (int c = 0; c < 3; ++c) {
      __m512i left[2], right[2];
      for (int k = 0; k < 2; ++k) {
        left[k] = _mm512_and_si512(_mm512_maskz_srli_epi32(all, lo[k], 8 * c), byte);
        right[k] = c == 0 ? _mm512_maskz_srli_epi32(all, lo[k], 24) : _mm512_and_si512(_mm512_maskz_srli_epi32(all, hi[k], 8 * (c - 1)), byte);
      }
      const __m512 a0 = _mm512_maskz_cvtepi32_ps(all, left[0]), a1 = _mm512_maskz_cvtepi32_ps(all, right[0]);
      const __m512 b0 = _mm512_maskz_cvtepi32_ps(all, left[1]), b1 = _mm512_maskz_cvtepi32_ps(all, right[1]);
      const __m512 t = _mm512_fmadd_ps(wu, _mm512_sub_ps(a1, a0), a0), b = _mm512_fmadd_ps(wu, _mm512_sub_ps(b1, b0), b0);
      const __m512 value = _mm512_fmadd_ps(wv, _mm512_sub_ps(b, t), t);
      const __m512i level = _mm512_maskz_cvttps_epi32(all, _mm512_maskz_min_ps(all, _mm512_add_ps(value, half), top_level));  // aa_level
      if constexpr (std::is_same_v<T, float>) {
        _mm512_storeu_ps(planes[c] + x, _mm512_maskz_cvtepi32_ps(all, level));
      } else {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(planes[c] + x), _mm512_maskz_cvtepi32_epi8(all, level));
      }
    }
  }
  warp_row_avx2(src, ou, u0, a, ov, v0, d, x, x1, R, G, B);  // the last 0-15 pixels
}
#pragma GCC pop_options
#endif

/// The warp of `src` by `map` (output pixel centre -> source edge coordinates, Affine2D's convention) to
/// `out`, made on demand as planes R, G, B: 0 where the map leaves `frame` (the source's
/// frame before any pre-shrink, mapped by `frame_map`), `fill2` where `clip2` leaves `clip2_size`.
class WarpRows final : public RowSource {
 public:
  WarpRows(const cv::Mat& src, const Affine2D& map, ImageSize out, const Affine2D& frame_map, ImageSize frame, bool clips2,
           const Affine2D& clip2, ImageSize clip2_size, int fill2)
      : src_(src), map_(map), width_(out.width), height_(out.height), frame_map_(frame_map), frame_(frame), clips2_(clips2), clip2_(clip2),
        clip2_size_(clip2_size), fill2_(fill2) {
    // the columns any output pixel reads (the footprint's bounding box, two pixels of margin), as bytes
    const SourceRegion reads = source_region(GeomStep{out, map}, ImageSize{src.rows, src.cols}, 2);
    const int cn = static_cast<int>(src.elemSize());
    first_byte_ = reads.x * cn, end_byte_ = (reads.x + reads.width) * cn;
  }

  int width() const override { return width_; }
  int height() const override { return height_; }
  void row(int y, std::uint8_t* R, std::uint8_t* G, std::uint8_t* B) override { make(y, R, G, B); }
  void row(int y, float* R, float* G, float* B) override { make(y, R, G, B); }

 private:
  // Output rows are made ahead of the source rows they read, whose slanted lines the hardware prefetcher
  // does not follow: a photo read from memory (not the cache) cost the warp ~30% more. So the source rows
  // that the next kAhead output rows read are prefetched whole, in order, each once: source row r is read
  // again by the next ~|d| * width / |e| output rows, at moving columns.
  static constexpr int kAhead = 8;
  void prefetch_ahead(int y) {
#if defined(__SSE2__)
    for (const int last = std::min(y + kAhead, height_ - 1); next_ <= last; ++next_) {
      const double v0 = map_.e * (next_ + 0.5) + map_.f, v1 = v0 + map_.d * width_;
      const int lo = std::clamp(static_cast<int>(std::floor(std::min(v0, v1))) - 1, 0, src_.rows - 1);
      const int hi = std::clamp(static_cast<int>(std::floor(std::max(v0, v1))) + 1, 0, src_.rows - 1);
      const auto fetch = [&](int from, int to) {  // rows [from, to]
        for (int r = from; r <= to; ++r)
          for (int b = first_byte_; b < end_byte_; b += 64) _mm_prefetch(reinterpret_cast<const char*>(src_.ptr(r)) + b, _MM_HINT_T0);
      };
      if (have_lo_ > have_hi_) {
        fetch(lo, hi);
        have_lo_ = lo, have_hi_ = hi;
      } else {  // only the rows not asked for yet
        fetch(lo, have_lo_ - 1), fetch(have_hi_ + 1, hi);
        have_lo_ = std::min(lo, have_lo_), have_hi_ = std::max(hi, have_hi_);
      }
    }
#else
    (void)y;
#endif
  }

  template <class T>
  void make(int y, T* R, T* G, T* B) {
    prefetch_ahead(y);
    // Pixel indices: u = a x + b y + c + (a + b) / 2 - 1/2 (centres in, centres out).
    // Split into whole and fractional parts, so that a region of a larger image (the loader's region decoding:
    // the map shifted by whole pixels) gets the same float arithmetic, so the same pixels.
    const Affine2D& k = map_;
    const double u = k.b * y + k.c + 0.5 * (k.a + k.b) - 0.5, v = k.e * y + k.f + 0.5 * (k.d + k.e) - 0.5;
    const double iu = std::floor(u), iv = std::floor(v);
    const int ou = int(iu), ov = int(iv);
    const float u0 = float(u - iu), v0 = float(v - iv);
    const auto [x0, x1] = frame_span(frame_map_, frame_, width_, y);
#ifdef FTMETA_DETAIL_WARP_AVX2
    if (cpu_has_avx512()) warp_row_avx512(src_, ou, u0, float(k.a), ov, v0, float(k.d), x0, x1, R, G, B);
    else if (cpu_has_avx2_fma()) warp_row_avx2(src_, ou, u0, float(k.a), ov, v0, float(k.d), x0, x1, R, G, B);
    else
#endif
      warp_pixels(src_, ou, u0, float(k.a), ov, v0, float(k.d), x0, x1, R, G, B, [](float p, float q, float r) { return p * q + r; });
    for (T* plane : {R, G, B}) std::fill(plane, plane + x0, T(0)), std::fill(plane + x1, plane + width_, T(0));
    if (clips2_) {
      const auto [c0, c1] = frame_span(clip2_, clip2_size_, width_, y);
      for (T* plane : {R, G, B}) std::fill(plane, plane + c0, T(fill2_)), std::fill(plane + c1, plane + width_, T(fill2_));
    }
  }

  cv::Mat src_;
  Affine2D map_;
  int width_, height_;
  Affine2D frame_map_;
  ImageSize frame_;
  bool clips2_;
  Affine2D clip2_;
  ImageSize clip2_size_;
  int fill2_;
  int first_byte_ = 0, end_byte_ = 0;      // the columns read, as bytes of a source row
  int next_ = 0;                           // the next output row whose source rows are not yet prefetched
  int have_lo_ = 1, have_hi_ = 0;          // the source rows prefetched (empty while lo > hi)
};
#undef FTMETA_DETAIL_WARP_HOT
#undef FTMETA_DETAIL_WARP_AVX2

}  // namespace detail

}  // namespace ftmeta::transforms
