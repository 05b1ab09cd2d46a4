// ftmeta/data/image_folder.hpp: torchvision's ImageFolder (a class per subfolder) and the train/val/test layout.
// ftmeta:pure
// std::filesystem only: scanning reads folder entries, never image bytes.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/data/class_map.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// One sample of a dataset on disk: an image file and its label.
struct Sample {
  std::filesystem::path path;
  std::int64_t label = 0;
  friend bool operator==(const Sample&, const Sample&) = default;
  /// Prints "path (label N)".
  friend std::ostream& operator<<(std::ostream& os, const Sample& s) {
    return os << s.path.string() << " (label " << s.label << ")";
  }
};

/// torchvision's IMG_EXTENSIONS; a file counts as an image when its name, lowercased, ends with one.
inline constexpr std::array<std::string_view, 9> image_extensions = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                                                    ".pgm", ".tif",  ".tiff", ".webp"};

/// True when `path`'s file name ends (case-insensitively) with one of image_extensions.
FTMETA_DECL bool has_image_extension(const std::filesystem::path& path);

/// How class folders are ordered, and so which label each gets.
enum class ClassOrder {
  /// As strings, byte by byte, like torchvision (Python's sorted): "10" comes before "2",
  /// "B" before "a". Checkpoints made by torchvision use this order.
  string,
  /// Numeric-aware: runs of digits compare as numbers ("2" before "10", "img2" before "img10");
  /// names equal as numbers ("7", "07") fall back to string order.
  natural,
};

/// Natural (numeric-aware) "less than" for class names; see ClassOrder::natural.
constexpr bool natural_less(std::string_view a, std::string_view b) noexcept {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      std::size_t is = i, js = j;  // skip leading zeros
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      const std::string_view da = a.substr(is, ie - is), db = b.substr(js, je - js);
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
  return a < b;  // equal as numbers: a total order all the same
}

/// Options of scan_image_folder.
struct ImageFolderOptions {
  ClassOrder order = ClassOrder::string;
  /// Accept class folders without any image (torchvision's allow_empty); otherwise DataError.
  bool allow_empty = false;
};

/// A scanned ImageFolder: the classes (subfolders of root) and the samples, as torchvision lists them.
struct ImageFolder {
  std::filesystem::path root;
  ClassMap classes;
  /// (path, label), class after class; within a class, folder by folder (sorted as path strings)
  /// and file by file (sorted as strings), like torchvision's make_dataset.
  std::vector<Sample> samples;
  /// Things the caller should know (e.g. numeric class names in string order); never printed here.
  std::vector<std::string> warnings;

  std::vector<std::int64_t> labels() const {
    std::vector<std::int64_t> out;
    out.reserve(samples.size());
    for (const auto& s : samples) out.push_back(s.label);
    return out;
  }
};

namespace detail {

FTMETA_DECL bool hidden(const std::filesystem::path& p);

FTMETA_DECL bool is_dir(const std::filesystem::path& p);

/// The non-hidden entries of `dir`, split into folders and files; DataError naming `dir` on failure.
FTMETA_DECL void list_folder(const std::filesystem::path& dir, std::vector<std::string>& dirs,
                             std::vector<std::string>& files);

/// The image files under a class folder, in torchvision's order: folders sorted by their path
/// (relative to the class folder, compared as strings), files sorted by name within each.
FTMETA_DECL void collect_class_files(const std::filesystem::path& class_dir, std::vector<std::filesystem::path>& out);

}  // namespace detail

/// The class folder names of `root` (non-hidden subfolders) in the given order; DataError if
/// `root` is not a folder or has no class folder.
FTMETA_DECL std::vector<std::string> find_classes(const std::filesystem::path& root, ClassOrder order = ClassOrder::string);

/// Scans `root` as torchvision.datasets.ImageFolder does: a class per subfolder, files with
/// image_extensions anywhere below it (symbolic links followed). Differences from torchvision:
/// hidden files and folders (names starting with '.') are ignored, and ClassOrder::natural is offered.
/// With ClassOrder::string and class names that are all numbers whose string order differs from
/// their numeric order ("1".."10": "10" gets label 1), `warnings` says so.
///
///   auto folder = ftmeta::data::scan_image_folder("photos");   // photos/cat/*.jpg, photos/dog/*.jpg
///   folder.classes.index("dog") == 1;
FTMETA_DECL ImageFolder scan_image_folder(const std::filesystem::path& root, const ImageFolderOptions& options = {});

/// A dataset already split on disk: root/train plus root/val and/or root/test, each an ImageFolder
/// with the same classes.
struct SplitFolders {
  std::filesystem::path root;
  ClassMap classes;
  ImageFolder train;
  std::optional<ImageFolder> val, test;
};

/// True when `root` holds a train/ folder and a val/ or test/ folder.
inline bool has_split_layout(const std::filesystem::path& root) {
  return detail::is_dir(root / "train") && (detail::is_dir(root / "val") || detail::is_dir(root / "test"));
}

/// Scans the train/ val/ test/ folders of `root` (see has_split_layout). DataError if the layout
/// is missing, or naming both folders and the classes in question if their class maps differ.
FTMETA_DECL SplitFolders load_split_layout(const std::filesystem::path& root, const ImageFolderOptions& options = {});

}  // namespace ftmeta::data


#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/data/impl/image_folder.ipp>
#endif
