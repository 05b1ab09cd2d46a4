// ftmeta/data/impl/splits.ipp: the definitions of splits.hpp's functions: included by that header when header-only,
// compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION (core/config.hpp).
#pragma once

#include <ftmeta/data/splits.hpp>

namespace ftmeta::data {

FTMETA_DECL Splits resolve_splits(const std::filesystem::path& root, const SplitOptions& options) {
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

FTMETA_DECL std::string split_hash(const Splits& s) {
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

FTMETA_DECL SamplerFn eval_shard(int rank, int world) {
  return [rank, world](std::int64_t n, std::uint64_t, std::uint64_t) {
    std::vector<std::int64_t> out;
    for (std::int64_t i = rank; i < n; i += world) out.push_back(i);
    return out;
  };
}

}  // namespace ftmeta::data

