// ftmeta/transforms/apply.hpp: apply, apply_into, normalize_uint8: a pipeline's plan run by the fused kernels.
// The fused path: one resample for the geometric stage (a view, PIL's antialiased resample of a box made
// row by row for the pixel pass, or one warp),
// then one pass that runs the photometric steps (ColorJitter, RandomGrayscale) on each row and writes
// float32 RGB CHW (or uint8) straight into the caller's tensor. Where the plan needs them: the source
// padded first (Pad/RandomCrop with edge/reflect/symmetric padding), a blur pass between the photometric
// steps (GaussianBlur), whole-image ops on the resampled image (TrivialAugmentWide, RandAugment),
// RandomErasing in place on the finished output. The order those need is checked where the Compose is
// declared (plan.hpp); the unfused reference path (reference.hpp) samples the same parameters.
// Thread-safe: no shared state; per call, OpenCV temporaries and one row buffer; cv::setNumThreads is
// the caller's.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/transforms/compose.hpp>
#include <ftmeta/transforms/detail/checks.hpp>
#include <ftmeta/transforms/kernels/neighbourhood.hpp>
#include <ftmeta/transforms/kernels/pil.hpp>
#include <ftmeta/transforms/kernels/pixel_pass.hpp>
#include <ftmeta/transforms/kernels/resample.hpp>
#include <ftmeta/transforms/plan.hpp>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <vector>

namespace ftmeta::transforms {

namespace detail {

/// The resampled output of a geometric stage as an 8-bit BGR image (flips, padding and fill applied).
inline cv::Mat materialize(const Resampled& r) {
  cv::Mat bgr(r.out.height, r.out.width, CV_8UC3);
  std::vector<std::uint8_t> row(std::size_t(3) * std::size_t(r.out.width));
  for (int y = 0; y < r.out.height; ++y) {
    gather_row(r, y, row.data());
    std::uint8_t* q = bgr.ptr<std::uint8_t>(y);
    for (int x = 0; x < r.out.width; ++x, q += 3) q[0] = row[3 * x + 2], q[1] = row[3 * x + 1], q[2] = row[3 * x];
  }
  return bgr;
}

/// The fused path's image stage: materializes the resampled image, runs each op on it, and hands the
/// result to the pixel pass as an identity resample.
template <class... Ops>
Resampled run_image_stage(ImageStage<Ops...>, const typename ImageStage<Ops...>::Params& params, const Resampled& r) {
  cv::Mat image = materialize(r);
  std::apply([&](const auto&... each) { (run_image_op(Ops{}, each, image), ...); }, params.ops);
  Resampled done;
  done.image = image;
  done.window = cv::Rect(0, 0, image.cols, image.rows);
  done.out = {image.rows, image.cols};
  return done;
}

/// The photometric steps (and blurs) of `program` on a whole 8-bit image: a BGR image of the same size.
inline cv::Mat source_pixel_pass(const cv::Mat& image, const PixelProgram& program) {
  const int W = image.cols, H = image.rows;
  const std::size_t plane = std::size_t(W) * std::size_t(H);
  Resampled whole;
  whole.image = image;
  whole.window = cv::Rect(0, 0, W, H);
  whole.out = {H, W};
  std::vector<std::uint8_t> planes(3 * plane);
  if (program.blur_count > 0) pixel_pass_with_blurs(whole, program, ChannelAffine{}, planes.data());
  else pixel_pass(whole, program, ChannelAffine{}, planes.data());
  cv::Mat bgr;
  cv::merge(std::vector<cv::Mat>{cv::Mat(H, W, CV_8U, planes.data() + 2 * plane), cv::Mat(H, W, CV_8U, planes.data() + plane),
                                 cv::Mat(H, W, CV_8U, planes.data())},
            bgr);
  return bgr;
}

/// The draws of a TensorStage's ops (each a RandomErasing-like op: `Params` is EraseParams).
template <class Stage>
struct tensor_draws;
template <class... E>
struct tensor_draws<TensorStage<E...>> {
  std::array<EraseParams, sizeof...(E)> params{};
  void sample(Rng& rng, ImageSize size) {
    std::size_t i = 0;
    ((params[i++] = E::sample(rng, size)), ...);
  }
  void run(float* chw, ImageSize size) const {
    std::size_t i = 0;
    ((erase_box(chw, 3, size, params[i++], E::random, E::value)), ...);
  }
};

/// What one sample draws: the folded geometric step and the photometric steps.
struct Sampled {
  GeomStep step;
  PixelProgram pixels;
};

template <class P>
struct kernels {
  using parts = plan_parts<plan_t<P>>;
  // The order rules were checked where P's Compose was declared (detail::FusedOrder, plan.hpp).
  static_assert(decltype(fused_order_of(typename P::ops{}))::ok);
  using SourcePadding = decltype(source_padding_of(typename P::ops{}));
  using Erasing = tensor_draws<typename parts::tensor>;
  static constexpr bool erases = meta::size_v<typename parts::tensor::ops> > 0;

  using Source = typename parts::source;
  static constexpr bool source_pass = meta::size_v<typename Source::ops> > 0;

  struct Draw : Sampled {
    PixelProgram source;
    Erasing erasing;
    typename parts::image::Params image;
  };

  static Draw sample(Rng& rng, ImageSize in) {
    Draw s;
    if constexpr (source_pass) s.source = Source::sample(rng);
    s.step = parts::geometric::sample(rng, in);
    s.image = parts::image::sample(rng);
    s.pixels = parts::pixel::sample(rng);
    if constexpr (erases) s.erasing.sample(rng, s.step.out);
    return s;
  }

  // `out` has been checked: [3, H, W] contiguous CPU, float32 or uint8.
  static void run(const cv::Mat& input, const Draw& s, torch::Tensor& out) {
    cv::Mat image = input;
    if constexpr (source_pass) image = source_pixel_pass(input, s.source);
    Resampled r;
    if constexpr (!std::is_void_v<typename SourcePadding::first>) {  // pad the source, shift the map onto it
      using First = typename SourcePadding::first;
      const Border b = First::border({image.rows, image.cols});
      GeomStep step = s.step;
      step.map.c += b.left, step.map.f += b.top;
      r = resample(pad_image(image, b, First::padding_mode, 0), step);
    } else {
      r = resample(image, s.step);
    }
    if constexpr (parts::image::size > 0) r = run_image_stage(typename parts::image{}, s.image, r);
    constexpr ChannelAffine f = parts::pixel::affine();
    if (out.scalar_type() == torch::kUInt8) {
      if constexpr (erases)
        throw Error(api_name<P>("apply") + ": RandomErasing works on the float tensor; uint8 output (the pixels "
                    "before ToTensor) cannot hold it: ask for float32");
      if (s.pixels.blur_count > 0) pixel_pass_with_blurs(r, s.pixels, f, out.data_ptr<std::uint8_t>());
      else pixel_pass(r, s.pixels, f, out.data_ptr<std::uint8_t>());
    } else {
      if (s.pixels.blur_count > 0) pixel_pass_with_blurs(r, s.pixels, f, out.data_ptr<float>());
      else pixel_pass(r, s.pixels, f, out.data_ptr<float>());
      if constexpr (erases) s.erasing.run(out.data_ptr<float>(), s.step.out);
    }
  }
};

}  // namespace detail

/// Runs pipeline P on one image, fused, into the caller's tensor (e.g. `batch[i]`), from worker threads.
/// image: 8-bit gray, BGR or BGRA (as cv::imread gives; gray is replicated, alpha dropped).
/// out: contiguous CPU [3, P::out_height, P::out_width], float32 (the full pipeline) or uint8 (the
/// pixels before ToTensor; finish them on the GPU with normalize_uint8<P>).
///   struct TrainAug : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>> {};
///   auto rng = ftmeta::Rng::for_sample(seed, epoch, index);
///   apply_into<TrainAug>(cv::imread(path), rng, batch[i]);
template <class P>
void apply_into(const cv::Mat& image, Rng& rng, torch::Tensor out) {
  static_assert(Pipeline<P>, "ftmeta: apply_into<P>: P must be a Compose<...> or a struct derived from one");
  static_assert(P::fixed_size,
                "ftmeta: apply_into<P>: P's ops do not fix the output size (Resize<S> keeps the aspect ratio); "
                "end P with CenterCrop or RandomResizedCrop, or use apply<P>, which allocates");
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError(detail::api_name<P>("apply_into") + ": " + problem);
  if (auto problem = detail::out_problem(out, {P::out_height, P::out_width}); !problem.empty())
    throw Error(detail::api_name<P>("apply_into") + ": " + problem);
  const auto sampled = detail::kernels<P>::sample(rng, {image.rows, image.cols});
  detail::kernels<P>::run(image, sampled, out);
}

/// Runs pipeline P on one image, fused, into a new [3, H, W] tensor (float32, or uint8 for the pixels
/// before ToTensor). Works for every pipeline, including those whose output size depends on the input.
template <class P>
torch::Tensor apply(const cv::Mat& image, Rng& rng, torch::Dtype dtype = torch::kFloat32) {
  static_assert(Pipeline<P>, "ftmeta: apply<P>: P must be a Compose<...> or a struct derived from one");
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError(detail::api_name<P>("apply") + ": " + problem);
  if (dtype != torch::kFloat32 && dtype != torch::kUInt8)
    throw Error(detail::api_name<P>("apply") + ": dtype must be float32 or uint8");
  const auto sampled = detail::kernels<P>::sample(rng, {image.rows, image.cols});
  auto out = torch::empty({3, sampled.step.out.height, sampled.step.out.width}, torch::TensorOptions().dtype(dtype));
  detail::kernels<P>::run(image, sampled, out);
  return out;
}

/// One sample of pipeline P drawn before its image is decoded (region decoding: data/pipeline_loader.hpp):
/// the draws apply_into makes for an image of size `in`, the source rectangle they read, and the run on
/// that rectangle alone. With a part decoded at full scale, the pixels are apply_into's (tested).
///   PlannedSample<TrainAug> s(rng, {height, width});      // the same draws as apply_into
///   const SourceRegion need = s.region(2);                 // decode only this...
///   s.run_into(part, need.x, need.y, 1, batch[i]);         // ...and run on it
template <class P>
class PlannedSample {
  static_assert(Pipeline<P>, "ftmeta: PlannedSample<P>: P must be a Compose<...> or a struct derived from one");
  using K = detail::kernels<P>;

 public:
  /// Whether the plan reads only part of the source. Not where photometric ops come before the geometric
  /// ones (contrast's mean is the whole source's) or the source is padded by reflection: they need it whole.
  static constexpr bool reads_part = !K::source_pass && std::is_void_v<typename K::SourcePadding::first>;

  PlannedSample(Rng& rng, ImageSize in) : in_(in), draw_(K::sample(rng, in)) {}

  /// The source rectangle this sample reads, widened by `margin` source pixels, with the source pixels
  /// per output pixel (step_x, step_y). The whole image where !reads_part, and for axis-aligned maps
  /// other than a resize of a whole-pixel box (Resize, then CenterCrop: the resize's taps reach to the
  /// image's edges, so a part would change the pixels at its own edges).
  SourceRegion region(int margin = 2) const {
    SourceRegion r = source_region(draw_.step, in_, margin);
    const Affine2D& m = draw_.step.map;
    const int W = draw_.step.out.width, H = draw_.step.out.height;
    const bool box = m.axis_aligned() && !draw_.step.clips2 && detail::near_integer(m.c) && detail::near_integer(m.f) &&
                     detail::near_integer(m.a * W + m.c) && detail::near_integer(m.e * H + m.f);
    if (!reads_part || (m.axis_aligned() && !box)) r.x = r.y = 0, r.width = in_.width, r.height = in_.height;
    return r;
  }
  /// The output size of this sample.
  ImageSize out_size() const { return draw_.step.out; }

  /// Runs the sample on `part`: source pixels from (x, y) on, each `factor` source pixels wide (a JPEG
  /// decoded at 1/factor). out: as apply_into's (or any [3, H, W] of out_size() for apply-like use).
  void run_into(const cv::Mat& part, double x, double y, int factor, torch::Tensor out) const {
    if (auto problem = detail::image_problem(part); !problem.empty())
      throw DataError(detail::api_name<P>("PlannedSample::run_into") + ": " + problem);
    if (auto problem = detail::out_problem(out, draw_.step.out); !problem.empty())
      throw Error(detail::api_name<P>("PlannedSample::run_into") + ": " + problem);
    typename K::Draw d = draw_;
    if (x != 0 || y != 0 || factor != 1) {
      Affine2D& m = d.step.map;
      const double f = factor;
      m = {m.a / f, m.b / f, (m.c - x) / f, m.d / f, m.e / f, (m.f - y) / f};
    }
    K::run(part, d, out);
  }

 private:
  ImageSize in_;
  typename K::Draw draw_;
};

/// Finishes uint8 output of apply/apply_into on any device: P's ToTensor and Normalize as one
/// multiply-add per channel. u8: [..., 3, H, W] uint8. Returns float32 on the same device.
template <class P>
torch::Tensor normalize_uint8(const torch::Tensor& u8) {
  static_assert(Pipeline<P>, "ftmeta: normalize_uint8<P>: P must be a Compose<...> or a struct derived from one");
  if (!u8.defined() || u8.scalar_type() != torch::kUInt8 || u8.dim() < 3 || u8.size(-3) != 3)
    throw Error(detail::api_name<P>("normalize_uint8") + ": expects a uint8 [..., 3, H, W] tensor; got " +
                detail::tensor_text(u8));
  constexpr ChannelAffine f = detail::kernels<P>::parts::pixel::affine();
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(u8.device());
  const auto scale = torch::tensor({float(f.scale[0]), float(f.scale[1]), float(f.scale[2])}, opts).view({3, 1, 1});
  const auto bias = torch::tensor({float(f.bias[0]), float(f.bias[1]), float(f.bias[2])}, opts).view({3, 1, 1});
  return torch::addcmul(bias, u8.to(torch::kFloat32), scale);
}

}  // namespace ftmeta::transforms
