// Tests of ftmeta/data/export.hpp and the in-memory source: the exported PNGs hold the IDX pixels, the
// export is idempotent and redone after an interruption, and never overwrites foreign folders.
#include <ftmeta/data/export.hpp>
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/data/sources.hpp>

#include <ftmeta/data/detail/files.hpp>

#include <catch2/catch.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_export {

namespace fs = std::filesystem;
using namespace ftmeta::data;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::TempDir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("data: export_fashion_mnist writes the first N of each class as PNGs", "[data][export]") {
  TempDir tmp;
  const auto dst = tmp.path / "fm";
  const auto r = export_fashion_mnist(fashion_mnist_dir(), dst, {.limit_per_class = 3});
  CHECK(r.written);
  CHECK(r.images == 2 * 10 * 3);
  CHECK(fs::exists(export_marker(dst)));

  const auto names = fashion_mnist_class_map();
  for (const char* part : {"train", "test"}) {
    INFO(part);
    const FashionMnist fm = read_fashion_mnist(fashion_mnist_dir(), part);
    const auto folder = scan_image_folder(dst / part);
    // ImageFolder's string order of the names, not the IDX label order
    auto sorted = names.names();
    std::sort(sorted.begin(), sorted.end());
    CHECK(folder.classes.names() == sorted);
    REQUIRE(folder.samples.size() == 30);

    std::vector<std::vector<std::int64_t>> first(10);  // the first three indices of each IDX label
    for (std::int64_t i = 0; i < fm.images.count; ++i)
      if (first[fm.labels[static_cast<std::size_t>(i)]].size() < 3) first[fm.labels[static_cast<std::size_t>(i)]].push_back(i);

    std::vector<std::vector<std::int64_t>> got(10);
    for (const auto& s : folder.samples) {
      const auto idx_label = names.index(folder.classes.name(s.label));
      const auto stem = s.path.stem().string();
      CHECK(stem.size() == 5);
      const std::int64_t i = std::stoll(stem);
      got[static_cast<std::size_t>(idx_label)].push_back(i);
      CHECK(fm.labels[static_cast<std::size_t>(i)] == idx_label);
      const cv::Mat png = cv::imread(s.path.string(), cv::IMREAD_UNCHANGED);
      REQUIRE(png.type() == CV_8UC1);
      const cv::Mat raw(28, 28, CV_8UC1, const_cast<std::uint8_t*>(fm.images.image(i)));
      CHECK(cv::norm(png, raw, cv::NORM_INF) == 0);
    }
    CHECK(got == first);
  }
}

TEST_CASE("data: export_fashion_mnist is idempotent and redoes an interrupted export", "[data][export]") {
  TempDir tmp;
  const auto dst = tmp.path / "fm";
  const ExportOptions two{.limit_per_class = 2, .splits = {"test"}};
  REQUIRE(export_fashion_mnist(fashion_mnist_dir(), dst, two).images == 20);
  const auto marker = slurp(export_marker(dst));
  const auto some_png = *fs::directory_iterator(dst / "test" / "Bag");
  const auto stamp = fs::last_write_time(some_png.path());

  const auto again = export_fashion_mnist(fashion_mnist_dir(), dst, two);
  CHECK_FALSE(again.written);
  CHECK(again.images == 0);
  CHECK(slurp(export_marker(dst)) == marker);
  CHECK(fs::last_write_time(some_png.path()) == stamp);

  // Other options: the old export is replaced, not mixed in.
  const auto three = export_fashion_mnist(fashion_mnist_dir(), dst, {.limit_per_class = 1, .splits = {"test", "train"}});
  CHECK(three.written);
  CHECK(three.images == 20);
  CHECK(scan_image_folder(dst / "test").samples.size() == 10);
  CHECK(scan_image_folder(dst / "train").samples.size() == 10);

  // An interruption: the record is gone, a half-written staging folder and the partial flag remain.
  fs::remove(export_marker(dst));
  std::ofstream(dst / ".ftmeta-export.partial") << "x";
  fs::create_directories(dst / ".ftmeta-export.staging" / "test" / "Bag");
  std::ofstream(dst / "test" / "Bag" / "stray.png") << "half";
  const auto redo = export_fashion_mnist(fashion_mnist_dir(), dst, two);
  CHECK(redo.written);
  CHECK(redo.images == 20);
  CHECK_FALSE(fs::exists(dst / "test" / "Bag" / "stray.png"));
  CHECK_FALSE(fs::exists(dst / "train"));
  CHECK_FALSE(fs::exists(dst / ".ftmeta-export.staging"));
  CHECK_FALSE(fs::exists(dst / ".ftmeta-export.partial"));
  CHECK(slurp(export_marker(dst)) == marker);
}

TEST_CASE("data: export_fashion_mnist refuses foreign folders and bad options", "[data][export]") {
  TempDir tmp;
  fs::create_directories(tmp.path / "mine" / "train" / "cat");
  CHECK_THROWS_AS(export_fashion_mnist(fashion_mnist_dir(), tmp.path / "mine"), ftmeta::DataError);
  CHECK_THROWS_WITH(export_fashion_mnist(fashion_mnist_dir(), tmp.path / "mine"),
                    Contains((tmp.path / "mine" / "train").string()));
  CHECK(fs::exists(tmp.path / "mine" / "train" / "cat"));

  CHECK_THROWS_AS(export_fashion_mnist(fashion_mnist_dir(), tmp.path / "x", {.splits = {"val"}}), ftmeta::UsageError);
  CHECK_THROWS_AS(export_fashion_mnist(fashion_mnist_dir(), tmp.path / "x", {.limit_per_class = 0}), ftmeta::UsageError);
  CHECK_THROWS_WITH(export_fashion_mnist(tmp.path / "no_source", tmp.path / "x"), Contains("no_source"));
}

TEST_CASE("data: export_fashion_mnist limits the test split on its own when asked", "[data][export]") {
  TempDir tmp;
  const auto dst = tmp.path / "fm";
  // few-shot training, a larger test set; re-asking with another test limit re-exports
  const auto r = export_fashion_mnist(fashion_mnist_dir(), dst, {.limit_per_class = 1, .test_limit_per_class = 3});
  CHECK(r.written);
  CHECK(r.images == 10 * 1 + 10 * 3);
  CHECK(scan_image_folder(dst / "train").samples.size() == 10);
  CHECK(scan_image_folder(dst / "test").samples.size() == 30);
  CHECK_FALSE(export_fashion_mnist(fashion_mnist_dir(), dst, {.limit_per_class = 1, .test_limit_per_class = 3}).written);
  const auto again = export_fashion_mnist(fashion_mnist_dir(), dst, {.limit_per_class = 1, .test_limit_per_class = 2});
  CHECK(again.written);
  CHECK(scan_image_folder(dst / "test").samples.size() == 20);
  CHECK_THROWS_AS(export_fashion_mnist(fashion_mnist_dir(), tmp.path / "x", {.test_limit_per_class = -1}), ftmeta::UsageError);
}

TEST_CASE("data: InMemorySource gives the pixels of the exported PNGs", "[data][sources]") {
  TempDir tmp;
  export_fashion_mnist(fashion_mnist_dir(), tmp.path, {.limit_per_class = 1, .splits = {"test"}});
  const auto folder = scan_image_folder(tmp.path / "test");
  const FileSource files(folder.samples);
  const InMemorySource memory(read_fashion_mnist(fashion_mnist_dir(), "test"));
  CHECK(memory.size() == 10000);
  for (std::int64_t k = 0; k < files.size(); ++k) {
    const std::int64_t i = std::stoll(folder.samples[static_cast<std::size_t>(k)].path.stem().string());
    std::string why;
    const cv::Mat a = files.decode(k, why), b = memory.decode(i, why);
    REQUIRE(a.type() == CV_8UC3);  // a gray PNG read with IMREAD_COLOR: replicated BGR
    REQUIRE(b.type() == CV_8UC1);  // the raw pixels, not copied
    CHECK(b.data == memory.images().image(i));
    std::vector<cv::Mat> channels;
    cv::split(a, channels);
    for (const auto& c : channels) CHECK(cv::norm(c, b, cv::NORM_INF) == 0);
    CHECK(fashion_mnist_classes()[static_cast<std::size_t>(memory.label(i))] == folder.classes.name(files.label(k)));
  }
  CHECK_THAT(memory.describe(7), Contains("7"));
}

}  // namespace unit_data_export
