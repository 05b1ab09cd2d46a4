// ftmeta/data/idx.hpp: reading IDX files (gzipped or plain) and the Fashion-MNIST files built on them.
// ftmeta:pure
// Needs zlib only (gzopen reads plain files transparently); neither torch nor OpenCV.
#pragma once

#include <ftmeta/core/config.hpp>
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
FTMETA_DECL std::filesystem::path fashion_mnist_dir();

/// The ten Fashion-MNIST class names in label order (label 0 first). They are torchvision's
/// `FashionMNIST.classes` with one change: "T-shirt/top" becomes "T-shirt_top", because a class
/// name is also a folder name (export_fashion_mnist) and '/' cannot be part of one.
FTMETA_DECL const std::array<std::string, 10>& fashion_mnist_classes();

/// fashion_mnist_classes() as a ClassMap (label order of the IDX files).
FTMETA_DECL ClassMap fashion_mnist_class_map();

namespace detail {

/// Reads an IDX file of unsigned bytes with `want_dims` dimensions; checks the magic number, the
/// dimensions and that the payload has exactly the announced length.
FTMETA_DECL std::vector<std::uint8_t> read_idx_u8(const std::filesystem::path& path, int want_dims,
                                                  std::vector<std::int64_t>& dims);

}  // namespace detail

/// Reads an IDX image file (magic 0x00000803: unsigned bytes, three dimensions), gzipped or plain.
/// Throws FileError naming the file when it cannot be opened, is not IDX, or its length does not
/// match its header.
FTMETA_DECL IdxImages read_idx_images(const std::filesystem::path& path);

/// Reads an IDX label file (magic 0x00000801: unsigned bytes, one dimension), gzipped or plain.
FTMETA_DECL std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path);

/// One part ("train" or "test") of Fashion-MNIST: images and their labels (0..9, fashion_mnist_classes()).
struct FashionMnist {
  IdxImages images;
  std::vector<std::uint8_t> labels;
};

/// The path of a Fashion-MNIST file under `dir`: `stem` + ".gz" if that exists, else `stem`.
FTMETA_DECL std::filesystem::path fashion_mnist_file(const std::filesystem::path& dir, std::string_view stem);

/// Reads one part of Fashion-MNIST from `dir` (the official file names, gzipped or not):
/// part "train" (60000 images) or "test" (10000 images, the t10k files). Checks that images and
/// labels agree in number and that every label is below 10.
FTMETA_DECL FashionMnist read_fashion_mnist(const std::filesystem::path& dir, std::string_view part);

}  // namespace ftmeta::data


#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/data/impl/idx.ipp>
#endif
