// ftmeta/data/split.hpp: seeded, stratified train/val/test splits of a sample list, and a TSV manifest of them.
// ftmeta:pure
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/data/detail/files.hpp>
#include <ftmeta/data/image_folder.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// The fractions of each class that go to train, val and test; each >= 0, summing to 1.
struct SplitRatios {
  double train = 0.8, val = 0.1, test = 0.1;
};

/// Sample indices (into the list that was split), ascending within each part.
struct SplitIndices {
  std::vector<std::int64_t> train, val, test;
};

/// Splits samples by their labels into train/val/test, class by class (stratified): each class's
/// indices are shuffled with Rng(seed, stream, label) and cut by `ratios`, the counts rounded by
/// largest remainder so that they add up to the class size (ties go to train, then val). The result
/// is a function of (labels, ratios, seed) only; a class's split does not depend on other classes.
///
///   auto parts = ftmeta::data::stratified_split(folder.labels(), {0.7, 0.15, 0.15}, 42);
FTMETA_DECL SplitIndices stratified_split(std::span<const std::int64_t> labels, const SplitRatios& ratios,
                                          std::uint64_t seed);

/// stratified_split over the labels of `samples`.
FTMETA_DECL SplitIndices stratified_split(const std::vector<Sample>& samples, const SplitRatios& ratios, std::uint64_t seed);

/// `samples` at `indices`, in that order.
FTMETA_DECL std::vector<Sample> select(const std::vector<Sample>& samples, std::span<const std::int64_t> indices);

/// One line of a split manifest.
struct ManifestRow {
  std::filesystem::path path;
  std::int64_t label = 0;
  std::string split;  // "train", "val" or "test"
  friend bool operator==(const ManifestRow&, const ManifestRow&) = default;
};

/// A split of one ImageFolder, as plan_splits returns it: the samples of each part (paths under
/// the folder's root), the class map and its hash, and whether it came from an existing manifest.
struct SplitPlan {
  std::filesystem::path root, manifest;
  ClassMap classes;
  std::uint64_t class_map_hash = 0;
  std::vector<Sample> train, val, test;
  bool reused = false;                ///< read from the manifest (else split now and written)
  std::vector<std::string> warnings;  ///< the folder scan's warnings (e.g. numeric class names)
};

/// How a folder differs from the manifest made of it (diff_manifest); empty() when it does not.
struct ManifestDiff {
  std::vector<std::string> classes_added, classes_removed;  ///< by class folder name
  bool class_order_changed = false;                         ///< same names, other labels
  std::vector<std::string> files_added, files_removed;      ///< paths relative to the root
  std::vector<std::string> files_relabelled;                ///< same path, another class
  bool empty() const noexcept {
    return classes_added.empty() && classes_removed.empty() && !class_order_changed && files_added.empty() &&
           files_removed.empty() && files_relabelled.empty();
  }
  /// One line: what changed, the first few names of each kind.
  std::string describe() const {
    std::string out;
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      out += (out.empty() ? "" : "; ") + std::to_string(v.size()) + " " + what + " (";
      for (std::size_t i = 0; i < v.size() && i < 5; ++i) out += (i ? ", '" : "'") + v[i] + "'";
      out += v.size() > 5 ? ", ...)" : ")";
    };
    list("class(es) added", classes_added);
    list("class(es) removed", classes_removed);
    if (class_order_changed) out += std::string(out.empty() ? "" : "; ") + "the class order changed";
    list("file(s) added", files_added);
    list("file(s) removed", files_removed);
    list("file(s) moved to another class", files_relabelled);
    return out;
  }
};

/// What a persisted split records beside its rows (the '#' lines of a manifest, version 2).
struct ManifestMeta {
  ClassMap classes;
  std::uint64_t class_map_hash = 0;
  std::uint64_t seed = 0;
  SplitRatios ratios;
};

namespace detail {

FTMETA_DECL std::string hex64(std::uint64_t v);

FTMETA_DECL std::string ratio_text(double r);

}  // namespace detail

/// Writes a persisted split (manifest version 2): "# ftmeta-manifest 2", then "# classmap-hash HEX",
/// "# seed N", "# ratios TRAIN VAL TEST", "# class NAME" per class in label order, the header
/// "path\tlabel\tsplit" and the rows, paths relative to `root` (so the tree may move). Written to a temporary
/// file and renamed, so a reader never sees half a manifest. FileError naming the file on failure;
/// DataError for a path holding a tab or line break or lying outside `root`.
FTMETA_DECL void write_split_manifest(const std::filesystem::path& file, const std::filesystem::path& root,
                                      const ManifestMeta& meta, const std::vector<Sample>& samples, const SplitIndices& parts);

/// Reads write_split_manifest's file: its metadata and rows (paths as written, relative to the
/// root). FileError naming the file and line if it is malformed, or if the recorded hash does not
/// match the recorded classes (an edited manifest).
FTMETA_DECL std::pair<ManifestMeta, std::vector<ManifestRow>> read_split_manifest(const std::filesystem::path& file);

/// How `folder` (scanned now) differs from a manifest's classes and rows (paths relative to folder.root).
FTMETA_DECL ManifestDiff diff_manifest(const ImageFolder& folder, const ClassMap& classes, const std::vector<ManifestRow>& rows);

/// The persisted split of one ImageFolder. The first run scans `root`, splits it with
/// stratified_split(ratios, seed) and writes `manifest` (write_split_manifest); later runs read the
/// manifest back and check it against the folder: the same class folders in the same order, the
/// same files in the same classes, the same seed and ratios. Any difference is a DataError that
/// says what changed and how to split again (delete the manifest); a folder is never silently re-split.
///
///   auto plan = ftmeta::data::plan_splits("photos", {0.8, 0.1, 0.1}, 42, "photos.split.tsv");
///   plan.train.size();  plan.classes.names();  plan.reused;   // false on the first run
FTMETA_DECL SplitPlan plan_splits(const std::filesystem::path& root, const SplitRatios& ratios, std::uint64_t seed,
                                  const std::filesystem::path& manifest, const ImageFolderOptions& options = {});

}  // namespace ftmeta::data


#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/data/impl/split.ipp>
#endif
