// ftmeta/transforms/execute.hpp: the kernels (OpenCV + torch) that run a pipeline's plan, fused or op by op.
// The fused path: one resample for the geometric stage (a view, one cv::resize of an ROI, or one warp),
// then one pass that writes float32 RGB CHW (or uint8) straight into the caller's tensor. The unfused
// path runs each op alone with plain OpenCV/torch calls; it is the reference the fused path is tested
// against. Both sample the same parameters from the caller's Rng, in op order. Thread-safe: no shared
// state; nothing is allocated per call beyond OpenCV temporaries; cv::setNumThreads is the caller's.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/transforms/compose.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

namespace ftmeta::transforms {

namespace detail {

/// What is wrong with an input image, or "" when it is usable.
inline std::string image_problem(const cv::Mat& image) {
  if (image.empty()) return "the image is empty (did cv::imread fail?)";
  if (image.dims != 2 || image.depth() != CV_8U ||
      (image.channels() != 1 && image.channels() != 3 && image.channels() != 4))
    return "the image must be 2-D, 8-bit, with 1, 3 or 4 channels (gray, BGR or BGRA as cv::imread gives); got " +
           cv::typeToString(image.type());
  return {};
}

/// "[3, 224, 224] float32", "undefined".
inline std::string tensor_text(const torch::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "] " + std::string(c10::toString(t.scalar_type())) + (t.is_contiguous() ? "" : " non-contiguous") +
         (t.device().is_cpu() ? "" : " on " + t.device().str());
}

/// What is wrong with an output tensor for an H x W result, or "".
inline std::string out_problem(const torch::Tensor& out, ImageSize size) {
  const bool ok = out.defined() && out.device().is_cpu() && out.dim() == 3 && out.size(0) == 3 &&
                  out.size(1) == size.height && out.size(2) == size.width && out.is_contiguous() &&
                  (out.scalar_type() == torch::kFloat32 || out.scalar_type() == torch::kUInt8);
  if (ok) return {};
  return "`out` must be a contiguous CPU float32 (or uint8) tensor of shape [3, " + std::to_string(size.height) +
         ", " + std::to_string(size.width) + "]; got " + tensor_text(out);
}

template <class P>
std::string api_name(const char* function) {
  return std::string("ftmeta::transforms::") + function + "<" + type_name<P>() + ">";
}

/// The interpolation both paths use: area averaging when shrinking (the closest OpenCV mode to PIL's
/// antialiased bilinear), bilinear otherwise.
inline int resize_interpolation(cv::Size from, cv::Size to) {
  return (to.width <= from.width && to.height <= from.height) ? cv::INTER_AREA : cv::INTER_LINEAR;
}

inline bool near_integer(double v) { return std::abs(v - std::round(v)) < 1e-6; }
inline int round_int(double v) { return static_cast<int>(std::lround(v)); }

/// Output pixels [lo, hi) along one axis whose centres fall inside the input [0, n): x_in = s*x + o.
inline std::pair<int, int> axis_window(double s, double o, int out, int n) {
  const int lo = static_cast<int>(std::ceil((0.0 - o) / s - 0.5 - 1e-9));
  const int hi = static_cast<int>(std::ceil((n - o) / s - 0.5 - 1e-9));
  return {std::clamp(lo, 0, out), std::clamp(hi, 0, out)};
}

/// The result of a geometric stage before the pixel pass: the pixels of the window of the unflipped
/// output that lies inside the input; outside it the output is zero (torchvision pads with 0).
struct Resampled {
  cv::Mat image;  // a view of the input or an OpenCV temporary; 1, 3 or 4 channels as the input
  cv::Rect window;
  ImageSize out;
  bool flip_x = false, flip_y = false;
};

/// Executes a folded geometric step on an image: the non-template core of every GeometricStage.
inline Resampled resample(const cv::Mat& src, const GeomStep& step) {
  Resampled r;
  r.out = step.out;
  const Affine2D& m = step.map;
  const int W = step.out.width, H = step.out.height;
  if (!m.axis_aligned()) {  // rotations and shears (none in this slice): one bilinear warp
    const cv::Matx23d centre_map(m.a, m.b, m.c + 0.5 * (m.a + m.b) - 0.5, m.d, m.e, m.f + 0.5 * (m.d + m.e) - 0.5);
    cv::warpAffine(src, r.image, centre_map, cv::Size(W, H), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
    r.window = cv::Rect(0, 0, W, H);
    return r;
  }
  // Flips become reversed reads in the pixel pass; what is left is scale + offset per axis.
  double sx = m.a, ox = m.c, sy = m.e, oy = m.f;
  if (sx < 0) r.flip_x = true, ox += sx * W, sx = -sx;
  if (sy < 0) r.flip_y = true, oy += sy * H, sy = -sy;
  const auto [x0, x1] = axis_window(sx, ox, W, src.cols);
  const auto [y0, y1] = axis_window(sy, oy, H, src.rows);
  r.window = cv::Rect(x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0));
  if (r.window.empty()) return r;
  const cv::Size wsize = r.window.size();
  const cv::Rect whole(0, 0, src.cols, src.rows);

  // A: the window comes from a whole-pixel box of the input: a view, or one resize of that ROI.
  const double left = ox + sx * x0, right = ox + sx * x1, top = oy + sy * y0, bottom = oy + sy * y1;
  if (near_integer(left) && near_integer(right) && near_integer(top) && near_integer(bottom)) {
    const cv::Rect roi = cv::Rect(round_int(left), round_int(top), round_int(right) - round_int(left),
                                  round_int(bottom) - round_int(top)) & whole;
    if (roi.size() == wsize) r.image = src(roi);
    else cv::resize(src(roi), r.image, wsize, 0, 0, resize_interpolation(roi.size(), wsize));
    return r;
  }
  // B: the output pixels are whole pixels of the input resized to a whole-pixel grid (Resize then a
  // crop): one resize, then a view of the window.
  const double grid_w = src.cols / sx, grid_h = src.rows / sy, cx = ox / sx, cy = oy / sy;
  if (near_integer(grid_w) && near_integer(grid_h) && near_integer(cx) && near_integer(cy)) {
    const cv::Size grid_size(round_int(grid_w), round_int(grid_h));
    const cv::Rect roi = cv::Rect(round_int(cx) + x0, round_int(cy) + y0, wsize.width, wsize.height) &
                         cv::Rect(cv::Point(0, 0), grid_size);
    if (roi.size() == wsize) {
      cv::Mat grid;
      cv::resize(src, grid, grid_size, 0, 0, resize_interpolation(src.size(), grid_size));
      r.image = grid(roi);
      return r;
    }
  }
  // C: any other scale + offset (several resamples folded into one): area pre-shrink of the needed ROI
  // where the map shrinks more than 2x, then one bilinear warp with replicated borders.
  const cv::Rect need = cv::Rect(cv::Point(static_cast<int>(std::floor(left)) - 1, static_cast<int>(std::floor(top)) - 1),
                                 cv::Point(static_cast<int>(std::ceil(right)) + 1, static_cast<int>(std::ceil(bottom)) + 1)) & whole;
  cv::Mat base = src(need);
  double kx = 1, ky = 1;
  if (sx > 2 || sy > 2) {
    const cv::Size pre(sx > 2 ? std::max(1, round_int(need.width / sx)) : need.width,
                       sy > 2 ? std::max(1, round_int(need.height / sy)) : need.height);
    cv::Mat shrunk;
    cv::resize(base, shrunk, pre, 0, 0, cv::INTER_AREA);
    kx = double(need.width) / pre.width;
    ky = double(need.height) / pre.height;
    base = shrunk;
  }
  const double a = sx / kx, c = (sx * x0 + ox - need.x) / kx, e = sy / ky, f = (sy * y0 + oy - need.y) / ky;
  const cv::Matx23d centre_map(a, 0, 0.5 * a + c - 0.5, 0, e, 0.5 * e + f - 0.5);
  cv::warpAffine(base, r.image, centre_map, wsize, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return r;
}

/// The single pixel pass: reads the resampled uint8 pixels (BGR, BGRA or gray), applies the flips,
/// writes planes R, G, B of `out` (3 x H x W, contiguous) through a per-channel lookup table.
template <class T>
void pixel_pass(const Resampled& r, const std::array<std::array<T, 256>, 3>& lut, T* out) {
  const int W = r.out.width, H = r.out.height;
  const std::size_t plane = std::size_t(W) * std::size_t(H);
  const cv::Rect& win = r.window;
  const int cn = r.image.empty() ? 3 : r.image.channels();
  const int ri = cn == 1 ? 0 : 2, gi = cn == 1 ? 0 : 1;  // BGR(A) -> RGB; gray is replicated
  const int cx0 = r.flip_x ? W - win.x - win.width : win.x, cx1 = cx0 + win.width;
  const std::ptrdiff_t step = r.flip_x ? -cn : cn;
  for (int y = 0; y < H; ++y) {
    T* R = out + std::size_t(y) * W;
    T* G = R + plane;
    T* B = G + plane;
    const int yy = r.flip_y ? H - 1 - y : y;
    if (win.empty() || yy < win.y || yy >= win.y + win.height) {
      std::fill(R, R + W, lut[0][0]), std::fill(G, G + W, lut[1][0]), std::fill(B, B + W, lut[2][0]);
      continue;
    }
    std::fill(R, R + cx0, lut[0][0]), std::fill(G, G + cx0, lut[1][0]), std::fill(B, B + cx0, lut[2][0]);
    std::fill(R + cx1, R + W, lut[0][0]), std::fill(G + cx1, G + W, lut[1][0]), std::fill(B + cx1, B + W, lut[2][0]);
    const std::uint8_t* p = r.image.ptr<std::uint8_t>(yy - win.y) + std::ptrdiff_t(r.flip_x ? win.width - 1 : 0) * cn;
    for (int x = cx0; x < cx1; ++x, p += step) {
      R[x] = lut[0][p[ri]];
      G[x] = lut[1][p[gi]];
      B[x] = lut[2][p[0]];
    }
  }
}

template <class Plan>
struct plan_parts {
  static constexpr bool supported = false;
  using geometric = GeometricStage<>;
  using pixel = PixelStage<>;
};
template <class... G, class X0, class... X>
struct plan_parts<meta::TypeList<GeometricStage<G...>, PixelStage<X0, X...>>> {
  // The pass reads uint8 pixels and starts at ToTensor: photometric ops need kernels of their own.
  static constexpr bool supported = OpTraits<X0>::kind == OpKind::to_tensor;
  using geometric = GeometricStage<G...>;
  using pixel = PixelStage<X0, X...>;
};
template <class... X>
struct plan_parts<meta::TypeList<PixelStage<X...>>> : plan_parts<meta::TypeList<GeometricStage<>, PixelStage<X...>>> {};

template <class P>
struct kernels {
  using parts = plan_parts<plan_t<P>>;
  static_assert(parts::supported && parts::pixel::channel_affine,
                "ftmeta: apply<P>: no kernel for this plan yet (photometric and non-pointwise tensor ops are not "
                "in this slice)");

  static GeomStep sample(Rng& rng, ImageSize in) { return parts::geometric::sample(rng, in); }

  // `out` has been checked: [3, H, W] contiguous CPU, float32 or uint8.
  static void run(const cv::Mat& image, const GeomStep& step, torch::Tensor& out) {
    const Resampled r = resample(image, step);
    if (out.scalar_type() == torch::kUInt8) {
      std::array<std::array<std::uint8_t, 256>, 3> lut;
      for (auto& channel : lut)
        for (int v = 0; v < 256; ++v) channel[v] = static_cast<std::uint8_t>(v);
      pixel_pass(r, lut, out.data_ptr<std::uint8_t>());
    } else {
      constexpr ChannelAffine f = parts::pixel::affine();
      std::array<std::array<float, 256>, 3> lut;
      for (int c = 0; c < 3; ++c)
        for (int v = 0; v < 256; ++v) lut[c][v] = static_cast<float>(f.scale[c] * v + f.bias[c]);
      pixel_pass(r, lut, out.data_ptr<float>());
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
  const GeomStep step = detail::kernels<P>::sample(rng, {image.rows, image.cols});
  detail::kernels<P>::run(image, step, out);
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
  const GeomStep step = detail::kernels<P>::sample(rng, {image.rows, image.cols});
  auto out = torch::empty({3, step.out.height, step.out.width}, torch::TensorOptions().dtype(dtype));
  detail::kernels<P>::run(image, step, out);
  return out;
}

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

// --- conversions ------------------------------------------------------------------------------

/// An 8-bit gray/BGR/BGRA image as 3-channel BGR (torchvision's convert('RGB'), in OpenCV's order).
inline cv::Mat to_bgr(const cv::Mat& image) {
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError("ftmeta::transforms::to_bgr: " + problem);
  if (image.channels() == 3) return image;
  cv::Mat bgr;
  cv::cvtColor(image, bgr, image.channels() == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_BGRA2BGR);
  return bgr;
}

/// torchvision's ToTensor on an OpenCV image: float32 RGB [3, H, W] in [0, 1] (x / 255).
inline torch::Tensor to_tensor(const cv::Mat& image) {
  const cv::Mat bgr = to_bgr(image);
  const auto hwc = torch::from_blob(bgr.data, {bgr.rows, bgr.cols, 3},
                                    {static_cast<int64_t>(bgr.step[0]), 3, 1}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).flip({0}).to(torch::kFloat32).div(255).contiguous();
}

/// A [3, H, W] RGB tensor (float in [0, 1], or uint8) back to an 8-bit BGR image, e.g. to look at it.
inline cv::Mat to_mat(const torch::Tensor& chw) {
  if (!chw.defined() || chw.dim() != 3 || chw.size(0) != 3 ||
      (chw.scalar_type() != torch::kFloat32 && chw.scalar_type() != torch::kUInt8))
    throw Error("ftmeta::transforms::to_mat: expects a float32 or uint8 [3, H, W] RGB tensor; got " +
                detail::tensor_text(chw));
  auto t = chw.detach().to(torch::kCPU);
  if (t.scalar_type() == torch::kFloat32) t = t.mul(255).round().clamp(0, 255).to(torch::kUInt8);
  t = t.flip({0}).permute({1, 2, 0}).contiguous();
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC3, t.data_ptr<std::uint8_t>()).clone();
}

/// to_mat of a normalized tensor: undoes Normalize<Stats> first: to_mat(t, Normalize<>{}).
template <class Stats>
cv::Mat to_mat(const torch::Tensor& chw, Normalize<Stats>) {
  if (!chw.defined() || chw.dim() != 3 || chw.size(0) != 3 || chw.scalar_type() != torch::kFloat32)
    throw Error("ftmeta::transforms::to_mat: expects a normalized float32 [3, H, W] tensor; got " +
                detail::tensor_text(chw));
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const auto mean = torch::tensor({float(Stats::mean[0]), float(Stats::mean[1]), float(Stats::mean[2])}, opts).view({3, 1, 1});
  const auto stdv = torch::tensor({float(Stats::std[0]), float(Stats::std[1]), float(Stats::std[2])}, opts).view({3, 1, 1});
  return to_mat(chw.detach().to(torch::kCPU) * stdv + mean);
}

// --- the unfused reference path -----------------------------------------------------------------

namespace detail {

template <int H, int W>
void unfused_image_op(const Resize<H, W>&, Rng& rng, cv::Mat& img) {
  Resize<H, W>::sample(rng, {img.rows, img.cols});
  const ImageSize to = Resize<H, W>::output_size({img.rows, img.cols});
  cv::Mat out;
  cv::resize(img, out, cv::Size(to.width, to.height), 0, 0, resize_interpolation(img.size(), cv::Size(to.width, to.height)));
  img = out;
}

template <int H, int W>
void unfused_image_op(const CenterCrop<H, W>&, Rng& rng, cv::Mat& img) {
  CenterCrop<H, W>::sample(rng, {img.rows, img.cols});
  const int top = center_crop_offset(img.rows, H), left = center_crop_offset(img.cols, W);
  cv::Mat out(H, W, img.type(), cv::Scalar::all(0));
  const cv::Rect box = cv::Rect(left, top, W, H) & cv::Rect(0, 0, img.cols, img.rows);
  if (!box.empty()) img(box).copyTo(out(box - cv::Point(left, top)));
  img = out;
}

template <int H, int W>
void unfused_image_op(const RandomResizedCrop<H, W>&, Rng& rng, cv::Mat& img) {
  const CropBox b = RandomResizedCrop<H, W>::sample(rng, {img.rows, img.cols});
  cv::Mat out;
  cv::resize(img(cv::Rect(b.left, b.top, b.width, b.height)), out, cv::Size(W, H), 0, 0,
             resize_interpolation(cv::Size(b.width, b.height), cv::Size(W, H)));
  img = out;
}

template <double P>
void unfused_image_op(const RandomHorizontalFlip<P>&, Rng& rng, cv::Mat& img) {
  if (RandomHorizontalFlip<P>::sample(rng, {img.rows, img.cols}).flip) {
    cv::Mat out;
    cv::flip(img, out, 1);
    img = out;
  }
}

template <double P>
void unfused_image_op(const RandomVerticalFlip<P>&, Rng& rng, cv::Mat& img) {
  if (RandomVerticalFlip<P>::sample(rng, {img.rows, img.cols}).flip) {
    cv::Mat out;
    cv::flip(img, out, 0);
    img = out;
  }
}

template <class Stats>
void unfused_tensor_op(const Normalize<Stats>&, Rng&, torch::Tensor& t) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const auto mean = torch::tensor({float(Stats::mean[0]), float(Stats::mean[1]), float(Stats::mean[2])}, opts).view({3, 1, 1});
  const auto stdv = torch::tensor({float(Stats::std[0]), float(Stats::std[1]), float(Stats::std[2])}, opts).view({3, 1, 1});
  t = t.sub(mean).div(stdv);
}

}  // namespace detail

/// The reference path: each op of P alone, as torchvision would run it (image ops on a BGR cv::Mat, then
/// ToTensor, then tensor ops), with the same parameters as apply/apply_into sample from the same Rng.
template <class P>
torch::Tensor apply_unfused(const cv::Mat& image, Rng& rng) {
  static_assert(Pipeline<P>, "ftmeta: apply_unfused<P>: P must be a Compose<...> or a struct derived from one");
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError(detail::api_name<P>("apply_unfused") + ": " + problem);
  cv::Mat img = to_bgr(image);
  torch::Tensor t;
  meta::for_each_type(typename P::ops{}, [&]<class Op, std::size_t>() {
    if constexpr (OpTraits<Op>::kind == OpKind::to_tensor) t = to_tensor(img);
    else if constexpr (OpTraits<Op>::input == Domain::image) detail::unfused_image_op(Op{}, rng, img);
    else detail::unfused_tensor_op(Op{}, rng, t);
  });
  return t;
}

}  // namespace ftmeta::transforms
