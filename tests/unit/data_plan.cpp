// Tests of plan_splits (split.hpp): a split persisted as a manifest, reused by a later run, and every
// kind of change to the folder (files added, removed, moved; classes added, removed, renamed;
// another seed or ratios; an edited manifest) reported instead of silently re-split.
#include <ftmeta/data/split.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_plan {

namespace fs = std::filesystem;
using namespace ftmeta::data;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::TempDir;

// root/{ant,bee,cat}/img_N.png, 20 files per class.
fs::path make_tree(const TempDir& tmp) {
  for (const char* c : {"ant", "bee", "cat"})
    for (int i = 0; i < 20; ++i) tmp.touch(fs::path("tree") / c / ("img_" + std::to_string(i) + ".png"));
  return tmp.path / "tree";
}

std::set<std::string> paths(const std::vector<Sample>& v) {
  std::set<std::string> out;
  for (const auto& s : v) out.insert(s.path.generic_string());
  return out;
}

}  // namespace

TEST_CASE("data: plan_splits writes a manifest, and a later run reuses it unchanged", "[data][split][plan]") {
  TempDir tmp;
  const auto root = make_tree(tmp);
  const auto manifest = tmp.path / "split.tsv";
  const auto first = plan_splits(root, {0.6, 0.2, 0.2}, 7, manifest);
  CHECK_FALSE(first.reused);
  REQUIRE(fs::exists(manifest));
  CHECK(first.classes.names() == std::vector<std::string>{"ant", "bee", "cat"});
  CHECK(first.class_map_hash == first.classes.hash());
  CHECK(first.train.size() == 36);
  CHECK(first.val.size() == 12);
  CHECK(first.test.size() == 12);
  // the same parts as stratified_split of the scanned folder
  const auto folder = scan_image_folder(root);
  const auto parts = stratified_split(folder.samples, {0.6, 0.2, 0.2}, 7);
  CHECK(first.train == select(folder.samples, parts.train));
  CHECK(first.test == select(folder.samples, parts.test));

  const auto again = plan_splits(root, {0.6, 0.2, 0.2}, 7, manifest);
  CHECK(again.reused);
  CHECK(again.classes == first.classes);
  CHECK(again.class_map_hash == first.class_map_hash);
  CHECK(paths(again.train) == paths(first.train));
  CHECK(paths(again.val) == paths(first.val));
  CHECK(paths(again.test) == paths(first.test));
  CHECK(again.train == first.train);  // labels too, in manifest order

  // the manifest holds relative paths: the tree can move
  fs::rename(root, tmp.path / "moved");
  const auto moved = plan_splits(tmp.path / "moved", {0.6, 0.2, 0.2}, 7, manifest);
  CHECK(moved.reused);
  CHECK(moved.train.size() == first.train.size());
  CHECK(moved.train.front().path.parent_path().parent_path() == tmp.path / "moved");
}

TEST_CASE("data: plan_splits reports a changed folder instead of re-splitting it", "[data][split][plan]") {
  TempDir tmp;
  const auto root = make_tree(tmp);
  const auto manifest = tmp.path / "split.tsv";
  plan_splits(root, {0.8, 0.1, 0.1}, 1, manifest);
  const std::string before = [&] {
    std::ifstream in(manifest);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  auto expect_error = [&](const std::string& what) {
    INFO(what);
    CHECK_THROWS_AS(plan_splits(root, {0.8, 0.1, 0.1}, 1, manifest), ftmeta::DataError);
    CHECK_THROWS_WITH(plan_splits(root, {0.8, 0.1, 0.1}, 1, manifest),
                      Contains(what) && Contains(manifest.string()) && Contains("delete the manifest"));
    std::ifstream in(manifest);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == before);  // never rewritten
  };

  SECTION("a file added") {
    tmp.touch("tree/bee/new_one.png");
    expect_error("1 file(s) added ('bee/new_one.png')");
  }
  SECTION("a file removed") {
    fs::remove(root / "ant" / "img_3.png");
    expect_error("1 file(s) removed ('ant/img_3.png')");
  }
  SECTION("files moved to another class") {
    fs::create_directories(root / "cat");
    fs::rename(root / "ant" / "img_4.png", root / "cat" / "moved.png");
    expect_error("1 file(s) added ('cat/moved.png')");
  }
  SECTION("a class added") {
    tmp.touch("tree/dog/a.png");
    expect_error("1 class(es) added ('dog')");
  }
  SECTION("a class removed") {
    fs::remove_all(root / "cat");
    expect_error("1 class(es) removed ('cat')");
  }
  SECTION("the class order changed (natural order asked for later)") {
    // same names and files, but labels differ: the manifest was written with string order
    TempDir t2;
    for (const char* c : {"1", "2", "10"}) t2.touch(fs::path("n") / c / "a.png");
    const auto m2 = t2.path / "m.tsv";
    plan_splits(t2.path / "n", {1.0, 0.0, 0.0}, 0, m2);
    CHECK_THROWS_WITH(plan_splits(t2.path / "n", {1.0, 0.0, 0.0}, 0, m2, {.order = ClassOrder::natural}),
                      Contains("the class order changed"));
  }
  SECTION("another seed or other ratios") {
    CHECK_THROWS_WITH(plan_splits(root, {0.8, 0.1, 0.1}, 2, manifest), Contains("seed 1") && Contains("not seed 2"));
    CHECK_THROWS_WITH(plan_splits(root, {0.7, 0.2, 0.1}, 1, manifest), Contains("0.8/0.1/0.1"));
  }
}

TEST_CASE("data: a relabelled row or an edited class map is caught", "[data][split][plan]") {
  TempDir tmp;
  const auto root = make_tree(tmp);
  const auto manifest = tmp.path / "split.tsv";
  plan_splits(root, {0.8, 0.1, 0.1}, 1, manifest);
  std::string text;
  {
    std::ifstream in(manifest);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  SECTION("a row's label edited: the file is reported as moved") {
    auto t = text;
    const auto at = t.find("ant/img_0.png\t0\t");
    REQUIRE(at != std::string::npos);
    t.replace(at, 16, "ant/img_0.png\t2\t");
    std::ofstream(manifest, std::ios::trunc) << t;
    CHECK_THROWS_WITH(plan_splits(root, {0.8, 0.1, 0.1}, 1, manifest),
                      Contains("1 file(s) moved to another class ('ant/img_0.png')"));
  }
  SECTION("a class line edited: the hash no longer matches") {
    auto t = text;
    t.replace(t.find("# class bee"), 11, "# class bea");
    std::ofstream(manifest, std::ios::trunc) << t;
    CHECK_THROWS_AS(read_split_manifest(manifest), ftmeta::FileError);
    CHECK_THROWS_WITH(plan_splits(root, {0.8, 0.1, 0.1}, 1, manifest), Contains("classmap-hash") && Contains("edited"));
  }
  SECTION("a version-1 manifest is not a persisted split") {
    std::ofstream(manifest, std::ios::trunc) << "# ftmeta-manifest 1\npath\tlabel\tsplit\n";
    CHECK_THROWS_WITH(plan_splits(root, {0.8, 0.1, 0.1}, 1, manifest), Contains("ftmeta-manifest 2"));
  }
  SECTION("the metadata round-trips") {
    const auto [meta, rows] = read_split_manifest(manifest);
    CHECK(meta.classes.names() == std::vector<std::string>{"ant", "bee", "cat"});
    CHECK(meta.class_map_hash == meta.classes.hash());
    CHECK(meta.seed == 1);
    CHECK(meta.ratios.train == 0.8);
    CHECK(meta.ratios.val == 0.1);
    CHECK(rows.size() == 60);
  }
}

}  // namespace unit_data_plan
