// ftmeta/data/splits.hpp: a dataset's train/val/test sample lists resolved from one folder (split
// layout on disk, or a seeded split persisted in a manifest), their fingerprint, and the checks a
// run needs before it trains (no empty split, at least two classes).
// ftmeta:pure
#pragma once

#include <ftmeta/core/config.hpp>
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
FTMETA_DECL Splits resolve_splits(const std::filesystem::path& root, const SplitOptions& options = {});

/// A fingerprint of the class map and the three splits (paths and labels, in order): a resumed
/// checkpoint must carry the same one.
FTMETA_DECL std::string split_hash(const Splits& s);

/// The evaluation order of rank `rank` of `world`: positions rank, rank + world, ... of the split,
/// in order. Disjoint shards that together cover every image once (no padding), so metrics summed
/// over the ranks are exact. A LoaderOptions::sampler.
FTMETA_DECL SamplerFn eval_shard(int rank, int world);

}  // namespace ftmeta::data


#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/data/impl/splits.ipp>
#endif
