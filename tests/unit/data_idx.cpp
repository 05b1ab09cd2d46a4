// Tests of ftmeta/data/idx.hpp and class_map.hpp: the real Fashion-MNIST files against torchvision's
// reader, malformed IDX files, and ClassMap.
#include <ftmeta/data/class_map.hpp>
#include <ftmeta/data/idx.hpp>

#include <ftmeta/data/detail/files.hpp>

#include <catch2/catch.hpp>
#include <zlib.h>

#include "support/npy.hpp"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_idx {

namespace fs = std::filesystem;
using namespace ftmeta::data;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::TempDir;

std::vector<std::uint8_t> idx_bytes(std::uint8_t type, std::vector<std::uint32_t> dims, std::size_t payload) {
  std::vector<std::uint8_t> b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
  for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<std::uint8_t>(i * 7));
  return b;
}

void write_plain(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void write_gz(const fs::path& p, const std::vector<std::uint8_t>& b) {
  gzFile f = gzopen(p.string().c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
  gzclose(f);
}

fs::path refs() { return ftmeta::test::refs_dir() / "data" / "fashion_mnist"; }

}  // namespace

TEST_CASE("data: Fashion-MNIST IDX files read as torchvision reads them", "[data][idx]") {
  for (const char* part : {"train", "test"}) {
    INFO(part);
    const FashionMnist fm = read_fashion_mnist(fashion_mnist_dir(), part);
    const auto labels_ref = ftmeta::test::load_npy(refs() / (std::string(part) + "_labels.npy"));
    const auto head_ref = ftmeta::test::load_npy(refs() / (std::string(part) + "_head.npy"));
    const auto tail_ref = ftmeta::test::load_npy(refs() / (std::string(part) + "_tail.npy"));

    CHECK(fm.images.count == (std::string(part) == "train" ? 60000 : 10000));
    CHECK(fm.images.count == labels_ref.size(0));
    CHECK(fm.images.rows == head_ref.size(1));
    CHECK(fm.images.cols == head_ref.size(2));
    REQUIRE(static_cast<std::int64_t>(fm.labels.size()) == fm.images.count);
    REQUIRE(static_cast<std::int64_t>(fm.images.pixels.size()) == fm.images.count * fm.images.rows * fm.images.cols);

    auto labels = torch::from_blob(const_cast<std::uint8_t*>(fm.labels.data()), {fm.images.count}, torch::kUInt8);
    CHECK(torch::equal(labels.to(torch::kInt64), labels_ref));
    CHECK(labels.max().item<int>() == 9);
    CHECK(labels.min().item<int>() == 0);

    const auto n = head_ref.size(0);
    auto all = torch::from_blob(const_cast<std::uint8_t*>(fm.images.pixels.data()),
                                {fm.images.count, fm.images.rows, fm.images.cols}, torch::kUInt8);
    CHECK(torch::equal(all.narrow(0, 0, n), head_ref));
    CHECK(torch::equal(all.narrow(0, fm.images.count - n, n), tail_ref));
  }
}

TEST_CASE("data: Fashion-MNIST class names are torchvision's, with T-shirt_top", "[data][idx]") {
  std::ifstream in(refs() / "classes.txt");
  std::vector<std::string> ref;
  for (std::string line; std::getline(in, line);) {
    for (auto& c : line)
      if (c == '/') c = '_';
    ref.push_back(line);
  }
  REQUIRE(ref.size() == 10);
  const auto& names = fashion_mnist_classes();
  CHECK(std::vector<std::string>(names.begin(), names.end()) == ref);
  CHECK(fashion_mnist_class_map().name(0) == "T-shirt_top");
  CHECK(fashion_mnist_class_map().names() == ref);
}

TEST_CASE("data: IDX reader accepts plain and gzipped files alike", "[data][idx]") {
  TempDir tmp;
  const auto bytes = idx_bytes(0x08, {3, 2, 4}, 24);
  write_plain(tmp.path / "plain", bytes);
  write_gz(tmp.path / "packed.gz", bytes);
  const auto a = read_idx_images(tmp.path / "plain");
  const auto b = read_idx_images(tmp.path / "packed.gz");
  CHECK(a.count == 3);
  CHECK(a.rows == 2);
  CHECK(a.cols == 4);
  CHECK(a.pixels == std::vector<std::uint8_t>(bytes.begin() + 16, bytes.end()));
  CHECK(b.pixels == a.pixels);
  CHECK(a.image(2)[0] == bytes[16 + 16]);

  write_gz(tmp.path / "labels.gz", idx_bytes(0x08, {5}, 5));
  CHECK(read_idx_labels(tmp.path / "labels.gz").size() == 5);
}

TEST_CASE("data: malformed IDX files give a FileError naming the file", "[data][idx]") {
  TempDir tmp;
  auto expect = [&](const char* name, const std::vector<std::uint8_t>& bytes, const char* what, bool images = true) {
    INFO(name);
    const auto p = tmp.path / name;
    write_gz(p, bytes);
    auto read = [&] { images ? (void)read_idx_images(p) : (void)read_idx_labels(p); };
    CHECK_THROWS_AS(read(), ftmeta::FileError);
    CHECK_THROWS_WITH(read(), Contains(p.string()) && Contains(what));
  };
  auto bad_magic = idx_bytes(0x08, {2, 2, 2}, 8);
  bad_magic[1] = 0x42;
  expect("bad_magic.gz", bad_magic, "magic");
  expect("int_type.gz", idx_bytes(0x0C, {2, 2, 2}, 32), "element type");
  expect("labels_as_images.gz", idx_bytes(0x08, {4}, 4), "dimensions");
  expect("images_as_labels.gz", idx_bytes(0x08, {1, 2, 2}, 4), "dimensions", false);
  expect("truncated.gz", idx_bytes(0x08, {3, 2, 2}, 11), "truncated");
  expect("trailing.gz", idx_bytes(0x08, {3, 2, 2}, 13), "after");
  expect("zero_rows.gz", idx_bytes(0x08, {3, 0, 2}, 0), "zero");
  expect("huge.gz", idx_bytes(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 2}, 0), "implausible");
  expect("short.gz", {0, 0}, "too short");

  CHECK_THROWS_WITH(read_idx_images(tmp.path / "missing.gz"), Contains("missing.gz") && Contains("cannot open"));

  // A gzip stream cut short: zlib's error is reported, with the file.
  std::vector<std::uint8_t> big = idx_bytes(0x08, {100, 28, 28}, 100 * 28 * 28);
  write_gz(tmp.path / "cut.gz", big);
  const auto size = fs::file_size(tmp.path / "cut.gz");
  fs::resize_file(tmp.path / "cut.gz", size / 2);
  CHECK_THROWS_AS(read_idx_images(tmp.path / "cut.gz"), ftmeta::FileError);
  CHECK_THROWS_WITH(read_idx_images(tmp.path / "cut.gz"), Contains("cut.gz"));
}

TEST_CASE("data: read_fashion_mnist checks that images and labels agree", "[data][idx]") {
  TempDir tmp;
  write_gz(tmp.path / "train-images-idx3-ubyte.gz", idx_bytes(0x08, {3, 2, 2}, 12));
  write_gz(tmp.path / "train-labels-idx1-ubyte.gz", idx_bytes(0x08, {2}, 2));
  CHECK_THROWS_WITH(read_fashion_mnist(tmp.path, "train"), Contains("2 labels") && Contains("3 images"));

  auto labels = idx_bytes(0x08, {3}, 0);
  labels.insert(labels.end(), {1, 10, 2});
  fs::remove(tmp.path / "train-labels-idx1-ubyte.gz");
  write_plain(tmp.path / "train-labels-idx1-ubyte", labels);  // plain files are found too
  CHECK_THROWS_WITH(read_fashion_mnist(tmp.path, "train"), Contains("label 10") && Contains("index 1"));

  CHECK_THROWS_AS(read_fashion_mnist(tmp.path, "validation"), ftmeta::UsageError);
  CHECK_THROWS_WITH(read_fashion_mnist(tmp.path, "test"), Contains("t10k-images-idx3-ubyte"));
}

TEST_CASE("data: ClassMap lookups, text form and hash", "[data][class_map]") {
  const ClassMap m({"cat", "dog", "Ankle boot"});
  CHECK(m.size() == 3);
  CHECK(m.index("dog") == 1);
  CHECK(m.name(2) == "Ankle boot");
  CHECK(!m.find("cow").has_value());
  CHECK_THROWS_WITH(m.index("cow"), Contains("'cow'"));
  CHECK_THROWS_AS(m.name(3), ftmeta::DataError);
  CHECK(m.class_to_idx().at("cat") == 0);
  CHECK(m.idx_to_class() == m.names());

  const auto text = m.serialize();
  CHECK(text == "ftmeta-classmap 1\n3\ncat\ndog\nAnkle boot\n");
  const auto back = ClassMap::parse(text);
  CHECK(back == m);
  CHECK(back.hash() == m.hash());
  CHECK(ClassMap({"dog", "cat", "Ankle boot"}) != m);
  CHECK(ClassMap({"dog", "cat", "Ankle boot"}).hash() != m.hash());
  CHECK(ClassMap({"cat", "dog"}).hash() != m.hash());

  CHECK_THROWS_WITH(ClassMap({"a", "b", "a"}), Contains("'a' appears twice"));
  CHECK_THROWS_AS(ClassMap({"a", ""}), ftmeta::DataError);
  CHECK_THROWS_AS(ClassMap({"a\tb"}), ftmeta::DataError);
  CHECK_THROWS_WITH(ClassMap::parse("ftmeta-classmap 1\n3\na\nb\n"), Contains("announces 3"));
  CHECK_THROWS_WITH(ClassMap::parse("classes\n1\na\n"), Contains("ftmeta-classmap 1"));
  CHECK_THROWS_WITH(ClassMap::parse("ftmeta-classmap 1\nx\n"), Contains("'x' is not a class count"));
  CHECK_THROWS_AS(ClassMap::parse("ftmeta-classmap 1\n1\na"), ftmeta::DataError);
}

}  // namespace unit_data_idx
