// ftmeta/transforms/kernels/antialias_avx512.hpp: the antialiased resample's AVX-512 kernels (kernels/antialias.hpp runs them).
// The vertical pass 64 values a step, the row split into B, G, R planes, and the horizontal pass on the
// planes: 16 outputs a step, each tap one two-source permute of a 32-value window (RowTaps' planar groups,
// kernels/antialias_taps.hpp). Compiled with GCC's target attribute from a plain x86-64 build, chosen at
// run time (cpu_has_avx512); they give the AVX2 pass's output. Standard library and intrinsics only.
#pragma once

#include <ftmeta/transforms/kernels/antialias_taps.hpp>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ftmeta::transforms::detail {

// GCC writes the vector intrinsics' arithmetic as vector expressions, which it may contract (a multiply
// then an add into one fused multiply-add, rounded once): here the order of roundings must be the AVX2
// pass's, so no contraction. The zero-masked forms with every lane kept (maskz, 0xffff) are the plain
// instructions; GCC 12 warns of an uninitialized source in the unmasked intrinsics' headers.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
/// aa_vertical_avx2 with AVX-512: 64 values a step, the same fused multiply-adds per value in the same
/// order (the same bits).
[[gnu::target("avx512f,avx512bw,avx512vl,avx2,fma")]] inline void aa_vertical_avx512(const std::uint8_t* const* rows, const float* w,
                                                                                  int count, int n, float* __restrict out) {
  int j = 0;
  for (; j + 64 <= n; j += 64) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < count; ++k) {
      const __m512 wk = _mm512_set1_ps(w[k]);
      const std::uint8_t* r = rows[k] + j;
      a0 = _mm512_fmadd_ps(wk, _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r)))), a0);
      a1 = _mm512_fmadd_ps(wk, _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 16)))), a1);
      a2 = _mm512_fmadd_ps(wk, _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 32)))), a2);
      a3 = _mm512_fmadd_ps(wk, _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 48)))), a3);
    }
    _mm512_storeu_ps(out + j, a0), _mm512_storeu_ps(out + j + 16, a1), _mm512_storeu_ps(out + j + 32, a2), _mm512_storeu_ps(out + j + 48, a3);
  }
  for (; j < n; ++j) {
    float s = 0;
    for (int k = 0; k < count; ++k) s = __builtin_fmaf(w[k], float(rows[k][j]), s);
    out[j] = s;
  }
}

/// The permutes that split 48 interleaved BGR values (three vectors) into 16 of one plane:
/// permute(permute(v0, first[c], v1), second[c], v2).
struct PlaneSplit {
  __m512i first[3], second[3];
  [[gnu::target("avx512f,avx512bw,avx512vl,avx2,fma")]] PlaneSplit() {
    for (int c = 0; c < 3; ++c) {
      alignas(64) int i1[16], i2[16];
      for (int i = 0; i < 16; ++i) {
        const int src = 3 * i + c;  // of the 48 values: from the first two vectors, or from the third
        i1[i] = src < 32 ? src : 0;
        i2[i] = src < 32 ? i : 16 + src - 32;
      }
      first[c] = _mm512_load_si512(i1), second[c] = _mm512_load_si512(i2);
    }
  }
  [[gnu::target("avx512f,avx512bw,avx512vl,avx2,fma")]] __m512 plane(__m512 v0, __m512 v1, __m512 v2, int c) const {
    return _mm512_permutex2var_ps(_mm512_permutex2var_ps(v0, first[c], v1), second[c], v2);
  }
};

/// The AVX-512 pass's first step for rows that are not BGR: `pixels` BGR floats of v into planes b, g, r
/// (16 pixels a step).
[[gnu::target("avx512f,avx512bw,avx512vl,avx2,fma")]] inline void aa_deinterleave_avx512(const float* v, int pixels, float* b, float* g,
                                                                                      float* r) {
  const PlaneSplit split;
  float* out[3] = {b, g, r};
  int x = 0;
  for (; x + 16 <= pixels; x += 16) {
    const float* p = v + 3 * x;
    const __m512 a0 = _mm512_loadu_ps(p), a1 = _mm512_loadu_ps(p + 16), a2 = _mm512_loadu_ps(p + 32);
    for (int c = 0; c < 3; ++c) _mm512_storeu_ps(out[c] + x, split.plane(a0, a1, a2, c));
  }
  for (; x < pixels; ++x) b[x] = v[3 * x], g[x] = v[3 * x + 1], r[x] = v[3 * x + 2];
}

/// aa_vertical_avx512 and aa_deinterleave_avx512 in one for BGR rows: 16 pixels (48 values) a step, summed
/// as aa_vertical_avx512 sums each value (the same bits), split into the planes b, g, r in registers.
/// `next0` and `next1` (the same columns of the source rows the next output rows read first) are
/// prefetched along the way, a line or so a step: spread through the work, the requests do not queue up
/// behind each other as a burst of two whole rows did.
[[gnu::target("avx512f,avx512bw,avx512vl,avx2,fma")]] inline void aa_vertical_planes_avx512(const std::uint8_t* const* rows, const float* w,
                                                                                         int count, int pixels, float* b, float* g,
                                                                                         float* r, const std::uint8_t* next0,
                                                                                         const std::uint8_t* next1) {
  const PlaneSplit split;
  float* out[3] = {b, g, r};
  int x = 0;
  for (; x + 16 <= pixels; x += 16) {
    _mm_prefetch(reinterpret_cast<const char*>(next0 + 3 * x), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(next1 + 3 * x), _MM_HINT_T0);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0;
    for (int k = 0; k < count; ++k) {
      const __m512 wk = _mm512_set1_ps(w[k]);
      const std::uint8_t* p = rows[k] + 3 * x;
      a0 = _mm512_fmadd_ps(wk, _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))), a0);
      a1 = _mm512_fmadd_ps(wk, _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)))), a1);
      a2 = _mm512_fmadd_ps(wk, _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepu8_epi32(0xffff, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32)))), a2);
    }
    for (int c = 0; c < 3; ++c) _mm512_storeu_ps(out[c] + x, split.plane(a0, a1, a2, c));
  }
  for (; x < pixels; ++x)
    for (int c = 0; c < 3; ++c) {
      float s = 0;
      for (int k = 0; k < count; ++k) s = __builtin_fmaf(w[k], float(rows[k][3 * x + c]), s);
      out[c][x] = s;
    }
}

/// The horizontal pass on the three planes with AVX-512: 16 outputs a step, each tap's 16 values picked
/// from a 32-value window of each plane by one permute (the group's indices and weights loaded once for the
/// three). The even taps and the odd taps are summed apart and then added, in the order the AVX2 pass sums
/// its tap pairs' halves: the same bits.
/// With `affine` (float output only: scale and bias per plane, B G R order) each level v is written as
/// scale * v + bias, the pixel pass's last step (ToTensor and Normalize), in the same two operations.
template <class T>
[[gnu::target("avx512f,avx512bw,avx512vl,avx2,fma")]] void aa_horizontal_planes_avx512(const RowTaps& t, const float* const* planes, int n,
                                                                                    T* const* out, const float* affine) {
  const int taps = t.taps;
  const __m512 half = _mm512_set1_ps(0.5f), top_level = _mm512_set1_ps(255.0f);
  for (int g = 0, x0 = 0; x0 < n; ++g, x0 += 16) {
    const std::size_t at = std::size_t(t.base[std::size_t(g)]);
    __m512 lo[3], hi[3], even[3], odd[3];
    for (int c = 0; c < 3; ++c) lo[c] = _mm512_loadu_ps(planes[c] + at), hi[c] = _mm512_loadu_ps(planes[c] + at + 16);
    const int* idx = t.perm.data() + std::size_t(g) * std::size_t(taps) * 16;
    const float* w = t.wide.data() + std::size_t(g) * std::size_t(taps) * 16;
    {
      const __m512i i0 = _mm512_loadu_si512(idx);
      const __m512 w0 = _mm512_loadu_ps(w);
      for (int c = 0; c < 3; ++c) even[c] = _mm512_mul_ps(w0, _mm512_permutex2var_ps(lo[c], i0, hi[c])), odd[c] = _mm512_setzero_ps();
    }
    if (taps > 1) {
      const __m512i i1 = _mm512_loadu_si512(idx + 16);
      const __m512 w1 = _mm512_loadu_ps(w + 16);
      for (int c = 0; c < 3; ++c) odd[c] = _mm512_mul_ps(w1, _mm512_permutex2var_ps(lo[c], i1, hi[c]));
    }
    for (int k = 2; k < taps; ++k) {
      const __m512i ik = _mm512_loadu_si512(idx + 16 * k);
      const __m512 wk = _mm512_loadu_ps(w + 16 * k);
      for (int c = 0; c < 3; ++c) {
        __m512& sum = k % 2 == 0 ? even[c] : odd[c];
        sum = _mm512_fmadd_ps(wk, _mm512_permutex2var_ps(lo[c], ik, hi[c]), sum);
      }
    }
    const __mmask16 keep = n - x0 >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - x0)) - 1);
    for (int c = 0; c < 3; ++c) {  // whole levels as aa_level (see aa_store4)
      const __m512i level = _mm512_maskz_cvttps_epi32(0xffff, _mm512_maskz_min_ps(0xffff, _mm512_add_ps(_mm512_add_ps(even[c], odd[c]), half), top_level));
      if constexpr (std::is_same_v<T, float>) {
        __m512 v = _mm512_maskz_cvtepi32_ps(0xffff, level);
        if (affine) v = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(affine[c]), v), _mm512_set1_ps(affine[3 + c]));
        _mm512_mask_storeu_ps(out[c] + x0, keep, v);
      } else {
        _mm512_mask_cvtusepi32_storeu_epi8(out[c] + x0, keep, level);
      }
    }
  }
}
#pragma GCC pop_options

}  // namespace ftmeta::transforms::detail
#endif
