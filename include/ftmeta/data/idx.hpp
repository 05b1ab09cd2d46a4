// ftmeta/data/idx.hpp: reading IDX files (gzipped or plain) and the Fashion-MNIST files built on them.
// ftmeta:pure
// Needs zlib only (gzopen reads plain files transparently); neither torch nor OpenCV.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/class_map.hpp>

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ftmeta::data {

/// The images of an IDX file of unsigned bytes with three dimensions (count, rows, cols).
/// `pixels` holds count * rows * cols bytes, image after image, row after row.
struct IdxImages {
  std::int64_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;

  /// The first byte of image `i` (rows * cols bytes follow).
  const std::uint8_t* image(std::int64_t i) const noexcept {
    return pixels.data() + static_cast<std::size_t>(i * rows * cols);
  }
};

/// The folder where ftmeta looks for the Fashion-MNIST files when none is given:
/// $FTMETA_FASHION_MNIST_DIR if set, else /usr/share/datasets/fashion-mnist.
inline std::filesystem::path fashion_mnist_dir() {
  if (const char* env = std::getenv("FTMETA_FASHION_MNIST_DIR"); env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

/// The ten Fashion-MNIST class names in label order (label 0 first). They are torchvision's
/// `FashionMNIST.classes` with one change: "T-shirt/top" becomes "T-shirt_top", because a class
/// name is also a folder name (export_fashion_mnist) and '/' cannot be part of one.
inline const std::array<std::string, 10>& fashion_mnist_classes() {
  static const std::array<std::string, 10> names = {"T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

/// fashion_mnist_classes() as a ClassMap (label order of the IDX files).
inline ClassMap fashion_mnist_class_map() {
  const auto& n = fashion_mnist_classes();
  return ClassMap(std::vector<std::string>(n.begin(), n.end()));
}

namespace detail {

/// Reads an IDX file of unsigned bytes with `want_dims` dimensions; checks the magic number, the
/// dimensions and that the payload has exactly the announced length.
inline std::vector<std::uint8_t> read_idx_u8(const std::filesystem::path& path, int want_dims,
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

}  // namespace detail

/// Reads an IDX image file (magic 0x00000803: unsigned bytes, three dimensions), gzipped or plain.
/// Throws FileError naming the file when it cannot be opened, is not IDX, or its length does not
/// match its header.
inline IdxImages read_idx_images(const std::filesystem::path& path) {
  std::vector<std::int64_t> dims;
  IdxImages out;
  out.pixels = detail::read_idx_u8(path, 3, dims);
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  return out;
}

/// Reads an IDX label file (magic 0x00000801: unsigned bytes, one dimension), gzipped or plain.
inline std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path) {
  std::vector<std::int64_t> dims;
  return detail::read_idx_u8(path, 1, dims);
}

/// One part ("train" or "test") of Fashion-MNIST: images and their labels (0..9, fashion_mnist_classes()).
struct FashionMnist {
  IdxImages images;
  std::vector<std::uint8_t> labels;
};

/// The path of a Fashion-MNIST file under `dir`: `stem` + ".gz" if that exists, else `stem`.
inline std::filesystem::path fashion_mnist_file(const std::filesystem::path& dir, std::string_view stem) {
  auto gz = dir / (std::string(stem) + ".gz");
  if (std::filesystem::exists(gz)) return gz;
  return dir / std::string(stem);
}

/// Reads one part of Fashion-MNIST from `dir` (the official file names, gzipped or not):
/// part "train" (60000 images) or "test" (10000 images, the t10k files). Checks that images and
/// labels agree in number and that every label is below 10.
inline FashionMnist read_fashion_mnist(const std::filesystem::path& dir, std::string_view part) {
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
