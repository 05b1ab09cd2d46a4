// ftmeta/transforms/geometric_ops.hpp: the geometric ops (resizes, crops, flips, padding, rotations, affine) as tags.
// ftmeta:pure
// Each states its traits (see traits.hpp), how it samples its random parameters from an ftmeta::Rng, and
// the size and 2x3 map (output -> input pixels) of its output, which the planner folds into one resample.
// The kernels live in kernels/.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/transforms/detail/text.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/traits.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>


namespace ftmeta::transforms {

/// Parameters of an op that samples nothing.
struct NoParams {};

// --- geometric ops ------------------------------------------------------------------------------

/// torchvision's Resize: `Resize<256>` scales the shorter side to 256 keeping the aspect ratio
/// (the longer side is truncated as torchvision does); `Resize<H, W>` scales to exactly H x W.
/// Shrinking uses area averaging (closest to PIL's antialiased bilinear), enlarging bilinear.
template <int H, int W = 0>
struct Resize {
  static_assert(H > 0 && W >= 0, "ftmeta: Resize<H, W>: sizes must be positive (W = 0 means H is the shorter side)");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr SizeRule size_rule = W == 0 ? SizeRule::data_dependent : SizeRule::fixed;
  static constexpr ImageSize out_size{W == 0 ? 0 : H, W};
  /// It reads the whole image; its output's larger side is at least H (Resize<S>: the shorter side S).
  static constexpr DecodeHint decode_hint{W == 0 ? H : (H > W ? H : W), 1.0, 1.0};
  using Params = NoParams;

  static constexpr ImageSize output_size(ImageSize in) {
    if constexpr (W != 0) {
      return {H, W};
    } else {
      const bool portrait = in.width <= in.height;
      const long long shorter = portrait ? in.width : in.height, longer = portrait ? in.height : in.width;
      const int new_long = static_cast<int>(static_cast<double>(H * longer) / static_cast<double>(shorter));
      return portrait ? ImageSize{new_long, H} : ImageSize{H, new_long};
    }
  }
  static constexpr Params sample(Rng&, ImageSize) { return {}; }
  static constexpr GeomStep step(Params, ImageSize in) { return {output_size(in), resize_map(in, output_size(in))}; }
  static constexpr std::string name() {
    return detail::cat("Resize(", detail::int_text(H), detail::int_text_if(W != 0, ", ", W), ")");
  }
};

/// Where torchvision's center_crop starts along one axis: centred with Python's round(), or a negative
/// offset (zero padding, the extra pixel going after) when the crop is larger than the image.
constexpr int center_crop_offset(int in_length, int crop_length) {
  if (crop_length > in_length) return -static_cast<int>(floor_div(crop_length - in_length, 2));
  return static_cast<int>(round_half_even((in_length - crop_length) / 2.0));
}

/// torchvision's CenterCrop: an H x W window in the middle; pads with zeros where the image is smaller.
template <int H, int W = H>
struct CenterCrop {
  static_assert(H > 0 && W > 0, "ftmeta: CenterCrop<H, W>: sizes must be positive");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr SizeRule size_rule = SizeRule::fixed;
  static constexpr ImageSize out_size{H, W};
  using Params = NoParams;

  static constexpr Params sample(Rng&, ImageSize) { return {}; }
  static constexpr GeomStep step(Params, ImageSize in) {
    return {out_size, Affine2D::scale_offset(1, center_crop_offset(in.width, W), 1, center_crop_offset(in.height, H))};
  }
  static constexpr std::string name() {
    return detail::cat("CenterCrop(", detail::int_text(H), detail::int_text_if(H != W, ", ", W), ")");
  }
};

/// A crop box in input pixels: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
  constexpr bool operator==(const CropBox&) const = default;
};

/// torchvision's RandomResizedCrop.get_params: ten tries of an area fraction uniform in [scale_lo,
/// scale_hi) and an aspect ratio log-uniform in [ratio_lo, ratio_hi), sides rounded as Python does;
/// then the fallback, a centred crop clamped to the ratio range.
inline CropBox sample_resized_crop_box(Rng& rng, ImageSize in, double scale_lo, double scale_hi,
                                       double ratio_lo, double ratio_hi) {
  const double area = double(in.height) * double(in.width);
  const double log_lo = std::log(ratio_lo), log_hi = std::log(ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale_lo, scale_hi);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const auto w = round_half_even(std::sqrt(target_area * aspect));
    const auto h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= in.width && 0 < h && h <= in.height) {
      const auto top = rng.integer(0, in.height - h);
      const auto left = rng.integer(0, in.width - w);
      return {int(top), int(left), int(h), int(w)};
    }
  }
  const double in_ratio = double(in.width) / double(in.height);
  long long w = in.width, h = in.height;
  if (in_ratio < std::min(ratio_lo, ratio_hi)) {
    h = round_half_even(double(w) / std::min(ratio_lo, ratio_hi));
  } else if (in_ratio > std::max(ratio_lo, ratio_hi)) {
    w = round_half_even(double(h) * std::max(ratio_lo, ratio_hi));
  }
  return {int(floor_div(in.height - h, 2)), int(floor_div(in.width - w, 2)), int(h), int(w)};
}

/// torchvision's RandomResizedCrop(size=(H, W), scale=(ScaleLo, ScaleHi), ratio=(RatioLo, RatioHi)), defaults
/// scale (0.08, 1) and ratio (3/4, 4/3): a random box, resized to H x W.
template <int H, int W = H, double ScaleLo = 0.08, double ScaleHi = 1.0, double RatioLo = 3.0 / 4.0,
          double RatioHi = 4.0 / 3.0>
struct RandomResizedCrop {
  static_assert(H > 0 && W > 0, "ftmeta: RandomResizedCrop<H, W>: sizes must be positive");
  static_assert(0 < ScaleLo && ScaleLo <= ScaleHi && RatioLo > 0 && RatioLo <= RatioHi,
                "ftmeta: RandomResizedCrop<H, W, ScaleLo, ScaleHi, RatioLo, RatioHi>: need 0 < ScaleLo <= ScaleHi and "
                "0 < RatioLo <= RatioHi");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr SizeRule size_rule = SizeRule::fixed;
  static constexpr ImageSize out_size{H, W};
  static constexpr double scale_lo = ScaleLo, scale_hi = ScaleHi, ratio_lo = RatioLo, ratio_hi = RatioHi;
  /// Its smallest box: ScaleLo of the area at the most extreme ratio.
  static constexpr DecodeHint decode_hint{H > W ? H : W, ScaleLo, RatioLo < 1.0 / RatioHi ? RatioLo : 1.0 / RatioHi};
  using Params = CropBox;

  static Params sample(Rng& rng, ImageSize in) {
    return sample_resized_crop_box(rng, in, scale_lo, scale_hi, ratio_lo, ratio_hi);
  }
  static constexpr GeomStep step(const Params& box, ImageSize) {
    return {out_size, Affine2D::scale_offset(double(box.width) / W, box.left, double(box.height) / H, box.top)};
  }
  static constexpr std::string name() {
    constexpr bool default_ratio = RatioLo == 3.0 / 4.0 && RatioHi == 4.0 / 3.0;
    std::string text = detail::cat("RandomResizedCrop(", detail::int_text(H), detail::int_text_if(H != W, ", ", W),
                                   ", scale=(", detail::real_text(ScaleLo), ", ", detail::real_text(ScaleHi), "), ratio=(");
    if (default_ratio) text.append("3/4, 4/3))");
    else text.append(detail::cat(detail::real_text(RatioLo), ", ", detail::real_text(RatioHi), "))"));
    return text;
  }
};

/// Whether a flip happens this time.
struct FlipParams {
  bool flip = false;
};

/// torchvision's RandomHorizontalFlip: mirrors left-right with probability P.
template <double P = 0.5>
struct RandomHorizontalFlip {
  static_assert(P >= 0.0 && P <= 1.0, "ftmeta: RandomHorizontalFlip<P>: P is a probability, in [0, 1]");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr double p = P;
  using Params = FlipParams;

  static constexpr Params sample(Rng& rng, ImageSize) { return {rng.bernoulli(P)}; }
  static constexpr GeomStep step(Params f, ImageSize in) {
    return {in, f.flip ? Affine2D::scale_offset(-1, in.width, 1, 0) : Affine2D{}};
  }
  static constexpr std::string name() { return detail::cat("RandomHorizontalFlip(p=", detail::real_text(P), ")"); }
};

/// torchvision's RandomVerticalFlip: mirrors top-bottom with probability P.
template <double P = 0.5>
struct RandomVerticalFlip {
  static_assert(P >= 0.0 && P <= 1.0, "ftmeta: RandomVerticalFlip<P>: P is a probability, in [0, 1]");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr double p = P;
  using Params = FlipParams;

  static constexpr Params sample(Rng& rng, ImageSize) { return {rng.bernoulli(P)}; }
  static constexpr GeomStep step(Params f, ImageSize in) {
    return {in, f.flip ? Affine2D::scale_offset(1, 0, -1, in.height) : Affine2D{}};
  }
  static constexpr std::string name() { return detail::cat("RandomVerticalFlip(p=", detail::real_text(P), ")"); }
};

/// A horizontal flip with probability 0.5.
struct HFlip : RandomHorizontalFlip<0.5> {};
/// A vertical flip with probability 0.5.
struct VFlip : RandomVerticalFlip<0.5> {};

/// torchvision's padding_mode: what the padding holds.
enum class PaddingMode {
  constant,   ///< the fill (folds into the geometric stage's one map)
  edge,       ///< the edge pixel repeated
  reflect,    ///< mirrored without repeating the edge: 3 2 | 1 2 3 | 2 1
  symmetric,  ///< mirrored with the edge repeated: 2 1 | 1 2 3 | 3 2
};

/// Words for a padding mode, as torchvision spells it.
constexpr const char* padding_mode_name(PaddingMode m) {
  switch (m) {
    case PaddingMode::edge: return "edge";
    case PaddingMode::reflect: return "reflect";
    case PaddingMode::symmetric: return "symmetric";
    default: return "constant";
  }
}

/// Pixels added on each side of an image.
struct Border {
  int top = 0, bottom = 0, left = 0, right = 0;
  constexpr bool operator==(const Border&) const = default;
};

/// torchvision's Pad(padding=(Left, Top, Right, Bottom), fill=Fill, padding_mode=Mode): `Pad<4>` adds 4
/// black pixels on every side, `Pad<4, 4, 4, 4, 128>` grey ones, `Pad<4, 4, 4, 4, 0, PaddingMode::reflect>`
/// mirrored ones. The output size depends on the input. Constant padding folds into the geometric stage's
/// one map (the padding is the region outside the input, filled as rotations fill what they uncover);
/// the other modes pad the source image first (the fused kernel needs the Pad first in the pipeline).
template <int Left, int Top = Left, int Right = Left, int Bottom = Top, int Fill = 0, PaddingMode Mode = PaddingMode::constant>
struct Pad {
  static_assert(Left >= 0 && Top >= 0 && Right >= 0 && Bottom >= 0,
                "ftmeta: Pad<Left, Top, Right, Bottom>: paddings must be >= 0");
  static_assert(Fill >= 0 && Fill <= 255, "ftmeta: Pad<Left, Top, Right, Bottom, Fill>: Fill is a grey level, in [0, 255]");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr SizeRule size_rule = SizeRule::data_dependent;
  static constexpr int fill = Fill;
  static constexpr PaddingMode padding_mode = Mode;
  using Params = NoParams;

  static constexpr Border border(ImageSize) { return {Top, Bottom, Left, Right}; }
  static constexpr Params sample(Rng&, ImageSize) { return {}; }
  static constexpr GeomStep step(Params, ImageSize in) {
    GeomStep s{{in.height + Top + Bottom, in.width + Left + Right}, Affine2D::scale_offset(1, -Left, 1, -Top)};
    if (Mode == PaddingMode::constant && Fill != 0) s.clips = true, s.fill = Fill;  // zero lies outside the input anyway
    return s;
  }
  static constexpr std::string name() {
    std::string text = detail::cat("Pad(", detail::int_text(Left), ", ", detail::int_text(Top), ", ", detail::int_text(Right), ", ",
                                   detail::int_text(Bottom), detail::int_text_if(Fill != 0, ", fill=", Fill));
    if constexpr (Mode != PaddingMode::constant) text.append(detail::cat(", padding_mode=", padding_mode_name(Mode)));
    text.append(")");
    return text;
  }
};

/// Where RandomCrop's window starts, in input pixels (negative inside the padding).
struct CropOffset {
  int top = 0, left = 0;
  constexpr bool operator==(const CropOffset&) const = default;
};

/// torchvision's RandomCrop(size=(H, W), padding=Padding, pad_if_needed=PadIfNeeded, fill=Fill): pads
/// Padding pixels on every side, then (PadIfNeeded) an axis shorter than the crop by its shortfall on
/// both sides (as torchvision does), then takes an H x W window at a uniform top-left
/// (torch.randint semantics). An image too small for the crop is an error, as in torchvision.
/// With constant padding it folds into the geometric stage's one map (the padding is the region outside
/// the input); other padding modes (Mode) pad the source first (the fused kernel needs it first).
template <int H, int W = H, int Padding = 0, bool PadIfNeeded = false, int Fill = 0, PaddingMode Mode = PaddingMode::constant>
struct RandomCrop {
  static_assert(H > 0 && W > 0, "ftmeta: RandomCrop<H, W>: sizes must be positive");
  static_assert(Padding >= 0, "ftmeta: RandomCrop<H, W, Padding>: Padding must be >= 0");
  static_assert(Fill >= 0 && Fill <= 255, "ftmeta: RandomCrop<H, W, Padding, PadIfNeeded, Fill>: Fill is a grey level, in [0, 255]");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr SizeRule size_rule = SizeRule::fixed;
  static constexpr ImageSize out_size{H, W};
  static constexpr bool pads = Padding > 0 || PadIfNeeded;
  static constexpr PaddingMode padding_mode = Mode;
  using Params = CropOffset;

  /// The padding torchvision adds on each side of an input of size `in`: {top/bottom, left/right}.
  static constexpr ImageSize padding(ImageSize in) {
    const int y = Padding, x = Padding;
    const int short_y = PadIfNeeded && in.height + 2 * y < H ? H - (in.height + 2 * y) : 0;
    const int short_x = PadIfNeeded && in.width + 2 * x < W ? W - (in.width + 2 * x) : 0;
    return {y + short_y, x + short_x};
  }
  static constexpr Border border(ImageSize in) {
    const ImageSize p = padding(in);
    return {p.height, p.height, p.width, p.width};
  }
  /// The size of the padded image the window is taken from.
  static constexpr ImageSize padded(ImageSize in) {
    const ImageSize p = padding(in);
    return {in.height + 2 * p.height, in.width + 2 * p.width};
  }
  static Params sample(Rng& rng, ImageSize in) {
    const ImageSize p = padding(in), full = padded(in);
    if (full.height < H || full.width < W)
      throw DataError(detail::cat("ftmeta: ", name(), ": the image (", detail::int_text(in.height), "x",
                                  detail::int_text(in.width), ", padded ", detail::int_text(full.height), "x",
                                  detail::int_text(full.width), ") is smaller than the crop; set PadIfNeeded or Padding"));
    if (full.height == H && full.width == W) return {-p.height, -p.width};
    const auto top = rng.integer(0, full.height - H);
    const auto left = rng.integer(0, full.width - W);
    return {int(top) - p.height, int(left) - p.width};
  }
  static constexpr GeomStep step(const Params& o, ImageSize) {
    GeomStep s{out_size, Affine2D::scale_offset(1, o.left, 1, o.top)};
    if (pads && Mode == PaddingMode::constant) s.clips = true, s.fill = Fill;
    return s;
  }
  static constexpr std::string name() {
    std::string text = detail::cat("RandomCrop(", detail::int_text(H), detail::int_text_if(H != W, ", ", W),
                                   detail::int_text_if(Padding != 0, ", padding=", Padding), PadIfNeeded ? ", pad_if_needed" : "",
                                   detail::int_text_if(Fill != 0, ", fill=", Fill));
    if constexpr (Mode != PaddingMode::constant) text.append(detail::cat(", padding_mode=", padding_mode_name(Mode)));
    text.append(")");
    return text;
  }
};

/// The angle of a rotation, sampled.
struct AngleParams {
  double degrees = 0;
};

/// torchvision's RandomRotation(degrees, fill=Fill): an angle uniform in [-Degrees, Degrees), rotated
/// counter-clockwise about the centre, same size (expand=False); uncovered pixels get Fill (a grey level).
/// It folds into the geometric stage's one 2x3 map. Interpolation is bilinear on both paths
/// (torchvision's default is nearest; pass InterpolationMode.BILINEAR there to compare).
template <auto DegreesArg, int Fill = 0>
struct RandomRotation {
  static_assert(std::is_arithmetic_v<decltype(DegreesArg)>, "ftmeta: RandomRotation<Degrees, Fill>: Degrees is a number (10 or 7.5)");
  static constexpr double Degrees = static_cast<double>(DegreesArg);
  static_assert(Degrees >= 0 && Degrees <= 180, "ftmeta: RandomRotation<Degrees, Fill>: Degrees must be in [0, 180]");
  static_assert(Fill >= 0 && Fill <= 255, "ftmeta: RandomRotation<Degrees, Fill>: Fill is a grey level, in [0, 255]");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr double degrees = Degrees;
  static constexpr int fill = Fill;
  using Params = AngleParams;

  static constexpr Params sample(Rng& rng, ImageSize) { return {rng.uniform(-Degrees, Degrees)}; }
  static GeomStep step(Params p, ImageSize in) {
    const double t = p.degrees * 3.14159265358979323846 / 180.0;
    GeomStep s{in, rotation_map(in, std::cos(t), std::sin(t))};
    s.clips = true, s.fill = Fill;
    return s;
  }
  static constexpr std::string name() {
    return detail::cat("RandomRotation(degrees=", detail::real_text(Degrees), ", fill=", detail::int_text(Fill), ")");
  }
};

/// One draw of RandomAffine: torchvision's get_params (angle in degrees, clockwise; translations in
/// whole pixels; shears in degrees).
struct AffineParams {
  double angle = 0;
  int tx = 0, ty = 0;
  double scale = 1;
  double shear_x = 0, shear_y = 0;
};

/// torchvision's _get_inverse_affine_matrix about the centre (cx, cy): the map from output to input
/// pixels of F.affine(angle, translate, scale, shear) on a PIL image (edge coordinates, as PIL's).
inline Affine2D inverse_affine_map(double cx, double cy, const AffineParams& p) {
  constexpr double radians = 3.14159265358979323846 / 180.0;
  const double rot = p.angle * radians, sx = p.shear_x * radians, sy = p.shear_y * radians;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  Affine2D m{d / p.scale, -b / p.scale, 0, -c / p.scale, a / p.scale, 0};
  m.c = m.a * (-cx - p.tx) + m.b * (-cy - p.ty) + cx;
  m.f = m.d * (-cx - p.tx) + m.e * (-cy - p.ty) + cy;
  return m;
}

/// torchvision's RandomAffine(degrees=Degrees, translate=(TranslateX, TranslateY), scale=(ScaleLo,
/// ScaleHi), shear=(-ShearX, ShearX, -ShearY, ShearY), fill=Fill), same size, about the centre: an
/// angle uniform in [-Degrees, Degrees), translations uniform in +-Translate x the size, rounded as
/// Python does, a scale uniform in [ScaleLo, ScaleHi), shears uniform (each range drawn only where it
/// is not empty, in torchvision's order). Uncovered pixels get Fill. It folds into the geometric
/// stage's one 2x3 map. Interpolation is bilinear on both paths (pass InterpolationMode.BILINEAR to
/// torchvision to compare).
template <auto DegreesArg, auto TranslateXArg = 0, auto TranslateYArg = TranslateXArg, auto ScaleLoArg = 1,
          auto ScaleHiArg = 1, auto ShearXArg = 0, auto ShearYArg = 0, int Fill = 0>
struct RandomAffine {
  static_assert(std::is_arithmetic_v<decltype(DegreesArg)> && std::is_arithmetic_v<decltype(TranslateXArg)> &&
                    std::is_arithmetic_v<decltype(TranslateYArg)> && std::is_arithmetic_v<decltype(ScaleLoArg)> &&
                    std::is_arithmetic_v<decltype(ScaleHiArg)> && std::is_arithmetic_v<decltype(ShearXArg)> &&
                    std::is_arithmetic_v<decltype(ShearYArg)>,
                "ftmeta: RandomAffine<Degrees, TranslateX, TranslateY, ScaleLo, ScaleHi, ShearX, ShearY, Fill>: the "
                "ranges are numbers (10 or 0.1)");
  static constexpr double Degrees = static_cast<double>(DegreesArg), TranslateX = static_cast<double>(TranslateXArg),
                          TranslateY = static_cast<double>(TranslateYArg), ScaleLo = static_cast<double>(ScaleLoArg),
                          ScaleHi = static_cast<double>(ScaleHiArg), ShearX = static_cast<double>(ShearXArg),
                          ShearY = static_cast<double>(ShearYArg);
  static_assert(Degrees >= 0 && Degrees <= 180, "ftmeta: RandomAffine<Degrees, ...>: Degrees must be in [0, 180]");
  static_assert(TranslateX >= 0 && TranslateX <= 1 && TranslateY >= 0 && TranslateY <= 1,
                "ftmeta: RandomAffine<Degrees, TranslateX, TranslateY, ...>: translations are fractions of the size, in [0, 1]");
  static_assert(ScaleLo > 0 && ScaleLo <= ScaleHi,
                "ftmeta: RandomAffine<Degrees, TranslateX, TranslateY, ScaleLo, ScaleHi, ...>: need 0 < ScaleLo <= ScaleHi");
  static_assert(ShearX >= 0 && ShearX < 90 && ShearY >= 0 && ShearY < 90,
                "ftmeta: RandomAffine<..., ShearX, ShearY, Fill>: shears are degrees, in [0, 90)");
  static_assert(Fill >= 0 && Fill <= 255, "ftmeta: RandomAffine<..., Fill>: Fill is a grey level, in [0, 255]");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr int fill = Fill;
  using Params = AffineParams;

  static Params sample(Rng& rng, ImageSize in) {
    Params p;
    p.angle = rng.uniform(-Degrees, Degrees);
    if constexpr (TranslateX > 0 || TranslateY > 0) {
      const double max_dx = TranslateX * in.width, max_dy = TranslateY * in.height;
      p.tx = static_cast<int>(round_half_even(rng.uniform(-max_dx, max_dx)));
      p.ty = static_cast<int>(round_half_even(rng.uniform(-max_dy, max_dy)));
    }
    if constexpr (ScaleLo != 1 || ScaleHi != 1) p.scale = rng.uniform(ScaleLo, ScaleHi);
    if constexpr (ShearX > 0 || ShearY > 0) p.shear_x = rng.uniform(-ShearX, ShearX);
    if constexpr (ShearY > 0) p.shear_y = rng.uniform(-ShearY, ShearY);
    return p;
  }
  static GeomStep step(const Params& p, ImageSize in) {
    GeomStep s{in, inverse_affine_map(in.width * 0.5, in.height * 0.5, p)};
    s.clips = true, s.fill = Fill;
    return s;
  }
  static constexpr std::string name() {
    return detail::cat("RandomAffine(degrees=", detail::real_text(Degrees), ", translate=(", detail::real_text(TranslateX),
                       ", ", detail::real_text(TranslateY), "), scale=(", detail::real_text(ScaleLo), ", ",
                       detail::real_text(ScaleHi), "), shear=(", detail::real_text(ShearX), ", ",
                       detail::real_text(ShearY), "), fill=", detail::int_text(Fill), ")");
  }
};

}  // namespace ftmeta::transforms
