// Unit tests of ColorJitter and RandomRotation: parity with torchvision on PIL images of real photos,
// fused vs unfused, the sampled distributions (KS and chi-square tests), and the one-warp folding.
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <support/npy.hpp>
#include <support/photos.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "support/stats.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_transforms_photometric {

namespace {

using ftmeta::test::ks_statistic;
using ftmeta::test::mean;
using ftmeta::test::stddev;
using namespace ftmeta::transforms;
namespace fs = std::filesystem;
namespace fd = ftmeta::transforms::detail;

fs::path refs() { return ftmeta::test::refs_dir() / "transforms_photometric"; }
cv::Mat photo(int k) { return ftmeta::test::ref_photo(refs(), k); }
torch::Tensor ref(int k, const std::string& what) { return ftmeta::test::ref_photo_array(refs(), k, what); }
using ftmeta::test::column;
using ftmeta::test::chw;

std::vector<double> values(const torch::Tensor& t) {
  auto c = t.contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}
// The fused kernel on one image with given steps and geometry: uint8 RGB CHW.
torch::Tensor fused(const cv::Mat& image, const GeomStep& step, const PixelProgram& program) {
  auto out = torch::empty({3, step.out.height, step.out.width}, torch::kUInt8);
  fd::pixel_pass(fd::resample(image, step), program, ChannelAffine{}, out.data_ptr<std::uint8_t>());
  return out;
}
torch::Tensor fused(const cv::Mat& image, const PixelProgram& program) {
  return fused(image, identity_step({image.rows, image.cols}), program);
}
// Largest difference and share of values that differ at all, in grey levels.
std::pair<int, double> diff(const torch::Tensor& a, const torch::Tensor& b) {
  const auto d = (a.to(torch::kInt32) - b.to(torch::kInt32)).abs();
  return {d.max().item<int>(), d.gt(0).to(torch::kFloat64).mean().item<double>()};
}

struct BenchChain : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<>, RandomVerticalFlip<>, RandomRotation<10>,
                            ColorJitter<0.05, 0.05, 0.05, 0.05>, ToTensor, Normalize<>> {};
struct StrongJitter : Compose<CenterCrop<200, 260>, ColorJitter<0.4, 0.4, 0.8, 0.3>, ToTensor, Normalize<>> {};
struct PadJitter : Compose<CenterCrop<300, 400>, ColorJitter<0, 0.5, 0, 0>, ToTensor> {};
struct RotateOnly : Compose<RandomRotation<30, 77>, ToTensor> {};
}  // namespace

TEST_CASE("transforms: ColorJitter's steps match torchvision's F.adjust_* on PIL images", "[transforms]") {
  // The unfused path (and adjust_*) does PIL's uint8 arithmetic (blend in float, truncation; ITU-R 601
  // luma in fixed point; the 8-bit HSV round trip): equal to torchvision, measured max 0 everywhere.
  // The fused pass runs the steps in float, cut to whole levels after each as PIL: measured max 1 level,
  // mean under 0.06 (float luma and blend order); hue (continuous HSV against PIL's 8-bit h and s) max 5,
  // mean 0.52-0.67. Bounds: max 1 / mean 0.1; hue max 6 / mean 1.
  const auto factors = values(ftmeta::test::load_npy(refs() / "factors.npy"));
  const auto hues = values(ftmeta::test::load_npy(refs() / "hues.npy"));
  for (int k = 0; k < 2; ++k) {
    const cv::Mat image = photo(k);
    auto check = [&](const std::string& what, const cv::Mat& unfused, PixelStep step) {
      const auto theirs = ref(k, what);
      PixelProgram program;
      program.push(step);
      const auto ours = fused(image, program);
      const auto [max_u, share_u] = diff(chw(unfused), theirs);
      const auto [max_f, share_f] = diff(ours, theirs);
      const double mean_f = (ours.to(torch::kFloat64) - theirs.to(torch::kFloat64)).abs().mean().item<double>();
      INFO("photo " << k << " " << what << ": unfused max " << max_u << ", fused max " << max_f << " mean " << mean_f);
      CHECK(max_u == 0);
      CHECK(share_u == 0);
      const bool hue = step.kind == PixelStep::Kind::hue;
      CHECK(max_f <= (hue ? 6 : 1));
      CHECK(mean_f < (hue ? 1.0 : 0.1));
    };
    for (std::size_t i = 0; i < factors.size(); ++i) {
      const double f = factors[i];
      const std::string n = std::to_string(i);
      check("brightness" + n, adjust_brightness(image, f), {PixelStep::Kind::brightness, f, 0});
      check("contrast" + n, adjust_contrast(image, f), {PixelStep::Kind::contrast, f, 0});
      check("saturation" + n, adjust_saturation(image, f), {PixelStep::Kind::saturation, f, 0});
    }
    for (std::size_t i = 0; i < hues.size(); ++i)
      check("hue" + std::to_string(i), adjust_hue(image, hues[i]), {PixelStep::Kind::hue, hues[i], hue_shift_of(hues[i])});
  }
}

TEST_CASE("transforms: a ColorJitter draw in one pass matches torchvision's chain of four", "[transforms]") {
  // hue 0.1, contrast 0.6 (its mean: the input's grey mean, hue nearly keeps it), brightness 1.3,
  // saturation 1.4, against F.adjust_* in that order. Measured max 4, mean 0.18-0.28; bounds max 6, mean 0.5.
  PixelProgram program;
  program.push({PixelStep::Kind::hue, 0.1, hue_shift_of(0.1)});
  program.push({PixelStep::Kind::contrast, 0.6, 0});
  program.push({PixelStep::Kind::brightness, 1.3, 0});
  program.push({PixelStep::Kind::saturation, 1.4, 0});
  for (int k = 0; k < 2; ++k) {
    const auto ours = fused(photo(k), program), theirs = ref(k, "chain");
    const auto [max_d, share] = diff(ours, theirs);
    const double mean_d = (ours.to(torch::kFloat64) - theirs.to(torch::kFloat64)).abs().mean().item<double>();
    INFO("photo " << k << ": max " << max_d << ", mean " << mean_d);
    CHECK(max_d <= 6);
    CHECK(mean_d < 0.5);
  }
}

TEST_CASE("transforms: RandomRotation matches torchvision's F.rotate (bilinear, fill)", "[transforms]") {
  // One bilinear warp (OpenCV, 5-bit sub-pixel positions) against PIL's bilinear affine transform. Pixels
  // whose centre maps outside the image get the fill on both sides; along that border the two
  // interpolate differently, and a few pixels flip between fill and image. Measured: mean 0.37-0.47
  // levels, no value more than 8 levels apart. Bounds: mean 0.8 level, under 0.2% more than 8 apart.
  const auto angles = values(ftmeta::test::load_npy(refs() / "angles.npy"));
  for (int k = 0; k < 2; ++k) {
    const cv::Mat image = photo(k);
    const ImageSize in{image.rows, image.cols};
    for (std::size_t i = 0; i < angles.size(); ++i) {
      const GeomStep step = i == 1 ? chain(identity_step(in), RandomRotation<45, 128>::step({angles[i]}, in))
                                   : chain(identity_step(in), RandomRotation<45>::step({angles[i]}, in));
      const auto ours = fused(image, step, PixelProgram{});
      const auto theirs = ref(k, "rotate" + std::to_string(i));
      REQUIRE(ours.sizes() == theirs.sizes());
      const auto d = (ours.to(torch::kInt32) - theirs.to(torch::kInt32)).abs().to(torch::kFloat64);
      const double mean_d = d.mean().item<double>(), far = d.gt(8).to(torch::kFloat64).mean().item<double>();
      INFO("photo " << k << " angle " << angles[i] << ": mean " << mean_d << ", share > 8 levels " << far);
      CHECK(mean_d < 0.8);
      CHECK(far < 0.002);
    }
  }
}

TEST_CASE("transforms: ColorJitter and RandomRotation fused agree with the unfused path", "[transforms]") {
  for (int k = 0; k < 2; ++k) {
    const cv::Mat image = photo(k);
    double worst_jitter_max = 0, worst_jitter_mean = 0, worst_rot_mean = 0, worst_chain_mean = 0;
    for (int s = 0; s < 12; ++s) {
      auto a = ftmeta::Rng::for_sample(5, 1, std::uint64_t(s));
      auto b = a, c = a, d = a, e = a, f = a;
      // Crops (one view) and jitter: the same pixels and factors; float steps against PIL's uint8 ones.
      const auto jd = (apply<StrongJitter>(image, a) - apply_unfused<StrongJitter>(image, b)).abs();
      worst_jitter_max = std::max(worst_jitter_max, jd.max().item<double>());
      worst_jitter_mean = std::max(worst_jitter_mean, jd.mean().item<double>());
      // Zero padding joins the contrast mean, as it does in torchvision.
      const auto pd = (apply<PadJitter>(image, c) - apply_unfused<PadJitter>(image, d)).abs();
      worst_jitter_max = std::max(worst_jitter_max, pd.max().item<double>() * 4.4);  // [0, 1] -> normalized units
      worst_jitter_mean = std::max(worst_jitter_mean, pd.mean().item<double>() * 4.4);
      // A rotation alone: one warp both ways; the fused pass masks by pixel centre, warpAffine blends the fill.
      auto g = e, h = f;
      worst_rot_mean = std::max(worst_rot_mean, (apply<RotateOnly>(image, e) - apply_unfused<RotateOnly>(image, f)).abs().mean().item<double>());
      // The benchmark chain: one warp against a resize then a rotation (two interpolations).
      worst_chain_mean = std::max(worst_chain_mean, (apply<BenchChain>(image, g) - apply_unfused<BenchChain>(image, h)).abs().mean().item<double>());
    }
    INFO("photo " << k << ": crop+jitter max " << worst_jitter_max << " mean " << worst_jitter_mean << ", rotation mean " << worst_rot_mean
                  << ", benchmark chain mean (normalized units) " << worst_chain_mean);
    // Normalized units (one grey level is about 0.017): measured max 0.105 (6 levels), mean 0.0147;
    // bounds max 0.15, mean 0.025.
    CHECK(worst_jitter_max < 0.15);
    CHECK(worst_jitter_mean < 0.025);
    CHECK(worst_rot_mean < 0.5 / 255);  // [0, 1] units; measured 0.13 grey level
    CHECK(worst_chain_mean < 0.04);     // normalized units; measured 0.015 (0.9 grey level)
  }
}

TEST_CASE("transforms: a rotation folds into the one warp, filled where the rotated frame leaves", "[transforms]") {
  const cv::Mat image = photo(0);
  const ImageSize in{image.rows, image.cols};
  // RandomResizedCrop then a 30-degree rotation: the corners of the output come from outside the crop
  // box, so they must be the fill, not the photo around the box.
  GeomStep step = chain(identity_step(in), RandomResizedCrop<224>::step(CropBox{40, 60, 150, 180}, in));
  step = chain(step, RandomRotation<30, 200>::step({30.0}, step.out));
  REQUIRE(step.clips);
  const auto r = fd::resample(image, step);
  REQUIRE(r.rows);  // the warp, made row by row for the pixel pass (kernels/warp.hpp): no image of the output's size
  CHECK((r.image.empty() && r.rows->width() == 224 && r.rows->height() == 224));
  CHECK(r.window == cv::Rect(0, 0, 224, 224));
  const auto out = fused(image, step, PixelProgram{});
  CHECK(out[0][0][0].item<int>() == 200);
  CHECK(out[2][223][223].item<int>() == 200);
  CHECK(out[1][112][112].item<int>() != 200 + 1000);  // the centre is image (any value): read, no throw
  // The centre row is image over most of its width.
  const auto centre_row = out[0][112];
  CHECK(centre_row.ne(200).sum().item<int>() > 150);
  // The unfused reference (OpenCV's warpAffine, positions quantized to 1/32 pixel) agrees away from the
  // border within a few levels at sharp edges (measured max 3), under 0.2 level on average.
  auto rng_a = ftmeta::Rng::for_sample(1, 0, 0), rng_b = rng_a;
  const auto f = apply<Compose<RandomRotation<20>, ToTensor>>(image, rng_a);
  const auto u = apply_unfused<Compose<RandomRotation<20>, ToTensor>>(image, rng_b);
  const auto inner = (f - u).abs().slice(1, 40, -40).slice(2, 60, -60);
  INFO("fused warp against warpAffine: max " << inner.max().item<double>() * 255 << " levels, mean " << inner.mean().item<double>() * 255);
  CHECK(inner.max().item<double>() < 4.5 / 255);
  CHECK(inner.mean().item<double>() < 0.2 / 255);
}

TEST_CASE("transforms: ColorJitter samples as torchvision's get_params", "[transforms]") {
  // 20000 torchvision draws of ColorJitter(0.4, 0.3, 1.5, 0.1) against 20000 of ours: KS on each factor
  // (critical value 0.0195 at p = 0.001), and the 24 orders: chi-square of our counts against uniform
  // (23 d.o.f.: 49.7 at p = 0.001) and of torchvision's (a check of the reference itself).
  const auto theirs = ftmeta::test::load_npy(refs() / "jitter_params.npy");
  const auto n = std::size_t(theirs.size(0));
  using J = ColorJitter<0.4, 0.3, 1.5, 0.1>;
  std::vector<double> b, c, s, h;
  std::map<int, int> ours_orders, their_orders;
  for (std::size_t i = 0; i < n; ++i) {
    auto rng = ftmeta::Rng::for_sample(77, 0, i);
    const JitterParams p = J::sample(rng);
    b.push_back(p.brightness), c.push_back(p.contrast), s.push_back(p.saturation), h.push_back(p.hue);
    ++ours_orders[p.order[0] * 1000 + p.order[1] * 100 + p.order[2] * 10 + p.order[3]];
  }
  for (double code : column(theirs, 0)) ++their_orders[int(code)];
  const double critical = 1.95 * std::sqrt(2.0 / double(n));
  const char* names[] = {"brightness", "contrast", "saturation", "hue"};
  const std::vector<double>* ours[] = {&b, &c, &s, &h};
  for (int k = 0; k < 4; ++k) {
    const double d = ks_statistic(*ours[k], column(theirs, k + 1));
    INFO(names[k] << ": KS " << d << " (critical " << critical << ")");
    CHECK(d < critical);
  }
  CHECK(*std::min_element(s.begin(), s.end()) >= 0.0);  // saturation 1.5: the range starts at max(0, 1 - 1.5)
  CHECK(*std::max_element(h.begin(), h.end()) < 0.1);
  auto chi_square = [&](const std::map<int, int>& counts) {
    double x = 0;
    const double expected = double(n) / 24;
    for (const auto& [code, count] : counts) x += (count - expected) * (count - expected) / expected;
    return x + (24 - double(counts.size())) * expected;  // orders never drawn
  };
  CHECK(ours_orders.size() == 24);
  CHECK(chi_square(ours_orders) < 49.7);
  CHECK(chi_square(their_orders) < 49.7);
  // The steps follow the drawn order; an empty range adds no step.
  auto rng = ftmeta::Rng::for_sample(3, 0, 0);
  const JitterParams p = ColorJitter<0.2, 0, 0.3, 0>::sample(rng);
  PixelProgram program;
  ColorJitter<0.2, 0, 0.3, 0>::steps(p, program);
  REQUIRE(program.size == 2);
  const bool brightness_first = std::find(p.order, p.order + 4, 0) < std::find(p.order, p.order + 4, 2);
  CHECK(program.steps[brightness_first ? 0 : 1].kind == PixelStep::Kind::brightness);
}

TEST_CASE("transforms: RandomRotation's angles follow torchvision's", "[transforms]") {
  const auto theirs = values(ftmeta::test::load_npy(refs() / "rotation_angles.npy"));
  std::vector<double> ours;
  for (std::size_t i = 0; i < theirs.size(); ++i) {
    auto rng = ftmeta::Rng::for_sample(78, 0, i);
    ours.push_back(RandomRotation<10>::sample(rng, {}).degrees);
  }
  const double d = ks_statistic(ours, theirs), critical = 1.95 * std::sqrt(2.0 / double(theirs.size()));
  INFO("KS " << d << " (critical " << critical << ")");
  CHECK(d < critical);
  CHECK(*std::min_element(ours.begin(), ours.end()) >= -10.0);
  CHECK(*std::max_element(ours.begin(), ours.end()) < 10.0);
}

TEST_CASE("transforms: photometric plans and describe text", "[transforms]") {
  const std::string text = describe<BenchChain>();
  CHECK_THAT(text, Catch::Matchers::Contains("RandomRotation(degrees=10, fill=0)]: one 2x3 map, one resample"));
  CHECK_THAT(text, Catch::Matchers::Contains(
                       "PixelStage[ColorJitter(brightness=0.05, contrast=0.05, saturation=0.05, hue=0.05), ToTensor, "
                       "Normalize(ImageNet)]: one pass, uint8 BGR/gray HWC -> uint8 RGB steps (up to 4)"));
  CHECK_THROWS_AS(adjust_hue(photo(0), 0.7), ftmeta::UsageError);
  CHECK_THROWS_WITH(adjust_brightness(photo(0), -1), Catch::Matchers::Contains("adjust_brightness"));
  CHECK_THROWS_AS(adjust_contrast(cv::Mat(), 1.0), ftmeta::DataError);
}

TEST_CASE("transforms: Pad and RandomGrayscale match torchvision", "[transforms]") {
  struct Padded : Compose<Pad<3, 5, 7, 9>, ToTensor> {};
  struct Gray : Compose<RandomGrayscale<1.0>, ToTensor> {};
  struct NeverGray : Compose<RandomGrayscale<0.0>, ToTensor> {};
  for (int k = 0; k < 2; ++k) {
    const cv::Mat image = photo(k);
    auto rng = ftmeta::Rng::for_sample(4, 0, std::uint64_t(k));
    // Pad: a window of the input in zeros, on both paths: exact.
    const auto pad = apply<Padded>(image, rng, torch::kUInt8);
    CHECK(torch::equal(pad, ref(k, "pad")));
    CHECK(torch::equal(apply_unfused<Padded>(image, rng), ref(k, "pad").to(torch::kFloat32).div(255)));
    // Grey: PIL's fixed-point luma on the unfused path (exact), float luma rounded on the fused one.
    const auto [max_f, share_f] = diff(apply<Gray>(image, rng, torch::kUInt8), ref(k, "gray"));
    INFO("photo " << k << ": fused grey max " << max_f << ", share " << share_f);
    CHECK(max_f <= 1);
    CHECK(share_f < 0.01);
    CHECK(torch::equal(apply_unfused<Gray>(image, rng).mul(255).round().to(torch::kUInt8), ref(k, "gray")));
    CHECK(torch::equal(apply<NeverGray>(image, rng, torch::kUInt8), chw(image)));
  }
  CHECK(describe<Padded>().find("Pad(3, 5, 7, 9)") != std::string::npos);
  CHECK(!Padded::fixed_size);
  // RandomGrayscale<0.25> greys about a quarter of the draws.
  int greys = 0;
  for (int s = 0; s < 400; ++s) {
    auto rng = ftmeta::Rng::for_sample(6, 0, std::uint64_t(s));
    greys += RandomGrayscale<0.25>::sample(rng).gray;
  }
  CHECK(greys > 65);  // Binomial(400, 0.25): mean 100, s.d. 8.7; 65 and 135 are 4 s.d. away
  CHECK(greys < 135);
}

TEST_CASE("transforms: RandomResizedCrop with its own scale and ratio samples as torchvision", "[transforms]") {
  // RandomResizedCrop(224, scale=(0.5, 0.9), ratio=(0.5, 2)) on 400x640: 20000 draws each side, KS on the
  // area fraction and the log aspect (critical 0.0195 at p = 0.001).
  using Crop = RandomResizedCrop<224, 224, 0.5, 0.9, 0.5, 2.0>;
  const auto ref = ftmeta::test::load_npy(refs() / "rrc_custom_boxes.npy");
  const auto r = ref.accessor<int64_t, 2>();
  const ImageSize in{400, 640};
  std::vector<double> area_t, aspect_t, area_o, aspect_o;
  for (int64_t k = 0; k < ref.size(0); ++k) {
    area_t.push_back(double(r[k][2]) * double(r[k][3]) / (400.0 * 640.0));
    aspect_t.push_back(std::log(double(r[k][3]) / double(r[k][2])));
    auto rng = ftmeta::Rng::for_sample(21, 0, std::uint64_t(k));
    const CropBox b = Crop::sample(rng, in);
    area_o.push_back(double(b.height) * b.width / (400.0 * 640.0));
    aspect_o.push_back(std::log(double(b.width) / b.height));
  }
  const double critical = 1.95 * std::sqrt(2.0 / double(ref.size(0)));
  const double d_area = ks_statistic(area_o, area_t), d_aspect = ks_statistic(aspect_o, aspect_t);
  INFO("KS area " << d_area << ", log aspect " << d_aspect << " (critical " << critical << ")");
  CHECK(d_area < critical);
  CHECK(d_aspect < critical);
  CHECK(Crop::name() == "RandomResizedCrop(224, scale=(0.5, 0.9), ratio=(0.5, 2))");
  CHECK(RandomResizedCrop<224>::name() == "RandomResizedCrop(224, scale=(0.08, 1), ratio=(3/4, 4/3))");
  auto a = ftmeta::Rng::for_sample(2, 0, 0), b = a;  // fused and unfused run the same box
  const cv::Mat image = photo(0);
  struct Aug : Compose<Crop, ToTensor> {};
  CHECK((apply<Aug>(image, a) - apply_unfused<Aug>(image, b)).abs().max().item<double>() < 1e-5);
}

TEST_CASE("transforms: the pixel pass's AVX2 and AVX-512 copies give the baseline's bits; contrast twice in one draw", "[transforms]") {
  // pixel_pass runs a copy compiled for AVX-512 or AVX2 where the CPU has it; pixel_pass_body, inlined here, is this
  // file's build (baseline x86-64 unless the build targets more). Same operations in the same order: the
  // same bits, for every geometry (warp with fill, flips, zero padding), input kind and output type. On a
  // CPU without AVX2 both are the baseline copy and this part checks nothing new.
  INFO("pixel pass ISA: " << fd::pixel_pass_isa());
  struct Gray : Compose<RandomResizedCrop<160>, RandomHorizontalFlip<>, ColorJitter<0.4, 0.4, 0.8, 0.3>, RandomGrayscale<0.5>, ToTensor> {};
  auto same = [](const fd::Resampled& r, const PixelProgram& program, const ChannelAffine& affine) {
    const std::int64_t h = r.out.height, w = r.out.width;
    auto a = torch::empty({3, h, w}), b = torch::empty({3, h, w});
    auto c = torch::empty({3, h, w}, torch::kUInt8), d = torch::empty({3, h, w}, torch::kUInt8);
    fd::pixel_pass(r, program, affine, a.data_ptr<float>());
    fd::pixel_pass_body(r, program, affine, b.data_ptr<float>());
    fd::pixel_pass(r, program, ChannelAffine{}, c.data_ptr<std::uint8_t>());
    fd::pixel_pass_body(r, program, ChannelAffine{}, d.data_ptr<std::uint8_t>());
    return torch::equal(a, b) && torch::equal(c, d);
  };
  int runs = 0, unequal = 0;
  for (int k = 0; k < 2; ++k) {
    cv::Mat bgr = photo(k), gray, bgra;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
    for (const cv::Mat* image : {&bgr, &gray, &bgra}) {
      const ImageSize in{image->rows, image->cols};
      for (int s = 0; s < 6; ++s) {
        auto rng = ftmeta::Rng::for_sample(9, 2, std::uint64_t(s));
        const auto bench = fd::kernels<BenchChain>::sample(rng, in);
        const auto strong = fd::kernels<StrongJitter>::sample(rng, in);
        const auto padded = fd::kernels<PadJitter>::sample(rng, in);
        const auto grey = fd::kernels<Gray>::sample(rng, in);
        const ChannelAffine imagenet = fd::kernels<BenchChain>::parts::pixel::affine();
        unequal += !same(fd::resample(*image, bench.step), bench.pixels, imagenet);
        unequal += !same(fd::resample(*image, strong.step), strong.pixels, imagenet);
        unequal += !same(fd::resample(*image, padded.step), padded.pixels, ChannelAffine{});
        unequal += !same(fd::resample(*image, grey.step), grey.pixels, ChannelAffine{});
        unequal += !same(fd::resample(*image, bench.step), PixelProgram{}, imagenet);
        runs += 5;
      }
    }
  }
  CHECK(runs == 180);
  CHECK(unequal == 0);

  // Two contrast steps in one program: the pass keeps the image between them, and each mean is the grey
  // mean of the image at its turn, as PIL's chain of F.adjust_* computes it (the unfused path, equal to
  // torchvision above). A wrong second mean would shift every value by half its error (brightness 1.3 moves
  // the mean by tens of levels). Measured max 4, mean 0.42-0.46 (hue -0.2 then contrast 1.5 amplify the
  // continuous hue's difference); bounds max 6, mean 0.75.
  PixelProgram program;
  program.push({PixelStep::Kind::contrast, 0.6, 0});
  program.push({PixelStep::Kind::brightness, 1.3, 0});
  program.push({PixelStep::Kind::hue, -0.2, hue_shift_of(-0.2)});
  program.push({PixelStep::Kind::contrast, 1.5, 0});
  program.push({PixelStep::Kind::saturation, 0.7, 0});
  for (int k = 0; k < 2; ++k) {
    const cv::Mat image = photo(k);
    cv::Mat pil = image;
    for (int i = 0; i < program.size; ++i) pil = fd::run_pixel_step(pil, program.steps[i]);
    const auto ours = fused(image, program), theirs = chw(pil);
    const auto [max_d, share] = diff(ours, theirs);
    const double mean_d = (ours.to(torch::kFloat64) - theirs.to(torch::kFloat64)).abs().mean().item<double>();
    INFO("photo " << k << ": max " << max_d << ", mean " << mean_d << ", share differing " << share);
    CHECK(max_d <= 6);
    CHECK(mean_d < 0.75);
  }
}

}  // namespace unit_transforms_photometric
