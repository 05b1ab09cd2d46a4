// ftmeta/transforms/kernels/neighbourhood.hpp: ops that look at neighbours: GaussianBlur's pass and RandomErasing's box.
// The blur is torchvision's separable Gaussian with reflected borders; in the fused path the pixel pass
// stops at each blur, blurs its uint8 result and goes on. RandomErasing fills a box of the finished float
// output (a value, or standard normal noise from the op's own seed). OpenCV only.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/kernels/pixel_pass.hpp>
#include <ftmeta/transforms/ops.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ftmeta::transforms {

namespace detail {

/// torchvision's 1-D Gaussian kernel (_get_gaussian_kernel1d, float32): exp(-x^2 / (2 sigma^2)) at
/// x = -(k-1)/2 .. (k-1)/2, divided by its sum.
inline cv::Mat gaussian_kernel(int kernel, double sigma) {
  cv::Mat k(kernel, 1, CV_32F);
  const float half = static_cast<float>((kernel - 1) * 0.5), s = static_cast<float>(sigma);
  float sum = 0;
  for (int i = 0; i < kernel; ++i) {
    const float x = kernel == 1 ? 0.0f : -half + static_cast<float>(i) * (2 * half / static_cast<float>(kernel - 1));
    const float v = std::exp(-0.5f * (x / s) * (x / s));
    k.at<float>(i) = v, sum += v;
  }
  return k / sum;
}

/// torchvision's gaussian_blur on an 8-bit image: separable, reflected borders (torch's "reflect" is
/// OpenCV's BORDER_REFLECT_101), rounded to uint8.
inline cv::Mat gaussian_blur_image(const cv::Mat& image, int kernel, double sigma) {
  const cv::Mat k = gaussian_kernel(kernel, sigma);
  cv::Mat out;
  cv::sepFilter2D(image, out, CV_8U, k, k, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
  return out;
}

/// The fused pixel pass with blurs among the steps: the steps before a blur run as a pixel pass into
/// uint8 planes, the blur runs on that image, and the pass goes on from the blurred image.
template <class T>
void pixel_pass_with_blurs(const Resampled& r, const PixelProgram& program, const ChannelAffine& affine, T* out) {
  const int W = r.out.width, H = r.out.height;
  const std::size_t plane = std::size_t(W) * std::size_t(H);
  Resampled current = r;
  std::vector<std::uint8_t> planes(3 * plane);
  int from = 0;
  for (int b = 0; b < program.blur_count; ++b) {
    const PixelBlur& blur = program.blurs[b];
    PixelProgram before;
    for (int i = from; i < blur.at; ++i) before.push(program.steps[i]);
    pixel_pass(current, before, ChannelAffine{}, planes.data());
    cv::Mat bgr;
    cv::merge(std::vector<cv::Mat>{cv::Mat(H, W, CV_8U, planes.data() + 2 * plane), cv::Mat(H, W, CV_8U, planes.data() + plane),
                                   cv::Mat(H, W, CV_8U, planes.data())},
              bgr);
    current = Resampled{};
    current.image = gaussian_blur_image(bgr, blur.kernel, blur.sigma);
    current.window = cv::Rect(0, 0, W, H);
    current.out = r.out;
    from = blur.at;
  }
  PixelProgram rest;
  for (int i = from; i < program.size; ++i) rest.push(program.steps[i]);
  pixel_pass(current, rest, affine, out);
}

#if defined(FTMETA_SEPARATE_COMPILATION)
// Compiled once, in ftmeta::core (src/ftmeta_core.cpp), as the pixel pass itself.
extern template void pixel_pass_with_blurs<float>(const Resampled&, const PixelProgram&, const ChannelAffine&, float*);
extern template void pixel_pass_with_blurs<std::uint8_t>(const Resampled&, const PixelProgram&, const ChannelAffine&,
                                                         std::uint8_t*);
#endif

/// Standard normal values from a generator (Box-Muller), for RandomErasing's value 'random'.
inline void fill_normal(Rng& rng, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 2) {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();  // u1 in (0, 1]
    const double radius = std::sqrt(-2.0 * std::log(u1)), angle = 6.283185307179586 * u2;
    out[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < n) out[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
}

/// F.erase in place on a contiguous float32 [C, H, W] buffer: the box gets `value`, or (noise) standard
/// normal values drawn from Rng(noise_seed) in [C, h, w] order.
inline void erase_box(float* chw, int channels, ImageSize size, const EraseParams& p, bool noise, double value) {
  if (!p.erase) return;
  std::vector<float> values;
  if (noise) {
    values.resize(std::size_t(channels) * std::size_t(p.height) * std::size_t(p.width));
    Rng rng(p.noise_seed);
    fill_normal(rng, values.data(), values.size());
  }
  const float* v = values.data();
  for (int c = 0; c < channels; ++c)
    for (int y = p.top; y < p.top + p.height; ++y) {
      float* row = chw + (std::size_t(c) * size.height + std::size_t(y)) * size.width + p.left;
      if (noise) std::copy(v, v + p.width, row), v += p.width;
      else std::fill(row, row + p.width, static_cast<float>(value));
    }
}

}  // namespace detail

}  // namespace ftmeta::transforms
