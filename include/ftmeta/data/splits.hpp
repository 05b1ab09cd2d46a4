// ftmeta/data/splits.hpp: a dataset's train/val/test sample lists resolved from one folder (split
// layout on disk, or a seeded split persisted in a manifest), their fingerprint, and the checks a
// run needs before it trains (no empty split, at least two classes).
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/class_map.hpp>
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/data/sampler.hpp>
#include <ftmeta/data/split.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// The three sample lists of a run and the class map they share.
struct Splits {
  ClassMap classes;
  std::vector<Sample> train, val, test;
  std::vector<std::string> notes;  ///< what resolve_splits decided or found (shown to the user)
};

/// How resolve_splits finds or makes the splits.
struct SplitOptions {
  std::uint64_t seed = 0;
  /// Where the split of a folder without a split layout is persisted (and read back next time);
  /// empty: nothing is written, the split is made in memory from the seed.
  std::filesystem::path manifest{};
  SplitRatios ratios{0.8, 0.1, 0.1};
  /// With a split layout that has no val/: the fraction of train held out per class for validation.
  double val_fraction = 0.1;
};

/// The splits of the ImageFolder tree at `root`: with a split layout (train/ plus val/ and/or
/// test/) its folders, holding out `val_fraction` of train per class when there is no val/;
/// otherwise a seeded stratified split by `ratios`, persisted in `manifest` (reused, or a DataError
/// saying what changed in the folder). Throws DataError naming the folder when it has fewer than two
/// classes or no training image.
///
///   auto splits = ftmeta::data::resolve_splits("photos", {.seed = 0, .manifest = "out/split.tsv"});
inline Splits resolve_splits(const std::filesystem::path& root, const SplitOptions& options = {}) {
  Splits s;
  if (has_split_layout(root)) {
    auto layout = load_split_layout(root);
    s.classes = layout.classes;
    if (layout.val && !layout.val->samples.empty()) {
      s.train = layout.train.samples;
      s.val = layout.val->samples;
    } else {
      const double f = options.val_fraction;
      auto parts = stratified_split(layout.train.labels(), {1.0 - f, f, 0.0}, options.seed);
      s.train = select(layout.train.samples, parts.train);
      s.val = select(layout.train.samples, parts.val);
      s.notes.push_back("validation: " + std::to_string(s.val.size()) + " image(s) held out of " + (root / "train").string() +
                        " (" + std::to_string(static_cast<int>(f * 100 + 0.5)) + "% per class, seed " +
                        std::to_string(options.seed) + ")");
    }
    if (layout.test) s.test = layout.test->samples;
    for (auto& w : layout.train.warnings) s.notes.push_back("warning: " + w);
  } else if (!options.manifest.empty()) {
    auto plan = plan_splits(root, options.ratios, options.seed, options.manifest);
    for (auto& w : plan.warnings) s.notes.push_back("warning: " + w);
    s.notes.push_back((plan.reused ? "split: reusing " : "split: wrote ") + options.manifest.string());
    s.classes = plan.classes;
    s.train = std::move(plan.train);
    s.val = std::move(plan.val);
    s.test = std::move(plan.test);
  } else {
    auto folder = scan_image_folder(root);
    auto parts = stratified_split(folder.samples, options.ratios, options.seed);
    for (auto& w : folder.warnings) s.notes.push_back("warning: " + w);
    s.classes = folder.classes;
    s.train = select(folder.samples, parts.train);
    s.val = select(folder.samples, parts.val);
    s.test = select(folder.samples, parts.test);
  }
  if (s.classes.size() < 2)
    throw DataError("ftmeta: " + root.string() + " has " + std::to_string(s.classes.size()) +
                    " class folder(s); a classifier needs at least two (one folder of images per class)");
  if (s.train.empty()) throw DataError("ftmeta: " + root.string() + ": the training split has no image");
  return s;
}

/// A fingerprint of the class map and the three splits (paths and labels, in order): a resumed
/// checkpoint must carry the same one.
inline std::string split_hash(const Splits& s) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto eat = [&h](const std::string& text) {
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (auto& name : s.classes.names()) eat(name);
  for (auto* split : {&s.train, &s.val, &s.test}) {
    eat("|");
    for (auto& sample : *split) eat(sample.path.string() + '\t' + std::to_string(sample.label));
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// The evaluation order of rank `rank` of `world`: positions rank, rank + world, ... of the split,
/// in order. Disjoint shards that together cover every image once (no padding), so metrics summed
/// over the ranks are exact. A LoaderOptions::sampler.
inline SamplerFn eval_shard(int rank, int world) {
  return [rank, world](std::int64_t n, std::uint64_t, std::uint64_t) {
    std::vector<std::int64_t> out;
    for (std::int64_t i = rank; i < n; i += world) out.push_back(i);
    return out;
  };
}

}  // namespace ftmeta::data
