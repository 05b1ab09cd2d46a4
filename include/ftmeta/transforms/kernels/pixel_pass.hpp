// ftmeta/transforms/kernels/pixel_pass.hpp: the pixel pass: resampled uint8 rows -> photometric steps -> the output tensor's planes.
// One pass reads the geometric stage's result row by row (flips, padding and fill applied on the way),
// runs the photometric steps in float (PIL's blends, to whole levels), and writes float32 RGB CHW (the
// folded ToTensor and Normalize: one multiply-add per channel) or uint8 planes into the caller's buffer.
// Compiled three times on plain x86-64 (SSE2, and AVX2 or AVX-512 chosen at run time), with the same bits. OpenCV only.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/kernels/cpu_features.hpp>
#include <ftmeta/transforms/kernels/resample.hpp>

#include <opencv2/core.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace ftmeta::transforms {

namespace detail {

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
    if (r.rows) {  // the antialiased resample's row (flip_x folded in), planes interleaved
      std::vector<std::uint8_t> planes(3 * std::size_t(win.width));
      const std::size_t n = std::size_t(win.width);
      r.rows->row(yy - win.y, planes.data(), planes.data() + n, planes.data() + 2 * n);
      for (std::size_t x = 0; x < n; ++x)
        rgb[3 * (cx0 + x)] = planes[x], rgb[3 * (cx0 + x) + 1] = planes[n + x], rgb[3 * (cx0 + x) + 2] = planes[2 * n + x];
    } else {
    const std::uint8_t* p = r.image.ptr<std::uint8_t>(yy - win.y) + std::ptrdiff_t(r.flip_x ? win.width - 1 : 0) * cn;
    const std::ptrdiff_t step = r.flip_x ? -cn : cn;
    std::uint8_t* q = rgb + 3 * cx0;
    if (cn == 3 && !r.flip_x) {
      for (int x = cx0; x < cx1; ++x, p += 3, q += 3) q[0] = p[2], q[1] = p[1], q[2] = p[0];
    } else {
      for (int x = cx0; x < cx1; ++x, p += step, q += 3) q[0] = p[ri], q[1] = p[gi], q[2] = p[0];
    }
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
#pragma GCC optimize("no-trapping-math", "finite-math-only", "no-signed-zeros", "fp-contract=off")
#endif
// The pass below is compiled three times where the build targets plain x86-64 (SSE2) with GCC: as is, for
// AVX2 (8 floats a vector) and for AVX-512 (16), chosen at run time by the CPU. All run the same IEEE
// operations in the same order (no FMA: fp-contract is off here), so they give the same bits. The hot functions are always inlined into each copy.
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

/// gather_row into planes: row y of the resampled output as R, G, B rows of W whole levels each (U: uint8 or float).
template <class U>
FTMETA_DETAIL_HOT void gather_planes(const Resampled& r, int y, U* __restrict R, U* __restrict G, U* __restrict B) {
  const int W = r.out.width, H = r.out.height;
  const cv::Rect& win = r.window;
  const int yy = r.flip_y ? H - 1 - y : y;
  int x0 = 0, x1 = 0;  // output columns [x0, x1) come from the image, the others are zero (padding)
  if (!win.empty() && yy >= win.y && yy < win.y + win.height) {
    x0 = r.flip_x ? W - win.x - win.width : win.x, x1 = x0 + win.width;
    const int n = win.width, cn = r.image.channels();
    if (r.rows) {  // the vertical pass of the antialiased resample writes this row (flip_x folded in)
      r.rows->row(yy - win.y, R + x0, G + x0, B + x0);
    } else {
    const std::uint8_t* p = r.image.ptr<std::uint8_t>(yy - win.y);
    U *__restrict r_ = R + x0, *__restrict g_ = G + x0, *__restrict b_ = B + x0;
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
  }
  for (U* plane : {R, G, B}) {
    std::fill(plane, plane + x0, U(0));
    std::fill(plane + x1, plane + W, U(0));
  }
  if (r.clips) {
    const auto [c0, c1] = clip_span(r, y);
    const auto f = static_cast<U>(r.fill);
    for (U* plane : {R, G, B}) {
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
  std::vector<float> planes(std::size_t(3) * W);
  float *fr = planes.data(), *fg = fr + W, *fb = fg + W;
  if (program.size == 0) {  // ToTensor and Normalize only: one multiply-add per value
    // A resample that fills whole rows writes them into `out` with the multiply-add folded in.
    const bool whole_rows = r.rows && !r.clips && r.window == cv::Rect(0, 0, W, H);
    const float scale[3] = {float(affine.scale[0]), float(affine.scale[1]), float(affine.scale[2])};
    const float bias[3] = {float(affine.bias[0]), float(affine.bias[1]), float(affine.bias[2])};
    for (int y = 0; y < H; ++y) {
      T* R = out + std::size_t(y) * W;
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        gather_planes(r, y, R, R + plane, R + 2 * plane);
      } else if (!whole_rows || !r.rows->row_affine(r.flip_y ? H - 1 - y : y, R, R + plane, R + 2 * plane, scale, bias)) {
        gather_planes(r, y, fr, fg, fb);
        finish_plane(fr, R, scale[0], bias[0], W);
        finish_plane(fg, R + plane, scale[1], bias[1], W);
        finish_plane(fb, R + 2 * plane, scale[2], bias[2], W);
      }
    }
    return;
  }
  // Rows in float planes (L1-resident). A contrast step needs the grey mean of the image as it is at that
  // step, so contrast steps cut the program into segments: a segment runs its steps on every row and,
  // when a contrast step follows, sums the grey and keeps the rows in uint8 planes (exact, see
  // FloatSteps) for the next segment, which starts from them. The last segment writes `out`.
  FloatSteps steps(program);
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
        gather_planes(r, y, fr, fg, fb);
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
/// The AVX-512 copy (16 floats a vector): the same operations, no contraction into fused multiply-adds
/// (fp-contract=off above), so the same bits as the other copies.
template <class T>
[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl,prefer-vector-width=512")]] void pixel_pass_avx512(const Resampled& r, const PixelProgram& program,
                                                                             const ChannelAffine& affine, T* out) {
  pixel_pass_body(r, program, affine, out);
}
#endif

/// The single pixel pass: reads the resampled uint8 pixels (BGR, BGRA or gray) row by row, applies the
/// flips, padding and fill, and writes planes R, G, B of `out` (3 x H x W, contiguous). Without
/// photometric steps each value gets one multiply-add per channel (ToTensor, Normalize folded: `affine`);
/// with them the row runs the steps in float first (for uint8 output, rounding instead). A contrast step
/// needs the grey mean of the image at its turn: the steps before it run on the whole image first, kept
/// in uint8 (see pixel_pass_body). Vectorized: SSE2, or AVX2 or AVX-512 where the CPU has it.
template <class T>
void pixel_pass(const Resampled& r, const PixelProgram& program, const ChannelAffine& affine, T* out) {
#ifdef FTMETA_DETAIL_AVX2_COPY
  if (cpu_has_avx512()) return pixel_pass_avx512(r, program, affine, out);
  if (cpu_has_avx2()) return pixel_pass_avx2(r, program, affine, out);
#endif
  pixel_pass_body(r, program, affine, out);
}

/// Which copy of the pixel pass runs on this CPU, in words (benchmark reports, tests).
inline const char* pixel_pass_isa() {
#ifdef FTMETA_DETAIL_AVX2_COPY
  return cpu_has_avx512() ? "AVX-512 (run-time dispatch from a baseline x86-64 build)"
         : cpu_has_avx2() ? "AVX2 (run-time dispatch from a baseline x86-64 build)"
                          : "baseline x86-64 (SSE2)";
#else
  return "the build's target ISA (no run-time dispatch)";
#endif
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#undef FTMETA_DETAIL_HOT
#undef FTMETA_DETAIL_AVX2_COPY

#if defined(FTMETA_SEPARATE_COMPILATION)
// Compiled once, in ftmeta::core (src/ftmeta_core.cpp), for the two outputs there are: a TU that runs a
// pipeline then compiles none of the pass's copies (about 80 KB of vector code).
extern template void pixel_pass<float>(const Resampled&, const PixelProgram&, const ChannelAffine&, float*);
extern template void pixel_pass<std::uint8_t>(const Resampled&, const PixelProgram&, const ChannelAffine&, std::uint8_t*);
#endif

}  // namespace detail

}  // namespace ftmeta::transforms
