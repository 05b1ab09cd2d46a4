// bench_autoaugment: what TrivialAugmentWide (and RandAugment) cost in the fused pipeline, and each of its
// ops alone on a 224 x 224 image; one thread, the mate-backgrounds JPEGs cut to 500x375, decoded in memory.
// Prints "name ms_per_image" lines; benchmarks/autoaugment_peers.py measures torchvision's on the same photos.
// Usage: bench_autoaugment [PASSES (5)]
#include <ftmeta/transforms.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "timer.hpp"

namespace {
using ftmeta::bench::time_per_image;
using namespace ftmeta::transforms;

struct Plain : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<ImageNet>> {};
struct Wide : Compose<RandomResizedCrop<224>, HFlip, TrivialAugmentWide<>, ToTensor, Normalize<ImageNet>> {};
struct Rand : Compose<RandomResizedCrop<224>, HFlip, RandAugment<>, ToTensor, Normalize<ImageNet>> {};

// ImageNet-like: the shorter side scaled to 375 (area), then the centre 500 x 375 (or 375 x 500).
std::vector<cv::Mat> corpus() {
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
  const int passes = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  cv::setNumThreads(1);
  const std::vector<cv::Mat> images = corpus();
  if (images.empty()) {
    std::fprintf(stderr, "bench_autoaugment: no photos under /usr/share/backgrounds/mate (install mate-backgrounds)\n");
    return 1;
  }
  auto out = torch::empty({3, 224, 224});
  auto report = [&](const char* name, double ms) { std::printf("%-44s %8.4f\n", name, ms); };
  report("fused RRC+HFlip+ToTensor+Normalize", time_per_image(images, 3, passes, [&](const cv::Mat& im, std::uint64_t i) {
           auto rng = ftmeta::Rng::for_sample(1, 0, i);
           apply_into<Plain>(im, rng, out);
         }));
  report("fused ... + TrivialAugmentWide", time_per_image(images, 3, passes, [&](const cv::Mat& im, std::uint64_t i) {
           auto rng = ftmeta::Rng::for_sample(1, 0, i);
           apply_into<Wide>(im, rng, out);
         }));
  report("unfused ... + TrivialAugmentWide", time_per_image(images, 3, passes, [&](const cv::Mat& im, std::uint64_t i) {
           auto rng = ftmeta::Rng::for_sample(1, 0, i);
           out.copy_(apply_unfused<Wide>(im, rng));
         }));
  report("fused ... + RandAugment(2, 9)", time_per_image(images, 3, passes, [&](const cv::Mat& im, std::uint64_t i) {
           auto rng = ftmeta::Rng::for_sample(1, 0, i);
           apply_into<Rand>(im, rng, out);
         }));
  // Each op alone on 224 x 224 crops, at bin 15 of 31 (half its range).
  std::vector<cv::Mat> crops;
  for (const cv::Mat& im : images) {
    cv::Mat c;
    cv::resize(im(cv::Rect(0, 0, std::min(im.cols, im.rows), std::min(im.cols, im.rows))), c, cv::Size(224, 224), 0, 0, cv::INTER_AREA);
    crops.push_back(c);
  }
  for (int op = 0; op < auto_augment_op_count; ++op) {
    const auto o = static_cast<AutoAugmentOp>(op);
    const double m = wide_magnitude(o, 15, 31);
    const std::string name = std::string("op ") + op_name(o) + " (224x224)";
    report(name.c_str(), time_per_image(crops, 3, passes * 4, [&](const cv::Mat& im, std::uint64_t) {
             const cv::Mat r = auto_augment_op(im, o, m);
             if (r.empty()) std::abort();
           }));
  }
  return 0;
}
