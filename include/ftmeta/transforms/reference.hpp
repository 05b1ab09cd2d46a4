// ftmeta/transforms/reference.hpp: apply_unfused, the reference path: each op of a pipeline alone, as torchvision runs it.
// Image ops run one by one on a BGR cv::Mat (OpenCV calls; ColorJitter with PIL's exact uint8 arithmetic),
// then ToTensor, then tensor ops on the torch tensor. It samples the same parameters from the caller's Rng,
// in op order, as the fused path (apply.hpp), which the tests hold against it.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/transforms/compose.hpp>
#include <ftmeta/transforms/detail/checks.hpp>
#include <ftmeta/transforms/functional.hpp>
#include <ftmeta/transforms/kernels/antialias.hpp>
#include <ftmeta/transforms/kernels/neighbourhood.hpp>
#include <ftmeta/transforms/kernels/pil.hpp>
#include <ftmeta/transforms/kernels/resample.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <cstddef>

namespace ftmeta::transforms {

namespace detail {

template <int H, int W>
void unfused_image_op(const Resize<H, W>&, Rng& rng, cv::Mat& img) {
  Resize<H, W>::sample(rng, {img.rows, img.cols});
  const ImageSize to = Resize<H, W>::output_size({img.rows, img.cols});
  img = antialias_resize(img, to.width, to.height);
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

template <int H, int W, double S0, double S1, double R0, double R1>
void unfused_image_op(const RandomResizedCrop<H, W, S0, S1, R0, R1>&, Rng& rng, cv::Mat& img) {
  const CropBox b = RandomResizedCrop<H, W, S0, S1, R0, R1>::sample(rng, {img.rows, img.cols});
  img = antialias_resize(img(cv::Rect(b.left, b.top, b.width, b.height)), W, H);
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

template <auto D, int Fill>
void unfused_image_op(const RandomRotation<D, Fill>&, Rng& rng, cv::Mat& img) {
  const ImageSize size{img.rows, img.cols};
  const Affine2D m = RandomRotation<D, Fill>::step(RandomRotation<D, Fill>::sample(rng, size), size).map;
  const cv::Matx23d centre_map(m.a, m.b, m.c + 0.5 * (m.a + m.b) - 0.5, m.d, m.e, m.f + 0.5 * (m.d + m.e) - 0.5);
  cv::Mat out;
  cv::warpAffine(img, out, centre_map, img.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar::all(Fill));
  img = out;
}

template <int L, int T, int R, int B, int Fill, PaddingMode Mode>
void unfused_image_op(const Pad<L, T, R, B, Fill, Mode>&, Rng&, cv::Mat& img) {
  img = pad_image(img, {T, B, L, R}, Mode, Fill);
}

template <int H, int W, int Padding, bool PadIfNeeded, int Fill, PaddingMode Mode>
void unfused_image_op(const RandomCrop<H, W, Padding, PadIfNeeded, Fill, Mode>&, Rng& rng, cv::Mat& img) {
  using Op = RandomCrop<H, W, Padding, PadIfNeeded, Fill, Mode>;
  const ImageSize in{img.rows, img.cols};
  const CropOffset o = Op::sample(rng, in);
  const ImageSize pad = Op::padding(in);
  const cv::Mat padded = pad_image(img, Op::border(in), Mode, Fill);
  img = padded(cv::Rect(o.left + pad.width, o.top + pad.height, W, H)).clone();
}

template <auto D, auto TX, auto TY, auto S0, auto S1, auto SX, auto SY, int Fill>
void unfused_image_op(const RandomAffine<D, TX, TY, S0, S1, SX, SY, Fill>&, Rng& rng, cv::Mat& img) {
  using Op = RandomAffine<D, TX, TY, S0, S1, SX, SY, Fill>;
  const ImageSize size{img.rows, img.cols};
  const Affine2D m = Op::step(Op::sample(rng, size), size).map;
  const cv::Matx23d centre_map(m.a, m.b, m.c + 0.5 * (m.a + m.b) - 0.5, m.d, m.e, m.f + 0.5 * (m.d + m.e) - 0.5);
  cv::Mat out;
  cv::warpAffine(img, out, centre_map, img.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar::all(Fill));
  img = out;
}

template <int K, double S0, double S1>
void unfused_image_op(const GaussianBlur<K, S0, S1>&, Rng& rng, cv::Mat& img) {
  img = gaussian_blur_image(img, K, GaussianBlur<K, S0, S1>::sample(rng).sigma);
}

/// Any photometric op (ColorJitter, RandomGrayscale): its sampled steps, each over the whole image.
template <class Op>
  requires(OpTraits<Op>::kind == OpKind::photometric)
void unfused_image_op(const Op&, Rng& rng, cv::Mat& img) {
  PixelProgram program;
  Op::steps(Op::sample(rng, {img.rows, img.cols}), program);
  for (int i = 0; i < program.size; ++i) img = run_pixel_step(img, program.steps[i]);
}

template <class Stats>
void unfused_tensor_op(const Normalize<Stats>&, Rng&, torch::Tensor& t) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const auto mean = torch::tensor({float(Stats::mean[0]), float(Stats::mean[1]), float(Stats::mean[2])}, opts).view({3, 1, 1});
  const auto stdv = torch::tensor({float(Stats::std[0]), float(Stats::std[1]), float(Stats::std[2])}, opts).view({3, 1, 1});
  t = t.sub(mean).div(stdv);
}

template <double P, double S0, double S1, double R0, double R1, auto V>
void unfused_tensor_op(const RandomErasing<P, S0, S1, R0, R1, V>&, Rng& rng, torch::Tensor& t) {
  using Op = RandomErasing<P, S0, S1, R0, R1, V>;
  const EraseParams p = Op::sample(rng, {int(t.size(1)), int(t.size(2))});
  if (!p.erase) return;
  t = t.contiguous().clone();
  erase_box(t.data_ptr<float>(), int(t.size(0)), {int(t.size(1)), int(t.size(2))}, p, Op::random, Op::value);
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
    else if constexpr (OpTraits<Op>::kind == OpKind::image) run_image_op(Op{}, Op::sample(rng, {img.rows, img.cols}), img);
    else if constexpr (OpTraits<Op>::input == Domain::image) detail::unfused_image_op(Op{}, rng, img);
    else detail::unfused_tensor_op(Op{}, rng, t);
  });
  return t;
}

}  // namespace ftmeta::transforms
