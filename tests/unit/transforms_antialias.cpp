// Unit tests of the antialiased resample (kernels/antialias.hpp) against torchvision's resize of PIL images
// (PIL's triangle filter), alone and inside the fused and unfused pipelines.
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <support/npy.hpp>
#include <support/photos.hpp>

#include <string>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_transforms_antialias {

namespace {
using namespace ftmeta::transforms;
namespace fs = std::filesystem;

fs::path refs() { return ftmeta::test::refs_dir() / "antialias"; }
cv::Mat photo(int k) { return ftmeta::test::ref_photo(refs(), k); }
torch::Tensor expected(const std::string& name) { return ftmeta::test::load_npy(refs() / (name + ".npy")); }
std::int64_t max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kInt32) - b.to(torch::kInt32)).abs().max().item<std::int64_t>();
}

struct CropResize : Compose<CenterCrop<300, 260>, Resize<224, 224>, ToTensor> {};
struct CropResizeFlip : Compose<CenterCrop<300, 260>, Resize<224, 224>, RandomHorizontalFlip<1.0>, ToTensor> {};
struct ResizeUp : Compose<Resize<700, 900>, ToTensor> {};
}  // namespace

TEST_CASE("antialias: the resample of a box equals torchvision's antialiased resize of the PIL crop", "[transforms][antialias]") {
  // Same weights (PIL's, 22-bit fixed point), same passes and rounding: the bound is 0 grey levels.
  const auto boxes = expected("boxes");
  REQUIRE(boxes.size(0) >= 27);
  const auto b = boxes.accessor<std::int64_t, 2>();
  for (std::int64_t j = 0; j < boxes.size(0); ++j) {
    const cv::Mat image = photo(int(b[j][0]));
    const cv::Rect box(int(b[j][1]), int(b[j][2]), int(b[j][3]), int(b[j][4]));
    const cv::Mat ours = ftmeta::transforms::detail::antialias_resize(image(box), int(b[j][6]), int(b[j][5]));
    const auto theirs = expected("box" + std::to_string(j));
    INFO("box " << j << ": " << box << " -> " << b[j][6] << "x" << b[j][5]);
    REQUIRE(ftmeta::test::chw(ours).sizes() == theirs.sizes());
    CHECK(max_abs(ftmeta::test::chw(ours), theirs) == 0);
  }
}

TEST_CASE("antialias: fused pipelines resample as torchvision (crop then resize, flips, enlarging)", "[transforms][antialias]") {
  for (int k = 0; k < 3; ++k) {
    const cv::Mat image = photo(k);
    auto rng = ftmeta::Rng::for_sample(1, 0, 0);
    // The fused path: the vertical pass writes the pixel pass's rows; a flip is folded into the weights.
    CHECK(max_abs(apply<CropResize>(image, rng, torch::kUInt8), expected("pipeline" + std::to_string(k) + "_crop_resize")) == 0);
    CHECK(max_abs(apply<CropResizeFlip>(image, rng, torch::kUInt8), expected("pipeline" + std::to_string(k) + "_crop_resize_hflip")) == 0);
    CHECK(max_abs(apply<ResizeUp>(image, rng, torch::kUInt8), expected("pipeline" + std::to_string(k) + "_resize_up")) == 0);
    // The unfused reference path uses the same kernel.
    auto unfused = (apply_unfused<CropResizeFlip>(image, rng) * 255).round().to(torch::kUInt8);
    CHECK(max_abs(unfused, expected("pipeline" + std::to_string(k) + "_crop_resize_hflip")) == 0);
    // Gray and BGRA inputs: the same as their BGR conversions.
    cv::Mat gray, gray_bgr, bgra;
    cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(gray, gray_bgr, cv::COLOR_GRAY2BGR);
    cv::cvtColor(image, bgra, cv::COLOR_BGR2BGRA);
    CHECK(torch::equal(apply<CropResizeFlip>(gray, rng, torch::kUInt8), apply<CropResizeFlip>(gray_bgr, rng, torch::kUInt8)));
    CHECK(torch::equal(apply<CropResizeFlip>(bgra, rng, torch::kUInt8), apply<CropResizeFlip>(image, rng, torch::kUInt8)));
  }
}

TEST_CASE("antialias: rows asked in any order give the same image", "[transforms][antialias]") {
  const cv::Mat image = photo(0);
  {  // vertical pass first (the height shrinks more): rows in reverse order, the same image
    ftmeta::transforms::detail::AntialiasRows a(image, 20, 520, 3, 390, 480, 77), b(image, 20, 520, 3, 390, 480, 77);
    std::vector<std::uint8_t> p(3 * 480), q(3 * 480);
    cv::Mat ia = a.image(), ib(77, 480, CV_8UC3);
    for (int y = 76; y >= 0; --y) {
      b.row(y, p.data(), p.data() + 480, p.data() + 960);
      for (int x = 0; x < 480; ++x) ib.at<cv::Vec3b>(y, x) = {p[std::size_t(960 + x)], p[std::size_t(480 + x)], p[std::size_t(x)]};
    }
    CHECK(cv::norm(ia, ib, cv::NORM_INF) == 0);
  }
  ftmeta::transforms::detail::AntialiasRows forward(image, 10.5, 600.25, 3, 390, 123, 77), backward(image, 10.5, 600.25, 3, 390, 123, 77);
  std::vector<std::uint8_t> a(3 * 123), c(3 * 123);
  for (int y = 0; y < 77; ++y) {
    forward.row(y, a.data(), a.data() + 123, a.data() + 246);
    backward.row(76 - y, c.data(), c.data() + 123, c.data() + 246);
    std::vector<std::uint8_t> again(3 * 123);
    ftmeta::transforms::detail::AntialiasRows fresh(image, 10.5, 600.25, 3, 390, 123, 77);
    fresh.row(y, again.data(), again.data() + 123, again.data() + 246);
    CHECK(a == again);
  }
  CHECK(cv::norm(forward.image(), backward.image(), cv::NORM_INF) == 0);
}

}  // namespace unit_transforms_antialias
