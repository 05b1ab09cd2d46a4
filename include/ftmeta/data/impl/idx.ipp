// ftmeta/data/impl/idx.ipp: the definitions of idx.hpp's functions: included by that header when header-only,
// compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/data/idx.hpp>

namespace ftmeta::data {

FTMETA_DECL std::filesystem::path fashion_mnist_dir() {
  if (const char* env = std::getenv("FTMETA_FASHION_MNIST_DIR"); env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

FTMETA_DECL const std::array<std::string, 10>& fashion_mnist_classes() {
  static const std::array<std::string, 10> names = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

FTMETA_DECL ClassMap fashion_mnist_class_map() {
  const auto& n = fashion_mnist_classes();
  return ClassMap(std::vector<std::string>(n.begin(), n.end()));
}

}  // namespace ftmeta::data

namespace ftmeta::data::detail {

FTMETA_DECL std::vector<std::uint8_t> read_idx_u8(const std::filesystem::path& path, int want_dims,
                                                  std::vector<std::int64_t>& dims) {
  const std::string name = path.string();
  auto fail = [&](const std::string& what) { return FileError("IDX file '" + name + "': " + what); };

  gzFile f = gzopen(name.c_str(), "rb");
  if (!f) throw fail("cannot open");
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{f};

  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  auto read = [&](std::uint8_t* dst, std::size_t n) -> std::size_t {
    std::size_t got = 0;
    while (got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 20));
      const int r = gzread(f, dst + got, chunk);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(f, &code);
        throw fail(std::string("corrupt data (") + (msg ? msg : "zlib error") + ")");
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  };

  std::uint8_t magic[4];
  if (read(magic, 4) != 4) throw fail("too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0)
    throw fail("bad magic number (the first two bytes must be zero; not an IDX file)");
  if (magic[2] != 0x08)
    throw fail("element type code " + std::to_string(magic[2]) + " is not 0x08 (unsigned byte)");
  if (magic[3] != want_dims)
    throw fail("has " + std::to_string(magic[3]) + " dimensions, expected " + std::to_string(want_dims) +
               (want_dims == 3 ? " (images)" : " (labels)"));

  dims.assign(static_cast<std::size_t>(want_dims), 0);
  std::uint64_t total = 1;
  for (int d = 0; d < want_dims; ++d) {
    std::uint8_t b[4];
    if (read(b, 4) != 4) throw fail("truncated header");
    const std::uint64_t v = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16) | (std::uint64_t{b[2]} << 8) | b[3];
    if (d > 0 && v == 0) throw fail("dimension " + std::to_string(d) + " is zero");
    dims[static_cast<std::size_t>(d)] = static_cast<std::int64_t>(v);
    constexpr std::uint64_t limit = std::uint64_t{1} << 40;  // 1 TiB: no real IDX file comes near
    if (v != 0 && total > limit / v) throw fail("announces an implausible size");
    total *= v;
  }

  // Grow as the data arrives, so that a header announcing more than the file holds costs nothing.
  std::vector<std::uint8_t> data;
  std::size_t got = 0;
  while (got < total) {
    const std::size_t want = std::min<std::size_t>(total - got, std::size_t{16} << 20);
    data.resize(got + want);
    const std::size_t r = read(data.data() + got, want);
    got += r;
    if (r < want) break;
  }
  if (got < total)
    throw fail("truncated: the header announces " + std::to_string(total) + " bytes of data, the file holds " +
               std::to_string(got));
  std::uint8_t extra;
  if (read(&extra, 1) != 0) throw fail("has data after the " + std::to_string(total) + " bytes its header announces");
  return data;
}

}  // namespace ftmeta::data::detail

namespace ftmeta::data {

FTMETA_DECL IdxImages read_idx_images(const std::filesystem::path& path) {
  std::vector<std::int64_t> dims;
  IdxImages out;
  out.pixels = detail::read_idx_u8(path, 3, dims);
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  return out;
}

FTMETA_DECL std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path) {
  std::vector<std::int64_t> dims;
  return detail::read_idx_u8(path, 1, dims);
}

FTMETA_DECL std::filesystem::path fashion_mnist_file(const std::filesystem::path& dir, std::string_view stem) {
  auto gz = dir / (std::string(stem) + ".gz");
  if (std::filesystem::exists(gz)) return gz;
  return dir / std::string(stem);
}

FTMETA_DECL FashionMnist read_fashion_mnist(const std::filesystem::path& dir, std::string_view part) {
  std::string prefix;
  if (part == "train")
    prefix = "train";
  else if (part == "test")
    prefix = "t10k";
  else
    throw UsageError("read_fashion_mnist: part must be \"train\" or \"test\", not \"" + std::string(part) + "\"");
  FashionMnist out;
  const auto images_path = fashion_mnist_file(dir, prefix + "-images-idx3-ubyte");
  const auto labels_path = fashion_mnist_file(dir, prefix + "-labels-idx1-ubyte");
  out.images = read_idx_images(images_path);
  out.labels = read_idx_labels(labels_path);
  if (static_cast<std::int64_t>(out.labels.size()) != out.images.count)
    throw FileError("Fashion-MNIST: '" + labels_path.string() + "' holds " + std::to_string(out.labels.size()) +
                    " labels but '" + images_path.string() + "' holds " + std::to_string(out.images.count) +
                    " images");
  for (std::size_t i = 0; i < out.labels.size(); ++i)
    if (out.labels[i] >= 10)
      throw FileError("Fashion-MNIST: '" + labels_path.string() + "' has label " + std::to_string(out.labels[i]) +
                      " at index " + std::to_string(i) + " (labels are 0..9)");
  return out;
}

}  // namespace ftmeta::data

