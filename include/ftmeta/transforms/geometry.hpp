// ftmeta/transforms/geometry.hpp: plain math of geometric and per-channel ops (sizes, 2x3 maps, rounding).
// ftmeta:pure
#pragma once

#include <cstdint>
#include <initializer_list>

namespace ftmeta::transforms {

/// The size of an image, in pixels. {0, 0} in a compile-time context means "known only at run time".
struct ImageSize {
  int height = 0;
  int width = 0;
  constexpr bool operator==(const ImageSize&) const = default;
  constexpr bool known() const { return height > 0 && width > 0; }
};

/// A 2x3 affine map from output to input coordinates, in edge coordinates (pixel i spans [i, i+1)):
///   x_in = a*x + b*y + c,   y_in = d*x + e*y + f.
/// Every geometric op of a Compose contributes one; the planner multiplies them into one.
struct Affine2D {
  double a = 1, b = 0, c = 0;
  double d = 0, e = 1, f = 0;

  static constexpr Affine2D scale_offset(double sx, double ox, double sy, double oy) { return {sx, 0, ox, 0, sy, oy}; }
  constexpr bool axis_aligned() const { return b == 0 && d == 0; }
  constexpr bool operator==(const Affine2D&) const = default;
};

/// `outer` maps a step's output to its input, `inner` maps the next step's output to that output:
/// the result maps the next step's output straight to the first input (outer after inner).
constexpr Affine2D compose_maps(const Affine2D& outer, const Affine2D& inner) {
  return {outer.a * inner.a + outer.b * inner.d, outer.a * inner.b + outer.b * inner.e,
          outer.a * inner.c + outer.b * inner.f + outer.c,
          outer.d * inner.a + outer.e * inner.d, outer.d * inner.b + outer.e * inner.e,
          outer.d * inner.c + outer.e * inner.f + outer.f};
}

/// One geometric op (or a folded run of them) after sampling: its output size and its output-to-input map.
/// An op that fills what it uncovers (RandomRotation, RandomAffine, Pad and RandomCrop with a fill) sets
/// `clips`: its output pixels whose centres map outside its own input frame get `fill`. After folding,
/// `clip` maps the final output to the frame of the last such op and `clip_size` is that frame's size;
/// `clips2` / `clip2` / `clip2_size` / `fill2` keep the frame of the one before it (two frames are kept,
/// e.g. RandomCrop's padding, then a rotation; a third one back is dropped).
struct GeomStep {
  ImageSize out;
  Affine2D map;
  bool clips = false;
  Affine2D clip{};
  ImageSize clip_size{};
  int fill = 0;
  bool clips2 = false;
  Affine2D clip2{};
  ImageSize clip2_size{};
  int fill2 = 0;
};

/// Runs `next` after `done`: the sizes chain, the maps multiply, the filled frames follow the output.
constexpr GeomStep chain(const GeomStep& done, const GeomStep& next) {
  GeomStep r{next.out, compose_maps(done.map, next.map)};
  if (next.clips) {
    r.clips = true, r.clip = next.map, r.clip_size = done.out, r.fill = next.fill;
    if (done.clips)
      r.clips2 = true, r.clip2 = compose_maps(done.clip, next.map), r.clip2_size = done.clip_size, r.fill2 = done.fill;
  } else if (done.clips) {
    r.clips = true, r.clip = compose_maps(done.clip, next.map), r.clip_size = done.clip_size, r.fill = done.fill;
    if (done.clips2)
      r.clips2 = true, r.clip2 = compose_maps(done.clip2, next.map), r.clip2_size = done.clip2_size, r.fill2 = done.fill2;
  }
  return r;
}

/// The source rectangle a folded geometric step reads (what a decoder must provide), and how many source
/// pixels it reads per output pixel along the output's axes (`step_x`, `step_y`: more than 2 is a shrink
/// that a decoder's 1/2 scale can take over).
struct SourceRegion {
  int x = 0, y = 0, width = 0, height = 0;
  double step_x = 1, step_y = 1;
};

namespace detail {
constexpr double abs_of(double v) { return v < 0 ? -v : v; }
constexpr int floor_int(double v) {
  const int i = static_cast<int>(v);
  return static_cast<double>(i) > v ? i - 1 : i;
}
}  // namespace detail

/// The part of an input of size `in` that `s` reads: the bounding box of the output's footprint
/// (its four corners mapped to the input), widened by `margin` pixels (interpolation taps), clipped to
/// the input. Empty when the output lies wholly outside the input.
constexpr SourceRegion source_region(const GeomStep& s, ImageSize in, int margin) {
  const Affine2D& m = s.map;
  double lo_x = m.c, hi_x = m.c, lo_y = m.f, hi_y = m.f;
  for (const double x : {0.0, double(s.out.width)})
    for (const double y : {0.0, double(s.out.height)}) {
      const double u = m.a * x + m.b * y + m.c, v = m.d * x + m.e * y + m.f;
      lo_x = u < lo_x ? u : lo_x, hi_x = u > hi_x ? u : hi_x, lo_y = v < lo_y ? v : lo_y, hi_y = v > hi_y ? v : hi_y;
    }
  auto clamp = [](int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; };
  constexpr double eps = 1e-9;  // folded maps land next to whole pixels (190 + 260 / 224 * 224 = 450.00000000000006)
  const int x0 = clamp(detail::floor_int(lo_x + eps) - margin, 0, in.width);
  const int x1 = clamp(-detail::floor_int(-(hi_x - eps)) + margin, 0, in.width);
  const int y0 = clamp(detail::floor_int(lo_y + eps) - margin, 0, in.height);
  const int y1 = clamp(-detail::floor_int(-(hi_y - eps)) + margin, 0, in.height);
  SourceRegion r{x0, y0, x1 > x0 ? x1 - x0 : 0, y1 > y0 ? y1 - y0 : 0, 1, 1};
  // source pixels per output pixel along the output's x and y: the lengths of the map's columns, from
  // below (the larger component; exact for axis-aligned maps)
  const double ax = detail::abs_of(m.a) > detail::abs_of(m.d) ? detail::abs_of(m.a) : detail::abs_of(m.d);
  const double ay = detail::abs_of(m.b) > detail::abs_of(m.e) ? detail::abs_of(m.b) : detail::abs_of(m.e);
  r.step_x = ax, r.step_y = ay;
  return r;
}

/// The identity step on an image of size `in`.
constexpr GeomStep identity_step(ImageSize in) { return {in, Affine2D{}}; }

/// The map of resizing an image of size `in` to `out` (pixel centres align, as cv::resize and PIL).
constexpr Affine2D resize_map(ImageSize in, ImageSize out) {
  return Affine2D::scale_offset(double(in.width) / out.width, 0.0, double(in.height) / out.height, 0.0);
}

/// The map of rotating an image of size `in` by `degrees` counter-clockwise about its centre, as PIL's
/// Image.rotate (torchvision's F.rotate on PIL images, expand=False): output -> input, edge coordinates.
constexpr Affine2D rotation_map(ImageSize in, double cos_t, double sin_t) {
  const double cx = in.width * 0.5, cy = in.height * 0.5;
  return {cos_t, -sin_t, cx - cos_t * cx + sin_t * cy, sin_t, cos_t, cy - sin_t * cx - cos_t * cy};
}

/// Python's round(): to nearest, ties to even (torchvision rounds its crop offsets and sizes with it).
constexpr long long round_half_even(double x) {
  auto fl = static_cast<long long>(x);
  if (static_cast<double>(fl) > x) --fl;  // floor for negatives
  const double diff = x - static_cast<double>(fl);
  if (diff > 0.5) return fl + 1;
  if (diff < 0.5) return fl;
  return (fl % 2 == 0) ? fl : fl + 1;
}

/// Floor division as Python's `//`.
constexpr long long floor_div(long long a, long long b) {
  const long long q = a / b;
  return (q * b != a && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// y = scale[c] * x + bias[c] per channel (RGB order): what ToTensor and Normalize fold into.
struct ChannelAffine {
  double scale[3] = {1, 1, 1};
  double bias[3] = {0, 0, 0};
};

/// `first` then `second`.
constexpr ChannelAffine then(const ChannelAffine& first, const ChannelAffine& second) {
  ChannelAffine r;
  for (int c = 0; c < 3; ++c) {
    r.scale[c] = second.scale[c] * first.scale[c];
    r.bias[c] = second.scale[c] * first.bias[c] + second.bias[c];
  }
  return r;
}

}  // namespace ftmeta::transforms

namespace ftmeta::transforms {

/// One per-pixel photometric step in the uint8 RGB domain, as torchvision applies it to PIL images.
/// factor: brightness/contrast/saturation blend factors; hue: the uint8 shift of PIL's HSV hue plane.
struct PixelStep {
  enum class Kind : unsigned char { brightness, contrast, saturation, hue, grayscale };
  Kind kind = Kind::brightness;
  double factor = 1;
  int hue_shift = 0;
};

/// A Gaussian blur inside the photometric steps (GaussianBlur): it runs before step `at`.
struct PixelBlur {
  int at = 0;
  int kernel = 0;
  double sigma = 0;
};

/// The photometric steps of one sample, in the order they run (filled by the ops' sampling), and the
/// blurs among them (neighbourhood ops: the fused path runs each as a pass of its own).
struct PixelProgram {
  static constexpr int capacity = 16;
  static constexpr int blur_capacity = 4;
  PixelStep steps[capacity]{};
  int size = 0;
  PixelBlur blurs[blur_capacity]{};
  int blur_count = 0;
  constexpr void push(PixelStep s) {
    if (size < capacity) steps[size++] = s;
  }
  constexpr void push_blur(int kernel, double sigma) {
    if (blur_count < blur_capacity) blurs[blur_count++] = {size, kernel, sigma};
  }
};

}  // namespace ftmeta::transforms
