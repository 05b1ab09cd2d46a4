// ftmeta/transforms/kernels/antialias_taps.hpp: the antialiased resample's taps and weights, per axis and laid out for each pass.
// PIL's triangle filter per output pixel (AxisFilter), and the horizontal pass's layouts of it (RowTaps):
// a fixed tap count per output, the AVX2 pass's tap pairs, the AVX-512 pass's planar groups. Computed once
// per sample by AntialiasRows (kernels/antialias.hpp). Standard library only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

namespace ftmeta::transforms::detail {

/// One axis of the resample: output pixel i reads `count[i]` input pixels from `first[i]` with weights
/// `weight[i * taps + k]` (they sum to 1).
struct AxisFilter {
  int taps = 0;
  std::vector<int> first, count;
  std::vector<float> weight;
};

/// PIL's precompute_coeffs for the bilinear (triangle) filter: `out` output pixels cover the input
/// interval [in0, in1) (edge coordinates); taps are clipped to the input pixels [0, size). With
/// `reversed`, output i gets the weights of output out - 1 - i (a flip folded into the resample).
inline AxisFilter triangle_filter(double in0, double in1, int size, int out, bool reversed = false) {
  AxisFilter f;
  const double scale = (in1 - in0) / out, filterscale = std::max(scale, 1.0), support = filterscale;
  f.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  f.first.assign(std::size_t(out), 0);
  f.count.assign(std::size_t(out), 0);
  f.weight.assign(std::size_t(out) * std::size_t(f.taps), 0.0f);
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
    const double norm = ww != 0.0 ? 1.0 / ww : 1.0;  // one division per output pixel, not per tap
    for (int x = 0; x < xmax; ++x)
      f.weight[std::size_t(at) * std::size_t(f.taps) + std::size_t(x)] = static_cast<float>(k[std::size_t(x)] * norm);
  }
  return f;
}

/// The horizontal pass's taps: the same number for every output pixel (the most any has; the others get
/// zero weights, their first tap moved left where the row would end), so the loop over them is unrolled.
struct RowTaps {
  int taps = 1;
  std::vector<int> offset;    // output x reads the values from offset[x] (first tap * 3)
  std::vector<float> weight;  // [x * taps + k]
  // For BGR rows (the AVX2 pass): taps 2j and 2j + 1 of output x as one 8-float vector, (w, w, w, w', w', w', 0, 0)
  // at [(x * pairs + j) * 8], against the 8 floats from value offset[x] + 6j (the last pair's second weight 0
  // when taps is odd).
  int pairs = 0;
  std::vector<float> pair_weight;
  // For planar rows (the AVX-512 pass, planar_groups): outputs [16g, 16g + 16) read the 32 plane values
  // from base[g]; tap k of output 16g + i is value perm[(g * taps + k) * 16 + i] of that window, weighted
  // wide[(g * taps + k) * 16 + i] (0 past the row's end). Empty: not made, or some group's taps reach
  // past its 32 values (then the AVX2 pass runs).
  std::vector<int> base, perm;
  std::vector<float> wide;
};

/// `f`'s taps for BGR rows of `size` pixels (f.first relative to the row's start).
inline RowTaps row_taps(const AxisFilter& f, int size) {
  constexpr int cn = 3;
  RowTaps t;
  const std::size_t n = f.first.size();
  for (int c : f.count) t.taps = std::max(t.taps, c);
  t.taps = std::min(t.taps, std::max(size, 1));
  t.offset.assign(n, 0);
  t.weight.assign(n * std::size_t(t.taps), 0.0f);
  for (std::size_t x = 0; x < n; ++x) {
    const int first = std::max(0, std::min(f.first[x], size - t.taps)), shift = f.first[x] - first;
    t.offset[x] = first * cn;
    for (int k = 0; k < f.count[x]; ++k)
      t.weight[x * std::size_t(t.taps) + std::size_t(k + shift)] = f.weight[x * std::size_t(f.taps) + std::size_t(k)];
  }
  {
    t.pairs = (t.taps + 1) / 2;
    t.pair_weight.assign(n * std::size_t(t.pairs) * 8, 0.0f);
    for (std::size_t x = 0; x < n; ++x)
      for (int k = 0; k < t.taps; ++k)
        for (int c = 0; c < 3; ++c)
          t.pair_weight[(x * std::size_t(t.pairs) + std::size_t(k / 2)) * 8 + std::size_t(k % 2 * 3 + c)] = t.weight[x * std::size_t(t.taps) + std::size_t(k)];
  }
  return t;
}

/// Fills t.base, t.perm and t.wide for `n` outputs, or leaves them empty where a group of 16 outputs reads
/// more than 32 consecutive pixels (scales above about 1.8).
inline void planar_groups(RowTaps& t, int n) {
  const int groups = (n + 15) / 16, taps = t.taps;
  std::vector<int> base(std::size_t(groups), 0), perm(std::size_t(groups) * std::size_t(taps) * 16, 0);
  std::vector<float> wide(perm.size(), 0.0f);
  for (int g = 0; g < groups; ++g) {
    int first = t.offset[std::size_t(16 * g)] / 3;  // the group's leftmost tap (a flipped row runs leftwards)
    for (int i = 1; i < 16; ++i) first = std::min(first, t.offset[std::size_t(std::min(16 * g + i, n - 1))] / 3);
    base[std::size_t(g)] = first;
    for (int i = 0; i < 16; ++i) {
      const int x = std::min(16 * g + i, n - 1), at = t.offset[std::size_t(x)] / 3 - first;
      if (at + taps > 32) return;  // the window cannot hold this output's taps
      for (int k = 0; k < taps; ++k) {
        const std::size_t j = (std::size_t(g) * std::size_t(taps) + std::size_t(k)) * 16 + std::size_t(i);
        perm[j] = at + k;
        wide[j] = 16 * g + i < n ? t.weight[std::size_t(x) * std::size_t(taps) + std::size_t(k)] : 0.0f;
      }
    }
  }
  t.base = std::move(base), t.perm = std::move(perm), t.wide = std::move(wide);
}

}  // namespace ftmeta::transforms::detail
