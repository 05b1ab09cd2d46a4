// bench_transforms: the classic training chain, fused and unfused, against a bare cv::warpAffine, one
// thread, on the mate-backgrounds JPEGs cut to 500x375 and held decoded in memory. Prints
// "name ms_per_image" lines; benchmarks/run_transforms.sh runs it beside transforms_peers.py.
// Usage: bench_transforms [PASSES (10)] [NAME_PART (only the rows whose name contains it, e.g. for perf)]
#include <ftmeta/data/decode.hpp>
#include <ftmeta/transforms.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "timer.hpp"

namespace {
using namespace ftmeta::transforms;

// The classic recipe of the issue, and the same without the rotation (the resize path).
struct Classic : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<0.5>, RandomVerticalFlip<0.5>, RandomRotation<10>,
                         ColorJitter<0.05, 0.05, 0.05, 0.05>, ToTensor, Normalize<ImageNet>> {};
struct NoRotation : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<0.5>, RandomVerticalFlip<0.5>,
                            ColorJitter<0.05, 0.05, 0.05, 0.05>, ToTensor, Normalize<ImageNet>> {};
// The canonical chain (the one everyone uses): the resize path, no photometric ops.
struct Canonical : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<ImageNet>> {};
struct GeometryOnly : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<0.5>, RandomVerticalFlip<0.5>,
                              RandomRotation<10>, ToTensor, Normalize<ImageNet>> {};

struct HueOnly : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<0.5>, RandomVerticalFlip<0.5>, RandomRotation<10>,
                         ColorJitter<0, 0, 0, 0.05>, ToTensor, Normalize<ImageNet>> {};
struct NoHue : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<0.5>, RandomVerticalFlip<0.5>, RandomRotation<10>,
                       ColorJitter<0.05, 0.05, 0.05, 0>, ToTensor, Normalize<ImageNet>> {};

// The JPEGs under FTMETA_BENCH_CORPUS (class subfolders allowed), decoded as found by ftmeta's decode rule;
// unset: the mate-backgrounds photos, ImageNet-like: the shorter side scaled to 375 (area), then the centre
// 500 x 375 (or 375 x 500).
std::vector<cv::Mat> corpus(std::string& name) {
  if (const char* dir = std::getenv("FTMETA_BENCH_CORPUS"); dir && *dir) {
    name = dir;
    std::vector<std::string> paths;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg")) paths.push_back(e.path().string());
    }
    std::sort(paths.begin(), paths.end());
    std::vector<cv::Mat> images;
    for (const auto& p : paths) images.push_back(ftmeta::data::read_image(p));
    return images;
  }
  name = "mate-backgrounds cut to 500x375";
  std::vector<std::string> paths;
  for (const char* dir : {"nature", "abstract", "desktop"}) {
    const std::filesystem::path root = std::filesystem::path("/usr/share/backgrounds/mate") / dir;
    if (!std::filesystem::exists(root)) continue;
    for (const auto& e : std::filesystem::directory_iterator(root))
      if (e.path().extension() == ".jpg") paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<cv::Mat> images;
  for (const auto& p : paths) {
    const cv::Mat full = cv::imread(p, cv::IMREAD_COLOR);
    if (full.empty()) continue;
    const double s = 375.0 / std::min(full.rows, full.cols);
    cv::Mat small;
    cv::resize(full, small, cv::Size(), s, s, cv::INTER_AREA);
    const int w = small.cols >= small.rows ? 500 : 375, h = small.cols >= small.rows ? 375 : 500;
    const cv::Rect box((small.cols - std::min(w, small.cols)) / 2, (small.rows - std::min(h, small.rows)) / 2,
                       std::min(w, small.cols), std::min(h, small.rows));
    images.push_back(small(box).clone());
  }
  return images;
}

}  // namespace

int main(int argc, char** argv) {
  const int passes = argc > 1 ? std::atoi(argv[1]) : 10;
  const std::string only = argc > 2 ? argv[2] : "";  // run only the rows whose name contains this (profiling)
  cv::setNumThreads(0);
  at::set_num_threads(1);
  std::string corpus_name;
  const auto images = corpus(corpus_name);
  if (images.empty()) {
    std::fprintf(stderr, "bench_transforms: no JPEG in the corpus (FTMETA_BENCH_CORPUS, or Debian's mate-backgrounds)\n");
    return 1;
  }
  double pixels = 0;
  for (const auto& im : images) pixels += double(im.cols) * im.rows;
  std::printf("# corpus %s: %zu images, %dx%d first, %.0f kpixels on average; %d passes, best of 3 rounds\n",
              corpus_name.c_str(), images.size(), images[0].cols, images[0].rows, pixels / images.size() / 1e3, passes);
  const char* clock = std::getenv("FTMETA_BENCH_CLOCK");
  std::printf("# clock: %s; pixel pass: %s\n", clock && std::string(clock) == "cpu" ? "thread CPU time" : "wall",
              ftmeta::transforms::detail::pixel_pass_isa());
  auto out = torch::empty({3, 224, 224});
  auto out_u8 = torch::empty({3, 224, 224}, torch::kUInt8);
  const int rounds = 3;
  auto report = [](const char* name, double ms) {
    if (ms > 0) std::printf("%s %.4f\n", name, ms);
  };
  auto time_per_image = [&](const char* name, const std::vector<cv::Mat>& images, int rounds, int passes, auto&& f) {
    return only.empty() || std::string(name).find(only) != std::string::npos ? ftmeta::bench::time_per_image(images, rounds, passes, f) : 0.0;
  };

  report("ftmeta_fused", time_per_image("ftmeta_fused", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    apply_into<Classic>(im, rng, out);
  }));
  report("ftmeta_fused_uint8", time_per_image("ftmeta_fused_uint8", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    apply_into<Classic>(im, rng, out_u8);
  }));
  report("ftmeta_unfused", time_per_image("ftmeta_unfused", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    out = apply_unfused<Classic>(im, rng);
  }));
  // The canonical chain, and its floor: cv::resize (INTER_AREA, OpenCV's antialiased shrink) of the same crop
  // (the same draws) to 224 x 224 uint8 BGR.
  report("ftmeta_canonical", time_per_image("ftmeta_canonical", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    apply_into<Canonical>(im, rng, out);
  }));
  cv::Mat crop_resized;
  report("bare_resize_same_crop", time_per_image("bare_resize_same_crop", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    const CropBox b = RandomResizedCrop<224>::sample(rng, {im.rows, im.cols});
    cv::resize(im(cv::Rect(b.left, b.top, b.width, b.height)), crop_resized, cv::Size(224, 224), 0, 0, cv::INTER_AREA);
  }));
  report("ftmeta_fused_norot", time_per_image("ftmeta_fused_norot", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    apply_into<NoRotation>(im, rng, out);
  }));
  report("ftmeta_unfused_norot", time_per_image("ftmeta_unfused_norot", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    out = apply_unfused<NoRotation>(im, rng);
  }));
  report("ftmeta_fused_nojitter", time_per_image("ftmeta_fused_nojitter", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    apply_into<GeometryOnly>(im, rng, out);
  }));
  report("ftmeta_fused_hue_only", time_per_image("ftmeta_fused_hue_only", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    apply_into<HueOnly>(im, rng, out);
  }));
  report("ftmeta_fused_no_hue", time_per_image("ftmeta_fused_no_hue", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    auto rng = ftmeta::Rng::for_sample(1, 0, i);
    apply_into<NoHue>(im, rng, out);
  }));
  // The floor: one bilinear warp of the photo to 224 x 224 uint8 BGR (a crop, a scale, a rotation).
  cv::Mat warped;
  report("bare_warp", time_per_image("bare_warp", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    const double angle = double(i % 21) - 10.0, scale = 224.0 / std::min(im.rows, im.cols) * 1.3;
    cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(im.cols / 2.0f, im.rows / 2.0f), angle, scale);
    m.at<double>(0, 2) += 112 - im.cols / 2.0, m.at<double>(1, 2) += 112 - im.rows / 2.0;
    cv::warpAffine(im, warped, m, cv::Size(224, 224), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  }));
  // The floor of the resize path: one cv::resize of a crop to 224 x 224.
  report("bare_resize", time_per_image("bare_resize", images, rounds, passes, [&](const cv::Mat& im, std::uint64_t i) {
    const int side = 200 + int(i % 150);
    cv::resize(im(cv::Rect(0, 0, std::min(side, im.cols), std::min(side, im.rows))), warped, cv::Size(224, 224), 0, 0,
               cv::INTER_AREA);
  }));
  return 0;
}
