// ftmeta/data/split.hpp: seeded, stratified train/val/test splits of a sample list, and a TSV manifest of them.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/data/detail/files.hpp>
#include <ftmeta/data/image_folder.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <string_view>
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
inline SplitIndices stratified_split(std::span<const std::int64_t> labels, const SplitRatios& ratios,
                                     std::uint64_t seed) {
  const std::array<double, 3> r = {ratios.train, ratios.val, ratios.test};
  for (double x : r)
    if (!(x >= 0.0) || !std::isfinite(x))
      throw UsageError("stratified_split: ratios must be finite and >= 0 (got train " + std::to_string(ratios.train) +
                       ", val " + std::to_string(ratios.val) + ", test " + std::to_string(ratios.test) + ")");
  if (std::abs(r[0] + r[1] + r[2] - 1.0) > 1e-6)
    throw UsageError("stratified_split: ratios must sum to 1 (got train " + std::to_string(ratios.train) + ", val " +
                     std::to_string(ratios.val) + ", test " + std::to_string(ratios.test) + ")");

  std::map<std::int64_t, std::vector<std::int64_t>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(static_cast<std::int64_t>(i));

  constexpr std::uint64_t split_stream = 0x73706c6974ull;  // "split"
  SplitIndices out;
  std::array<std::vector<std::int64_t>*, 3> parts = {&out.train, &out.val, &out.test};
  for (auto& [label, idx] : by_class) {
    Rng rng(seed, split_stream, static_cast<std::uint64_t>(label));
    for (std::size_t i = idx.size(); i > 1; --i)
      std::swap(idx[i - 1], idx[static_cast<std::size_t>(rng.integer(0, static_cast<std::int64_t>(i) - 1))]);

    const auto n = static_cast<std::int64_t>(idx.size());
    std::array<std::int64_t, 3> count{};
    std::array<double, 3> rest{};
    std::int64_t used = 0;
    for (int k = 0; k < 3; ++k) {
      const double exact = static_cast<double>(n) * r[static_cast<std::size_t>(k)];
      count[static_cast<std::size_t>(k)] = static_cast<std::int64_t>(std::floor(exact));
      rest[static_cast<std::size_t>(k)] = exact - std::floor(exact);
      used += count[static_cast<std::size_t>(k)];
    }
    for (; used < n; ++used) {
      std::size_t best = 0;
      for (std::size_t k = 1; k < 3; ++k)
        if (rest[k] > rest[best]) best = k;
      ++count[best];
      rest[best] = -1.0;
    }
    std::size_t at = 0;
    for (std::size_t k = 0; k < 3; ++k)
      for (std::int64_t j = 0; j < count[k]; ++j) parts[k]->push_back(idx[at++]);
  }
  for (auto* p : parts) std::sort(p->begin(), p->end());
  return out;
}

/// stratified_split over the labels of `samples`.
inline SplitIndices stratified_split(const std::vector<Sample>& samples, const SplitRatios& ratios, std::uint64_t seed) {
  std::vector<std::int64_t> labels;
  labels.reserve(samples.size());
  for (const auto& s : samples) labels.push_back(s.label);
  return stratified_split(std::span<const std::int64_t>(labels), ratios, seed);
}

/// `samples` at `indices`, in that order.
inline std::vector<Sample> select(const std::vector<Sample>& samples, std::span<const std::int64_t> indices) {
  std::vector<Sample> out;
  out.reserve(indices.size());
  for (auto i : indices) {
    if (i < 0 || i >= static_cast<std::int64_t>(samples.size()))
      throw UsageError("select: index " + std::to_string(i) + " is out of range (" + std::to_string(samples.size()) +
                       " samples)");
    out.push_back(samples[static_cast<std::size_t>(i)]);
  }
  return out;
}

/// One line of a split manifest.
struct ManifestRow {
  std::filesystem::path path;
  std::int64_t label = 0;
  std::string split;  // "train", "val" or "test"
  friend bool operator==(const ManifestRow&, const ManifestRow&) = default;
};

/// Writes a split as a TSV manifest: the line "# ftmeta-manifest 1", the header "path\tlabel\tsplit",
/// then a row per sample of `parts` (train rows, then val, then test). Written to a temporary file
/// and renamed, so a reader never sees half a manifest. FileError naming the file on failure;
/// DataError for a path holding a tab or line break.
inline void write_manifest(const std::filesystem::path& file, const std::vector<Sample>& samples,
                           const SplitIndices& parts) {
  std::string text = "# ftmeta-manifest 1\npath\tlabel\tsplit\n";
  auto add = [&](const std::vector<std::int64_t>& idx, const char* split) {
    for (const auto& s : select(samples, idx)) {
      const std::string p = s.path.generic_string();
      if (p.find_first_of("\t\r\n") != std::string::npos)
        throw DataError("write_manifest: path '" + p + "' holds a tab or line break");
      text += p + "\t" + std::to_string(s.label) + "\t" + split + "\n";
    }
  };
  add(parts.train, "train");
  add(parts.val, "val");
  add(parts.test, "test");
  try {
    detail::write_text_atomically(file, text);
  } catch (const FileError& e) {
    throw FileError(std::string("write_manifest: ") + e.what());
  }
}

/// Reads write_manifest's file; FileError naming the file and line if it is malformed.
inline std::vector<ManifestRow> read_manifest(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw FileError("read_manifest: cannot open '" + file.string() + "'");
  std::vector<ManifestRow> rows;
  std::string line;
  std::size_t n = 0;
  auto bad = [&](const std::string& what) {
    return FileError("manifest '" + file.string() + "', line " + std::to_string(n) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++n;
    if (n == 1) {
      if (line != "# ftmeta-manifest 1") throw bad("expected '# ftmeta-manifest 1'");
      continue;
    }
    if (n == 2) {
      if (line != "path\tlabel\tsplit") throw bad("expected the header 'path<TAB>label<TAB>split'");
      continue;
    }
    const auto t1 = line.find('\t');
    const auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos || line.find('\t', t2 + 1) != std::string::npos) throw bad("expected three fields");
    ManifestRow row;
    row.path = line.substr(0, t1);
    const std::string label = line.substr(t1 + 1, t2 - t1 - 1);
    try {
      std::size_t used = 0;
      row.label = std::stoll(label, &used);
      if (used != label.size() || row.label < 0) throw std::invalid_argument("label");
    } catch (const std::exception&) {
      throw bad("'" + label + "' is not a label");
    }
    row.split = line.substr(t2 + 1);
    if (row.split != "train" && row.split != "val" && row.split != "test")
      throw bad("split '" + row.split + "' is not train, val or test");
    rows.push_back(std::move(row));
  }
  if (n < 2) throw bad("missing header");
  return rows;
}

/// The samples of one part ("train", "val", "test") of a manifest, in file order.
inline std::vector<Sample> manifest_samples(const std::vector<ManifestRow>& rows, std::string_view split) {
  std::vector<Sample> out;
  for (const auto& r : rows)
    if (r.split == split) out.push_back({r.path, r.label});
  return out;
}

}  // namespace ftmeta::data
