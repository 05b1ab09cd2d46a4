// ftmeta/data/sources.hpp: where a loader's samples come from (files, encoded bytes, raw IDX pixels), decoded with OpenCV.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/idx.hpp>
#include <ftmeta/data/image_folder.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#if defined(FTMETA_WITH_LIBJPEG)
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
#endif

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// How a loader asks its source to decode (LoaderOptions::decode).
struct DecodeOptions {
  /// Images with more pixels (width x height, read from the JPEG/PNG header before decoding) are
  /// bad samples ("too large"), skipped or failing per the loader's policy. 0: no limit beyond
  /// OpenCV's own (2^30 pixels, CV_IO_MAX_IMAGE_PIXELS).
  std::int64_t max_pixels = 0;
  /// Reduced-resolution JPEG decoding (IMREAD_REDUCED_COLOR_2/4/8), off when 0: the pipeline needs
  /// at least min_side pixels along each side of the smallest region it may crop, and that region's
  /// shorter side is at least min_crop_fraction of the image's shorter side. A JPEG is decoded at
  /// 1/f (f = 2, 4, 8) for the largest f with min(W, H) / f * min_crop_fraction >= min_side, so
  /// the pipeline only ever shrinks. decode_options_for<Pipeline>() (loader.hpp) derives both.
  std::int64_t min_side = 0;
  double min_crop_fraction = 1.0;
};

/// A list of labelled images a Loader reads. decode() is called from several worker threads at
/// once, so it must not change the source.
///
/// The image convention is OpenCV's, which ftmeta::transforms::apply_into takes: 8-bit gray, BGR or
/// BGRA. Files and encoded bytes decode with IMREAD_COLOR semantics, always to 3-channel BGR: a gray
/// image is replicated, an alpha channel dropped (not blended; PIL's convert("RGB") drops it too),
/// 16-bit images scaled to 8 bits; EXIF orientation is ignored, as torchvision's PIL loader does.
/// The transform turns BGR into the RGB tensor.
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
};

/// The width and height an encoded image announces in its header (JPEG SOFn, PNG IHDR), read
/// without decoding; nothing for other formats or a header that cannot be parsed.
inline std::optional<std::pair<std::int64_t, std::int64_t>> encoded_image_size(const std::uint8_t* b, std::size_t n) {
  auto be16 = [&](std::size_t at) { return static_cast<std::int64_t>(b[at]) << 8 | b[at + 1]; };
  auto be32 = [&](std::size_t at) { return be16(at) << 16 | be16(at + 2); };
  static constexpr std::uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 24 && std::equal(png, png + 8, b) && std::equal(b + 12, b + 16, "IHDR"))
    return std::pair{be32(16), be32(20)};
  if (n < 4 || b[0] != 0xff || b[1] != 0xd8) return std::nullopt;
  std::size_t at = 2;
  while (at + 4 <= n) {
    if (b[at] != 0xff) return std::nullopt;
    const std::uint8_t marker = b[at + 1];
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {  // no length
      at += 2;
      continue;
    }
    const auto len = static_cast<std::size_t>(be16(at + 2));
    const bool sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (sof) {
      if (at + 9 > n) return std::nullopt;
      return std::pair{be16(at + 7), be16(at + 5)};  // SOFn: precision, height, width
    }
    if (marker == 0xda || len < 2) return std::nullopt;  // scan data before any frame header
    at += 2 + len;
  }
  return std::nullopt;
}

/// True for a JPEG cut short: no end-of-image marker (FF D9) after its first scan. libjpeg decodes
/// such a file with a warning and grey rows below the cut; PIL (torchvision's loader) refuses it,
/// and so does ftmeta. A marker inside an embedded thumbnail comes before the scan and does not count.
inline bool jpeg_truncated(const std::uint8_t* b, std::size_t n) {
  if (n < 4 || b[0] != 0xff || b[1] != 0xd8) return false;
  std::size_t at = 2;
  while (at + 4 <= n) {  // walk the marker segments to the first scan (SOS)
    if (b[at] != 0xff) return true;
    const std::uint8_t marker = b[at + 1];
    if (marker == 0xff) {
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2;
      continue;
    }
    const std::size_t len = static_cast<std::size_t>(b[at + 2]) << 8 | b[at + 3];
    at += 2 + len;
    if (marker == 0xda) break;
  }
  for (std::size_t i = n; i-- > at + 1;)
    if (b[i - 1] == 0xff && b[i] == 0xd9) return false;
  return true;
}

/// The factor (1, 2, 4 or 8) by which a JPEG of `width` x `height` may be decoded smaller under
/// `options`: the largest whose reduced image still gives the pipeline enough pixels, that is
/// min(width, height) / factor * options.min_crop_fraction >= options.min_side (see DecodeOptions).
inline int reduced_decode_factor(std::int64_t width, std::int64_t height, const DecodeOptions& options) {
  if (options.min_side <= 0) return 1;
  const double shorter = static_cast<double>(std::min(width, height)) * options.min_crop_fraction;
  int f = 1;
  while (f < 8 && shorter / (2 * f) >= static_cast<double>(options.min_side)) f *= 2;
  return f;
}

#if defined(FTMETA_WITH_LIBJPEG)
namespace detail {

// libjpeg(-turbo) straight into a BGR Mat. The build defines FTMETA_WITH_LIBJPEG and links libjpeg
// when it finds it: OpenCV 4.6's imdecode spends about 3x the time of libjpeg-turbo itself on a
// 500x375 JPEG (measured in benchmarks/loader.cpp's breakdown), and decoding is most of a loader's
// work. Same library, same settings (islow DCT, fancy upsampling) as imdecode, so the same pixels.
// Only YCbCr, RGB and gray JPEGs take this path; CMYK/YCCK go through imdecode. Returns false
// (and sets `why`) on a libjpeg error; `handled` is false when the file is left to imdecode.
struct JpegState {
  jpeg_decompress_struct info{};
  struct Err {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
  } err{};
  cv::Mat out;
  bool created = false;
  ~JpegState() {
    if (created) jpeg_destroy_decompress(&info);
  }
};

inline bool decode_jpeg_direct(const std::uint8_t* bytes, std::size_t size, int factor, cv::Mat& image, std::string& why,
                               bool& handled) {
  auto state = std::make_unique<JpegState>();
  JpegState* st = state.get();  // not modified after setjmp: safe to use after a longjmp
  st->info.err = jpeg_std_error(&st->err.mgr);
  st->err.mgr.error_exit = [](j_common_ptr info) {
    auto* e = reinterpret_cast<JpegState::Err*>(info->err);
    (*info->err->format_message)(info, e->message);
    std::longjmp(e->jump, 1);
  };
  st->err.mgr.output_message = [](j_common_ptr) {};  // warnings (e.g. extraneous bytes): as PIL, go on
  handled = true;
  if (setjmp(st->err.jump)) {
    why = std::string("not a decodable image (libjpeg: ") + st->err.message + ")";
    image = cv::Mat();
    return false;
  }
  jpeg_create_decompress(&st->info);
  st->created = true;
  jpeg_mem_src(&st->info, const_cast<unsigned char*>(bytes), static_cast<unsigned long>(size));
  jpeg_read_header(&st->info, TRUE);
  const auto cs = st->info.jpeg_color_space;
  if (cs != JCS_YCbCr && cs != JCS_RGB && cs != JCS_GRAYSCALE) {
    handled = false;
    return false;
  }
  st->info.out_color_space = JCS_EXT_BGR;
  st->info.scale_num = 1;
  st->info.scale_denom = static_cast<unsigned int>(factor);
  jpeg_start_decompress(&st->info);
  st->out.create(static_cast<int>(st->info.output_height), static_cast<int>(st->info.output_width), CV_8UC3);
  while (st->info.output_scanline < st->info.output_height) {
    JSAMPROW row = st->out.ptr(static_cast<int>(st->info.output_scanline));
    jpeg_read_scanlines(&st->info, &row, 1);
  }
  jpeg_finish_decompress(&st->info);
  image = std::move(st->out);
  return true;
}

}  // namespace detail
#endif

/// Decodes an encoded image (PNG, JPEG, ...) held in memory to CV_8UC3 BGR; empty with `why` set on
/// failure. With options.max_pixels, an image whose header (or, for formats without a parsed
/// header, whose decoded size) exceeds it is refused before any pixel is decoded; with
/// options.min_side, JPEGs may be decoded at 1/2, 1/4 or 1/8 (reduced_decode_factor).
inline cv::Mat decode_image(const std::uint8_t* bytes, std::size_t size, std::string& why,
                            const DecodeOptions& options = {}) {
  if (size == 0) {
    why = "empty file";
    return {};
  }
  if (jpeg_truncated(bytes, size)) {
    why = "truncated JPEG (no end-of-image marker after the scan data)";
    return {};
  }
  const auto header = encoded_image_size(bytes, size);
  auto too_big = [&](std::int64_t w, std::int64_t h) {
    if (options.max_pixels <= 0 || w * h <= options.max_pixels) return false;
    why = "too large: " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than max_pixels " +
          std::to_string(options.max_pixels);
    return true;
  };
  if (header && too_big(header->first, header->second)) return {};
  int flags = cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION;
  const bool jpeg = size > 2 && bytes[0] == 0xff && bytes[1] == 0xd8;
  const int factor = jpeg && header ? reduced_decode_factor(header->first, header->second, options) : 1;
#if defined(FTMETA_WITH_LIBJPEG)
  if (jpeg) {
    cv::Mat direct;
    bool handled = false;
    const bool ok = detail::decode_jpeg_direct(bytes, size, factor, direct, why, handled);
    if (handled) {
      if (ok && !header && too_big(direct.cols, direct.rows)) return {};
      return ok ? direct : cv::Mat();
    }
  }
#endif
  if (jpeg && header) {
    switch (factor) {
      case 2: flags = cv::IMREAD_REDUCED_COLOR_2 | cv::IMREAD_IGNORE_ORIENTATION; break;
      case 4: flags = cv::IMREAD_REDUCED_COLOR_4 | cv::IMREAD_IGNORE_ORIENTATION; break;
      case 8: flags = cv::IMREAD_REDUCED_COLOR_8 | cv::IMREAD_IGNORE_ORIENTATION; break;
      default: break;
    }
  }
  cv::Mat img;
  try {
    if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      why = "larger than 2 GiB";
      return {};
    }
    const cv::Mat buf(1, static_cast<int>(size), CV_8UC1, const_cast<std::uint8_t*>(bytes));
    img = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    why = std::string("not a decodable image (") + e.what() + ")";
    return {};
  }
  if (img.empty()) {
    why = "not a decodable image";
    return {};
  }
  if (!header && too_big(img.cols, img.rows)) return {};
  return img;
}

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
    std::ifstream in(samples_[static_cast<std::size_t>(i)].path, std::ios::binary);
    if (!in) {
      why = "cannot open";
      return {};
    }
    in.seekg(0, std::ios::end);
    const auto end = in.tellg();
    in.seekg(0, std::ios::beg);
    if (end < 0 || !in) {
      why = "cannot determine the size (not a regular file?)";
      return {};
    }
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(end));
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
      why = "read error";
      return {};
    }
    return decode_image(bytes.data(), bytes.size(), why, options);
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
