// Tests of ftmeta/data/decode.hpp, the one decode rule: the pixels of PIL's convert("RGB") (run in
// the python_refs fixture, refs/decode.py) on JPEGs with all 8 EXIF orientations, a CMYK JPEG, grey,
// 16-bit, alpha, grey+alpha and palette PNGs; EXIF honoured on request as ImageOps.exif_transpose;
// and the same tensors from every path (file source, encoded source, read_image, the loader).
#include <ftmeta/data/decode.hpp>
#include <ftmeta/data/loader.hpp>
#include <ftmeta/data/sources.hpp>
#include <ftmeta/transforms.hpp>

#include <support/npy.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace unit_data_decode {

namespace fs = std::filesystem;
using namespace ftmeta::data;

namespace {

fs::path dir() { return ftmeta::test::refs_dir() / "decode"; }

const std::vector<std::string> files = {"exif_1.jpg", "exif_2.jpg", "exif_3.jpg", "exif_4.jpg", "exif_5.jpg", "exif_6.jpg",
                                        "exif_7.jpg", "exif_8.jpg", "exif_6.png", "cmyk.jpg", "grey.png", "grey16.png",
                                        "rgb16.png", "rgba16.png", "rgba.png", "la.png", "palette.png"};

// A BGR image as the HxWx3 RGB uint8 tensor the references hold.
torch::Tensor hwc_rgb(const cv::Mat& bgr) {
  REQUIRE(bgr.type() == CV_8UC3);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8).clone();
}

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
  std::vector<std::uint8_t> b;
  std::string why;
  REQUIRE(read_file_bytes(p, b, why));
  return b;
}

struct EvalPipe : ftmeta::transforms::Compose<ftmeta::transforms::Resize<20>, ftmeta::transforms::CenterCrop<20>,
                                              ftmeta::transforms::ToTensor> {};

}  // namespace

TEST_CASE("decode: every file gives PIL's convert(\"RGB\") pixels, EXIF ignored by default", "[data][decode]") {
  for (const auto& name : files) {
    INFO(name);
    const auto ref = ftmeta::test::load_npy(dir() / (name + ".rgb.npy"));
    std::string why;
    const cv::Mat img = decode_file(dir() / name, why);
    INFO(why);
    REQUIRE(!img.empty());
    const auto got = hwc_rgb(img);
    REQUIRE(got.sizes() == ref.sizes());
    const auto diff = (got.to(torch::kInt32) - ref.to(torch::kInt32)).abs().max().item<int>();
    CHECK(diff == 0);
  }
}

TEST_CASE("decode: DecodeOptions::exif_orientation turns images upright as ImageOps.exif_transpose", "[data][decode]") {
  for (const auto& name : files) {
    INFO(name);
    const auto ref = ftmeta::test::load_npy(dir() / (name + ".upright.npy"));
    const cv::Mat img = read_image(dir() / name, {.exif_orientation = true});
    const auto got = hwc_rgb(img);
    REQUIRE(got.sizes() == ref.sizes());
    CHECK((got.to(torch::kInt32) - ref.to(torch::kInt32)).abs().max().item<int>() == 0);
  }
  // The tag is read: 1..8 for the eight JPEGs, 6 for the PNG's eXIf chunk, 1 for a file without one.
  for (int o = 1; o <= 8; ++o) {
    const auto b = bytes_of(dir() / ("exif_" + std::to_string(o) + ".jpg"));
    CHECK(exif_orientation(b.data(), b.size()) == o);
  }
  const auto png = bytes_of(dir() / "exif_6.png");
  CHECK(exif_orientation(png.data(), png.size()) == 6);
  const auto plain = bytes_of(dir() / "grey.png");
  CHECK(exif_orientation(plain.data(), plain.size()) == 1);
  // Every truncation of a tagged file is parsed without reading past it (ASan would report it)
  // and gives a valid orientation.
  const auto jpg = bytes_of(dir() / "exif_6.jpg");
  for (std::size_t n = 0; n <= std::min<std::size_t>(jpg.size(), 400); ++n) {
    std::vector<std::uint8_t> cut(jpg.begin(), jpg.begin() + static_cast<std::ptrdiff_t>(n));
    const int o = exif_orientation(cut.data(), cut.size());
    CHECK((o >= 1 && o <= 8));
  }
}

TEST_CASE("decode: the file source, the encoded source, read_image and the loader give identical tensors", "[data][decode]") {
  std::vector<Sample> samples;
  std::vector<std::vector<std::uint8_t>> encoded;
  std::vector<std::int64_t> labels;
  for (std::size_t i = 0; i < files.size(); ++i) {
    samples.push_back({dir() / files[i], static_cast<std::int64_t>(i)});
    encoded.push_back(bytes_of(dir() / files[i]));
    labels.push_back(static_cast<std::int64_t>(i));
  }
  for (bool exif : {false, true}) {
    INFO("exif_orientation " << exif);
    const DecodeOptions options{.exif_orientation = exif};
    auto by_file = std::make_shared<FileSource>(samples);
    auto by_bytes = std::make_shared<EncodedSource>(encoded, labels);
    for (std::size_t i = 0; i < files.size(); ++i) {
      INFO(files[i]);
      std::string why;
      const cv::Mat a = by_file->decode_for(static_cast<std::int64_t>(i), why, options);
      const cv::Mat b = by_bytes->decode_for(static_cast<std::int64_t>(i), why, options);
      const cv::Mat c = read_image(dir() / files[i], options);
      REQUIRE((!a.empty() && !b.empty()));
      CHECK(torch::equal(hwc_rgb(a), hwc_rgb(c)));
      CHECK(torch::equal(hwc_rgb(b), hwc_rgb(c)));
    }
    // What the loader hands to training and evaluation equals the pipeline applied to read_image
    // (the Predictor's path).
    auto loader = make_loader(
        by_file, [](const cv::Mat& m, ftmeta::Rng& r, torch::Tensor out) { ftmeta::transforms::apply_into<EvalPipe>(m, r, out); },
        output_size_v<EvalPipe>,
                              {.batch_size = 5, .shuffle = false, .num_workers = 1, .on_bad_sample = OnBadSample::fail,
                               .decode = options});
    loader->start_epoch(0);
    std::int64_t seen = 0;
    while (auto batch = loader->next()) {
      for (std::int64_t j = 0; j < batch->images.size(0); ++j) {
        const auto idx = batch->indices[j].item<std::int64_t>();
        ftmeta::Rng rng(0);
        const auto single = ftmeta::transforms::apply<EvalPipe>(read_image(samples[static_cast<std::size_t>(idx)].path, options), rng);
        CHECK(torch::equal(batch->images[j], single));
        ++seen;
      }
    }
    CHECK(seen == static_cast<std::int64_t>(files.size()));
  }
}

TEST_CASE("decode: EXIF orientation changes the pixels only when asked", "[data][decode]") {
  const cv::Mat ignored = read_image(dir() / "exif_6.jpg");
  const cv::Mat upright = read_image(dir() / "exif_6.jpg", {.exif_orientation = true});
  CHECK(ignored.size() == cv::Size(40, 24));
  CHECK(upright.size() == cv::Size(24, 40));  // turned: width and height swap
  const cv::Mat one = read_image(dir() / "exif_1.jpg", {.exif_orientation = true});
  CHECK(cv::norm(one, read_image(dir() / "exif_1.jpg"), cv::NORM_INF) == 0);
  CHECK_THROWS_WITH(read_image(dir() / "nope.jpg"), Catch::Matchers::Contains("nope.jpg: cannot open"));
}

TEST_CASE("decode: a PNG header announcing 4-billion-pixel sides is refused without overflow (fuzz finding)", "[data][decode]") {
  // fuzz/seeds/png/ihdr_size_overflow without its option byte: IHDR 4294954445 x 3452816845.
  std::vector<std::uint8_t> b;
  std::string why;
  REQUIRE(read_file_bytes(fs::path(FTMETA_SOURCE_DIR) / "fuzz/seeds/png/ihdr_size_overflow", b, why));
  b.erase(b.begin());
  const auto size = encoded_image_size(b.data(), b.size());
  REQUIRE(size);
  CHECK(size->first == 4294954445LL);
  const cv::Mat img = decode_image(b.data(), b.size(), why, {.max_pixels = 1 << 22});
  CHECK(img.empty());
  CHECK_THAT(why, Catch::Matchers::Contains("too large: 4294954445x3452816845 pixels"));
}

}  // namespace unit_data_decode
