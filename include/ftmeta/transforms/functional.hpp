// ftmeta/transforms/functional.hpp: the functional ops on one image or tensor (torchvision.transforms.functional's).
// Conversions (to_bgr, to_tensor, to_mat) and single ops with torchvision's semantics and PIL's arithmetic:
// erase, gaussian_blur, adjust_brightness/contrast/saturation/hue, auto_augment_op. Each checks its
// arguments and names itself in the error.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/detail/checks.hpp>
#include <ftmeta/transforms/kernels/neighbourhood.hpp>
#include <ftmeta/transforms/kernels/pil.hpp>
#include <ftmeta/transforms/ops.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace ftmeta::transforms {

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

/// torchvision's F.erase(img, i, j, h, w, v) on a float32 [C, H, W] tensor: a copy whose rows [top, top +
/// height) and columns [left, left + width) are `value`.
inline torch::Tensor erase(const torch::Tensor& chw, int top, int left, int height, int width, double value) {
  if (!chw.defined() || chw.dim() != 3 || chw.scalar_type() != torch::kFloat32 || !chw.device().is_cpu())
    throw Error("ftmeta::transforms::erase: expects a CPU float32 [C, H, W] tensor; got " + detail::tensor_text(chw));
  const ImageSize size{int(chw.size(1)), int(chw.size(2))};
  if (top < 0 || left < 0 || height < 0 || width < 0 || top + height > size.height || left + width > size.width)
    throw UsageError("ftmeta::transforms::erase: the box (top " + std::to_string(top) + ", left " + std::to_string(left) +
                     ", " + std::to_string(height) + "x" + std::to_string(width) + ") is not inside the " +
                     std::to_string(size.height) + "x" + std::to_string(size.width) + " tensor");
  auto out = chw.contiguous().clone();
  detail::erase_box(out.data_ptr<float>(), int(out.size(0)), size, {true, top, left, height, width, 0}, false, value);
  return out;
}

/// torchvision's F.gaussian_blur(img, [kernel, kernel], [sigma, sigma]) on an 8-bit image (gray, BGR or
/// BGRA; the result is BGR): separable, reflected borders, rounded.
inline cv::Mat gaussian_blur(const cv::Mat& image, int kernel, double sigma) {
  if (kernel <= 0 || kernel % 2 == 0) throw UsageError("ftmeta::transforms::gaussian_blur: kernel must be odd and positive");
  if (!(sigma > 0)) throw UsageError("ftmeta::transforms::gaussian_blur: sigma must be > 0");
  return detail::gaussian_blur_image(to_bgr(image), kernel, sigma);
}

/// torchvision's F.adjust_brightness / adjust_contrast / adjust_saturation / adjust_hue on an 8-bit image
/// (gray, BGR or BGRA; the result is BGR), with PIL's uint8 arithmetic.
inline cv::Mat adjust_brightness(const cv::Mat& image, double factor) {
  if (!(factor >= 0)) throw UsageError("ftmeta::transforms::adjust_brightness: factor must be >= 0");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::brightness, factor, 0});
}
inline cv::Mat adjust_contrast(const cv::Mat& image, double factor) {
  if (!(factor >= 0)) throw UsageError("ftmeta::transforms::adjust_contrast: factor must be >= 0");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::contrast, factor, 0});
}
inline cv::Mat adjust_saturation(const cv::Mat& image, double factor) {
  if (!(factor >= 0)) throw UsageError("ftmeta::transforms::adjust_saturation: factor must be >= 0");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::saturation, factor, 0});
}
inline cv::Mat adjust_hue(const cv::Mat& image, double hue_factor) {
  if (!(hue_factor >= -0.5 && hue_factor <= 0.5))
    throw UsageError("ftmeta::transforms::adjust_hue: hue_factor must be in [-0.5, 0.5]");
  return detail::run_pixel_step(to_bgr(image), {PixelStep::Kind::hue, hue_factor, hue_shift_of(hue_factor)});
}

/// torchvision's _apply_op(img, op_name, magnitude, InterpolationMode.NEAREST, fill) on an 8-bit image
/// (gray, BGR or BGRA; the result is BGR), with PIL's arithmetic: one auto-augmentation op at a given
/// signed magnitude (shear factor, pixels, degrees, enhance factor - 1, bits or threshold).
inline cv::Mat auto_augment_op(const cv::Mat& image, AutoAugmentOp op, double magnitude, int fill = 0) {
  if (auto problem = detail::image_problem(image); !problem.empty())
    throw DataError(std::string("ftmeta::transforms::auto_augment_op: ") + problem);
  if (!std::isfinite(magnitude)) throw UsageError("ftmeta::transforms::auto_augment_op: magnitude must be finite");
  if (op == AutoAugmentOp::posterize && !(magnitude >= 0 && magnitude <= 8))
    throw UsageError("ftmeta::transforms::auto_augment_op: Posterize keeps 0 to 8 bits; got " + std::to_string(magnitude));
  if (fill < 0 || fill > 255) throw UsageError("ftmeta::transforms::auto_augment_op: fill is a grey level, in [0, 255]");
  const cv::Mat bgr = to_bgr(image);
  return detail::run_auto_augment_op(bgr, op, magnitude, fill).clone();
}

}  // namespace ftmeta::transforms
