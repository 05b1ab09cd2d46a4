// Tests of the loader's bad-file policy on a real corpus written here (zero bytes, truncated JPEG,
// text named .png, CMYK JPEG, 16-bit PNG, RGBA PNG, a 1x1 image, a huge one), and of the header
// reader and the reduced-resolution JPEG decoding rule (sources.hpp, decode_options_for).
#include <ftmeta/data/loader.hpp>
#include <ftmeta/data/sources.hpp>
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include "support/npy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_badfiles {

namespace fs = std::filesystem;
using namespace ftmeta::data;
using namespace ftmeta::transforms;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::TempDir;

struct Aug : Compose<RandomResizedCrop<16>, HFlip, ToTensor, Normalize<>> {};

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

cv::Mat pattern(int h, int w, int type) {
  cv::Mat m(h, w, type);
  cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(type == CV_16UC3 || type == CV_16UC1 ? 65535 : 255));
  return m;
}

struct Corpus {
  std::vector<Sample> samples;
  std::vector<std::string> bad, good;  // file names
};

// The corpus: 6 good JPEGs, then the odd files, interleaved so that bad ones sit inside batches.
Corpus make_corpus(const fs::path& dir) {
  Corpus c;
  auto add = [&](const std::string& name, bool good) {
    c.samples.push_back({dir / name, static_cast<std::int64_t>(c.samples.size() % 3)});
    (good ? c.good : c.bad).push_back(name);
  };
  for (int i = 0; i < 6; ++i) {
    REQUIRE(cv::imwrite((dir / ("good_" + std::to_string(i) + ".jpg")).string(), pattern(30 + i, 40, CV_8UC3)));
    add("good_" + std::to_string(i) + ".jpg", true);
  }
  std::ofstream(dir / "zero.png", std::ios::binary);
  add("zero.png", false);
  {
    REQUIRE(cv::imwrite((dir / "full.jpg").string(), pattern(150, 200, CV_8UC3)));
    auto b = bytes_of(dir / "full.jpg");
    fs::remove(dir / "full.jpg");
    std::ofstream(dir / "truncated.jpg", std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size() / 2);
  }
  add("truncated.jpg", false);
  std::ofstream(dir / "text.png") << "this is not a PNG\n";
  add("text.png", false);
  fs::copy_file(ftmeta::test::refs_dir() / "data_badfiles" / "cmyk.jpg", dir / "cmyk.jpg");
  add("cmyk.jpg", true);
  REQUIRE(cv::imwrite((dir / "deep16.png").string(), pattern(20, 24, CV_16UC3)));
  add("deep16.png", true);
  REQUIRE(cv::imwrite((dir / "alpha.png").string(), pattern(20, 24, CV_8UC4)));
  add("alpha.png", true);
  REQUIRE(cv::imwrite((dir / "one.png").string(), pattern(1, 1, CV_8UC3)));
  add("one.png", true);
  REQUIRE(cv::imwrite((dir / "huge.png").string(), cv::Mat(2000, 2600, CV_8UC3, cv::Scalar(1, 2, 3))));
  add("huge.png", false);
  return c;
}

std::unique_ptr<Loader> aug_loader(const std::vector<Sample>& samples, LoaderOptions o) {
  return make_loader(
      std::make_shared<FileSource>(samples),
      [](const cv::Mat& m, ftmeta::Rng& r, torch::Tensor out) { apply_into<Aug>(m, r, out); }, output_size_v<Aug>, o);
}

}  // namespace

TEST_CASE("data: bad files are skipped, counted and named, and batches stay full", "[data][loader][badfiles]") {
  TempDir tmp;
  const auto corpus = make_corpus(tmp.path);
  const std::int64_t good = static_cast<std::int64_t>(corpus.good.size());
  for (int workers : {0, 2}) {
    INFO(workers << " workers");
    auto loader = aug_loader(corpus.samples, {.batch_size = 4, .seed = 3, .num_workers = workers,
                                              .decode = {.max_pixels = 4'000'000}});
    std::vector<std::int64_t> sizes;
    std::int64_t seen = 0;
    for (Batch& b : loader->epoch(0)) {
      sizes.push_back(b.images.size(0));
      seen += b.images.size(0);
      CHECK(torch::isfinite(b.images).all().item<bool>());
    }
    const auto stats = loader->stats();
    CHECK(stats.finished);
    CHECK(seen == good);
    CHECK(stats.samples == good);
    CHECK(stats.skipped == static_cast<std::int64_t>(corpus.bad.size()));
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) CHECK(sizes[i] == 4);  // refilled from later samples
    std::string all;
    for (const auto& f : stats.skipped_files) all += f + "\n";
    CHECK_THAT(all, Contains("zero.png (empty file)") && Contains("truncated.jpg (truncated JPEG") &&
                        Contains("text.png (not a decodable image") && Contains("huge.png (too large: 2600x2000"));
  }
  // without a size limit the huge image is an ordinary sample
  auto unlimited = aug_loader(corpus.samples, {.batch_size = 4, .seed = 3, .num_workers = 1});
  for (Batch& b : unlimited->epoch(0)) (void)b;
  CHECK(unlimited->stats().skipped == static_cast<std::int64_t>(corpus.bad.size()) - 1);
}

TEST_CASE("data: OnBadSample::fail stops at the first bad file of the epoch, naming it", "[data][loader][badfiles]") {
  TempDir tmp;
  const auto corpus = make_corpus(tmp.path);
  for (const auto& name : corpus.bad) {
    INFO(name);
    std::vector<Sample> one_bad;  // the good files and this bad one
    for (const auto& s : corpus.samples) {
      const auto f = s.path.filename().string();
      if (f == name || std::count(corpus.good.begin(), corpus.good.end(), f)) one_bad.push_back(s);
    }
    auto loader = aug_loader(one_bad, {.batch_size = 3, .seed = 5, .num_workers = 2,
                                       .on_bad_sample = OnBadSample::fail, .decode = {.max_pixels = 4'000'000}});
    loader->start_epoch(0);
    CHECK_THROWS_WITH([&] { while (loader->next()) {} }(), Contains((tmp.path / name).string()));
  }
}

TEST_CASE("data: odd but valid files decode as torchvision's loader sees them", "[data][sources][badfiles]") {
  TempDir tmp;
  const auto corpus = make_corpus(tmp.path);
  FileSource files(corpus.samples);
  auto at = [&](const std::string& name) {
    for (std::size_t i = 0; i < corpus.samples.size(); ++i)
      if (corpus.samples[i].path.filename() == name) return static_cast<std::int64_t>(i);
    FAIL("no " << name);
    return std::int64_t{-1};
  };
  std::string why;
  // CMYK JPEG: close to PIL's convert("RGB") (both invert the Adobe CMYK; libjpeg and PIL round differently)
  const cv::Mat cmyk = files.decode(at("cmyk.jpg"), why);
  REQUIRE(cmyk.type() == CV_8UC3);
  const auto ref = ftmeta::test::load_npy(ftmeta::test::refs_dir() / "data_badfiles" / "cmyk_rgb.npy");
  REQUIRE(ref.size(0) == cmyk.rows);
  REQUIRE(ref.size(1) == cmyk.cols);
  cv::Mat rgb;
  cv::cvtColor(cmyk, rgb, cv::COLOR_BGR2RGB);
  const auto got = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8).to(torch::kInt32);
  const auto diff = (got - ref.to(torch::kInt32)).abs();
  INFO("max |diff| " << diff.max().item<int>() << ", mean " << diff.to(torch::kFloat).mean().item<float>());
  CHECK(diff.max().item<int>() == 0);  // PIL's CMYK formula, exactly (data/decode.hpp)
  // 16-bit colour: its high byte, as PIL reads it ("RGB;16B"); RGBA: alpha dropped; 1x1: one pixel
  const cv::Mat deep = files.decode(at("deep16.png"), why);
  CHECK(deep.type() == CV_8UC3);
  cv::Mat deep_ref;
  cv::imread((tmp.path / "deep16.png").string(), cv::IMREAD_UNCHANGED).convertTo(deep_ref, CV_32S);
  deep_ref.forEach<cv::Vec3i>([](cv::Vec3i& v, const int*) { v = cv::Vec3i(v[0] >> 8, v[1] >> 8, v[2] >> 8); });
  deep_ref.convertTo(deep_ref, CV_8U);
  CHECK(cv::norm(deep, deep_ref, cv::NORM_INF) == 0);
  const cv::Mat alpha = files.decode(at("alpha.png"), why);
  CHECK(alpha.type() == CV_8UC3);
  cv::Mat bgra = cv::imread((tmp.path / "alpha.png").string(), cv::IMREAD_UNCHANGED), bgr;
  cv::cvtColor(bgra, bgr, cv::COLOR_BGRA2BGR);
  CHECK(cv::norm(alpha, bgr, cv::NORM_INF) == 0);
  CHECK(files.decode(at("one.png"), why).size() == cv::Size(1, 1));
}

TEST_CASE("data: image headers give the size without decoding", "[data][sources]") {
  TempDir tmp;
  REQUIRE(cv::imwrite((tmp.path / "a.jpg").string(), pattern(37, 53, CV_8UC3)));
  REQUIRE(cv::imwrite((tmp.path / "a.png").string(), pattern(41, 29, CV_8UC1)));
  auto jpg = bytes_of(tmp.path / "a.jpg"), png = bytes_of(tmp.path / "a.png");
  CHECK(encoded_image_size(jpg.data(), jpg.size()) == std::pair<std::int64_t, std::int64_t>{53, 37});
  CHECK(encoded_image_size(png.data(), png.size()) == std::pair<std::int64_t, std::int64_t>{29, 41});
  const auto cmyk = bytes_of(ftmeta::test::refs_dir() / "data_badfiles" / "cmyk.jpg");
  CHECK(encoded_image_size(cmyk.data(), cmyk.size()) == std::pair<std::int64_t, std::int64_t>{32, 24});
  const std::string text = "GIF89a....";
  CHECK_FALSE(encoded_image_size(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  CHECK_FALSE(jpeg_truncated(jpg.data(), jpg.size()));
  CHECK(jpeg_truncated(jpg.data(), jpg.size() - 2));
}

TEST_CASE("data: reduced JPEG decoding follows the pipeline's smallest crop", "[data][sources][reduced]") {
  // RandomResizedCrop<64>: the smallest box's shorter side is >= sqrt(0.08 * 3/4) of the image's
  const auto rrc = decode_options_for<Compose<RandomResizedCrop<64>, ToTensor>>();
  CHECK(rrc.min_side == 64);
  CHECK(rrc.min_crop_fraction == Approx(std::sqrt(0.08 * 0.75)));
  const auto resize = decode_options_for<Compose<Resize<256>, CenterCrop<224>, ToTensor>>(1000);
  CHECK(resize.min_side == 256);
  CHECK(resize.min_crop_fraction == 1.0);
  CHECK(resize.max_pixels == 1000);
  CHECK(decode_options_for<Compose<HFlip, Resize<32, 32>, ToTensor>>().min_side == 0);  // a flip first: off
  // the hint is the op's trait (OpTraits<Op>::decode_hint), so ops derived from these carry it too
  struct Crop96 : RandomResizedCrop<96, 80, 0.25> {};
  struct Short128 : Resize<128> {};
  CHECK(decode_options_for<Compose<Crop96, ToTensor>>().min_side == 96);
  CHECK(decode_options_for<Compose<Crop96, ToTensor>>().min_crop_fraction == Approx(std::sqrt(0.25 * 0.75)));
  CHECK(decode_options_for<Compose<Short128, ToTensor>>().min_side == 128);

  // the rule: largest f in {1, 2, 4, 8} with min(W, H) / f * fraction >= min_side
  CHECK(reduced_decode_factor(500, 375, rrc) == 1);
  CHECK(reduced_decode_factor(1600, 1200, rrc) == 4);  // 1200 * 0.245 = 294: /4 = 73 >= 64, /8 = 37 < 64
  CHECK(reduced_decode_factor(1200, 1600, rrc) == 4);
  CHECK(reduced_decode_factor(2048, 1030, resize) == 4);   // 1030 / 4 = 257 >= 256
  CHECK(reduced_decode_factor(2048, 1020, resize) == 2);
  CHECK(reduced_decode_factor(100000, 100000, resize) == 8);
  CHECK(reduced_decode_factor(4000, 3000, DecodeOptions{}) == 1);  // off

  TempDir tmp;
  REQUIRE(cv::imwrite((tmp.path / "big.jpg").string(), pattern(1200, 1600, CV_8UC3)));
  REQUIRE(cv::imwrite((tmp.path / "big.png").string(), pattern(1200, 1600, CV_8UC3)));
  FileSource files({{tmp.path / "big.jpg", 0}, {tmp.path / "big.png", 0}});
  std::string why;
  CHECK(files.decode_for(0, why, rrc).size() == cv::Size(400, 300));
  CHECK(files.decode_for(0, why, {}).size() == cv::Size(1600, 1200));
  CHECK(files.decode_for(1, why, rrc).size() == cv::Size(1600, 1200));  // PNG: always full resolution
  // the same pixels as OpenCV's decoder, at full and reduced resolution (with or without the direct
  // libjpeg path, FTMETA_WITH_LIBJPEG), for colour and gray JPEGs
  REQUIRE(cv::imwrite((tmp.path / "gray.jpg").string(), pattern(300, 200, CV_8UC1)));
  for (const char* name : {"big.jpg", "gray.jpg"}) {
    INFO(name);
    const auto b = bytes_of(tmp.path / name);
    const cv::Mat full = decode_image(b.data(), b.size(), why, {});
    const DecodeOptions reduce{.min_side = 20, .min_crop_fraction = 0.5};
    const auto size = encoded_image_size(b.data(), b.size());
    REQUIRE(size);
    const int f = reduced_decode_factor(size->first, size->second, reduce);
    REQUIRE(f >= 4);  // 8 for big.jpg, 4 for gray.jpg
    const cv::Mat quarter = decode_image(b.data(), b.size(), why, reduce);
    const cv::Mat ref_full = cv::imdecode(b, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    const cv::Mat ref_quarter =
        cv::imdecode(b, (f == 4 ? cv::IMREAD_REDUCED_COLOR_4 : cv::IMREAD_REDUCED_COLOR_8) | cv::IMREAD_IGNORE_ORIENTATION);
    REQUIRE(full.size() == ref_full.size());
    REQUIRE(quarter.size() == ref_quarter.size());
    CHECK(cv::norm(full, ref_full, cv::NORM_INF) == 0);
    CHECK(cv::norm(quarter, ref_quarter, cv::NORM_INF) == 0);
  }
  // and the loader passes its options on: batches are full and finite
  auto loader = make_loader(
      std::make_shared<FileSource>(std::vector<Sample>{{tmp.path / "big.jpg", 0}, {tmp.path / "big.jpg", 1}}),
      [](const cv::Mat& m, ftmeta::Rng& r, torch::Tensor out) {
        CHECK(m.cols == 200);  // Aug crops to 16: 1200 * 0.245 / 8 = 37 >= 16
        apply_into<Aug>(m, r, out);
      },
      output_size_v<Aug>, {.batch_size = 2, .num_workers = 0, .decode = decode_options_for<Aug>()});
  int n = 0;
  for (Batch& b : loader->epoch(0)) n += static_cast<int>(b.images.size(0));
  CHECK(n == 2);
}

}  // namespace unit_data_badfiles
