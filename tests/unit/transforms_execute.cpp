// Unit tests of the transforms kernels on real photos: fused vs unfused, torchvision references,
// flips, gray/BGRA inputs, determinism, output checks, conversions.
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <support/npy.hpp>
#include <support/photos.hpp>

#include <string>
#include <chrono>
#include <thread>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_transforms_execute {

namespace {
using namespace ftmeta::transforms;
namespace fs = std::filesystem;

struct TrainAug : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>> {};
struct EvalAug : Compose<Resize<256>, CenterCrop<224>, ToTensor, Normalize<>> {};
struct FlipsAndCrops : Compose<Resize<300, 400>, VFlip, CenterCrop<200, 320>, HFlip, ToTensor, Normalize<>> {};
struct PadCrop : Compose<CenterCrop<480, 700>, RandomVerticalFlip<0.5>, ToTensor, Normalize<>> {};
struct Small : Compose<RandomResizedCrop<64, 96>, VFlip, ToTensor> {};
struct TwoResamples : Compose<Resize<256>, RandomResizedCrop<160>, HFlip, ToTensor, Normalize<>> {};
struct Normalized : Compose<ToTensor, Normalize<>> {};
struct ResizeCropPixels : Compose<Resize<256>, CenterCrop<224>, ToTensor> {};
struct ResizePixels : Compose<Resize<256>, ToTensor> {};
struct AlwaysHFlip : Compose<RandomHorizontalFlip<1.0>, ToTensor> {};
struct AlwaysVFlip : Compose<RandomVerticalFlip<1.0>, ToTensor> {};
struct NeverFlip : Compose<RandomHorizontalFlip<0.0>, RandomVerticalFlip<0.0>, ToTensor> {};

fs::path refs() { return ftmeta::test::refs_dir() / "transforms"; }
cv::Mat photo(int k) { return ftmeta::test::ref_photo(refs(), k); }
torch::Tensor ref(int k, const std::string& what) { return ftmeta::test::ref_photo_array(refs(), k, what); }

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}
double mean_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().mean().item<double>();
}

// Fused and unfused on `seeds` seeds of every photo; returns the largest max and mean differences.
template <class P>
std::pair<double, double> fused_vs_unfused(int seeds) {
  double worst_max = 0, worst_mean = 0;
  for (int k = 0; k < 3; ++k) {
    const cv::Mat image = photo(k);
    for (int s = 0; s < seeds; ++s) {
      auto rng_a = ftmeta::Rng::for_sample(42, 3, std::uint64_t(s));
      auto rng_b = rng_a;
      const auto fused = apply<P>(image, rng_a);
      const auto unfused = apply_unfused<P>(image, rng_b);
      REQUIRE(fused.sizes() == unfused.sizes());
      worst_max = std::max(worst_max, max_abs(fused, unfused));
      worst_mean = std::max(worst_mean, mean_abs(fused, unfused));
    }
  }
  return {worst_max, worst_mean};
}
}  // namespace

TEST_CASE("transforms: fused and unfused paths agree on real photos", "[transforms]") {
  // One resample on both paths (a view, a resample of the same box, or a resample then a crop), by the
  // same kernel (kernels/antialias.hpp), so only the float pixel pass differs (one multiply-add vs (x/255 - mean)/std): 1e-5.
  for (auto [max_d, mean_d] : {fused_vs_unfused<TrainAug>(24), fused_vs_unfused<EvalAug>(4),
                               fused_vs_unfused<FlipsAndCrops>(12), fused_vs_unfused<PadCrop>(8),
                               fused_vs_unfused<Small>(24)}) {
    CHECK(max_d < 1e-5);
    CHECK(mean_d < 1e-6);
  }
  // Two resamples (Resize, then a random crop resized again) folded into one warp: the unfused path
  // interpolates twice (two antialiased resamples, each rounded to uint8), the fused path once from the
  // source, so they differ at edges. Measured: max 0.81, mean 0.019 (normalized units; one grey level is
  // about 0.017); bounds: mean 0.05 (3 levels), max 2.5.
  const auto [max_d, mean_d] = fused_vs_unfused<TwoResamples>(12);
  INFO("two resamples: max " << max_d << ", mean " << mean_d);
  CHECK(mean_d < 0.05);
  CHECK(max_d < 2.5);
}

TEST_CASE("transforms: ToTensor + Normalize match torchvision", "[transforms]") {
  for (int k = 0; k < 3; ++k) {
    auto rng = ftmeta::Rng::for_sample(1, 0, 0);
    const auto ours = apply<Normalized>(photo(k), rng);
    const auto theirs = ref(k, "to_tensor_normalize");
    REQUIRE(ours.sizes() == theirs.sizes());
    CHECK(max_abs(ours, theirs) < 1e-5);  // float rounding of one multiply-add vs a divide, subtract, divide
    auto rng2 = ftmeta::Rng::for_sample(1, 0, 0);
    CHECK(max_abs(apply_unfused<Normalized>(photo(k), rng2), theirs) < 1e-6);
  }
}

TEST_CASE("transforms: Resize + CenterCrop against torchvision (PIL antialiased bilinear)", "[transforms]") {
  // The resample is PIL's filter (kernels/antialias.hpp: the triangle as wide as the scale factor, PIL's taps
  // and weights) in float without PIL's rounding between the passes: at most 1 level from torchvision,
  // mean 0.13-0.18 (bound 0.25). (With OpenCV's INTER_AREA, these photos were off by up to 23 levels, mean 0.28.)
  for (int k = 0; k < 3; ++k) {
    for (const char* what : {"resize256_crop224", "resize256"}) {
      auto rng = ftmeta::Rng::for_sample(1, 0, 0);
      const auto ours = std::string(what) == "resize256" ? apply<ResizePixels>(photo(k), rng, torch::kUInt8)
                                                         : apply<ResizeCropPixels>(photo(k), rng, torch::kUInt8);
      const auto theirs = ref(k, what);
      REQUIRE(ours.sizes() == theirs.sizes());
      INFO("photo " << k << " " << what << ": max " << max_abs(ours, theirs) << ", mean " << mean_abs(ours, theirs));
      CHECK(max_abs(ours, theirs) <= 1);
      CHECK(mean_abs(ours, theirs) < 0.25);
    }
  }
}

TEST_CASE("transforms: flips are exact", "[transforms]") {
  for (int k = 0; k < 3; ++k) {
    auto rng = ftmeta::Rng::for_sample(5, 0, std::uint64_t(k));
    CHECK(torch::equal(apply<AlwaysHFlip>(photo(k), rng, torch::kUInt8), ref(k, "hflip")));
    CHECK(torch::equal(apply<AlwaysVFlip>(photo(k), rng, torch::kUInt8), ref(k, "vflip")));
    CHECK(torch::equal(apply_unfused<AlwaysHFlip>(photo(k), rng), ref(k, "hflip").to(torch::kFloat32).div(255)));
    const auto unflipped = apply<NeverFlip>(photo(k), rng, torch::kUInt8);
    CHECK(torch::equal(apply<AlwaysHFlip>(photo(k), rng, torch::kUInt8).flip({2}), unflipped));
  }
  // HFlip flips about half the time, and the flip is exact when it does.
  int flips = 0;
  const cv::Mat image = photo(0);
  auto rng0 = ftmeta::Rng::for_sample(9, 0, 0);
  const auto plain = apply<NeverFlip>(image, rng0, torch::kUInt8);
  for (int s = 0; s < 100; ++s) {
    auto rng = ftmeta::Rng::for_sample(9, 0, std::uint64_t(s));
    const auto out = apply<Compose<HFlip, ToTensor>>(image, rng, torch::kUInt8);
    const bool flipped = torch::equal(out, plain.flip({2}));
    CHECK((flipped || torch::equal(out, plain)));
    flips += flipped;
  }
  CHECK(flips > 25);  // Binomial(100, 0.5): mean 50, s.d. 5; 25 and 75 are 5 s.d. away
  CHECK(flips < 75);
}

TEST_CASE("transforms: gray and BGRA inputs work as their BGR conversions", "[transforms]") {
  const cv::Mat bgr = photo(1);
  cv::Mat gray, gray_bgr, bgra;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(gray, gray_bgr, cv::COLOR_GRAY2BGR);
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  std::vector<cv::Mat> planes;
  cv::split(bgra, planes);
  cv::randu(planes[3], 0, 256);  // alpha must not matter
  cv::merge(planes, bgra);
  for (int s = 0; s < 10; ++s) {
    auto rng = ftmeta::Rng::for_sample(11, 0, std::uint64_t(s));
    auto r1 = rng, r2 = rng, r3 = rng, r4 = rng, r5 = rng;
    CHECK(torch::equal(apply<TrainAug>(gray, r1), apply<TrainAug>(gray_bgr, r2)));
    CHECK(torch::equal(apply<TrainAug>(bgra, r3), apply<TrainAug>(bgr, r4)));
    CHECK(max_abs(apply_unfused<TrainAug>(gray, r5), apply<TrainAug>(gray_bgr, rng)) < 1e-5);
  }
  // The three output planes of a gray input are the same image.
  auto rng = ftmeta::Rng::for_sample(11, 1, 0);
  const auto out = apply<EvalAug>(gray, rng, torch::kUInt8);
  CHECK(torch::equal(out[0], out[1]));
  CHECK(torch::equal(out[1], out[2]));
}

TEST_CASE("transforms: the same (seed, epoch, index) gives the same output", "[transforms]") {
  const cv::Mat image = photo(2);
  auto a = ftmeta::Rng::for_sample(3, 1, 17), b = ftmeta::Rng::for_sample(3, 1, 17), c = ftmeta::Rng::for_sample(3, 1, 18);
  const auto first = apply<TrainAug>(image, a);
  CHECK(torch::equal(first, apply<TrainAug>(image, b)));
  CHECK_FALSE(torch::equal(first, apply<TrainAug>(image, c)));
  // From several threads into one batch, in any order: the same as one at a time.
  auto batch = torch::empty({8, 3, 224, 224});
  std::vector<std::thread> workers;
  for (int t = 0; t < 2; ++t)
    workers.emplace_back([&, t] {
      for (int i = t; i < 8; i += 2) {
        auto rng = ftmeta::Rng::for_sample(3, 1, std::uint64_t(i));
        apply_into<TrainAug>(image, rng, batch[i]);
      }
    });
  for (auto& w : workers) w.join();
  for (int i = 0; i < 8; ++i) {
    auto rng = ftmeta::Rng::for_sample(3, 1, std::uint64_t(i));
    CHECK(torch::equal(batch[i], apply<TrainAug>(image, rng)));
  }
}

TEST_CASE("transforms: uint8 output finished by normalize_uint8 equals the float output", "[transforms]") {
  const cv::Mat image = photo(0);
  auto batch = torch::empty({2, 3, 224, 224}, torch::kUInt8);
  for (int i = 0; i < 2; ++i) {
    auto rng = ftmeta::Rng::for_sample(8, 0, std::uint64_t(i));
    apply_into<TrainAug>(image, rng, batch[i]);
  }
  const auto finished = normalize_uint8<TrainAug>(batch);
  for (int i = 0; i < 2; ++i) {
    auto rng = ftmeta::Rng::for_sample(8, 0, std::uint64_t(i));
    CHECK(max_abs(finished[i], apply<TrainAug>(image, rng)) < 1e-5);
  }
}

TEST_CASE("transforms: bad inputs and outputs are clear errors", "[transforms]") {
  const cv::Mat image = photo(0);
  auto rng = ftmeta::Rng::for_sample(0, 0, 0);
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(apply_into<TrainAug>(image, rng, torch::empty({3, 200, 224})),
                    Contains("apply_into<") && Contains("TrainAug>") && Contains("[3, 224, 224]") &&
                        Contains("got [3, 200, 224] Float"));
  CHECK_THROWS_AS(apply_into<TrainAug>(image, rng, torch::empty({3, 224, 224}, torch::kInt32)), ftmeta::Error);
  CHECK_THROWS_WITH(apply_into<TrainAug>(image, rng, torch::empty({3, 224, 448}).slice(2, 0, 448, 2)),
                    Contains("non-contiguous"));
  CHECK_THROWS_WITH(apply_into<TrainAug>(image, rng, torch::Tensor()), Contains("undefined"));
  CHECK_THROWS_AS(apply<TrainAug>(cv::Mat(), rng), ftmeta::DataError);
  CHECK_THROWS_WITH(apply<TrainAug>(cv::Mat(), rng), Contains("empty"));
  CHECK_THROWS_WITH(apply<TrainAug>(cv::Mat(10, 10, CV_8UC2), rng), Contains("1, 3 or 4 channels"));
  CHECK_THROWS_WITH(apply<TrainAug>(cv::Mat(10, 10, CV_32FC3), rng), Contains("8-bit"));
  CHECK_THROWS_WITH(normalize_uint8<TrainAug>(torch::zeros({3, 4, 4})), Contains("uint8"));
  CHECK_THROWS_WITH(to_mat(torch::zeros({4, 4})), Contains("[3, H, W]"));
}

TEST_CASE("transforms: to_tensor and to_mat convert both ways", "[transforms]") {
  const cv::Mat image = photo(1);
  const auto t = to_tensor(image);
  CHECK(max_abs(t, ref(1, "to_tensor_normalize") * torch::tensor({0.229, 0.224, 0.225}).view({3, 1, 1}) +
                       torch::tensor({0.485, 0.456, 0.406}).view({3, 1, 1})) < 1e-5);
  CHECK(cv::norm(to_mat(t), image, cv::NORM_INF) == 0);
  auto rng = ftmeta::Rng::for_sample(0, 0, 0);
  CHECK(cv::norm(to_mat(apply<Normalized>(image, rng), Normalize<>{}), image, cv::NORM_INF) == 0);
  CHECK(cv::norm(to_mat(apply<Normalized>(image, rng, torch::kUInt8)), image, cv::NORM_INF) == 0);
}

TEST_CASE("transforms: describe names the stages", "[transforms]") {
  const std::string text = describe<TrainAug>();
  // The name as the compiler spells it, less ftmeta's and anonymous namespaces (this file's is kept).
  CHECK_THAT(text, Catch::Matchers::StartsWith("unit_transforms_execute::TrainAug = Compose(RandomResizedCrop(224"));
  CHECK_THAT(text, Catch::Matchers::Contains("GeometricStage[RandomResizedCrop(224, scale=(0.08, 1), ratio=(3/4, 4/3)), "
                                             "RandomHorizontalFlip(p=0.5)]"));
  CHECK_THAT(text, Catch::Matchers::Contains("PixelStage[ToTensor, Normalize(ImageNet)]"));
  CHECK_THAT(EvalAug::describe(), Catch::Matchers::Contains("GeometricStage[Resize(256), CenterCrop(224)]"));
  CHECK_THAT(ResizePixels::describe(), Catch::Matchers::Contains("[3, H, W]"));
}

// Not run by default (hidden tag): timings of the fused and unfused paths, printed.
TEST_CASE("transforms: timing of fused and unfused paths", "[.][transforms][bench]") {
  const cv::Mat image = photo(0);
  auto time = [&](const char* what, auto&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) f(i);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 50;
    WARN(what << ": " << ms << " ms per image");
  };
  auto out = torch::empty({3, 224, 224});
  time("TrainAug fused apply_into", [&](int i) { auto rng = ftmeta::Rng::for_sample(1, 0, i); apply_into<TrainAug>(image, rng, out); });
  time("TrainAug unfused", [&](int i) { auto rng = ftmeta::Rng::for_sample(1, 0, i); apply_unfused<TrainAug>(image, rng); });
  time("EvalAug fused apply_into", [&](int i) { auto rng = ftmeta::Rng::for_sample(1, 0, i); apply_into<EvalAug>(image, rng, out); });
  time("EvalAug unfused", [&](int i) { auto rng = ftmeta::Rng::for_sample(1, 0, i); apply_unfused<EvalAug>(image, rng); });
  time("cv::imread png", [&](int) { photo(0); });
}

TEST_CASE("transforms: a geometric stage runs as one view or one resample", "[transforms]") {
  const cv::Mat image = photo(0);  // 400 x 640
  auto rng = ftmeta::Rng::for_sample(2, 0, 0);
  // Crops and flips alone: a view of the input, no pixel copied before the pixel pass.
  const auto crop = ftmeta::transforms::detail::resample(image, GeometricStage<CenterCrop<224>, HFlip, VFlip>::sample(rng, {400, 640}));
  CHECK(crop.image.data >= image.data);
  CHECK(crop.image.data < image.dataend);
  CHECK(crop.window == cv::Rect(0, 0, 224, 224));
  // Padding: the view covers the image, the window says where; the rest of the output is zero.
  const auto pad = ftmeta::transforms::detail::resample(image, GeometricStage<CenterCrop<480, 700>>::sample(rng, {400, 640}));
  CHECK(pad.image.data == image.data);
  CHECK(pad.window == cv::Rect(30, 40, 640, 400));
  // A random crop with flips: one antialiased resample of the box, made row by row for the pixel pass (no
  // image of the output's size), straight to the output size.
  const auto rrc = ftmeta::transforms::detail::resample(image, GeometricStage<RandomResizedCrop<224>, HFlip, VFlip>::sample(rng, {400, 640}));
  CHECK(rrc.image.empty());
  REQUIRE(rrc.rows);
  CHECK((rrc.rows->width() == 224 && rrc.rows->height() == 224));
  CHECK(rrc.window == cv::Rect(0, 0, 224, 224));
}

}  // namespace unit_transforms_execute
