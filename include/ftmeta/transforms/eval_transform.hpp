// ftmeta/transforms/eval_transform.hpp: EvalTransform, the evaluation pipeline whose sizes and statistics are known only
// at run time (from weights' config.json or a checkpoint): resize the shorter side, centre crop, ToTensor, Normalize, by
// the same kernels and arithmetic as Compose<Resize<S>, CenterCrop<C>, ToTensor, Normalize<Stats>>.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/transforms/detail/checks.hpp>
#include <ftmeta/transforms/geometric_ops.hpp>
#include <ftmeta/transforms/kernels/pixel_pass.hpp>
#include <ftmeta/transforms/kernels/resample.hpp>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <string>

namespace ftmeta::transforms {

/// Resize<resize_shorter>, CenterCrop<crop>, ToTensor, Normalize{mean, std} with values chosen at run time. Gives the
/// bits the compile-time Compose gives (one folded resample, one pixel pass); the resampling is the kernels' (area when
/// shrinking, bilinear otherwise) whatever interpolation the weights name.
///   EvalTransform eval{.resize_shorter = 256, .crop = 224, .mean = {0.485, 0.456, 0.406}, .std = {0.229, 0.224, 0.225}};
///   eval(cv::imread("cat.jpg"), out);  // out: float32 [3, 224, 224]
struct EvalTransform {
  std::int64_t resize_shorter = 256, crop = 224;
  std::array<double, 3> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};

  /// A one-line UsageError naming the field when a value cannot describe a pipeline.
  void check() const {
    if (resize_shorter < 1 || crop < 1 || resize_shorter > 1 << 16 || crop > 1 << 16)
      throw UsageError("ftmeta::transforms::EvalTransform: resize_shorter and crop must be in [1, 65536]; got " +
                       std::to_string(resize_shorter) + " and " + std::to_string(crop));
    for (int c = 0; c < 3; ++c)
      if (!(std[c] > 0)) throw UsageError("ftmeta::transforms::EvalTransform: std[" + std::to_string(c) + "] must be positive");
  }
  /// The folded u8 -> float map of ToTensor then Normalize, as the plan folds them.
  ChannelAffine affine() const {
    ChannelAffine norm;
    for (int c = 0; c < 3; ++c) norm.scale[c] = 1.0 / std[c], norm.bias[c] = -mean[c] / std[c];
    return then(then(ChannelAffine{}, ToTensor::affine()), norm);
  }
  /// The one geometric step for an image of size `in` (Resize's output size rule, then the centred crop).
  GeomStep step(ImageSize in) const {
    const int s = static_cast<int>(resize_shorter), c = static_cast<int>(crop);
    const bool portrait = in.width <= in.height;
    const long long shorter = portrait ? in.width : in.height, longer = portrait ? in.height : in.width;
    const int new_long = static_cast<int>(static_cast<double>(s * longer) / static_cast<double>(shorter));
    const ImageSize resized = portrait ? ImageSize{new_long, s} : ImageSize{s, new_long};
    GeomStep acc = chain(identity_step(in), GeomStep{resized, resize_map(in, resized)});
    return chain(acc, GeomStep{{c, c}, Affine2D::scale_offset(1, center_crop_offset(resized.width, c), 1,
                                                                 center_crop_offset(resized.height, c))});
  }

  /// Runs on one 8-bit gray/BGR/BGRA image into `out` (contiguous CPU float32 [3, crop, crop]).
  void operator()(const cv::Mat& image, torch::Tensor out) const {
    if (auto problem = detail::image_problem(image); !problem.empty()) throw DataError("ftmeta::transforms::EvalTransform: " + problem);
    if (auto problem = detail::out_problem(out, {int(crop), int(crop)}); !problem.empty() || out.scalar_type() != torch::kFloat32)
      throw Error("ftmeta::transforms::EvalTransform: " + (problem.empty() ? std::string("out must be float32") : problem));
    const auto r = detail::resample(image, step({image.rows, image.cols}));
    detail::pixel_pass(r, PixelProgram{}, affine(), out.data_ptr<float>());
  }
  /// The same into a new tensor.
  torch::Tensor operator()(const cv::Mat& image) const {
    auto out = torch::empty({3, crop, crop}, torch::kFloat32);
    (*this)(image, out);
    return out;
  }
  /// As a loader's transform (data::make_loader): the generator is unused, the pipeline is deterministic.
  void operator()(const cv::Mat& image, Rng&, torch::Tensor out) const { (*this)(image, out); }

  std::string describe() const {
    return "Resize(" + std::to_string(resize_shorter) + ") -> CenterCrop(" + std::to_string(crop) + ") -> ToTensor -> Normalize";
  }
};

}  // namespace ftmeta::transforms
