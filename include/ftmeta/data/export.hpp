// ftmeta/data/export.hpp: writing Fashion-MNIST out as an ImageFolder tree of PNGs (OpenCV imwrite), idempotently.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/detail/files.hpp>
#include <ftmeta/data/idx.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace ftmeta::data {

/// What export_fashion_mnist writes.
struct ExportOptions {
  /// Only the first N images of each class (in IDX file order); all when empty.
  std::optional<std::int64_t> limit_per_class{};
  /// The test split's own limit per class, when set (0: all of them); empty: limit_per_class.
  /// Few-shot training is still tested on the whole test set with `.test_limit_per_class = 0`.
  std::optional<std::int64_t> test_limit_per_class{};
  /// The parts to write: "train" and/or "test".
  std::vector<std::string> splits = {"train", "test"};
};

/// What export_fashion_mnist did.
struct ExportResult {
  bool written = false;     ///< false: an export with the same options was already complete
  std::int64_t images = 0;  ///< PNG files written by this call
};

/// The file in dst_dir that records a complete export (its options, source and counts).
inline std::filesystem::path export_marker(const std::filesystem::path& dst_dir) { return dst_dir / ".ftmeta-export"; }

/// Writes Fashion-MNIST (the IDX files in src_dir) as PNGs: dst/train/<class>/<n>.png and
/// dst/test/<class>/<n>.png, where <class> is a fashion_mnist_classes() name ("T-shirt_top" for
/// "T-shirt/top") and <n> the image's index in its IDX file, zero-padded to 5 digits (name order
/// is file order). Scanned as an ImageFolder, the classes get string order ("Ankle boot" is 0),
/// not the IDX label order: map them by name (ClassMap), not by number.
///
/// Idempotent: `dst/.ftmeta-export` records the options and source; a call that finds it with the
/// same ones does nothing. The images are written under a hidden staging folder and moved into
/// place, and the record comes last, so an interrupted export is redone by the next call rather than
/// used half-written. train/ or test/ folders in dst that no export made are never overwritten
/// (DataError).
///
///   ftmeta::data::export_fashion_mnist(ftmeta::data::fashion_mnist_dir(), "fmnist", {.limit_per_class = 100});
inline ExportResult export_fashion_mnist(const std::filesystem::path& src_dir, const std::filesystem::path& dst_dir,
                                         const ExportOptions& options = {}) {
  namespace fs = std::filesystem;
  if (options.splits.empty()) throw UsageError("export_fashion_mnist: ExportOptions::splits is empty");
  for (const auto& s : options.splits)
    if (s != "train" && s != "test")
      throw UsageError("export_fashion_mnist: split '" + s + "' is not \"train\" or \"test\"");
  if (options.limit_per_class && *options.limit_per_class < 1)
    throw UsageError("export_fashion_mnist: limit_per_class must be at least 1 (or left empty for all)");
  if (options.test_limit_per_class && *options.test_limit_per_class < 0)
    throw UsageError("export_fashion_mnist: test_limit_per_class must be at least 0 (0: all)");

  // The record's first part identifies the export; it is known before reading any image.
  std::error_code ec;
  std::string key = "ftmeta fashion-mnist export 1\n";
  key += "source " + fs::weakly_canonical(src_dir, ec).string() + "\n";
  for (const auto& s : options.splits) {
    const std::string prefix = s == "train" ? "train" : "t10k";
    for (const char* kind : {"-images-idx3-ubyte", "-labels-idx1-ubyte"}) {
      const auto f = fashion_mnist_file(src_dir, prefix + kind);
      const auto size = fs::file_size(f, ec);
      if (ec) throw FileError("export_fashion_mnist: cannot read '" + f.string() + "': " + ec.message());
      key += "file " + f.filename().string() + " " + std::to_string(size) + "\n";
    }
  }
  key += "limit_per_class " + (options.limit_per_class ? std::to_string(*options.limit_per_class) : "all") + "\n";
  if (options.test_limit_per_class) key += "test_limit_per_class " + std::to_string(*options.test_limit_per_class) + "\n";
  key += "splits";
  for (const auto& s : options.splits) key += " " + s;
  key += "\n";

  const auto marker = export_marker(dst_dir);
  const auto partial = dst_dir / ".ftmeta-export.partial";
  const auto staging = dst_dir / ".ftmeta-export.staging";
  const bool have_marker = fs::exists(marker, ec);
  if (have_marker && detail::read_text(marker).starts_with(key)) {
    bool complete = true;
    for (const auto& s : options.splits) complete = complete && fs::is_directory(dst_dir / s, ec);
    if (complete) return {};
  }
  const bool ours = have_marker || fs::exists(partial, ec);
  for (const char* s : {"train", "test"})
    if (!ours && fs::exists(dst_dir / s, ec))
      throw DataError("export_fashion_mnist: '" + (dst_dir / s).string() +
                      "' exists but no export wrote it; choose another destination or remove it");

  fs::create_directories(dst_dir, ec);
  if (ec) throw FileError("export_fashion_mnist: cannot create '" + dst_dir.string() + "': " + ec.message());
  detail::write_text_atomically(partial, "an export to this folder is under way or was interrupted\n");
  detail::remove_tree(marker);
  detail::remove_tree(staging);
  for (const char* s : {"train", "test"}) detail::remove_tree(dst_dir / s);

  const auto& names = fashion_mnist_classes();
  ExportResult result{true, 0};
  std::string counts;
  for (const auto& s : options.splits) {
    const FashionMnist part = read_fashion_mnist(src_dir, s);
    for (const auto& n : names) {
      fs::create_directories(staging / s / n, ec);
      if (ec) throw FileError("export_fashion_mnist: cannot create '" + (staging / s / n).string() + "': " + ec.message());
    }
    std::int64_t limit = options.limit_per_class.value_or(-1);  // -1: all
    if (s == "test" && options.test_limit_per_class) limit = *options.test_limit_per_class == 0 ? -1 : *options.test_limit_per_class;
    std::vector<std::int64_t> taken(names.size(), 0);
    std::int64_t written = 0;
    for (std::int64_t i = 0; i < part.images.count; ++i) {
      const auto label = part.labels[static_cast<std::size_t>(i)];
      if (limit >= 0 && taken[label] >= limit) continue;
      ++taken[label];
      char file[32];
      std::snprintf(file, sizeof file, "%05lld.png", static_cast<long long>(i));
      const auto path = staging / s / names[label] / file;
      const cv::Mat img(static_cast<int>(part.images.rows), static_cast<int>(part.images.cols), CV_8UC1,
                        const_cast<std::uint8_t*>(part.images.image(i)));
      bool ok = false;
      try {
        ok = cv::imwrite(path.string(), img);
      } catch (const cv::Exception& e) {
        throw FileError("export_fashion_mnist: cannot write '" + path.string() + "': " + e.what());
      }
      if (!ok) throw FileError("export_fashion_mnist: cannot write '" + path.string() + "'");
      ++written;
    }
    counts += "images " + s + " " + std::to_string(written) + "\n";
    result.images += written;
  }
  for (const auto& s : options.splits) {
    fs::rename(staging / s, dst_dir / s, ec);
    if (ec) throw FileError("export_fashion_mnist: cannot move '" + (staging / s).string() + "' into place: " + ec.message());
  }
  detail::remove_tree(staging);
  detail::write_text_atomically(marker, key + counts);
  detail::remove_tree(partial);
  return result;
}

}  // namespace ftmeta::data
