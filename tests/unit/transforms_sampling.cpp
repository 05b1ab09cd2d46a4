// Unit tests of the transforms' sampling and geometry against torchvision: Resize sizes, CenterCrop
// offsets, and the distribution of RandomResizedCrop boxes (two-sample Kolmogorov-Smirnov tests).
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <support/npy.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/stats.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_transforms_sampling {

namespace {

using ftmeta::test::ks_statistic;
using ftmeta::test::mean;
using ftmeta::test::stddev;
using namespace ftmeta::transforms;
namespace fs = std::filesystem;

fs::path refs() { return ftmeta::test::refs_dir() / "transforms"; }

struct BoxStats {
  std::vector<double> area, log_aspect, centre_x, centre_y;
  void add(const CropBox& b, ImageSize in) {
    area.push_back(double(b.height) * b.width / (double(in.height) * in.width));
    log_aspect.push_back(std::log(double(b.width) / b.height));
    centre_x.push_back((b.left + b.width / 2.0) / in.width);
    centre_y.push_back((b.top + b.height / 2.0) / in.height);
  }
};
}  // namespace

TEST_CASE("transforms: Resize<256> output sizes match torchvision", "[transforms]") {
  const auto table = ftmeta::test::load_npy(refs() / "resize256_sizes.npy");
  const auto t = table.accessor<int64_t, 2>();
  REQUIRE(table.size(0) > 100);
  for (int64_t r = 0; r < table.size(0); ++r) {
    const ImageSize in{int(t[r][0]), int(t[r][1])};
    INFO("input " << in.height << "x" << in.width);
    CHECK(Resize<256>::output_size(in) == ImageSize{int(t[r][2]), int(t[r][3])});
  }
}

TEST_CASE("transforms: CenterCrop offsets (and zero padding) match torchvision", "[transforms]") {
  const auto table = ftmeta::test::load_npy(refs() / "center_crop_offsets.npy");
  const auto t = table.accessor<int64_t, 2>();
  REQUIRE(table.size(0) > 100);
  for (int64_t r = 0; r < table.size(0); ++r) {
    const ImageSize in{int(t[r][0]), int(t[r][1])};
    const bool square = t[r][2] == 224;
    const GeomStep step = square ? CenterCrop<224>::step({}, in) : CenterCrop<200, 150>::step({}, in);
    INFO("input " << in.height << "x" << in.width << ", crop " << t[r][2] << "x" << t[r][3]);
    CHECK(step.out == ImageSize{int(t[r][2]), int(t[r][3])});
    CHECK(step.map.f == double(t[r][4]));  // top
    CHECK(step.map.c == double(t[r][5]));  // left
  }
}

TEST_CASE("transforms: RandomResizedCrop boxes follow torchvision's distribution", "[transforms]") {
  // torchvision's get_params drawn 20000 times per size (refs) against 20000 draws of ours. For two
  // samples of n = m = 20000 the KS statistic exceeds 1.95 * sqrt(2 / 20000) = 0.0195 with
  // probability 0.001 when the distributions are equal; means must agree within 5 standard errors.
  const int sizes[][2] = {{400, 640}, {400, 300}, {100, 1000}, {512, 512}};
  for (const auto& hw : sizes) {
    const ImageSize in{hw[0], hw[1]};
    const std::string name = std::to_string(in.height) + "x" + std::to_string(in.width);
    const auto ref = ftmeta::test::load_npy(refs() / ("rrc_boxes_" + name + ".npy"));
    const auto r = ref.accessor<int64_t, 2>();
    BoxStats theirs, ours;
    for (int64_t k = 0; k < ref.size(0); ++k) theirs.add({int(r[k][0]), int(r[k][1]), int(r[k][2]), int(r[k][3])}, in);
    for (int64_t k = 0; k < ref.size(0); ++k) {
      auto rng = ftmeta::Rng::for_sample(1234, 0, std::uint64_t(k));
      const CropBox b = RandomResizedCrop<224>::sample(rng, in);
      REQUIRE((b.top >= 0 && b.left >= 0 && b.height > 0 && b.width > 0 && b.top + b.height <= in.height &&
               b.left + b.width <= in.width));
      ours.add(b, in);
    }
    const double n = double(ref.size(0)), critical = 1.95 * std::sqrt(2.0 / n);
    auto same = [&](const char* what, const std::vector<double>& a, const std::vector<double>& b) {
      const double d = ks_statistic(a, b);
      const double se = std::sqrt((stddev(a) * stddev(a) + stddev(b) * stddev(b)) / n);
      INFO(name << " " << what << ": KS " << d << " (critical " << critical << "), means " << mean(a) << " vs "
                << mean(b) << " (5 s.e. = " << 5 * se << ")");
      CHECK(d < critical);
      CHECK(std::abs(mean(a) - mean(b)) < 5 * se);
    };
    same("area fraction", ours.area, theirs.area);
    same("log aspect", ours.log_aspect, theirs.log_aspect);
    same("centre x", ours.centre_x, theirs.centre_x);
    same("centre y", ours.centre_y, theirs.centre_y);
  }
}

TEST_CASE("transforms: RandomResizedCrop falls back as torchvision does", "[transforms]") {
  // Strips where no box of >= 8% of the area has an aspect in [3/4, 4/3]: every try fails.
  const auto table = ftmeta::test::load_npy(refs() / "rrc_fallback.npy");
  const auto t = table.accessor<int64_t, 2>();
  REQUIRE(table.size(0) >= 3);
  for (int64_t r = 0; r < table.size(0); ++r) {
    auto rng = ftmeta::Rng::for_sample(7, 0, std::uint64_t(r));
    INFO("input " << t[r][0] << "x" << t[r][1]);
    CHECK(RandomResizedCrop<224>::sample(rng, {int(t[r][0]), int(t[r][1])}) ==
          CropBox{int(t[r][2]), int(t[r][3]), int(t[r][4]), int(t[r][5])});
  }
}

}  // namespace unit_transforms_sampling
