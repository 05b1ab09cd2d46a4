// ftmeta/data/impl/split.ipp: the definitions of split.hpp's functions: included by that header when header-only,
// compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/data/split.hpp>

namespace ftmeta::data {

FTMETA_DECL SplitIndices stratified_split(std::span<const std::int64_t> labels, const SplitRatios& ratios,
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

FTMETA_DECL SplitIndices stratified_split(const std::vector<Sample>& samples, const SplitRatios& ratios, std::uint64_t seed) {
  std::vector<std::int64_t> labels;
  labels.reserve(samples.size());
  for (const auto& s : samples) labels.push_back(s.label);
  return stratified_split(std::span<const std::int64_t>(labels), ratios, seed);
}

FTMETA_DECL std::vector<Sample> select(const std::vector<Sample>& samples, std::span<const std::int64_t> indices) {
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

}  // namespace ftmeta::data

namespace ftmeta::data::detail {

FTMETA_DECL std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 15];
  return s;
}

FTMETA_DECL std::string ratio_text(double r) {
  char buf[40];
  const auto res = std::to_chars(buf, buf + sizeof buf, r);
  return std::string(buf, res.ptr);
}

}  // namespace ftmeta::data::detail

namespace ftmeta::data {

FTMETA_DECL void write_split_manifest(const std::filesystem::path& file, const std::filesystem::path& root,
                                      const ManifestMeta& meta, const std::vector<Sample>& samples, const SplitIndices& parts) {
  std::string text = "# ftmeta-manifest 2\n# classmap-hash " + detail::hex64(meta.classes.hash()) + "\n# seed " +
                     std::to_string(meta.seed) + "\n# ratios " + detail::ratio_text(meta.ratios.train) + " " +
                     detail::ratio_text(meta.ratios.val) + " " + detail::ratio_text(meta.ratios.test) + "\n";
  for (const auto& n : meta.classes.names()) text += "# class " + n + "\n";
  text += "path\tlabel\tsplit\n";
  auto add = [&](const std::vector<std::int64_t>& idx, const char* split) {
    for (const auto& s : select(samples, idx)) {
      const std::string p = s.path.lexically_relative(root).generic_string();
      if (p.empty() || p.starts_with(".."))
        throw DataError("write_split_manifest: '" + s.path.string() + "' is not under '" + root.string() + "'");
      if (p.find_first_of("\t\r\n") != std::string::npos)
        throw DataError("write_split_manifest: path '" + p + "' holds a tab or line break");
      text += p + "\t" + std::to_string(s.label) + "\t" + split + "\n";
    }
  };
  add(parts.train, "train");
  add(parts.val, "val");
  add(parts.test, "test");
  try {
    detail::write_text_atomically(file, text);
  } catch (const FileError& e) {
    throw FileError(std::string("write_split_manifest: ") + e.what());
  }
}

FTMETA_DECL std::pair<ManifestMeta, std::vector<ManifestRow>> read_split_manifest(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw FileError("read_split_manifest: cannot open '" + file.string() + "'");
  ManifestMeta meta;
  std::vector<std::string> names;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t n = 0, pos = 0, header_end = 0;
  bool have_hash = false, have_seed = false, have_ratios = false;
  auto bad = [&](const std::string& what) {
    return FileError("manifest '" + file.string() + "', line " + std::to_string(n) + ": " + what);
  };
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    const std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    ++n;
    if (n == 1) {
      if (line != "# ftmeta-manifest 2") throw bad("expected '# ftmeta-manifest 2' (a split written by plan_splits)");
      continue;
    }
    if (line == "path\tlabel\tsplit") {
      header_end = pos;
      break;
    }
    try {
      if (line.starts_with("# classmap-hash ")) {
        meta.class_map_hash = std::stoull(line.substr(16), nullptr, 16);
        have_hash = true;
      } else if (line.starts_with("# seed ")) {
        meta.seed = std::stoull(line.substr(7));
        have_seed = true;
      } else if (line.starts_with("# ratios ")) {
        std::istringstream r(line.substr(9));
        if (!(r >> meta.ratios.train >> meta.ratios.val >> meta.ratios.test)) throw std::invalid_argument("ratios");
        have_ratios = true;
      } else if (line.starts_with("# class ")) {
        names.push_back(line.substr(8));
      } else {
        throw bad("unexpected line '" + line + "' before the header 'path<TAB>label<TAB>split'");
      }
    } catch (const std::logic_error&) {
      throw bad("malformed '" + line + "'");
    }
  }
  if (header_end == 0) throw bad("missing the header 'path<TAB>label<TAB>split'");
  if (!have_hash || !have_seed || !have_ratios || names.empty())
    throw FileError("manifest '" + file.string() + "': missing classmap-hash, seed, ratios or class lines");
  try {
    meta.classes = ClassMap(names);
  } catch (const DataError& e) {
    throw FileError("manifest '" + file.string() + "': " + e.what());
  }
  if (meta.classes.hash() != meta.class_map_hash)
    throw FileError("manifest '" + file.string() + "': classmap-hash " + detail::hex64(meta.class_map_hash) +
                    " does not match its class lines (" + detail::hex64(meta.classes.hash()) + "); was it edited?");
  // The rows, on the rest of the file.
  std::vector<ManifestRow> rows;
  std::istringstream body(text.substr(header_end));
  for (std::string line; std::getline(body, line);) {
    ++n;
    const auto t1 = line.find('\t');
    const auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos || line.find('\t', t2 + 1) != std::string::npos) throw bad("expected three fields");
    ManifestRow row;
    row.path = line.substr(0, t1);
    const std::string label = line.substr(t1 + 1, t2 - t1 - 1);
    try {
      std::size_t used = 0;
      row.label = std::stoll(label, &used);
      if (used != label.size() || row.label < 0 || row.label >= meta.classes.size())
        throw std::invalid_argument("label");
    } catch (const std::exception&) {
      throw bad("'" + label + "' is not a label of the " + std::to_string(meta.classes.size()) + " classes");
    }
    row.split = line.substr(t2 + 1);
    if (row.split != "train" && row.split != "val" && row.split != "test")
      throw bad("split '" + row.split + "' is not train, val or test");
    rows.push_back(std::move(row));
  }
  return {std::move(meta), std::move(rows)};
}

FTMETA_DECL ManifestDiff diff_manifest(const ImageFolder& folder, const ClassMap& classes, const std::vector<ManifestRow>& rows) {
  ManifestDiff d;
  for (const auto& n : folder.classes.names())
    if (!classes.find(n)) d.classes_added.push_back(n);
  for (const auto& n : classes.names())
    if (!folder.classes.find(n)) d.classes_removed.push_back(n);
  d.class_order_changed = d.classes_added.empty() && d.classes_removed.empty() && !(folder.classes == classes);
  std::map<std::string, std::string> now;  // relative path -> class name
  for (const auto& s : folder.samples)
    now.emplace(s.path.lexically_relative(folder.root).generic_string(), folder.classes.name(s.label));
  std::set<std::string> listed;
  for (const auto& r : rows) {
    const std::string p = r.path.generic_string();
    listed.insert(p);
    auto it = now.find(p);
    if (it == now.end())
      d.files_removed.push_back(p);
    else if (it->second != classes.name(r.label))
      d.files_relabelled.push_back(p);
  }
  for (const auto& [p, c] : now)
    if (!listed.count(p)) d.files_added.push_back(p);
  return d;
}

FTMETA_DECL SplitPlan plan_splits(const std::filesystem::path& root, const SplitRatios& ratios, std::uint64_t seed,
                                  const std::filesystem::path& manifest, const ImageFolderOptions& options) {
  ImageFolder folder = scan_image_folder(root, options);
  SplitPlan plan;
  plan.root = root;
  plan.manifest = manifest;
  plan.warnings = folder.warnings;
  std::error_code ec;
  if (!std::filesystem::exists(manifest, ec)) {
    const auto parts = stratified_split(folder.samples, ratios, seed);
    write_split_manifest(manifest, root, {folder.classes, folder.classes.hash(), seed, ratios}, folder.samples, parts);
    plan.classes = folder.classes;
    plan.class_map_hash = folder.classes.hash();
    plan.train = select(folder.samples, parts.train);
    plan.val = select(folder.samples, parts.val);
    plan.test = select(folder.samples, parts.test);
    return plan;
  }
  auto [meta, rows] = read_split_manifest(manifest);
  const std::string where = "plan_splits: the split in '" + manifest.string() + "' ";
  const std::string again = "; delete the manifest to split the folder again";
  if (meta.seed != seed || std::abs(meta.ratios.train - ratios.train) > 1e-12 ||
      std::abs(meta.ratios.val - ratios.val) > 1e-12 || std::abs(meta.ratios.test - ratios.test) > 1e-12)
    throw DataError(where + "was made with seed " + std::to_string(meta.seed) + " and ratios " +
                    detail::ratio_text(meta.ratios.train) + "/" + detail::ratio_text(meta.ratios.val) + "/" +
                    detail::ratio_text(meta.ratios.test) + ", not seed " + std::to_string(seed) + " and ratios " +
                    detail::ratio_text(ratios.train) + "/" + detail::ratio_text(ratios.val) + "/" +
                    detail::ratio_text(ratios.test) + again);
  const ManifestDiff diff = diff_manifest(folder, meta.classes, rows);
  if (!diff.empty()) throw DataError(where + "no longer matches '" + root.string() + "': " + diff.describe() + again);
  plan.classes = std::move(meta.classes);
  plan.class_map_hash = meta.class_map_hash;
  plan.reused = true;
  for (auto& r : rows) {
    Sample s{root / r.path, r.label};
    (r.split == "train" ? plan.train : r.split == "val" ? plan.val : plan.test).push_back(std::move(s));
  }
  return plan;
}

}  // namespace ftmeta::data

