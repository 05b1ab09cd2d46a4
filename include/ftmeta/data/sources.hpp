// ftmeta/data/sources.hpp: where a loader's samples come from (files, encoded bytes, raw IDX pixels), decoded by data/decode.hpp's one rule.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/decode.hpp>
#include <ftmeta/data/idx.hpp>
#include <ftmeta/data/image_folder.hpp>

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// A list of labelled images a Loader reads. decode() is called from several worker threads at
/// once, so it must not change the source.
///
/// The image convention is OpenCV's, which ftmeta::transforms::apply_into takes: 8-bit gray, BGR or
/// BGRA. Files and encoded bytes decode by the one rule of data/decode.hpp (decode_image), always
/// to 3-channel BGR with the pixels of PIL's convert("RGB"); EXIF orientation is ignored, as
/// torchvision's PIL loader does, unless DecodeOptions::exif_orientation. The transform turns BGR
/// into the RGB tensor.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual std::int64_t size() const = 0;
  virtual std::int64_t label(std::int64_t i) const = 0;
  /// Sample i as an 8-bit gray, BGR or BGRA image; an empty Mat, with `why` saying why, when it
  /// cannot be read. The Mat may share memory with the source: it is only read.
  virtual cv::Mat decode(std::int64_t i, std::string& why) const = 0;
  /// What messages call sample i (its file path).
  virtual std::string describe(std::int64_t i) const = 0;
  /// decode() under a loader's DecodeOptions (size limit, reduced-resolution JPEG decoding). The
  /// default ignores them and calls decode(); sources of encoded images override it.
  virtual cv::Mat decode_for(std::int64_t i, std::string& why, const DecodeOptions& options) const {
    (void)options;
    return decode(i, why);
  }
  /// Region decoding (decode_image_region): `plan` is called once with the image's size and
  /// answers the part a pipeline reads. The default decodes the whole image (decode_for) and
  /// returns it whole; sources of encoded images override it.
  virtual RegionImage decode_region(std::int64_t i, std::string& why, const DecodeOptions& options, const RegionPlanFn& plan) const {
    RegionImage got{decode_for(i, why, options)};
    if (!got.image.empty()) plan(got.image.cols, got.image.rows);
    return got;
  }
};

/// Image files with labels (an ImageFolder's samples, a manifest's rows). Each file is read into
/// memory and decoded as decode_image does, so an unreadable and an undecodable file are told apart.
class FileSource final : public SampleSource {
 public:
  explicit FileSource(std::vector<Sample> samples) : samples_(std::move(samples)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(samples_.size()); }
  std::int64_t label(std::int64_t i) const override { return samples_[static_cast<std::size_t>(i)].label; }
  std::string describe(std::int64_t i) const override { return samples_[static_cast<std::size_t>(i)].path.string(); }
  cv::Mat decode(std::int64_t i, std::string& why) const override { return decode_for(i, why, {}); }
  cv::Mat decode_for(std::int64_t i, std::string& why, const DecodeOptions& options) const override {
    return decode_file(samples_[static_cast<std::size_t>(i)].path, why, options);
  }
  RegionImage decode_region(std::int64_t i, std::string& why, const DecodeOptions& options, const RegionPlanFn& plan) const override {
    std::vector<std::uint8_t> bytes;
    if (!read_file_bytes(samples_[static_cast<std::size_t>(i)].path, bytes, why)) return {};
    return decode_image_region(bytes.data(), bytes.size(), why, options, plan);
  }
  const std::vector<Sample>& samples() const noexcept { return samples_; }

 private:
  std::vector<Sample> samples_;
};

/// Encoded images (PNG, JPEG, ... bytes) held in memory, with labels.
class EncodedSource final : public SampleSource {
 public:
  EncodedSource(std::vector<std::vector<std::uint8_t>> images, std::vector<std::int64_t> labels,
                std::string name = "encoded image")
      : images_(std::move(images)), labels_(std::move(labels)), name_(std::move(name)) {
    if (images_.size() != labels_.size())
      throw DataError("EncodedSource: " + std::to_string(images_.size()) + " images but " +
                      std::to_string(labels_.size()) + " labels");
  }
  std::int64_t size() const override { return static_cast<std::int64_t>(images_.size()); }
  std::int64_t label(std::int64_t i) const override { return labels_[static_cast<std::size_t>(i)]; }
  std::string describe(std::int64_t i) const override { return name_ + " #" + std::to_string(i); }
  cv::Mat decode(std::int64_t i, std::string& why) const override { return decode_for(i, why, {}); }
  cv::Mat decode_for(std::int64_t i, std::string& why, const DecodeOptions& options) const override {
    const auto& b = images_[static_cast<std::size_t>(i)];
    return decode_image(b.data(), b.size(), why, options);
  }
  RegionImage decode_region(std::int64_t i, std::string& why, const DecodeOptions& options, const RegionPlanFn& plan) const override {
    const auto& b = images_[static_cast<std::size_t>(i)];
    return decode_image_region(b.data(), b.size(), why, options, plan);
  }

 private:
  std::vector<std::vector<std::uint8_t>> images_;
  std::vector<std::int64_t> labels_;
  std::string name_;
};

/// Raw 8-bit gray images held in memory (IDX pixels, e.g. Fashion-MNIST without exporting it);
/// decode() hands out a 1-channel Mat over the pixels, without copying (the transform replicates
/// gray to three channels, as IMREAD_COLOR does for a gray PNG).
///
///   auto train = ftmeta::data::read_fashion_mnist(ftmeta::data::fashion_mnist_dir(), "train");
///   auto source = std::make_shared<ftmeta::data::InMemorySource>(std::move(train));
class InMemorySource final : public SampleSource {
 public:
  InMemorySource(IdxImages images, std::vector<std::int64_t> labels, std::string name = "in-memory image")
      : images_(std::move(images)), labels_(std::move(labels)), name_(std::move(name)) {
    if (static_cast<std::int64_t>(labels_.size()) != images_.count)
      throw DataError("InMemorySource: " + std::to_string(images_.count) + " images but " +
                      std::to_string(labels_.size()) + " labels");
  }
  explicit InMemorySource(FashionMnist part, std::string name = "fashion-mnist")
      : InMemorySource(std::move(part.images), std::vector<std::int64_t>(part.labels.begin(), part.labels.end()),
                       std::move(name)) {}
  std::int64_t size() const override { return images_.count; }
  std::int64_t label(std::int64_t i) const override { return labels_[static_cast<std::size_t>(i)]; }
  std::string describe(std::int64_t i) const override { return name_ + " #" + std::to_string(i); }
  cv::Mat decode(std::int64_t i, std::string&) const override {
    return cv::Mat(static_cast<int>(images_.rows), static_cast<int>(images_.cols), CV_8UC1,
                   const_cast<std::uint8_t*>(images_.image(i)));
  }
  const IdxImages& images() const noexcept { return images_; }

 private:
  IdxImages images_;
  std::vector<std::int64_t> labels_;
  std::string name_;
};

}  // namespace ftmeta::data
