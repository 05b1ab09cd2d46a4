// Unit tests of TrivialAugmentWide: each of its 14 ops against torchvision's _apply_op on PIL images of
// real photos, its magnitude table against torchvision's, its draws (chi-square), and fused vs unfused.
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <support/npy.hpp>
#include <support/photos.hpp>

#include <array>
#include <cmath>
#include <string>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_transforms_autoaug {

namespace {
using namespace ftmeta::transforms;
namespace fs = std::filesystem;

fs::path refs() { return ftmeta::test::refs_dir() / "autoaugment"; }

constexpr int photo_count = 3;  // two photos and a square crop of the first
cv::Mat photo(int k) { return ftmeta::test::ref_photo(refs(), k); }
using ftmeta::test::chw;
struct Case {
  AutoAugmentDraw draw;
  double magnitude = 0;
  int fill = 0;
};
std::vector<Case> cases() {
  const auto t = ftmeta::test::load_npy(refs() / "cases.npy");
  const auto a = t.accessor<double, 2>();
  std::vector<Case> out;
  for (int64_t i = 0; i < t.size(0); ++i)
    out.push_back({{static_cast<AutoAugmentOp>(int(a[i][0])), int(a[i][1]), a[i][2] != 0}, a[i][3], int(a[i][4])});
  return out;
}

// Chi-square statistic of counts against a uniform distribution over counts.size() cells.
double chi_square(const std::vector<long>& counts) {
  long n = 0;
  for (long c : counts) n += c;
  const double expected = double(n) / double(counts.size());
  double x = 0;
  for (long c : counts) x += (double(c) - expected) * (double(c) - expected) / expected;
  return x;
}

struct CropWide : Compose<CenterCrop<200, 260>, TrivialAugmentWide<>, ToTensor, Normalize<>> {};
struct WideOnly : Compose<TrivialAugmentWide<>, ToTensor> {};
struct GreyFill : Compose<TrivialAugmentWide<31, 128>, ToTensor> {};
struct RandomWide : Compose<RandomResizedCrop<160>, HFlip, TrivialAugmentWide<>, ColorJitter<0.2, 0.2>, ToTensor, Normalize<>> {};
}  // namespace

TEST_CASE("transforms: TrivialAugmentWide's magnitude bins equal torchvision's", "[transforms]") {
  // torch.linspace's float32 values (fused multiply-add from either end) and Posterize's rounded bits,
  // compared exactly for 31 (the default), 10 and 2 bins; NaN rows are the ops without bins.
  auto check = [](int bins) {
    const auto table = ftmeta::test::load_npy(refs() / ("space" + std::to_string(bins) + ".npy"));
    REQUIRE(table.size(0) == auto_augment_op_count);
    REQUIRE(table.size(1) == bins);
    const auto a = table.accessor<double, 2>();
    int differ = 0;
    for (int op = 0; op < auto_augment_op_count; ++op) {
      const auto o = static_cast<AutoAugmentOp>(op);
      INFO(bins << " bins, " << op_name(o));
      CHECK(has_bins(o) == !std::isnan(a[op][0]));
      if (!has_bins(o)) continue;
      for (int i = 0; i < bins; ++i) {
        if (wide_magnitude(o, i, bins) != a[op][i]) {
          ++differ;
          UNSCOPED_INFO(op_name(o) << " bin " << i << ": ours " << wide_magnitude(o, i, bins) << ", theirs " << a[op][i]);
        }
      }
    }
    CHECK(differ == 0);
  };
  check(31);
  check(10);
  check(2);
}

TEST_CASE("transforms: each TrivialAugmentWide op matches torchvision's _apply_op on PIL images", "[transforms]") {
  // Every op at bins 1, 8, 15, 20 (90 degrees) and 30 of 31 with both signs, Identity/AutoContrast/Equalize,
  // and a grey fill (128) for ShearX, TranslateY and Rotate; on two photos and a square crop (where
  // Image.rotate transposes at 90 and 270 degrees). PIL's own arithmetic everywhere (its nearest
  // neighbour's 16.16 fixed point, ImageEnhance's blends, the SMOOTH filter, ImageOps' tables):
  // measured equal, every value. Bound: equal (geometric ops: at most 0.01% of values off, none yet).
  const auto all = cases();
  REQUIRE(all.size() > 100);
  for (int k = 0; k < photo_count; ++k) {
    const cv::Mat image = photo(k);
    for (std::size_t c = 0; c < all.size(); ++c) {
      const Case& x = all[c];
      // The magnitude torchvision used is the one our table gives for that draw.
      CHECK(TrivialAugmentWide<>::magnitude(x.draw) == x.magnitude);
      const auto theirs = ftmeta::test::load_npy(refs() / ("photo" + std::to_string(k) + "_case" + std::to_string(c) + ".npy"));
      const auto ours = chw(auto_augment_op(image, x.draw.op, TrivialAugmentWide<>::magnitude(x.draw), x.fill));
      REQUIRE(ours.sizes() == theirs.sizes());
      const auto d = (ours.to(torch::kInt32) - theirs.to(torch::kInt32)).abs();
      const int max_d = d.max().item<int>();
      const double share = d.gt(0).to(torch::kFloat64).mean().item<double>();
      INFO("photo " << k << " " << op_name(x.draw.op) << " bin " << x.draw.bin << (x.draw.negative ? " negated" : "")
                    << " (magnitude " << x.magnitude << ", fill " << x.fill << "): max " << max_d << ", share " << share);
      const bool geometric = x.draw.op >= AutoAugmentOp::shear_x && x.draw.op <= AutoAugmentOp::rotate;
      if (geometric) CHECK(share <= 1e-4);
      else CHECK(max_d == 0);
    }
  }
}

TEST_CASE("transforms: TrivialAugmentWide draws ops, bins and signs uniformly", "[transforms]") {
  // 70000 draws from (seed, 0, index): the 14 ops (13 d.o.f.: chi-square 34.5 at p = 0.001), the 31 bins of
  // the ops that have bins (30 d.o.f.: 59.7), and the sign of the signed ops (|z| < 3.29). Identity,
  // AutoContrast and Equalize draw no bin, Posterize and Solarize no sign.
  constexpr int n = 70000;
  std::vector<long> ops(auto_augment_op_count), bins(31);
  long signed_draws = 0, negative = 0, bad = 0;
  for (int i = 0; i < n; ++i) {
    auto rng = ftmeta::Rng::for_sample(11, 0, std::uint64_t(i));
    const AutoAugmentDraw d = TrivialAugmentWide<>::sample(rng);
    ++ops[std::size_t(d.op)];
    if (has_bins(d.op)) ++bins[std::size_t(d.bin)];
    else bad += d.bin != 0;
    if (is_signed(d.op)) ++signed_draws, negative += d.negative;
    else bad += d.negative;
  }
  INFO("ops chi-square " << chi_square(ops) << ", bins " << chi_square(bins) << ", negative " << negative << " of "
                         << signed_draws);
  CHECK(chi_square(ops) < 34.5);
  CHECK(chi_square(bins) < 59.7);
  const double z = (double(negative) - signed_draws / 2.0) / std::sqrt(signed_draws / 4.0);
  CHECK(std::abs(z) < 3.29);
  CHECK(bad == 0);
  CHECK(signed_draws > n / 2);  // 9 of the 14 ops are signed
}

TEST_CASE("transforms: TrivialAugmentWide fused agrees with unfused and with the op it drew", "[transforms]") {
  for (int k = 0; k < 2; ++k) {
    const cv::Mat image = photo(k);
    std::vector<long> seen(auto_augment_op_count);
    double worst_crop = 0, worst_random_mean = 0;
    int off_draws = 0;
    for (int s = 0; s < 84; ++s) {
      auto a = ftmeta::Rng::for_sample(9, 2, std::uint64_t(s));
      auto b = a, c = a, d = a, e = a, f = a, g = a;
      // The op alone: the fused uint8 output is exactly the draw's op applied to the image.
      const AutoAugmentDraw draw = TrivialAugmentWide<>::sample(c);
      ++seen[std::size_t(draw.op)];
      const auto expected = chw(auto_augment_op(image, draw.op, TrivialAugmentWide<>::magnitude(draw)));
      const auto fused_u8 = apply<WideOnly>(image, a, torch::kUInt8);
      if (!torch::equal(fused_u8, expected)) ++off_draws;
      // A view crop, the op, ToTensor and Normalize: the same pixels both ways (float rounding only).
      worst_crop = std::max(worst_crop, (apply<CropWide>(image, b) - apply_unfused<CropWide>(image, d)).abs().max().item<double>());
      // A random crop and flip (one resample against cv::resize then a flip), the op, ColorJitter in the
      // pixel pass against PIL's uint8 steps.
      worst_random_mean = std::max(worst_random_mean, (apply<RandomWide>(image, e) - apply_unfused<RandomWide>(image, f)).abs().mean().item<double>());
      // The grey fill reaches the uncovered pixels.
      const auto grey = apply<GreyFill>(image, g, torch::kUInt8);
      if (draw.op == AutoAugmentOp::translate_x && draw.bin >= 2)
        CHECK(grey.select(2, draw.negative ? image.cols - 1 : 0).eq(128).all().item<bool>());
    }
    INFO("photo " << k << ": crop max " << worst_crop << ", random chain worst mean " << worst_random_mean);
    CHECK(off_draws == 0);
    for (long count : seen) CHECK(count > 0);  // 84 draws cover the 14 ops (the seeds are fixed)
    CHECK(worst_crop < 1e-5);
    // Normalized units (a grey level is about 0.017): measured 1.5e-7 (the crops resample alike and
    // ColorJitter's brightness and contrast truncate as PIL's); bound 0.002.
    CHECK(worst_random_mean < 0.002);
  }
}

TEST_CASE("transforms: TrivialAugmentWide is a function of (seed, epoch, index) and says where it runs", "[transforms]") {
  const cv::Mat image = photo(0);
  auto a = ftmeta::Rng::for_sample(1, 2, 3), b = ftmeta::Rng::for_sample(1, 2, 3);
  CHECK(torch::equal(apply<CropWide>(image, a), apply<CropWide>(image, b)));
  const std::string text = describe<CropWide>();
  INFO(text);
  CHECK(text.find("stage 2: ImageStage[TrivialAugmentWide(num_magnitude_bins=31, interpolation=nearest, fill=0)]: "
                  "1 pass(es) on the uint8 image, between the resample and the pixel pass") != std::string::npos);
  CHECK(text.find("plan: 3 stage(s)") != std::string::npos);
  // Bad input names the function and the problem.
  CHECK_THROWS_WITH(auto_augment_op(cv::Mat(), AutoAugmentOp::equalize, 0), Catch::Matchers::Contains("auto_augment_op: the image is empty"));
  CHECK_THROWS_WITH(auto_augment_op(image, AutoAugmentOp::posterize, 9), Catch::Matchers::Contains("Posterize keeps 0 to 8 bits"));
  CHECK_THROWS_WITH(auto_augment_op(image, AutoAugmentOp::rotate, 10, 300), Catch::Matchers::Contains("fill is a grey level"));
  // Gray and BGRA inputs are converted as torchvision's convert('RGB').
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  cv::Mat gray_bgr;
  cv::cvtColor(gray, gray_bgr, cv::COLOR_GRAY2BGR);
  CHECK(cv::norm(auto_augment_op(gray, AutoAugmentOp::equalize, 0), auto_augment_op(gray_bgr, AutoAugmentOp::equalize, 0), cv::NORM_INF) == 0);
}

namespace {
// The draws torchvision's forward made per seed (rows of (op, bin, negated), num_ops per seed).
std::vector<std::vector<AutoAugmentDraw>> forward_draws(const std::string& name, int num_ops) {
  const auto t = ftmeta::test::load_npy(refs() / name).to(torch::kInt64).reshape({-1, num_ops, 3}).contiguous();
  const auto a = t.accessor<int64_t, 3>();
  std::vector<std::vector<AutoAugmentDraw>> out(std::size_t(t.size(0)));
  for (int64_t s = 0; s < t.size(0); ++s)
    for (int i = 0; i < num_ops; ++i)
      out[std::size_t(s)].push_back({static_cast<AutoAugmentOp>(a[s][i][0]), int(a[s][i][1]), a[s][i][2] != 0});
  return out;
}
using RandDefault = RandAugment<>;
using RandStrong = RandAugment<3, 25, 31, 128>;
struct CropRand : Compose<CenterCrop<200, 260>, RandStrong, ToTensor, Normalize<>> {};
}  // namespace

TEST_CASE("transforms: TrivialAugmentWide and RandAugment forwards match torchvision's for the same draws", "[transforms]") {
  // torchvision's forward under torch.manual_seed(s), s < 24, and the draws that seed makes (replayed in
  // Python); we run the same draws: TrivialAugmentWide(), RandAugment() and RandAugment(3, 25, fill=128).
  // Measured: equal, every value. Bound: equal.
  const auto wide = forward_draws("wide_draws.npy", 1);
  const auto rand0 = forward_draws("rand0_draws.npy", 2), rand1 = forward_draws("rand1_draws.npy", 3);
  REQUIRE(wide.size() == 24);
  for (int k = 0; k < photo_count; ++k) {
    const cv::Mat image = photo(k);
    for (std::size_t s = 0; s < wide.size(); ++s) {
      auto ref = [&](const std::string& what) {
        return ftmeta::test::load_npy(refs() / ("photo" + std::to_string(k) + "_" + what + ".npy"));
      };
      cv::Mat a = image.clone(), b = image.clone(), c = image.clone();
      run_image_op(TrivialAugmentWide<>{}, wide[s][0], a);
      RandAugmentDraws<2> d0;
      RandAugmentDraws<3> d1;
      for (int i = 0; i < 2; ++i) d0.ops[std::size_t(i)] = rand0[s][std::size_t(i)];
      for (int i = 0; i < 3; ++i) d1.ops[std::size_t(i)] = rand1[s][std::size_t(i)];
      run_image_op(RandDefault{}, d0, b);
      run_image_op(RandStrong{}, d1, c);
      INFO("photo " << k << " seed " << s << ": TrivialAugmentWide " << op_name(wide[s][0].op) << " bin " << wide[s][0].bin);
      CHECK(torch::equal(chw(a), ref("wide" + std::to_string(s))));
      CHECK(torch::equal(chw(b), ref("rand0_" + std::to_string(s))));
      CHECK(torch::equal(chw(c), ref("rand1_" + std::to_string(s))));
    }
  }
}

TEST_CASE("transforms: RandAugment's magnitudes equal torchvision's at each image size", "[transforms]") {
  for (int k = 0; k < photo_count; ++k) {
    const cv::Mat image = photo(k);
    const ImageSize size{image.rows, image.cols};
    const auto table = ftmeta::test::load_npy(refs() / ("photo" + std::to_string(k) + "_rand0_space.npy"));
    const auto a = table.accessor<double, 2>();
    int differ = 0;
    for (int op = 0; op < auto_augment_op_count; ++op) {
      const auto o = static_cast<AutoAugmentOp>(op);
      CHECK(has_bins(o) == !std::isnan(a[op][0]));
      if (!has_bins(o)) continue;
      for (int i = 0; i < 31; ++i) {
        if (rand_magnitude(o, i, 31, size) == a[op][i]) continue;
        ++differ;
        UNSCOPED_INFO("photo " << k << " " << op_name(o) << " bin " << i << ": ours " << rand_magnitude(o, i, 31, size)
                               << ", theirs " << a[op][i]);
      }
    }
    CHECK(differ == 0);
  }
}

TEST_CASE("transforms: RandAugment draws its ops uniformly at the fixed bin, fused as unfused", "[transforms]") {
  // 30000 draws of 3 ops: the 14 ops (chi-square 34.5 at p = 0.001), signs of the signed ones (|z| < 3.29),
  // the bin always Magnitude (25) where the op has bins.
  std::vector<long> ops(auto_augment_op_count);
  long signed_draws = 0, negative = 0, bad = 0;
  for (int i = 0; i < 30000; ++i) {
    auto rng = ftmeta::Rng::for_sample(12, 0, std::uint64_t(i));
    for (const AutoAugmentDraw& d : RandStrong::sample(rng).ops) {
      ++ops[std::size_t(d.op)];
      bad += d.bin != (has_bins(d.op) ? 25 : 0);
      if (is_signed(d.op)) ++signed_draws, negative += d.negative;
      else bad += d.negative;
    }
  }
  const double z = (double(negative) - signed_draws / 2.0) / std::sqrt(signed_draws / 4.0);
  INFO("ops chi-square " << chi_square(ops) << ", sign z " << z);
  CHECK(chi_square(ops) < 34.5);
  CHECK(std::abs(z) < 3.29);
  CHECK(bad == 0);
  // The fused pipeline runs the same draws on the same (view-cropped) pixels as the unfused one.
  const cv::Mat image = photo(1);
  double worst = 0;
  for (int s = 0; s < 24; ++s) {
    auto a = ftmeta::Rng::for_sample(4, 0, std::uint64_t(s));
    auto b = a;
    worst = std::max(worst, (apply<CropRand>(image, a) - apply_unfused<CropRand>(image, b)).abs().max().item<double>());
  }
  INFO("worst difference " << worst);
  CHECK(worst < 1e-5);
}

}  // namespace unit_transforms_autoaug
