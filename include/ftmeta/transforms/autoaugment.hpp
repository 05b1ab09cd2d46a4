// ftmeta/transforms/autoaugment.hpp: TrivialAugmentWide and RandAugment: the op table, magnitude bins, sampling.
// ftmeta:pure
// The op tag and what it draws; the kernels (PIL's arithmetic on uint8 images) are in
// kernels/pil.hpp. torchvision's semantics (v1 transforms.TrivialAugmentWide on PIL images,
// InterpolationMode.NEAREST): one of 14 ops uniformly, a magnitude bin uniformly for the ops that have
// bins, the sign flipped with probability 0.5 for the signed ones. RandAugment (v1 transforms.RandAugment)
// draws NumOps ops the same way at one fixed bin, on its own (narrower) ranges.
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/transforms/detail/text.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/traits.hpp>

#include <array>
#include <string>

namespace ftmeta::transforms {

/// The ops of torchvision's augmentation space, in its order (op index = torch.randint(14)).
enum class AutoAugmentOp : unsigned char {
  identity, shear_x, shear_y, translate_x, translate_y, rotate, brightness, color, contrast, sharpness,
  posterize, solarize, auto_contrast, equalize,
};
inline constexpr int auto_augment_op_count = 14;

/// torchvision's name of an op ("ShearX").
constexpr const char* op_name(AutoAugmentOp op) {
  constexpr const char* names[] = {"Identity",   "ShearX", "ShearY",    "TranslateX", "TranslateY",
                                   "Rotate",     "Brightness", "Color", "Contrast",   "Sharpness",
                                   "Posterize",  "Solarize", "AutoContrast", "Equalize"};
  return names[static_cast<int>(op)];
}
/// Whether the op has magnitude bins (torchvision: a 1-D magnitudes tensor); Identity, AutoContrast
/// and Equalize have none and draw no bin.
constexpr bool has_bins(AutoAugmentOp op) {
  return op != AutoAugmentOp::identity && op != AutoAugmentOp::auto_contrast && op != AutoAugmentOp::equalize;
}
/// Whether the magnitude's sign is drawn (torchvision's `signed`).
constexpr bool is_signed(AutoAugmentOp op) {
  return has_bins(op) && op != AutoAugmentOp::posterize && op != AutoAugmentOp::solarize;
}

/// torch.linspace(start, end, n)[i] in float32 as the CPU kernel computes it: a float step, the first
/// half from the start, the second from the end, each a fused multiply-add (one rounding; the product
/// is exact in double, so the double sum rounded to float gives the same value).
constexpr float linspace_at(float start, float end, int n, int i) {
  const float step = (end - start) / static_cast<float>(n - 1);
  if (i < n / 2) return static_cast<float>(static_cast<double>(start) + static_cast<double>(step) * i);
  return static_cast<float>(static_cast<double>(end) - static_cast<double>(step) * (n - 1 - i));
}

/// TrivialAugmentWide's magnitude of bin `bin` of `op` with `bins` bins (unsigned; 0 for ops without bins):
/// ShearX/Y, Brightness, Color, Contrast, Sharpness linspace(0, 0.99); TranslateX/Y linspace(0, 32) pixels;
/// Rotate linspace(0, 135) degrees; Posterize 8 - round(i / ((bins - 1) / 6)) bits; Solarize linspace(255, 0).
constexpr double wide_magnitude(AutoAugmentOp op, int bin, int bins) {
  switch (op) {
    case AutoAugmentOp::shear_x: case AutoAugmentOp::shear_y: case AutoAugmentOp::brightness:
    case AutoAugmentOp::color: case AutoAugmentOp::contrast: case AutoAugmentOp::sharpness:
      return linspace_at(0.0f, 0.99f, bins, bin);
    case AutoAugmentOp::translate_x: case AutoAugmentOp::translate_y: return linspace_at(0.0f, 32.0f, bins, bin);
    case AutoAugmentOp::rotate: return linspace_at(0.0f, 135.0f, bins, bin);
    case AutoAugmentOp::posterize: {
      // float32 division, then torch.round (half to even), then int
      const float q = static_cast<float>(bin) / static_cast<float>((bins - 1) / 6.0);
      return 8 - static_cast<int>(round_half_even(q));
    }
    case AutoAugmentOp::solarize: return linspace_at(255.0f, 0.0f, bins, bin);
    default: return 0.0;
  }
}

/// RandAugment's magnitude of bin `bin` of `op` with `bins` bins on an image of `size` (unsigned): ShearX/Y
/// linspace(0, 0.3); TranslateX/Y linspace(0, 150 / 331 * width or height) pixels; Rotate linspace(0, 30);
/// Brightness, Color, Contrast, Sharpness linspace(0, 0.9); Posterize 8 - round(i / ((bins - 1) / 4));
/// Solarize linspace(255, 0).
constexpr double rand_magnitude(AutoAugmentOp op, int bin, int bins, ImageSize size) {
  switch (op) {
    case AutoAugmentOp::shear_x: case AutoAugmentOp::shear_y: return linspace_at(0.0f, 0.3f, bins, bin);
    case AutoAugmentOp::translate_x:
      return linspace_at(0.0f, static_cast<float>(150.0 / 331.0 * size.width), bins, bin);
    case AutoAugmentOp::translate_y:
      return linspace_at(0.0f, static_cast<float>(150.0 / 331.0 * size.height), bins, bin);
    case AutoAugmentOp::rotate: return linspace_at(0.0f, 30.0f, bins, bin);
    case AutoAugmentOp::brightness: case AutoAugmentOp::color: case AutoAugmentOp::contrast:
    case AutoAugmentOp::sharpness:
      return linspace_at(0.0f, 0.9f, bins, bin);
    case AutoAugmentOp::posterize: {
      const float q = static_cast<float>(bin) / static_cast<float>((bins - 1) / 4.0);
      return 8 - static_cast<int>(round_half_even(q));
    }
    case AutoAugmentOp::solarize: return linspace_at(255.0f, 0.0f, bins, bin);
    default: return 0.0;
  }
}

/// One draw of an auto-augmentation op: which op, which bin, and whether the magnitude is negated.
struct AutoAugmentDraw {
  AutoAugmentOp op = AutoAugmentOp::identity;
  int bin = 0;
  bool negative = false;
  constexpr bool operator==(const AutoAugmentDraw&) const = default;
};

/// TrivialAugmentWide's forward, as torchvision draws it: op = randint(14); bin = randint(bins) if the op
/// has bins; negated if signed and randint(2) (here: from the caller's Rng).
constexpr AutoAugmentDraw sample_trivial_augment(Rng& rng, int bins) {
  AutoAugmentDraw d;
  d.op = static_cast<AutoAugmentOp>(rng.integer(0, auto_augment_op_count - 1));
  if (has_bins(d.op)) d.bin = static_cast<int>(rng.integer(0, bins - 1));
  if (is_signed(d.op)) d.negative = rng.integer(0, 1) == 1;
  return d;
}

/// torchvision's TrivialAugmentWide(num_magnitude_bins=NumBins, interpolation=NEAREST, fill=Fill) on
/// uint8 images: one of Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, Brightness, Color,
/// Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize with a uniform magnitude bin, applied
/// with PIL's arithmetic (nearest-neighbour geometry; uncovered pixels get Fill, a grey level).
/// An image op: before ToTensor; fused, it runs as its own pass on the uint8 image after the resample.
///   struct Aug : Compose<RandomResizedCrop<224>, HFlip, TrivialAugmentWide<>, ToTensor, Normalize<>> {};
template <int NumBins = 31, int Fill = 0>
struct TrivialAugmentWide {
  static_assert(NumBins >= 2, "ftmeta: TrivialAugmentWide<NumBins, Fill>: NumBins must be at least 2");
  static_assert(Fill >= 0 && Fill <= 255, "ftmeta: TrivialAugmentWide<NumBins, Fill>: Fill is a grey level, in [0, 255]");
  static constexpr OpKind kind = OpKind::image;
  static constexpr bool pointwise = false;
  static constexpr int num_bins = NumBins;
  static constexpr int fill = Fill;
  using Params = AutoAugmentDraw;

  static constexpr Params sample(Rng& rng, ImageSize = {}) { return sample_trivial_augment(rng, NumBins); }
  /// The signed magnitude of a draw, as torchvision passes it to _apply_op.
  static constexpr double magnitude(const Params& d) {
    const double m = wide_magnitude(d.op, d.bin, NumBins);
    return d.negative ? -m : m;
  }
  static constexpr std::string name() {
    return detail::cat("TrivialAugmentWide(num_magnitude_bins=", detail::int_text(NumBins),
                       ", interpolation=nearest, fill=", detail::int_text(Fill), ")");
  }
};

/// RandAugment's draws: NumOps ops, each with its sign (the bin is the fixed Magnitude).
template <int NumOps>
struct RandAugmentDraws {
  std::array<AutoAugmentDraw, NumOps> ops{};
  constexpr bool operator==(const RandAugmentDraws&) const = default;
};

/// torchvision's RandAugment(num_ops=NumOps, magnitude=Magnitude, num_magnitude_bins=NumBins,
/// interpolation=NEAREST, fill=Fill) on uint8 images: NumOps times, one of the same 14 ops uniformly at
/// bin Magnitude of its RandAugment range (the translations scale with the image), the sign flipped with
/// probability 0.5 for signed ops; applied in turn with PIL's arithmetic. An image op, like TrivialAugmentWide.
template <int NumOps = 2, int Magnitude = 9, int NumBins = 31, int Fill = 0>
struct RandAugment {
  static_assert(NumOps >= 1, "ftmeta: RandAugment<NumOps, Magnitude, NumBins, Fill>: NumOps must be at least 1");
  static_assert(NumBins >= 2 && Magnitude >= 0 && Magnitude < NumBins,
                "ftmeta: RandAugment<NumOps, Magnitude, NumBins, Fill>: need NumBins >= 2 and 0 <= Magnitude < NumBins");
  static_assert(Fill >= 0 && Fill <= 255, "ftmeta: RandAugment<NumOps, Magnitude, NumBins, Fill>: Fill is a grey level, in [0, 255]");
  static constexpr OpKind kind = OpKind::image;
  static constexpr bool pointwise = false;
  static constexpr int num_ops = NumOps, magnitude_bin = Magnitude, num_bins = NumBins, fill = Fill;
  using Params = RandAugmentDraws<NumOps>;

  static constexpr Params sample(Rng& rng, ImageSize = {}) {
    Params p;
    for (auto& d : p.ops) {
      d.op = static_cast<AutoAugmentOp>(rng.integer(0, auto_augment_op_count - 1));
      d.bin = has_bins(d.op) ? Magnitude : 0;
      if (is_signed(d.op)) d.negative = rng.integer(0, 1) == 1;
    }
    return p;
  }
  /// The signed magnitude of one draw on an image of `size`, as torchvision passes it to _apply_op.
  static constexpr double magnitude(const AutoAugmentDraw& d, ImageSize size) {
    const double m = has_bins(d.op) ? rand_magnitude(d.op, d.bin, NumBins, size) : 0.0;
    return d.negative ? -m : m;
  }
  static constexpr std::string name() {
    return detail::cat("RandAugment(num_ops=", detail::int_text(NumOps), ", magnitude=", detail::int_text(Magnitude),
                       ", num_magnitude_bins=", detail::int_text(NumBins), ", interpolation=nearest, fill=",
                       detail::int_text(Fill), ")");
  }
};

}  // namespace ftmeta::transforms
