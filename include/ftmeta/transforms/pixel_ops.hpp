// ftmeta/transforms/pixel_ops.hpp: the pixel ops as tags: photometric (ColorJitter, RandomGrayscale, GaussianBlur), ToTensor, tensor ops.
// ftmeta:pure
// Each states its traits (see traits.hpp) and how it samples its random parameters from an ftmeta::Rng;
// photometric ops add their per-pixel steps to a PixelProgram, ToTensor and Normalize their per-channel
// multiply-add. The kernels live in kernels/.
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

#include <ftmeta/transforms/geometric_ops.hpp>

namespace ftmeta::transforms {

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
/// It runs inside the single pixel pass (contrast needs the image mean: one extra read when it is not first);
/// placed before every geometric op, the fused kernel runs it as one pass over the source image instead.
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

/// The sigma of one GaussianBlur draw.
struct BlurParams {
  double sigma = 1;
};

/// torchvision's GaussianBlur(kernel_size=Kernel, sigma=(SigmaLo, SigmaHi)): sigma uniform in [SigmaLo,
/// SigmaHi), torchvision's separable kernel (a sampled Gaussian, normalized), reflected borders (as its
/// tensor blur pads), rounded to uint8. It looks at neighbours, so it is not pointwise: in the fused path
/// it is a pass of its own over the resampled uint8 image, between the photometric steps around it.
template <int Kernel, double SigmaLo = 0.1, double SigmaHi = 2.0>
struct GaussianBlur {
  static_assert(Kernel > 0 && Kernel % 2 == 1, "ftmeta: GaussianBlur<Kernel, SigmaLo, SigmaHi>: Kernel must be odd and positive");
  static_assert(SigmaLo > 0 && SigmaLo <= SigmaHi, "ftmeta: GaussianBlur<Kernel, SigmaLo, SigmaHi>: need 0 < SigmaLo <= SigmaHi");
  static constexpr OpKind kind = OpKind::photometric;
  static constexpr bool pointwise = false;
  static constexpr int kernel = Kernel;
  using Params = BlurParams;

  static constexpr Params sample(Rng& rng, ImageSize = {}) { return {rng.uniform(SigmaLo, SigmaHi)}; }
  static constexpr void steps(const Params& p, PixelProgram& program) { program.push_blur(Kernel, p.sigma); }
  static constexpr std::string name() {
    return detail::cat("GaussianBlur(kernel_size=", detail::int_text(Kernel), ", sigma=(", detail::real_text(SigmaLo), ", ",
                       detail::real_text(SigmaHi), "))");
  }
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

/// RandomErasing's Value for torchvision's value='random': standard normal noise per erased value.
struct RandomNoise {};
inline constexpr RandomNoise random_noise{};

/// One RandomErasing draw: whether it erases and the box (rows [top, top + height), columns [left,
/// left + width)); noise_seed seeds the noise of value 'random'.
struct EraseParams {
  bool erase = false;
  int top = 0, left = 0, height = 0, width = 0;
  std::uint64_t noise_seed = 0;
};

/// torchvision's RandomErasing.get_params: ten tries of an area fraction uniform in [scale_lo, scale_hi)
/// and an aspect log-uniform in [ratio_lo, ratio_hi), h = round(sqrt(area * aspect)), w = round(sqrt(area
/// / aspect)), kept when h < height and w < width, then a uniform top-left; after ten misses, nothing.
inline EraseParams sample_erase_box(Rng& rng, ImageSize in, double scale_lo, double scale_hi, double ratio_lo,
                                    double ratio_hi, bool noise) {
  const double area = double(in.height) * double(in.width);
  const double log_lo = std::log(ratio_lo), log_hi = std::log(ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * rng.uniform(scale_lo, scale_hi);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const auto h = round_half_even(std::sqrt(erase_area * aspect));
    const auto w = round_half_even(std::sqrt(erase_area / aspect));
    if (!(h < in.height && w < in.width)) continue;
    EraseParams p{true, 0, 0, int(h), int(w), 0};
    if (noise) p.noise_seed = rng();
    p.top = int(rng.integer(0, in.height - h));
    p.left = int(rng.integer(0, in.width - w));
    return p;
  }
  return {};
}

/// torchvision's RandomErasing(p=P, scale=(ScaleLo, ScaleHi), ratio=(RatioLo, RatioHi), value=Value) on
/// the float tensor (after ToTensor and Normalize): with probability P a random box gets Value (a number,
/// in the units of the tensor at that point), or standard normal noise with `random_noise`. The fused path
/// erases the caller's output in place after the pixel pass.
template <double P = 0.5, double ScaleLo = 0.02, double ScaleHi = 0.33, double RatioLo = 0.3, double RatioHi = 3.3,
          auto Value = 0>
struct RandomErasing {
  static constexpr bool random = std::is_same_v<std::remove_cv_t<decltype(Value)>, RandomNoise>;
  static_assert(random || std::is_arithmetic_v<decltype(Value)>,
                "ftmeta: RandomErasing<P, ScaleLo, ScaleHi, RatioLo, RatioHi, Value>: Value is a number or random_noise");
  static_assert(P >= 0.0 && P <= 1.0, "ftmeta: RandomErasing<P, ...>: P is a probability, in [0, 1]");
  static_assert(0 < ScaleLo && ScaleLo <= ScaleHi && ScaleHi <= 1,
                "ftmeta: RandomErasing<P, ScaleLo, ScaleHi, ...>: need 0 < ScaleLo <= ScaleHi <= 1");
  static_assert(0 < RatioLo && RatioLo <= RatioHi,
                "ftmeta: RandomErasing<P, ScaleLo, ScaleHi, RatioLo, RatioHi, ...>: need 0 < RatioLo <= RatioHi");
  static constexpr OpKind kind = OpKind::tensor;
  static constexpr bool pointwise = false;
  static constexpr double value = [] {
    if constexpr (random) return 0.0;
    else return static_cast<double>(Value);
  }();
  using Params = EraseParams;

  static Params sample(Rng& rng, ImageSize in) {
    if (!rng.bernoulli(P)) return {};
    return sample_erase_box(rng, in, ScaleLo, ScaleHi, RatioLo, RatioHi, random);
  }
  static constexpr std::string name() {
    std::string text = detail::cat("RandomErasing(p=", detail::real_text(P), ", scale=(", detail::real_text(ScaleLo), ", ",
                                   detail::real_text(ScaleHi), "), ratio=(", detail::real_text(RatioLo), ", ",
                                   detail::real_text(RatioHi), "), value=");
    if constexpr (random) text.append("random)");
    else text.append(detail::cat(detail::real_text(value), ")"));
    return text;
  }
};

}  // namespace ftmeta::transforms
