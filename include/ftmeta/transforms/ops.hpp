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

/// torchvision's RandomResizedCrop (scale (0.08, 1), ratio (3/4, 4/3), bilinear): a random box,
/// resized to H x W.
template <int H, int W = H>
struct RandomResizedCrop {
  static_assert(H > 0 && W > 0, "ftmeta: RandomResizedCrop<H, W>: sizes must be positive");
  static constexpr OpKind kind = OpKind::geometric;
  static constexpr SizeRule size_rule = SizeRule::fixed;
  static constexpr ImageSize out_size{H, W};
  static constexpr double scale_lo = 0.08, scale_hi = 1.0, ratio_lo = 3.0 / 4.0, ratio_hi = 4.0 / 3.0;
  using Params = CropBox;

  static Params sample(Rng& rng, ImageSize in) {
    return sample_resized_crop_box(rng, in, scale_lo, scale_hi, ratio_lo, ratio_hi);
  }
  static constexpr GeomStep step(const Params& box, ImageSize) {
    return {out_size, Affine2D::scale_offset(double(box.width) / W, box.left, double(box.height) / H, box.top)};
  }
  static constexpr std::string name() {
    return detail::cat("RandomResizedCrop(", detail::int_text(H), detail::int_text_if(H != W, ", ", W),
                       ", scale=(0.08, 1), ratio=(3/4, 4/3))");
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

// --- pixel ops --------------------------------------------------------------------------------

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
