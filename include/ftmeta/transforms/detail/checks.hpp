// ftmeta/transforms/detail/checks.hpp: what is wrong with the image or tensor handed to a run function.
#pragma once

#include <ftmeta/transforms/detail/text.hpp>
#include <ftmeta/transforms/geometry.hpp>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <string>

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

}  // namespace detail

}  // namespace ftmeta::transforms
