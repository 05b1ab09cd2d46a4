// ftmeta/transforms/ops.hpp: the transform ops as empty tag types, with their traits and parameter sampling.
// ftmeta:pure
// Ops carry no work: each states its traits (see traits.hpp), how it samples its random parameters from
// an ftmeta::Rng, and (geometric ops) the size and 2x3 map of its output. The kernels live in execute.hpp.
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/transforms/detail/text.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/traits.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
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

/// torchvision's Pad(padding=(Left, Top, Right, Bottom)) with fill 0 (padding_mode "constant"):
/// `Pad<4>` adds 4 pixels on every side. The output size depends on the input.
template <int Left, int Top = Left, int Right = Left, int Bottom = Top>
struct Pad {
  static_assert(Left >= 0 && Top >= 0 && Right >= 0 && Bottom >= 0,
                "ftmeta: Pad<Left, Top, Right, Bottom>: paddings must be >= 0");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr SizeRule size_rule = SizeRule::data_dependent;
  using Params = NoParams;

  static constexpr Params sample(Rng&, ImageSize) { return {}; }
  static constexpr GeomStep step(Params, ImageSize in) {
    return {{in.height + Top + Bottom, in.width + Left + Right}, Affine2D::scale_offset(1, -Left, 1, -Top)};
  }
  static constexpr std::string name() {
    return detail::cat("Pad(", detail::int_text(Left), ", ", detail::int_text(Top), ", ", detail::int_text(Right), ", ",
                       detail::int_text(Bottom), ")");
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

// --- pixel ops --------------------------------------------------------------------------------

/// The order and factors of one ColorJitter draw (a factor is 0 where its range is empty: not applied).
struct JitterParams {
  int order[4] = {0, 1, 2, 3};  // 0 brightness, 1 contrast, 2 saturation, 3 hue
  double brightness = 0, contrast = 0, saturation = 0, hue = 0;
};

/// A uniformly random permutation of 0..n-1 (what torch.randperm gives), from our Rng (Fisher-Yates).
constexpr void random_permutation(Rng& rng, int* out, int n) {
  for (int i = 0; i < n; ++i) out[i] = i;
  for (int i = n - 1; i > 0; --i) std::swap(out[i], out[rng.integer(0, i)]);
}

/// The uint8 shift torchvision adds to PIL's hue plane: np.int32(hue * 255) wrapped to uint8.
constexpr int hue_shift_of(double hue) { return static_cast<int>(static_cast<long long>(hue * 255) & 255); }

/// torchvision's ColorJitter(brightness=B, contrast=C, saturation=S, hue=H) with its semantics on PIL
/// images: factors uniform in [max(0, 1 - x), 1 + x) (hue in [-H, H)), applied in a random order
/// (torch.randperm(4)); brightness blends with black, contrast with the rounded mean of the grey image,
/// saturation with each pixel's grey, hue shifts PIL's 8-bit HSV hue. Every step rounds to uint8 as PIL.
/// It runs inside the single pixel pass (contrast needs the image mean: one extra read when it is not first).
template <auto BArg = 0, auto CArg = 0, auto SArg = 0, auto HArg = 0>
struct ColorJitter {
  static_assert(std::is_arithmetic_v<decltype(BArg)> && std::is_arithmetic_v<decltype(CArg)> &&
                    std::is_arithmetic_v<decltype(SArg)> && std::is_arithmetic_v<decltype(HArg)>,
                "ftmeta: ColorJitter<B, C, S, H>: the four ranges are numbers (0.4 or 0)");
  static constexpr double B = static_cast<double>(BArg), C = static_cast<double>(CArg), S = static_cast<double>(SArg),
                          H = static_cast<double>(HArg);
  static_assert(B >= 0 && C >= 0 && S >= 0,
                "ftmeta: ColorJitter<B, C, S, H>: brightness, contrast and saturation must be >= 0");
  static_assert(H >= 0 && H <= 0.5, "ftmeta: ColorJitter<B, C, S, H>: hue must be in [0, 0.5]");
  static constexpr OpKind kind = OpKind::photometric;
  static constexpr int max_steps = 4;
  using Params = JitterParams;

  static constexpr Params sample(Rng& rng, ImageSize = {}) {
    Params p;
    random_permutation(rng, p.order, 4);
    if constexpr (B > 0) p.brightness = rng.uniform(B < 1 ? 1 - B : 0, 1 + B);
    if constexpr (C > 0) p.contrast = rng.uniform(C < 1 ? 1 - C : 0, 1 + C);
    if constexpr (S > 0) p.saturation = rng.uniform(S < 1 ? 1 - S : 0, 1 + S);
    if constexpr (H > 0) p.hue = rng.uniform(-H, H);
    return p;
  }
  static constexpr void steps(const Params& p, PixelProgram& program) {
    for (int k : p.order) {
      if (k == 0 && B > 0) program.push({PixelStep::Kind::brightness, p.brightness, 0});
      if (k == 1 && C > 0) program.push({PixelStep::Kind::contrast, p.contrast, 0});
      if (k == 2 && S > 0) program.push({PixelStep::Kind::saturation, p.saturation, 0});
      if (k == 3 && H > 0) program.push({PixelStep::Kind::hue, p.hue, hue_shift_of(p.hue)});
    }
  }
  static constexpr std::string name() {
    return detail::cat("ColorJitter(brightness=", detail::real_text(B), ", contrast=", detail::real_text(C),
                       ", saturation=", detail::real_text(S), ", hue=", detail::real_text(H), ")");
  }
};

/// Whether RandomGrayscale turns this image grey.
struct GrayParams {
  bool gray = false;
};

/// torchvision's RandomGrayscale(p=P): with probability P, the image becomes its grey (PIL's
/// convert("L"), ITU-R 601-2 luma) in all three channels. Runs inside the single pixel pass.
template <double P = 0.1>
struct RandomGrayscale {
  static_assert(P >= 0.0 && P <= 1.0, "ftmeta: RandomGrayscale<P>: P is a probability, in [0, 1]");
  static constexpr OpKind kind = OpKind::photometric;
  static constexpr int max_steps = 1;
  using Params = GrayParams;

  static constexpr Params sample(Rng& rng, ImageSize = {}) { return {rng.bernoulli(P)}; }
  static constexpr void steps(const Params& p, PixelProgram& program) {
    if (p.gray) program.push({PixelStep::Kind::grayscale, 1, 0});
  }
  static constexpr std::string name() { return detail::cat("RandomGrayscale(p=", detail::real_text(P), ")"); }
};

/// torchvision's ToTensor: uint8 HWC RGB image -> float32 CHW in [0, 1].
struct ToTensor {
  static constexpr OpKind kind = OpKind::to_tensor;
  using Params = NoParams;
  static constexpr ChannelAffine affine() { return {{1 / 255.0, 1 / 255.0, 1 / 255.0}, {0, 0, 0}}; }
  static constexpr std::string name() { return "ToTensor"; }
};

/// The ImageNet channel statistics (RGB), the usual Normalize preset.
struct ImageNet {
  static constexpr double mean[3] = {0.485, 0.456, 0.406};
  static constexpr double std[3] = {0.229, 0.224, 0.225};
};

/// Channel statistics for Normalize: `static constexpr double mean[3], std[3]` (RGB order), std > 0.
template <class S>
concept NormalizeStats = requires {
  { S::mean[0] } -> std::convertible_to<double>;
  { S::std[0] } -> std::convertible_to<double>;
} && std::size(S::mean) == 3 && std::size(S::std) == 3;

/// torchvision's Normalize: (x - mean) / std per channel, on the float tensor.
/// `Normalize<>` uses ImageNet; a user's own stats are a struct like ImageNet.
template <class Stats = ImageNet>
struct Normalize {
  static_assert(NormalizeStats<Stats>,
                "ftmeta: Normalize<Stats>: Stats needs `static constexpr double mean[3], std[3];` (RGB), like ImageNet");
  static_assert([] {
    if constexpr (NormalizeStats<Stats>) return Stats::std[0] > 0 && Stats::std[1] > 0 && Stats::std[2] > 0;
    else return true;
  }(), "ftmeta: Normalize<Stats>: every value of Stats::std must be positive");
  static constexpr OpKind kind = OpKind::tensor;
  static constexpr bool pointwise = true;
  using Params = NoParams;
  using stats = Stats;

  static constexpr ChannelAffine affine() {
    ChannelAffine r;
    for (int c = 0; c < 3; ++c) {
      r.scale[c] = 1.0 / Stats::std[c];
      r.bias[c] = -Stats::mean[c] / Stats::std[c];
    }
    return r;
  }
  static constexpr std::string name() { return detail::cat("Normalize(", detail::type_name<Stats>(), ")"); }
};

}  // namespace ftmeta::transforms
