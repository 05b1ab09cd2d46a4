// ftmeta/data/image_folder.hpp: torchvision's ImageFolder (a class per subfolder) and the train/val/test layout.
// ftmeta:pure
// std::filesystem only: scanning reads folder entries, never image bytes.
#pragma once

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
inline bool has_image_extension(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return std::any_of(image_extensions.begin(), image_extensions.end(),
                     [&](std::string_view ext) { return std::string_view(name).ends_with(ext); });
}

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

inline bool hidden(const std::filesystem::path& p) {
  const std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

inline bool is_dir(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_directory(p, ec);  // follows symbolic links, as torchvision does
}

/// The non-hidden entries of `dir`, split into folders and files; DataError naming `dir` on failure.
inline void list_folder(const std::filesystem::path& dir, std::vector<std::string>& dirs,
                        std::vector<std::string>& files) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) throw DataError("image folder: cannot list '" + dir.string() + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw DataError("image folder: cannot list '" + dir.string() + "': " + ec.message());
    const auto& p = it->path();
    if (hidden(p)) continue;
    (is_dir(p) ? dirs : files).push_back(p.filename().string());
  }
  if (ec) throw DataError("image folder: cannot list '" + dir.string() + "': " + ec.message());
}

/// The image files under a class folder, in torchvision's order: folders sorted by their path
/// (relative to the class folder, compared as strings), files sorted by name within each.
inline void collect_class_files(const std::filesystem::path& class_dir, std::vector<std::filesystem::path>& out) {
  struct Dir {
    std::string rel;
    std::filesystem::path path;
  };
  std::vector<std::pair<std::string, std::vector<std::string>>> found;  // (rel, files)
  std::vector<Dir> stack{{"", class_dir}};
  std::set<std::filesystem::path> seen;  // symbolic-link loops end here
  while (!stack.empty()) {
    Dir d = std::move(stack.back());
    stack.pop_back();
    std::error_code ec;
    auto canon = std::filesystem::canonical(d.path, ec);
    if (!ec && !seen.insert(canon).second) continue;
    std::vector<std::string> dirs, files;
    list_folder(d.path, dirs, files);
    std::erase_if(files, [](const std::string& f) { return !has_image_extension(f); });
    std::sort(files.begin(), files.end());
    found.emplace_back(d.rel, std::move(files));
    for (auto& sub : dirs) stack.push_back({d.rel.empty() ? sub : d.rel + "/" + sub, d.path / sub});
  }
  std::sort(found.begin(), found.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [rel, files] : found) {
    const auto dir = rel.empty() ? class_dir : class_dir / rel;
    for (const auto& f : files) out.push_back(dir / f);
  }
}

}  // namespace detail

/// The class folder names of `root` (non-hidden subfolders) in the given order; DataError if
/// `root` is not a folder or has no class folder.
inline std::vector<std::string> find_classes(const std::filesystem::path& root, ClassOrder order = ClassOrder::string) {
  if (!detail::is_dir(root)) throw DataError("image folder '" + root.string() + "' is not a folder");
  std::vector<std::string> dirs, files;
  detail::list_folder(root, dirs, files);
  if (dirs.empty())
    throw DataError("image folder '" + root.string() + "' has no class folders (one subfolder per class expected)");
  if (order == ClassOrder::natural)
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  else
    std::sort(dirs.begin(), dirs.end());
  return dirs;
}

/// Scans `root` as torchvision.datasets.ImageFolder does: a class per subfolder, files with
/// image_extensions anywhere below it (symbolic links followed). Differences from torchvision:
/// hidden files and folders (names starting with '.') are ignored, and ClassOrder::natural is offered.
/// With ClassOrder::string and class names that are all numbers whose string order differs from
/// their numeric order ("1".."10": "10" gets label 1), `warnings` says so.
///
///   auto folder = ftmeta::data::scan_image_folder("photos");   // photos/cat/*.jpg, photos/dog/*.jpg
///   folder.classes.index("dog") == 1;
inline ImageFolder scan_image_folder(const std::filesystem::path& root, const ImageFolderOptions& options = {}) {
  ImageFolder out;
  out.root = root;
  auto names = find_classes(root, options.order);
  if (options.order == ClassOrder::string) {
    const bool numeric = std::all_of(names.begin(), names.end(), [](const std::string& n) {
      return std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
    });
    if (numeric) {
      for (std::size_t i = 0; i + 1 < names.size(); ++i) {
        if (!natural_less(names[i + 1], names[i])) continue;
        out.warnings.push_back("image folder '" + root.string() +
                               "': the class names are numbers but are ordered as strings, like torchvision ('" +
                               names[i] + "' gets label " + std::to_string(i) + ", '" + names[i + 1] + "' label " +
                               std::to_string(i + 1) + "); pass ClassOrder::natural for numeric order");
        break;
      }
    }
  }
  out.classes = ClassMap(names);
  std::vector<std::string> empty;
  for (std::size_t c = 0; c < names.size(); ++c) {
    std::vector<std::filesystem::path> files;
    detail::collect_class_files(root / names[c], files);
    if (files.empty()) empty.push_back(names[c]);
    for (auto& f : files) out.samples.push_back({std::move(f), static_cast<std::int64_t>(c)});
  }
  if (!empty.empty() && !options.allow_empty) {
    std::string list;
    for (const auto& e : empty) list += (list.empty() ? "'" : ", '") + e + "'";
    throw DataError("image folder '" + root.string() + "': no image file in class folder(s) " + list +
                    " (extensions: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp); set allow_empty to accept");
  }
  return out;
}

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
inline SplitFolders load_split_layout(const std::filesystem::path& root, const ImageFolderOptions& options = {}) {
  if (!has_split_layout(root))
    throw DataError("split layout: '" + root.string() + "' needs a train/ folder and a val/ or test/ folder");
  SplitFolders out;
  out.root = root;
  out.train = scan_image_folder(root / "train", options);
  out.classes = out.train.classes;
  auto check = [&](const ImageFolder& other) {
    if (other.classes == out.classes) return;
    const auto& a = out.classes.names();
    const auto& b = other.classes.names();
    std::string missing, extra;
    for (const auto& n : a)
      if (!other.classes.find(n)) missing += (missing.empty() ? "'" : ", '") + n + "'";
    for (const auto& n : b)
      if (!out.classes.find(n)) extra += (extra.empty() ? "'" : ", '") + n + "'";
    std::string msg = "split layout: the class folders of '" + (root / "train").string() + "' and '" +
                      other.root.string() + "' differ";
    if (!missing.empty()) msg += "; missing from the second: " + missing;
    if (!extra.empty()) msg += "; only in the second: " + extra;
    throw DataError(msg);
  };
  for (const char* part : {"val", "test"}) {
    if (!detail::is_dir(root / part)) continue;
    ImageFolder f = scan_image_folder(root / part, options);
    check(f);
    (std::string_view(part) == "val" ? out.val : out.test) = std::move(f);
  }
  return out;
}

}  // namespace ftmeta::data
