// Tests of ftmeta/data/image_folder.hpp and split.hpp: torchvision's ImageFolder order, hidden files,
// extensions, numeric class names, the train/val/test layout, stratified splits and manifests.
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/data/split.hpp>

#include <ftmeta/data/detail/files.hpp>

#include <catch2/catch.hpp>

#include "support/npy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_folder {

namespace fs = std::filesystem;
using namespace ftmeta::data;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::TempDir;

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("data: ImageFolder lists classes and samples in torchvision's order", "[data][image_folder]") {
  const fs::path ref = ftmeta::test::refs_dir() / "data" / "image_folder";
  const auto folder = scan_image_folder(ref / "tree");
  CHECK(folder.classes.names() == lines(ref / "classes.txt"));
  std::vector<std::string> got;
  for (const auto& s : folder.samples)
    got.push_back(fs::relative(s.path, ref / "tree").generic_string() + "\t" + std::to_string(s.label));
  const auto expected = lines(ref / "samples.tsv");
  REQUIRE(expected.size() > 20);
  CHECK(got == expected);
  CHECK(folder.warnings.empty());  // "10" and "2" are not the only names: no numeric warning
}

TEST_CASE("data: numeric class names in string and natural order", "[data][image_folder]") {
  TempDir tmp;
  for (int i = 1; i <= 10; ++i) tmp.touch(std::to_string(i) + "/img.png");

  const auto by_string = scan_image_folder(tmp.path);
  CHECK(by_string.classes.names() == std::vector<std::string>{"1", "10", "2", "3", "4", "5", "6", "7", "8", "9"});
  CHECK(by_string.classes.index("10") == 1);
  REQUIRE(by_string.warnings.size() == 1);
  CHECK_THAT(by_string.warnings[0], Contains("ClassOrder::natural") && Contains("'10' gets label 1"));

  const auto natural = scan_image_folder(tmp.path, {.order = ClassOrder::natural});
  CHECK(natural.classes.names() == std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"});
  CHECK(natural.classes.index("10") == 9);
  CHECK(natural.warnings.empty());
  CHECK(natural.samples.back().path.parent_path().filename() == "10");
  CHECK(natural.samples.back().label == 9);

  TempDir agree;  // numeric names whose string order is numeric order: nothing to warn about
  for (const char* n : {"1", "2", "3"}) agree.touch(std::string(n) + "/a.jpg");
  CHECK(scan_image_folder(agree.path).warnings.empty());
}

TEST_CASE("data: ImageFolder ignores hidden files and folders and non-image files", "[data][image_folder]") {
  TempDir tmp;
  tmp.touch("cat/a.png");
  tmp.touch("cat/.b.png");           // hidden file
  tmp.touch("cat/.cache/c.png");     // inside a hidden folder
  tmp.touch("cat/notes.txt");        // not an image
  tmp.touch("cat/sub/D.JPEG");       // nested, upper-case extension
  tmp.touch(".thumbnails/x.png");    // hidden class folder
  tmp.touch("dog/e.webp");
  tmp.touch("readme.png");           // a file at the root is not a class
  const auto f = scan_image_folder(tmp.path);
  CHECK(f.classes.names() == std::vector<std::string>{"cat", "dog"});
  REQUIRE(f.samples.size() == 3);
  CHECK(f.samples[0].path == tmp.path / "cat" / "a.png");
  CHECK(f.samples[1].path == tmp.path / "cat" / "sub" / "D.JPEG");
  CHECK(f.samples[2] == Sample{tmp.path / "dog" / "e.webp", 1});
  CHECK(f.labels() == std::vector<std::int64_t>{0, 0, 1});
}

TEST_CASE("data: image extensions are torchvision's, case-insensitive", "[data][image_folder]") {
  for (const char* yes : {"a.jpg", "a.JPG", "a.jpeg", "a.png", "a.PpM", "a.bmp", "a.pgm", "a.tif", "a.TIFF", "a.webp",
                          "dir/x.y.png"})
    CHECK(has_image_extension(yes));
  for (const char* no : {"a.gif", "a.txt", "png", "a.png.bak", "a.jpe", "a.heic", "a"}) CHECK_FALSE(has_image_extension(no));
}

TEST_CASE("data: ImageFolder errors name the folder or class", "[data][image_folder]") {
  TempDir tmp;
  CHECK_THROWS_WITH(scan_image_folder(tmp.path / "nope"), Contains("nope") && Contains("not a folder"));
  tmp.touch("loose.png");
  CHECK_THROWS_WITH(scan_image_folder(tmp.path), Contains("no class folders"));
  tmp.touch("full/a.png");
  tmp.touch("empty/a.txt");
  CHECK_THROWS_AS(scan_image_folder(tmp.path), ftmeta::DataError);
  CHECK_THROWS_WITH(scan_image_folder(tmp.path), Contains("'empty'") && Contains("allow_empty"));
  const auto f = scan_image_folder(tmp.path, {.allow_empty = true});
  CHECK(f.classes.names() == std::vector<std::string>{"empty", "full"});
  CHECK(f.samples.size() == 1);
  CHECK(f.samples[0].label == 1);
}

TEST_CASE("data: train/val/test layouts load when their classes agree", "[data][image_folder]") {
  TempDir tmp;
  for (const char* part : {"train", "val", "test"})
    for (const char* cls : {"ant", "bee"}) tmp.touch(fs::path(part) / cls / "1.png");
  tmp.touch("train/bee/2.png");
  REQUIRE(has_split_layout(tmp.path));
  const auto s = load_split_layout(tmp.path);
  CHECK(s.classes.names() == std::vector<std::string>{"ant", "bee"});
  CHECK(s.train.samples.size() == 3);
  REQUIRE(s.val.has_value());
  REQUIRE(s.test.has_value());
  CHECK(s.val->samples.size() == 2);
  CHECK(s.test->classes == s.classes);

  tmp.touch("test/cow/1.png");  // a class only test has
  ftmeta::data::detail::remove_tree(tmp.path / "test" / "ant");  // and one it lacks
  CHECK_THROWS_AS(load_split_layout(tmp.path), ftmeta::DataError);
  CHECK_THROWS_WITH(load_split_layout(tmp.path), Contains((tmp.path / "train").string()) &&
                                                     Contains((tmp.path / "test").string()) &&
                                                     Contains("missing from the second: 'ant'") &&
                                                     Contains("only in the second: 'cow'"));

  TempDir flat;
  flat.touch("train/a.png");
  CHECK_FALSE(has_split_layout(flat.path));  // train/ alone is an ImageFolder with a class "train"
  CHECK_THROWS_WITH(load_split_layout(flat.path), Contains("val/ or test/"));
}

namespace {
std::vector<std::int64_t> class_sizes_labels(const std::vector<int>& sizes) {
  std::vector<std::int64_t> labels;
  // interleave the classes, so that a split that ignored labels would not be stratified
  for (int i = 0; i < *std::max_element(sizes.begin(), sizes.end()); ++i)
    for (std::size_t c = 0; c < sizes.size(); ++c)
      if (i < sizes[c]) labels.push_back(static_cast<std::int64_t>(c));
  return labels;
}
}  // namespace

TEST_CASE("data: stratified split is a per-class partition by the ratios", "[data][split]") {
  const std::vector<int> sizes = {200, 53, 10, 3, 1};
  const auto labels = class_sizes_labels(sizes);
  const SplitRatios ratios{0.7, 0.2, 0.1};
  const auto s = stratified_split(labels, ratios, 42);

  std::vector<int> seen(labels.size(), 0);
  std::map<std::int64_t, std::array<std::int64_t, 3>> per_class;
  int part = 0;
  for (const auto* p : {&s.train, &s.val, &s.test}) {
    CHECK(std::is_sorted(p->begin(), p->end()));
    for (auto i : *p) {
      ++seen[static_cast<std::size_t>(i)];
      ++per_class[labels[static_cast<std::size_t>(i)]][static_cast<std::size_t>(part)];
    }
    ++part;
  }
  CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));  // a partition
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    INFO("class " << c);
    const auto& n = per_class[static_cast<std::int64_t>(c)];
    CHECK(n[0] + n[1] + n[2] == sizes[c]);
    const double r[3] = {ratios.train, ratios.val, ratios.test};
    for (int k = 0; k < 3; ++k) CHECK(std::abs(static_cast<double>(n[static_cast<std::size_t>(k)]) - sizes[c] * r[k]) < 1.0);
  }
}

TEST_CASE("data: stratified split is deterministic and seeded per class", "[data][split]") {
  const auto labels = class_sizes_labels({40, 30, 20});
  const auto a = stratified_split(labels, {0.5, 0.25, 0.25}, 7);
  const auto b = stratified_split(labels, {0.5, 0.25, 0.25}, 7);
  const auto c = stratified_split(labels, {0.5, 0.25, 0.25}, 8);
  CHECK(a.train == b.train);
  CHECK(a.val == b.val);
  CHECK(a.test == b.test);
  CHECK(a.train != c.train);

  // Removing every sample of class 2 leaves the split of classes 0 and 1 as it was.
  std::vector<std::int64_t> fewer;
  std::vector<std::int64_t> kept;  // old index of each new one
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] != 2) {
      fewer.push_back(labels[i]);
      kept.push_back(static_cast<std::int64_t>(i));
    }
  const auto d = stratified_split(fewer, {0.5, 0.25, 0.25}, 7);
  std::vector<std::int64_t> mapped, expected;
  for (auto i : d.val) mapped.push_back(kept[static_cast<std::size_t>(i)]);
  for (auto i : a.val)
    if (labels[static_cast<std::size_t>(i)] != 2) expected.push_back(i);
  CHECK(mapped == expected);

  CHECK_THROWS_AS(stratified_split(labels, {0.5, 0.5, 0.5}, 1), ftmeta::UsageError);
  CHECK_THROWS_WITH(stratified_split(labels, {1.2, -0.2, 0.0}, 1), Contains(">= 0"));
  const auto all_train = stratified_split(labels, {1.0, 0.0, 0.0}, 1);
  CHECK(all_train.train.size() == labels.size());
  CHECK(all_train.val.empty());
}

TEST_CASE("data: split manifests round-trip and reject malformed lines", "[data][split]") {
  TempDir tmp;
  const fs::path root = tmp.path / "imgs";
  std::vector<Sample> samples;
  for (int i = 0; i < 12; ++i) samples.push_back({root / ("s " + std::to_string(i) + ".png"), i % 3});
  const SplitRatios ratios{0.5, 0.25, 0.25};
  const auto parts = stratified_split(samples, ratios, 3);
  const ManifestMeta meta{ClassMap(std::vector<std::string>{"a", "b", "c"}), 0, 3, ratios};
  const auto file = tmp.path / "split.tsv";
  write_split_manifest(file, root, meta, samples, parts);
  const auto [read_meta, rows] = read_split_manifest(file);
  REQUIRE(rows.size() == samples.size());
  CHECK(read_meta.seed == 3);
  CHECK(read_meta.classes.names() == meta.classes.names());
  // The rows of each part, in file order, are the samples split() put there, paths relative to root.
  auto part = [&](std::string_view split) {
    std::vector<Sample> out;
    for (const auto& r : rows)
      if (r.split == split) out.push_back({root / r.path, r.label});
    return out;
  };
  CHECK(part("train") == select(samples, parts.train));
  CHECK(part("val") == select(samples, parts.val));
  CHECK(part("test") == select(samples, parts.test));
  CHECK_FALSE(fs::exists(tmp.path / "split.tsv.tmp"));

  // A good head (the metadata and header of the file above) with bad rows after it.
  const auto text = lines(file);
  std::string head;
  for (const auto& l : text) {
    head += l + "\n";
    if (l == "path\tlabel\tsplit") break;
  }
  const auto header_lines = std::to_string(std::count(head.begin(), head.end(), '\n') + 2);
  std::ofstream(tmp.path / "bad.tsv") << head << "a.png\t1\ttrain\nb.png\tx\tval\n";
  CHECK_THROWS_AS(read_split_manifest(tmp.path / "bad.tsv"), ftmeta::FileError);
  CHECK_THROWS_WITH(read_split_manifest(tmp.path / "bad.tsv"), Contains("bad.tsv") && Contains("line " + header_lines));
  std::ofstream(tmp.path / "bad2.tsv") << head << "a.png\t1\tholdout\n";
  CHECK_THROWS_WITH(read_split_manifest(tmp.path / "bad2.tsv"), Contains("'holdout'"));
  CHECK_THROWS_WITH(read_split_manifest(tmp.path / "none.tsv"), Contains("cannot open"));
  CHECK_THROWS_AS(write_split_manifest(file, root, meta, {{root / "a\tb.png", 0}}, {{0}, {}, {}}), ftmeta::DataError);
}

}  // namespace unit_data_folder
