// ftmeta/transforms/kernels/antialias.hpp: the antialiased bilinear resample (PIL's triangle filter, torchvision's resize of PIL images), row by row.
// The triangle filter stretched by the scale factor, with PIL's taps (Pillow's Resample.c: the same first
// tap and tap count per output pixel, the weights normalized to sum to 1), in float: a vertical pass over
// the source rows a output row needs (contiguous bytes, 8 or 16 values a step, no gathers), then a horizontal
// pass on that one row with each BGR pixel as a 4-float vector. No rounding between the passes (PIL rounds
// to uint8 there): against PIL at most 1 grey level apart (tests/unit/transforms_antialias.cpp states the
// bound). AntialiasRows hands out the output one row at a time as R, G, B planes, uint8 or float (then
// unrounded, for the pixel pass to normalize), so no output image is made. Compiled three times on plain
// x86-64 (baseline SSE2; AVX2 with FMA; AVX-512, whose kernels are in antialias_avx512.hpp, chosen at
// run time; the taps in antialias_taps.hpp): the baseline agrees with the others within the same bound, the
// AVX-512 pass gives the AVX2 pass's output. The source rows the next output rows need are prefetched. OpenCV only.
#pragma once

#include <ftmeta/transforms/kernels/antialias_avx512.hpp>
#include <ftmeta/transforms/kernels/antialias_taps.hpp>
#include <ftmeta/transforms/kernels/cpu_features.hpp>
#include <ftmeta/transforms/kernels/row_source.hpp>

#include <opencv2/core.hpp>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace ftmeta::transforms {

namespace detail {

#if defined(__GNUC__) || defined(__clang__)
#define FTMETA_DETAIL_AA_HOT [[gnu::always_inline]] inline
#else
#define FTMETA_DETAIL_AA_HOT inline
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
#define FTMETA_DETAIL_AA_AVX2 1
#endif

/// A resampled value (in [0, 255] up to float error) as a whole level: rounded half up, clamped; as uint8
/// or as float (the same level: the pixel pass then needs no conversion).
FTMETA_DETAIL_AA_HOT int aa_level(float v) {
  const int i = static_cast<int>(v + 0.5f);
  return i < 0 ? 0 : i > 255 ? 255 : i;
}
FTMETA_DETAIL_AA_HOT void aa_put(std::uint8_t* out, int x, float v) { out[x] = static_cast<std::uint8_t>(aa_level(v)); }
FTMETA_DETAIL_AA_HOT void aa_put(float* out, int x, float v) { out[x] = static_cast<float>(aa_level(v)); }

/// Vertical pass: out[j] = sum_k rows[k][j] * w[k] for n interleaved values (two taps a sweep).
FTMETA_DETAIL_AA_HOT void aa_vertical_body(const std::uint8_t* const* rows, const float* w, int count, int n, float* __restrict out) {
  int k = 0;
  if (count >= 2) {
    const std::uint8_t *__restrict a = rows[0], *__restrict b = rows[1];
    const float wa = w[0], wb = w[1];
    for (int j = 0; j < n; ++j) out[j] = wa * float(a[j]) + wb * float(b[j]);
    k = 2;
  } else if (count == 1) {
    const std::uint8_t* __restrict a = rows[0];
    const float wa = w[0];
    for (int j = 0; j < n; ++j) out[j] = wa * float(a[j]);
    k = 1;
  } else {
    std::fill(out, out + n, 0.0f);
  }
  for (; k + 1 < count; k += 2) {
    const std::uint8_t *__restrict a = rows[k], *__restrict b = rows[k + 1];
    const float wa = w[k], wb = w[k + 1];
    for (int j = 0; j < n; ++j) out[j] += wa * float(a[j]) + wb * float(b[j]);
  }
  if (k < count) {
    const std::uint8_t* __restrict a = rows[k];
    const float wa = w[k];
    for (int j = 0; j < n; ++j) out[j] += wa * float(a[j]);
  }
}

#if defined(__SSE2__)
/// Output pixel x (B, G, R and a lane to ignore) of the horizontal pass, N taps (0: t.taps, not unrolled).
template <int N>
FTMETA_DETAIL_AA_HOT __m128 aa_pixel(const RowTaps& t, const float* v, int x) {
  constexpr int cn = 3;
  const int taps = N > 0 ? N : t.taps;
  const float* w = t.weight.data() + std::size_t(x) * std::size_t(taps);
  const float* p = v + t.offset[std::size_t(x)];
  __m128 s = _mm_mul_ps(_mm_set1_ps(w[0]), _mm_loadu_ps(p));
  for (int k = 1; k < taps; ++k) s = _mm_add_ps(s, _mm_mul_ps(_mm_set1_ps(w[k]), _mm_loadu_ps(p + k * cn)));
  return s;
}

/// Four output pixels (B, G, R, ignored lane each) into planes at x0 (fewer where the row ends), as whole levels.
template <class T>
FTMETA_DETAIL_AA_HOT void aa_store4(__m128 p0, __m128 p1, __m128 p2, __m128 p3, int x0, int n, T* __restrict R, T* __restrict G,
                                    T* __restrict B) {
  _MM_TRANSPOSE4_PS(p0, p1, p2, p3);  // p0: B of the four pixels, p1: G, p2: R
  const __m128 px[3] = {p0, p1, p2};
  T* planes[3] = {B, G, R};
  for (int c = 0; c < 3; ++c) {
    if (x0 + 4 <= n) {
      // aa_level: v >= -1e-4 and <= 255 + 1e-4 (weights >= 0 summing to 1), so truncating v + 0.5 rounds
      // and clamps (the min guards the float error at 255.5)
      const __m128i i = _mm_cvttps_epi32(_mm_min_ps(_mm_add_ps(px[c], _mm_set1_ps(0.5f)), _mm_set1_ps(255.0f)));
      if constexpr (std::is_same_v<T, float>) {
        _mm_storeu_ps(planes[c] + x0, _mm_cvtepi32_ps(i));
      } else {
        const int word = _mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(i, i), _mm_setzero_si128()));
        std::memcpy(planes[c] + x0, &word, 4);
      }
    } else {
      alignas(16) float tail[4];
      _mm_store_ps(tail, px[c]);
      for (int i = 0; x0 + i < n; ++i) aa_put(planes[c], x0 + i, tail[i]);
    }
  }
}

template <int N, class T>
FTMETA_DETAIL_AA_HOT void aa_horizontal_vec(const RowTaps& t, const float* v, int n, T* __restrict R, T* __restrict G,
                                            T* __restrict B) {
  for (int x0 = 0; x0 < n; x0 += 4)
    aa_store4(aa_pixel<N>(t, v, x0), aa_pixel<N>(t, v, std::min(x0 + 1, n - 1)), aa_pixel<N>(t, v, std::min(x0 + 2, n - 1)),
              aa_pixel<N>(t, v, std::min(x0 + 3, n - 1)), x0, n, R, G, B);
}
#endif

/// Horizontal pass of one vertically resampled BGR row `v` (8 readable floats past its last value) into
/// planes R, G, B of `n` values (T: uint8 or float).
template <class T>
FTMETA_DETAIL_AA_HOT void aa_horizontal_body(const RowTaps& t, const float* v, int n, T* __restrict R, T* __restrict G,
                                             T* __restrict B) {
#if defined(__SSE2__)
  switch (t.taps) {
    case 1: return aa_horizontal_vec<1>(t, v, n, R, G, B);
    case 2: return aa_horizontal_vec<2>(t, v, n, R, G, B);
    case 3: return aa_horizontal_vec<3>(t, v, n, R, G, B);
    case 4: return aa_horizontal_vec<4>(t, v, n, R, G, B);
    case 5: return aa_horizontal_vec<5>(t, v, n, R, G, B);
    case 6: return aa_horizontal_vec<6>(t, v, n, R, G, B);
    case 7: return aa_horizontal_vec<7>(t, v, n, R, G, B);
    case 8: return aa_horizontal_vec<8>(t, v, n, R, G, B);
    default: return aa_horizontal_vec<0>(t, v, n, R, G, B);
  }
#else
  for (int x = 0; x < n; ++x) {  // the same operations in the same order as aa_pixel
    const float* w = t.weight.data() + std::size_t(x) * std::size_t(t.taps);
    const float* p = v + t.offset[std::size_t(x)];
    float sb = w[0] * p[0], sg = w[0] * p[1], sr = w[0] * p[2];
    for (int k = 1; k < t.taps; ++k) sb += w[k] * p[3 * k], sg += w[k] * p[3 * k + 1], sr += w[k] * p[3 * k + 2];
    aa_put(R, x, sr), aa_put(G, x, sg), aa_put(B, x, sb);
  }
#endif
}

/// A vertically resampled row of `pixels` gray or BGRA values as BGR (the same floats, so gray and BGRA
/// sources give their BGR conversions' bits).
FTMETA_DETAIL_AA_HOT void aa_to_bgr(const float* __restrict in, int cn, int pixels, float* __restrict out) {
  if (cn == 1) {
    for (int i = 0; i < pixels; ++i) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = in[i];
  } else {
    for (int i = 0; i < pixels; ++i) out[3 * i] = in[4 * i], out[3 * i + 1] = in[4 * i + 1], out[3 * i + 2] = in[4 * i + 2];
  }
}

/// One output row: the vertical pass of the source rows `rows` (n interleaved values of cn channels) into
/// `v`, widened to BGR in `bgr` unless cn is 3, then the horizontal pass into the planes.
template <class T>
FTMETA_DETAIL_AA_HOT void aa_row_body(const RowTaps& fx, const std::uint8_t* const* rows, const float* w, int count, int n,
                                      int cn, float* v, float* bgr, int width, T* R, T* G, T* B) {
  aa_vertical_body(rows, w, count, n, v);
  if (cn != 3) aa_to_bgr(v, cn, n / cn, bgr), v = bgr;
  aa_horizontal_body(fx, v, width, R, G, B);
}

#ifdef FTMETA_DETAIL_AA_AVX2
/// aa_vertical_body with AVX2: 32 values a step, each tap's bytes widened to float and accumulated in registers.
[[gnu::target("avx2,fma")]] inline void aa_vertical_avx2(const std::uint8_t* const* rows, const float* w, int count, int n,
                                                         float* __restrict out) {
  int j = 0;
  for (; j + 32 <= n; j += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < count; ++k) {
      const __m256 wk = _mm256_broadcast_ss(w + k);
      const std::uint8_t* r = rows[k] + j;
      const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r)), b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 16));
      a0 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b0)), a0);
      a1 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b0, 8))), a1);
      a2 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b1)), a2);
      a3 = _mm256_fmadd_ps(wk, _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(b1, 8))), a3);
    }
    _mm256_storeu_ps(out + j, a0), _mm256_storeu_ps(out + j + 8, a1), _mm256_storeu_ps(out + j + 16, a2), _mm256_storeu_ps(out + j + 24, a3);
  }
  for (; j < n; ++j) {  // the same fused multiply-adds as the vectors: the same bits wherever a value falls
    float s = 0;
    for (int k = 0; k < count; ++k) s = __builtin_fmaf(w[k], float(rows[k][j]), s);
    out[j] = s;
  }
}

/// The taps of output pixel x summed in pairs, before the two halves are added (aa_pixel_avx2).
template <int P>
[[gnu::target("avx2,fma")]] inline __m256 aa_taps_avx2(const RowTaps& t, const float* v, int x) {
  const int pairs = P > 0 ? P : t.pairs;
  const float* w = t.pair_weight.data() + std::size_t(x) * std::size_t(pairs) * 8;
  const float* p = v + t.offset[std::size_t(x)];
  __m256 s = _mm256_mul_ps(_mm256_loadu_ps(w), _mm256_loadu_ps(p));
  for (int j = 1; j < pairs; ++j) s = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8 * j), _mm256_loadu_ps(p + 6 * j), s);
  return s;
}
/// Output pixel x of a BGR row with AVX2: two taps a multiply-add (8 floats from the tap's first value:
/// B G R B' G' R' and two more, weighted w w w w' w' w' 0 0), the halves' B, G, R summed into lanes 0-2.
template <int P>
[[gnu::target("avx2,fma")]] inline __m128 aa_pixel_avx2(const RowTaps& t, const float* v, int x) {
  const __m256 s = aa_taps_avx2<P>(t, v, x);
  const __m128 lo = _mm256_castps256_ps128(s), hi = _mm256_extractf128_ps(s, 1);  // lo: B G R B', hi: G' R' 0 0
  return _mm_add_ps(lo, _mm_castsi128_ps(_mm_alignr_epi8(_mm_castps_si128(hi), _mm_castps_si128(lo), 12)));
}
/// Pixels x and x + 4 as one vector: (B G R _ of x | B G R _ of x + 4).
template <int P>
[[gnu::target("avx2,fma")]] inline __m256 aa_pixel_pair_avx2(const RowTaps& t, const float* v, int x) {
  const __m256 a = aa_taps_avx2<P>(t, v, x), b = aa_taps_avx2<P>(t, v, x + 4);
  const __m256 lo = _mm256_permute2f128_ps(a, b, 0x20), hi = _mm256_permute2f128_ps(a, b, 0x31);
  return _mm256_add_ps(lo, _mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(hi), _mm256_castps_si256(lo), 12)));
}
template <int P, class T>
[[gnu::target("avx2,fma")]] void aa_horizontal_bgr_avx2(const RowTaps& t, const float* v, int n, T* R, T* G, T* B) {
  int x0 = 0;
  for (; x0 + 8 <= n; x0 += 8) {  // eight pixels: pairs (x, x + 4) transposed within the halves into planes
    __m256 p0 = aa_pixel_pair_avx2<P>(t, v, x0), p1 = aa_pixel_pair_avx2<P>(t, v, x0 + 1);
    __m256 p2 = aa_pixel_pair_avx2<P>(t, v, x0 + 2), p3 = aa_pixel_pair_avx2<P>(t, v, x0 + 3);
    const __m256 t0 = _mm256_unpacklo_ps(p0, p1), t1 = _mm256_unpackhi_ps(p0, p1);
    const __m256 t2 = _mm256_unpacklo_ps(p2, p3), t3 = _mm256_unpackhi_ps(p2, p3);
    const __m256 planes[3] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE), _mm256_shuffle_ps(t1, t3, 0x44)};
    T* out[3] = {B, G, R};
    for (int c = 0; c < 3; ++c) {  // whole levels as aa_level (see aa_store4)
      const __m256i i = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_add_ps(planes[c], _mm256_set1_ps(0.5f)), _mm256_set1_ps(255.0f)));
      if constexpr (std::is_same_v<T, float>) {
        _mm256_storeu_ps(out[c] + x0, _mm256_cvtepi32_ps(i));
      } else {
        const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out[c] + x0), _mm_packus_epi16(h, h));
      }
    }
  }
  for (; x0 < n; x0 += 4)
    aa_store4(aa_pixel_avx2<P>(t, v, x0), aa_pixel_avx2<P>(t, v, std::min(x0 + 1, n - 1)),
              aa_pixel_avx2<P>(t, v, std::min(x0 + 2, n - 1)), aa_pixel_avx2<P>(t, v, std::min(x0 + 3, n - 1)), x0, n, R, G, B);
}

template <class T>
[[gnu::target("avx2,fma")]] void aa_row_avx2(const RowTaps& fx, const std::uint8_t* const* rows, const float* w, int count,
                                             int n, int cn, float* v, float* bgr, int width, T* R, T* G, T* B) {
  aa_vertical_avx2(rows, w, count, n, v);
  if (cn != 3) aa_to_bgr(v, cn, n / cn, bgr), v = bgr;
  switch (fx.pairs) {
    case 1: return aa_horizontal_bgr_avx2<1>(fx, v, width, R, G, B);
    case 2: return aa_horizontal_bgr_avx2<2>(fx, v, width, R, G, B);
    case 3: return aa_horizontal_bgr_avx2<3>(fx, v, width, R, G, B);
    case 4: return aa_horizontal_bgr_avx2<4>(fx, v, width, R, G, B);
    default: return aa_horizontal_bgr_avx2<0>(fx, v, width, R, G, B);
  }
}
/// One output row with AVX-512 (where planar_groups made t's groups): the vertical pass as AVX2's, its row
/// written as planes (`planes`: 3 x (pixels + 32) floats; BGR rows split in registers), then the horizontal
/// pass plane by plane.
template <class T>
[[gnu::target("avx512f,avx512bw,avx512vl,avx2,fma")]] void aa_row_avx512(const RowTaps& fx, const std::uint8_t* const* rows, const float* w,
                                                                      int count, int n, int cn, float* v, float* bgr, float* planes,
                                                                      int width, T* R, T* G, T* B, const float* affine,
                                                                      const std::uint8_t* const* next) {
  const int pixels = n / cn;
  const std::size_t stride = std::size_t(pixels) + 32;
  float *pb = planes, *pg = planes + stride, *pr = planes + 2 * stride;
  if (cn == 3) {
    aa_vertical_planes_avx512(rows, w, count, pixels, pb, pg, pr, next[0], next[1]);
  } else {
    aa_vertical_avx512(rows, w, count, n, v);
    aa_to_bgr(v, cn, pixels, bgr);
    aa_deinterleave_avx512(bgr, pixels, pb, pg, pr);
  }
  const float* const in[3] = {pb, pg, pr};
  T* const out[3] = {B, G, R};
  aa_horizontal_planes_avx512(fx, in, width, out, affine);
}
#endif

/// Which copy of the resample runs: the fastest the CPU has, at most AVX2, or the baseline (tests compare them).
enum class AaKernel { best, avx2, baseline };

/// Whether the AVX-512 pass can run here (then AntialiasRows makes its planar groups).
inline bool aa_planar_available() {
#ifdef FTMETA_DETAIL_AA_AVX2
  return cpu_has_avx512();
#else
  return false;
#endif
}

/// Whether aa_row runs the AVX-512 pass for these taps and this kernel choice (then it can apply `affine`).
inline bool aa_planar_runs(const RowTaps& fx, AaKernel kernel) {
  return kernel == AaKernel::best && !fx.base.empty() && aa_planar_available();
}

/// One output row (`planes`: the AVX-512 pass's buffer, used where fx has planar groups).
/// `affine` (see aa_horizontal_planes_avx512) only where the AVX-512 pass runs (aa_planar_runs).
/// `next`: two source rows (the columns read) that the AVX-512 pass prefetches while it reads BGR rows.
template <class T>
void aa_row(const RowTaps& fx, const std::uint8_t* const* rows, const float* w, int count, int n, int cn, float* v, float* bgr,
            float* planes, int width, T* R, T* G, T* B, AaKernel kernel, const float* affine, const std::uint8_t* const* next) {
#ifdef FTMETA_DETAIL_AA_AVX2
  if (aa_planar_runs(fx, kernel)) return aa_row_avx512(fx, rows, w, count, n, cn, v, bgr, planes, width, R, G, B, affine, next);
  if (kernel != AaKernel::baseline && cpu_has_avx2_fma()) return aa_row_avx2(fx, rows, w, count, n, cn, v, bgr, width, R, G, B);
#else
  (void)planes, (void)kernel, (void)next;
#endif
  (void)affine;
  aa_row_body(fx, rows, w, count, n, cn, v, bgr, width, R, G, B);
}

#undef FTMETA_DETAIL_AA_HOT
#undef FTMETA_DETAIL_AA_AVX2

/// The resample of the box [x0, x1) x [y0, y1) of `src` (edge coordinates, taps clipped to `src`) to
/// width x height, as PIL's Image.resize(size, BILINEAR, box) on `src` (within 1 grey level); flip_x
/// reverses each row. row(y) makes output row y as planes R, G, B (uint8, or float unrounded in [0, 255]):
/// one vertical pass over the source columns the row reads, then the horizontal pass; rows may be asked
/// in any order, each costs the same. Not thread-safe (one per sample).
class AntialiasRows final : public RowSource {
 public:
  AntialiasRows(const cv::Mat& src, double x0, double x1, double y0, double y1, int width, int height, bool flip_x = false)
      : src_(src), width_(width), fx_(triangle_filter(x0, x1, src.cols, width, flip_x)),
        fy_(triangle_filter(y0, y1, src.rows, height)) {
    lo_ = src.cols, hi_ = 0;  // the source columns the horizontal pass reads
    for (std::size_t x = 0; x < fx_.first.size(); ++x)
      if (fx_.count[x] > 0) lo_ = std::min(lo_, fx_.first[x]), hi_ = std::max(hi_, fx_.first[x] + fx_.count[x]);
    hi_ = std::max(hi_, lo_);
    for (int& f : fx_.first) f = std::max(f - lo_, 0);
    taps_ = row_taps(fx_, hi_ - lo_);
    if (aa_planar_available()) {
      planar_groups(taps_, width);
      if (!taps_.base.empty()) planes_.assign(3 * (std::size_t(hi_ - lo_) + 32), 0.0f);
    }
    int most = 1;
    for (int c : fy_.count) most = std::max(most, c);
    rows_.resize(std::size_t(most));
    line_.assign(std::size_t(hi_ - lo_) * std::size_t(src.channels()) + 8, 0.0f);  // + 8: the vector loads' slack
    if (src.channels() != 3) bgr_.assign(std::size_t(hi_ - lo_) * 3 + 8, 0.0f);
  }
  int width() const override { return width_; }
  int height() const override { return static_cast<int>(fy_.count.size()); }

  void row(int y, std::uint8_t* R, std::uint8_t* G, std::uint8_t* B) override { make(y, R, G, B); }
  void row(int y, float* R, float* G, float* B) override { make(y, R, G, B); }
  bool row_affine(int y, float* R, float* G, float* B, const float* scale, const float* bias) override {
    if (!aa_planar_runs(taps_, kernel_)) return false;
    const float affine[6] = {scale[2], scale[1], scale[0], bias[2], bias[1], bias[0]};  // the pass's plane order: B G R
    make(y, R, G, B, affine);
    return true;
  }
  /// Runs the baseline (SSE2 or scalar) copy of the passes even where the CPU has AVX2: for the tests.
  void use_portable_kernel(bool yes = true) { kernel_ = yes ? AaKernel::baseline : AaKernel::best; }
  /// Runs at most the AVX2 copy (the tests compare it with the AVX-512 one).
  void use_kernel(AaKernel k) { kernel_ = k; }

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
  template <class T>
  void make(int y, T* R, T* G, T* B, const float* affine = nullptr) {
    static_assert(std::is_same_v<T, std::uint8_t> || std::is_same_v<T, float>, "AntialiasRows::row writes uint8 or float planes");
    const int first = fy_.first[std::size_t(y)], count = fy_.count[std::size_t(y)], cn = src_.channels();
    for (int k = 0; k < count; ++k) rows_[std::size_t(k)] = src_.ptr<std::uint8_t>(first + k) + std::ptrdiff_t(lo_) * cn;
    // The source rows the next output rows read first are not in cache yet (a photo is larger than L2):
    // ask for the next two while this row is made: the AVX-512 pass on BGR rows along the way, the other
    // passes up front, each row once.
    const std::uint8_t* next[2];
    for (int k = 0; k < 2; ++k) next[k] = src_.ptr<std::uint8_t>(std::min(first + count + k, src_.rows - 1)) + std::ptrdiff_t(lo_) * cn;
    const bool along = cn == 3 && aa_planar_runs(taps_, kernel_);
    for (int at = std::max(prefetched_ + 1, first + count); !along && at < std::min(first + count + 2, src_.rows); ++at) {
      const std::uint8_t* p = src_.ptr<std::uint8_t>(at) + std::ptrdiff_t(lo_) * cn;
      for (std::ptrdiff_t b = 0; b < std::ptrdiff_t(hi_ - lo_) * cn; b += 64) __builtin_prefetch(p + b);
      prefetched_ = at;
    }
    aa_row(taps_, rows_.data(), fy_.weight.data() + std::size_t(y) * std::size_t(fy_.taps), count, (hi_ - lo_) * cn, cn, line_.data(),
           bgr_.data(), planes_.data(), width_, R, G, B, kernel_, affine, next);
  }
  cv::Mat src_;
  int width_;
  AxisFilter fx_, fy_;
  RowTaps taps_;
  int lo_ = 0, hi_ = 0;
  int prefetched_ = -1;  // the last source row prefetched
  std::vector<const std::uint8_t*> rows_;
  std::vector<float> line_, bgr_, planes_;
  AaKernel kernel_ = AaKernel::best;
};

}  // namespace detail

/// PIL's Image.resize((width, height), BILINEAR) of `src` (8-bit gray, BGR or BGRA) as an 8-bit BGR image:
/// torchvision's antialiased resize of PIL images, the resize of Resize and RandomResizedCrop (within 1
/// grey level of PIL). For code that must resize as training did without LibTorch (examples/predict_onnx.cpp).
inline cv::Mat antialias_resize(const cv::Mat& src, int width, int height) {
  return detail::AntialiasRows(src, 0, src.cols, 0, src.rows, width, height).image();
}

}  // namespace ftmeta::transforms
