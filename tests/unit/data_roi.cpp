// Unit tests of region decoding: the pipeline's plan says which part of the JPEG a sample reads, only
// that part is decoded (rows skipped, columns cropped, optionally at 1/2 or 1/4 scale), and the output is
// what decoding the whole image gives (exactly at full scale, within stated bounds at reduced scale);
// EXIF-turned images fall back to whole decoding; the loader's batches do not depend on its threads.
#include <ftmeta/data.hpp>
#include <ftmeta/transforms.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <support/npy.hpp>
#include <support/temp_dir.hpp>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_roi {

namespace {
using namespace ftmeta::transforms;
using namespace ftmeta::data;

struct TrainAug : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>> {};
struct Classic : Compose<RandomResizedCrop<224>, RandomHorizontalFlip<0.5>, RandomVerticalFlip<0.5>, RandomRotation<10>,
                         ColorJitter<0.05, 0.05, 0.05, 0.05>, ToTensor, Normalize<>> {};
struct Small : Compose<RandomResizedCrop<16>, VFlip, ToTensor> {};
struct EvalAug : Compose<Resize<256>, CenterCrop<224>, ToTensor, Normalize<>> {};
struct JitterFirst : Compose<ColorJitter<0.2, 0.2>, RandomResizedCrop<64>, ToTensor> {};

// Real photos as JPEGs of several sizes (colour and gray, baseline and progressive), in memory.
const std::vector<std::vector<std::uint8_t>>& jpegs() {
  static const std::vector<std::vector<std::uint8_t>> all = [] {
    std::vector<std::vector<std::uint8_t>> out;
    const cv::Mat aqua = cv::imread("/usr/share/backgrounds/mate/nature/Aqua.jpg", cv::IMREAD_COLOR);
    REQUIRE(!aqua.empty());
    const cv::Size sizes[] = {{500, 375}, {375, 500}, {333, 251}, {1024, 683}};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
      cv::Mat small;
      cv::resize(aqua, small, sizes[i], 0, 0, cv::INTER_AREA);
      if (i == 2) cv::cvtColor(small, small, cv::COLOR_BGR2GRAY);  // a gray JPEG
      std::vector<std::uint8_t> bytes;
      const std::vector<int> params = {cv::IMWRITE_JPEG_QUALITY, i == 3 ? 75 : 90, cv::IMWRITE_JPEG_PROGRESSIVE, i == 1 ? 1 : 0};
      REQUIRE(cv::imencode(".jpg", small, bytes, params));
      out.push_back(std::move(bytes));
    }
    return out;
  }();
  return all;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }
double mean_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().mean().item<double>(); }

// Sample `key` of P on `bytes`, decoded by region (the pipeline loader's path); `got` receives what was decoded.
template <class P>
torch::Tensor by_region(const std::vector<std::uint8_t>& bytes, std::uint64_t key, const DecodeOptions& options,
                        RegionImage* got = nullptr, DecodeRegion* asked = nullptr) {
  auto rng = ftmeta::Rng::for_sample(7, 2, key);
  std::optional<PlannedSample<P>> planned;
  std::string why;
  const RegionImage part = decode_image_region(bytes.data(), bytes.size(), why, options, [&](std::int64_t w, std::int64_t h) {
    planned.emplace(rng, ImageSize{int(h), int(w)});
    const DecodeRegion r = region_to_decode(*planned);
    if (asked) *asked = r;
    return r;
  });
  REQUIRE(!part.image.empty());
  REQUIRE(planned);
  if (got) *got = part;
  auto out = torch::empty({3, P::out_height, P::out_width});
  planned->run_into(part.image, double(part.x), double(part.y), part.factor, out);
  return out;
}
// The same sample on the whole decoded image (apply_into).
template <class P>
torch::Tensor whole(const std::vector<std::uint8_t>& bytes, std::uint64_t key, const DecodeOptions& options = {}) {
  auto rng = ftmeta::Rng::for_sample(7, 2, key);
  std::string why;
  const cv::Mat image = decode_image(bytes.data(), bytes.size(), why, options);
  REQUIRE(!image.empty());
  auto out = torch::empty({3, P::out_height, P::out_width});
  apply_into<P>(image, rng, out);
  return out;
}
}  // namespace

TEST_CASE("roi: decoding only the region a sample reads gives the pixels of decoding the whole JPEG", "[data][roi]") {
  // Same draws (from the header's size), same crop box, same decoded pixels inside it (libjpeg-turbo's
  // skipped rows and cropped columns decode as the whole image does): bound 0 for the axis-aligned
  // chains. The rotation warps a part whose edge lies two pixels outside its footprint: also 0.
  const DecodeOptions full_scale{};  // region on, region_scaling off
  int cropped = 0;
  for (const auto& bytes : jpegs()) {
    for (std::uint64_t key = 0; key < 12; ++key) {
      RegionImage got;
      DecodeRegion asked;
      const auto part = by_region<TrainAug>(bytes, key, full_scale, &got, &asked);
      CHECK(got.factor == 1);
      CHECK(got.x <= asked.x);  // columns start at an iMCU edge at or before the region
      CHECK(got.y == asked.y);
      cropped += got.image.cols * got.image.rows < 500 * 375 / 2;
      CHECK(max_abs(part, whole<TrainAug>(bytes, key)) == 0);
      CHECK(max_abs(by_region<Classic>(bytes, key, full_scale), whole<Classic>(bytes, key)) == 0);
      CHECK(max_abs(by_region<EvalAug>(bytes, key, full_scale), whole<EvalAug>(bytes, key)) == 0);
    }
  }
  CHECK(cropped > 12);  // RandomResizedCrop's areas are 8% to 100%: many samples decode less than half the image
  // Region decoding off: the whole image, the same pixels.
  RegionImage got;
  const auto& bytes = jpegs()[0];
  CHECK(max_abs(by_region<TrainAug>(bytes, 3, {.region = false}, &got), whole<TrainAug>(bytes, 3)) == 0);
  CHECK((got.x == 0 && got.y == 0 && got.image.cols == 500 && got.image.rows == 375));
}

TEST_CASE("roi: decoding at 1/2 or 1/4 scale stays within the stated bound of decoding whole", "[data][roi]") {
  // The DCT's 1/2 and 1/4 scales average 2x2 and 4x4 blocks, then the triangle filter shrinks the rest of
  // the way: a different low-pass than one triangle filter from full scale. Measured (normalized units, one
  // grey level is about 0.017): worst mean 0.009 (half a level), worst max 0.32 (19 levels, on edges), with
  // 6 of the 48 draws decoded at 1/2. Bounds: mean 0.02, max 0.5.
  const DecodeOptions scaled{.region_scaling = true};
  int reduced = 0;
  double worst_mean = 0, worst_max = 0;
  for (const auto& bytes : jpegs()) {
    for (std::uint64_t key = 0; key < 12; ++key) {
      RegionImage got;
      const auto part = by_region<TrainAug>(bytes, key, scaled, &got);
      const auto ref = whole<TrainAug>(bytes, key);
      reduced += got.factor > 1;
      worst_mean = std::max(worst_mean, mean_abs(part, ref));
      worst_max = std::max(worst_max, max_abs(part, ref));
      worst_mean = std::max(worst_mean, mean_abs(by_region<Classic>(bytes, key, scaled), whole<Classic>(bytes, key)));
    }
  }
  INFO("reduced " << reduced << ", worst mean " << worst_mean << ", worst max " << worst_max);
  CHECK(reduced > 4);
  CHECK(worst_mean < 0.02);
  CHECK(worst_max < 0.5);
}

TEST_CASE("roi: EXIF-turned JPEGs, PNGs and whole-source plans decode whole", "[data][roi]") {
  const auto dir = ftmeta::test::refs_dir() / "decode";
  for (const char* name : {"exif_6.jpg", "exif_8.jpg", "exif_6.png", "cmyk.jpg"}) {
    INFO(name);
    std::vector<std::uint8_t> bytes;
    std::string why;
    REQUIRE(read_file_bytes(dir / name, bytes, why));
    for (bool exif : {false, true}) {
      const DecodeOptions options{.exif_orientation = exif};
      RegionImage got;
      const auto part = by_region<Small>(bytes, 1, options, &got);
      const auto ref = whole<Small>(bytes, 1, options);
      const bool turned = exif && std::string(name).find("exif_") == 0;
      if (turned || std::string(name).ends_with(".png")) {  // decoded whole and upright, the same pixels
        const cv::Mat upright = decode_image(bytes.data(), bytes.size(), why, options);
        CHECK((got.x == 0 && got.y == 0 && got.factor == 1 && got.image.size() == upright.size()));
        CHECK(max_abs(part, ref) == 0);
      } else {  // decoded by region
        CHECK(max_abs(part, ref) == 0);
      }
    }
  }
  // A plan that needs the whole source (ColorJitter before the crop: contrast's mean is the whole image's).
  RegionImage got;
  const auto& bytes = jpegs()[0];
  CHECK(max_abs(by_region<JitterFirst>(bytes, 5, {}, &got), whole<JitterFirst>(bytes, 5)) == 0);
  CHECK((got.x == 0 && got.y == 0 && got.image.cols == 500 && got.image.rows == 375));
}

TEST_CASE("roi: pipeline_loader batches are the same for any thread count and match whole decoding", "[data][roi]") {
  ftmeta::test::TempDir tmp("roi");
  std::vector<Sample> samples;
  for (std::size_t i = 0; i < jpegs().size(); ++i)
    for (int copy = 0; copy < 3; ++copy) {
      const auto path = tmp.path / ("image" + std::to_string(i) + "_" + std::to_string(copy) + ".jpg");
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(jpegs()[i].data()), std::streamsize(jpegs()[i].size()));
      samples.push_back({path, std::int64_t(i)});
    }
  for (bool scaling : {false, true}) {
    std::vector<torch::Tensor> runs;
    for (int workers : {0, 1, 2}) {
      auto loader = pipeline_loader<TrainAug>(
          samples, {.batch_size = 5, .seed = 4, .num_workers = workers, .decode = {.region_scaling = scaling}});
      std::vector<torch::Tensor> batches;
      for (auto& b : loader->epoch(1)) batches.push_back(b.images);
      runs.push_back(torch::cat(batches));
    }
    CHECK(torch::equal(runs[0], runs[1]));
    CHECK(torch::equal(runs[0], runs[2]));
    if (!scaling) {  // at full scale: what apply_into gives on the whole decoded images, sample by sample
      auto loader = make_loader(
          std::make_shared<FileSource>(samples),
          [](const cv::Mat& m, ftmeta::Rng& r, torch::Tensor out) { apply_into<TrainAug>(m, r, out); },
          output_size_v<TrainAug>, {.batch_size = 5, .seed = 4, .num_workers = 2});
      std::vector<torch::Tensor> batches;
      for (auto& b : loader->epoch(1)) batches.push_back(b.images);
      CHECK(torch::equal(runs[0], torch::cat(batches)));
    }
  }
}

TEST_CASE("roi: the geometric stage's source region covers what it reads", "[transforms][roi]") {
  // RandomResizedCrop: the crop box itself (plus the margin); the output size and draws are apply_into's.
  for (std::uint64_t key = 0; key < 50; ++key) {
    auto rng = ftmeta::Rng::for_sample(1, 0, key), rng2 = rng;
    const PlannedSample<TrainAug> s(rng, {375, 500});
    const SourceRegion r = s.region(0), wide = s.region(2);
    CHECK((r.width > 0 && r.height > 0 && r.x + r.width <= 500 && r.y + r.height <= 375));
    CHECK((wide.x <= r.x && wide.y <= r.y && wide.x + wide.width >= r.x + r.width && wide.y + wide.height >= r.y + r.height));
    const CropBox b = RandomResizedCrop<224>::sample(rng2, {375, 500});
    CHECK((r.x == b.left && r.y == b.top && r.width == b.width && r.height == b.height));
    CHECK(r.step_x == Approx(b.width / 224.0));
  }
}

}  // namespace unit_data_roi
