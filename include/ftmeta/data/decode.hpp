// ftmeta/data/decode.hpp: the one decode rule (encoded bytes or a file to 8-bit BGR, PIL's convert("RGB") semantics) that the loader's sources, evaluation, the Predictor and exporters all use.
#pragma once

#include <ftmeta/core/error.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#if defined(FTMETA_WITH_LIBJPEG)
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
#endif

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// How images are decoded (LoaderOptions::decode, Predictor::set_decode): the same options give
/// the same pixels on every path.
struct DecodeOptions {
  /// Images with more pixels (width x height, read from the JPEG/PNG header before decoding) are
  /// bad samples ("too large"), skipped or failing per the loader's policy. 0: no limit beyond
  /// OpenCV's own (2^30 pixels, CV_IO_MAX_IMAGE_PIXELS).
  std::int64_t max_pixels = 0;
  /// Reduced-resolution JPEG decoding (libjpeg's DCT scaling), off when 0: the pipeline needs
  /// at least min_side pixels along each side of the smallest region it may crop, and that region's
  /// shorter side is at least min_crop_fraction of the image's shorter side. A JPEG is decoded at
  /// 1/f (f = 2, 4, 8) for the largest f with min(W, H) / f * min_crop_fraction >= min_side, so
  /// the pipeline only ever shrinks. decode_options_for<Pipeline>() (loader.hpp) derives both.
  std::int64_t min_side = 0;
  double min_crop_fraction = 1.0;
  /// Honour the EXIF orientation tag (JPEG APP1, PNG eXIf): the image is turned upright, as
  /// PIL's ImageOps.exif_transpose does. Off by default, as torchvision's loader ignores the tag;
  /// whatever is chosen must be the same for training and serving.
  bool exif_orientation = false;
  /// Region decoding, where a loader runs a pipeline (pipeline_loader): the pipeline draws its
  /// parameters from the image size in the JPEG header, says which source rectangle it reads, and
  /// only those rows (jpeg_skip_scanlines) and columns (jpeg_crop_scanline) are decoded. The same
  /// draws and the same pixels as decoding the whole image (tested). Images that are not JPEG, or
  /// that EXIF turns (with exif_orientation), are decoded whole.
  bool region = true;
  /// With region decoding, also decode at 1/2 or 1/4 scale (libjpeg's DCT scaling) where the
  /// pipeline reads at least 2 or 4 source pixels per output pixel along both axes. Changes pixels
  /// (within the bound data_roi tests state), so it is opt-in; decode_options_for<P>() turns it on.
  /// With it, min_side is not used for the JPEGs decoded by region.
  bool region_scaling = false;
};

/// The part of an image a pipeline reads (full-image pixels) and the DCT scale it may be decoded
/// at (1, 2 or 4): what a pipeline's plan answers for one sample (RegionPlanFn).
struct DecodeRegion {
  std::int64_t x = 0, y = 0, width = 0, height = 0;
  int factor = 1;
};

/// What region decoding gave: image pixel (i, j) is the block of `factor` x `factor` full-image
/// pixels at (x + i * factor, y + j * factor). The whole image has x = y = 0 and factor 1.
struct RegionImage {
  cv::Mat image;
  std::int64_t x = 0, y = 0;
  int factor = 1;
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

namespace detail {
// The orientation (1..8) in a TIFF structure (an EXIF block after its "Exif\0\0"): IFD0's tag
// 0x0112, a SHORT. 1 (upright) when absent or malformed; every offset is checked against n.
inline int tiff_orientation(const std::uint8_t* t, std::size_t n) {
  if (n < 8) return 1;
  const bool le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](std::size_t at) -> std::uint32_t { return le ? t[at] | t[at + 1] << 8 : t[at] << 8 | t[at + 1]; };
  auto u32 = [&](std::size_t at) -> std::uint32_t { return u16(le ? at + 2 : at) << 16 | u16(le ? at : at + 2); };
  if (u16(2) != 42) return 1;
  const std::size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) return 1;
  const std::size_t entries = u16(ifd);
  for (std::size_t e = 0; e < entries; ++e) {
    const std::size_t at = ifd + 2 + 12 * e;
    if (at > n || n - at < 12) return 1;
    if (u16(at) == 0x0112 && u16(at + 2) == 3) {
      const auto v = u16(at + 8);
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}
}  // namespace detail

/// The EXIF orientation (1..8, 1 = upright) an encoded JPEG (APP1 "Exif") or PNG (eXIf chunk)
/// carries; 1 when there is none or it cannot be parsed. Reads only inside [b, b + n).
inline int exif_orientation(const std::uint8_t* b, std::size_t n) {
  static constexpr std::uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::equal(png, png + 8, b)) {
    std::size_t at = 8;
    while (at <= n && n - at >= 12) {
      const std::size_t len = static_cast<std::size_t>(b[at]) << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3];
      if (len > n - at - 12) return 1;
      if (std::equal(b + at + 4, b + at + 8, "eXIf")) return detail::tiff_orientation(b + at + 8, len);
      if (std::equal(b + at + 4, b + at + 8, "IEND")) return 1;
      at += 12 + len;
    }
    return 1;
  }
  if (n < 4 || b[0] != 0xff || b[1] != 0xd8) return 1;
  std::size_t at = 2;
  while (at <= n && n - at >= 4) {
    if (b[at] != 0xff) return 1;
    const std::uint8_t marker = b[at + 1];
    if (marker == 0xff) {
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2;
      continue;
    }
    if (marker == 0xda || marker == 0xd9) return 1;  // the scan: no EXIF after it counts
    const std::size_t len = static_cast<std::size_t>(b[at + 2]) << 8 | b[at + 3];
    if (len < 2 || len > n - at - 2) return 1;
    if (marker == 0xe1 && len >= 8 && std::equal(b + at + 4, b + at + 10, "Exif\0\0"))
      return detail::tiff_orientation(b + at + 10, len - 8);
    at += 2 + len;
  }
  return 1;
}

/// Turns `image` upright for EXIF orientation `o` (2: mirrored, 3: upside down, 4: flipped,
/// 5: transposed, 6: turned left, 7: transversed, 8: turned right), as ImageOps.exif_transpose.
inline cv::Mat apply_exif_orientation(const cv::Mat& image, int o) {
  cv::Mat out;
  switch (o) {
    case 2: cv::flip(image, out, 1); break;
    case 3: cv::rotate(image, out, cv::ROTATE_180); break;
    case 4: cv::flip(image, out, 0); break;
    case 5: cv::transpose(image, out); break;
    case 6: cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE); break;
    case 7: cv::transpose(image, out), cv::flip(out, out, -1); break;
    case 8: cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: return image;
  }
  return out;
}

namespace detail {

// PIL's rounding of a * b / 255 (MULDIV255).
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/// A decoded PNG (or other image read with IMREAD_UNCHANGED) to 8-bit BGR as PIL's
/// convert("RGB") gives it: gray replicated, alpha dropped, 16-bit colour by its high byte (PIL
/// reads it as "RGB;16B"), 16-bit gray clipped to 255 (PIL's "I;16" to "RGB").
inline cv::Mat to_bgr8_like_pil(const cv::Mat& img) {
  cv::Mat out(img.rows, img.cols, CV_8UC3);
  const int ch = img.channels();
  const bool deep = img.depth() == CV_16U;
  for (int r = 0; r < img.rows; ++r) {
    auto* o = out.ptr<std::uint8_t>(r);
    for (int c = 0; c < img.cols; ++c, o += 3) {
      auto at = [&](int k) -> int {
        return deep ? img.ptr<std::uint16_t>(r)[c * ch + k] : img.ptr<std::uint8_t>(r)[c * ch + k];
      };
      if (ch <= 2) {
        const int v = at(0);
        o[0] = o[1] = o[2] = static_cast<std::uint8_t>(deep ? std::min(v, 255) : v);
      } else {
        for (int k = 0; k < 3; ++k) o[k] = static_cast<std::uint8_t>(deep ? at(k) >> 8 : at(k));
      }
    }
  }
  return out;
}

#if defined(FTMETA_WITH_LIBJPEG)
// libjpeg(-turbo) straight into a BGR Mat. The build defines FTMETA_WITH_LIBJPEG and links libjpeg
// when it finds it: OpenCV 4.6's imdecode spends about 3x the time of libjpeg-turbo itself on a
// 500x375 JPEG (measured in benchmarks/loader.cpp's breakdown), and decoding is most of a loader's
// work. Same library and settings as PIL (islow DCT, fancy upsampling). CMYK and YCCK JPEGs are
// read as CMYK and converted as PIL does (Adobe polarity, "CMYK;I", then its cmyk2rgb).
struct JpegState {
  jpeg_decompress_struct info{};
  struct Err {
    jpeg_error_mgr mgr;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
  } err{};
  cv::Mat out;
  std::vector<std::uint8_t> row;
  bool created = false;
  ~JpegState() {
    if (created) jpeg_destroy_decompress(&info);
  }
};

/// With `crop` (full-image pixels), only the rows and columns of the crop (at 1/factor, the columns
/// widened to whole iMCUs by libjpeg) are decoded; `at` receives the full-image position of the
/// result's first pixel.
inline bool decode_jpeg_direct(const std::uint8_t* bytes, std::size_t size, int factor, cv::Mat& image, std::string& why,
                               const DecodeRegion* crop = nullptr, std::int64_t* at_x = nullptr, std::int64_t* at_y = nullptr) {
  auto state = std::make_unique<JpegState>();
  JpegState* st = state.get();  // not modified after setjmp: safe to use after a longjmp
  st->info.err = jpeg_std_error(&st->err.mgr);
  st->err.mgr.error_exit = [](j_common_ptr info) {
    auto* e = reinterpret_cast<JpegState::Err*>(info->err);
    (*info->err->format_message)(info, e->message);
    std::longjmp(e->jump, 1);
  };
  st->err.mgr.output_message = [](j_common_ptr) {};  // warnings (e.g. extraneous bytes): as PIL, go on
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
  const bool cmyk = cs == JCS_CMYK || cs == JCS_YCCK;
  if (!cmyk && cs != JCS_YCbCr && cs != JCS_RGB && cs != JCS_GRAYSCALE) {
    why = "not a decodable image (JPEG colour space " + std::to_string(static_cast<int>(cs)) + ")";
    return false;
  }
  st->info.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_BGR;
  st->info.scale_num = 1;
  st->info.scale_denom = static_cast<unsigned int>(factor);
  jpeg_start_decompress(&st->info);
  // The rows [first, last) and columns [x0, x0 + cw) of the (scaled) output to decode: all, or the crop's.
  JDIMENSION first = 0, last = st->info.output_height, x0 = 0, cw = st->info.output_width;
  if (crop) {
    const auto lo = [&](std::int64_t v, JDIMENSION n) { return static_cast<JDIMENSION>(std::clamp<std::int64_t>(v / factor, 0, n)); };
    const auto hi = [&](std::int64_t v, JDIMENSION n) {
      return static_cast<JDIMENSION>(std::clamp<std::int64_t>((v + factor - 1) / factor, 0, n));
    };
    first = lo(crop->y, st->info.output_height), last = hi(crop->y + crop->height, st->info.output_height);
    x0 = lo(crop->x, st->info.output_width);
    cw = hi(crop->x + crop->width, st->info.output_width) - x0;
    if (last <= first || cw == 0) first = 0, last = st->info.output_height, x0 = 0, cw = st->info.output_width;
    if (cw < st->info.output_width) jpeg_crop_scanline(&st->info, &x0, &cw);  // x0 moves down to an iMCU edge
    if (first > 0) jpeg_skip_scanlines(&st->info, first);
  }
  const int h = static_cast<int>(last - first), w = static_cast<int>(st->info.output_width);
  st->out.create(h, w, CV_8UC3);
  if (cmyk) st->row.resize(static_cast<std::size_t>(w) * 4);
  while (st->info.output_scanline < last) {
    const int y = static_cast<int>(st->info.output_scanline - first);
    JSAMPROW row = cmyk ? st->row.data() : st->out.ptr(y);
    jpeg_read_scanlines(&st->info, &row, 1);
    if (cmyk) {
      auto* o = st->out.ptr<std::uint8_t>(y);
      for (int x = 0; x < w; ++x, o += 3) {
        const std::uint8_t* p = row + 4 * x;
        const int nk = p[3];  // 255 - k, k = 255 - stored k (Adobe polarity)
        for (int k = 0; k < 3; ++k)  // PIL: nk - nk * c / 255 with c = 255 - stored
          o[2 - k] = static_cast<std::uint8_t>(std::clamp(nk - muldiv255(255 - p[k], nk), 0, 255));
      }
    }
  }
  if (last < st->info.output_height) jpeg_abort_decompress(&st->info);  // the rows below the crop are not needed
  else jpeg_finish_decompress(&st->info);
  image = std::move(st->out);
  if (at_x) *at_x = static_cast<std::int64_t>(x0) * factor;
  if (at_y) *at_y = static_cast<std::int64_t>(first) * factor;
  return true;
}
#endif

inline cv::Mat imdecode_checked(const std::uint8_t* bytes, std::size_t size, int flags, std::string& why) {
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    why = "larger than 2 GiB";
    return {};
  }
  cv::Mat img;
  try {
    const cv::Mat buf(1, static_cast<int>(size), CV_8UC1, const_cast<std::uint8_t*>(bytes));
    img = cv::imdecode(buf, flags);
  } catch (const cv::Exception& e) {
    why = std::string("not a decodable image (") + e.what() + ")";
    return {};
  }
  if (img.empty()) why = "not a decodable image";
  return img;
}

}  // namespace detail

/// The one decode rule: an encoded image (JPEG, PNG, ...) held in memory to CV_8UC3 BGR, the
/// pixels torchvision's loader (PIL's Image.open(...).convert("RGB")) gives: gray replicated,
/// alpha dropped (not blended), 16-bit colour by its high byte, 16-bit gray clipped, CMYK by
/// PIL's formula, EXIF orientation ignored unless options.exif_orientation. Empty with `why` set
/// on failure. With options.max_pixels, an image whose header (or, for formats without a parsed
/// header, whose decoded size) exceeds it is refused before any pixel is decoded; with
/// options.min_side, JPEGs may be decoded at 1/2, 1/4 or 1/8 (reduced_decode_factor).
/// Formats other than JPEG and PNG go through OpenCV's IMREAD_COLOR.
inline cv::Mat decode_image(const std::uint8_t* bytes, std::size_t size, std::string& why, const DecodeOptions& options = {}) {
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
    // w * h > max_pixels, without the product (a PNG header announces up to 2^32 - 1 per side)
    if (options.max_pixels <= 0 || w <= 0 || h <= 0 || h <= options.max_pixels / w) return false;
    why = "too large: " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than max_pixels " +
          std::to_string(options.max_pixels);
    return true;
  };
  if (header && too_big(header->first, header->second)) return {};
  const bool jpeg = size > 2 && bytes[0] == 0xff && bytes[1] == 0xd8;
  const bool png = size >= 8 && bytes[0] == 0x89 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G';
  const int factor = jpeg && header ? reduced_decode_factor(header->first, header->second, options) : 1;
  cv::Mat img;
  if (jpeg) {
#if defined(FTMETA_WITH_LIBJPEG)
    if (!detail::decode_jpeg_direct(bytes, size, factor, img, why)) return {};
#else
    int flags = cv::IMREAD_COLOR;
    if (factor == 2) flags = cv::IMREAD_REDUCED_COLOR_2;
    if (factor == 4) flags = cv::IMREAD_REDUCED_COLOR_4;
    if (factor == 8) flags = cv::IMREAD_REDUCED_COLOR_8;
    img = detail::imdecode_checked(bytes, size, flags | cv::IMREAD_IGNORE_ORIENTATION, why);
#endif
  } else if (png) {
    img = detail::imdecode_checked(bytes, size, cv::IMREAD_UNCHANGED, why);
    if (!img.empty() && (img.depth() != CV_8U || img.channels() != 3)) img = detail::to_bgr8_like_pil(img);
  } else {
    img = detail::imdecode_checked(bytes, size, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION, why);
  }
  if (img.empty()) return {};
  if (!header && too_big(img.cols, img.rows)) return {};
  if (options.exif_orientation) img = apply_exif_orientation(img, exif_orientation(bytes, size));
  return img;
}

/// A pipeline's answer for one sample (see RegionPlanFn): given the upright image's width and height,
/// draw the sample's parameters and say which part of the image they read.
using RegionPlanFn = std::function<DecodeRegion(std::int64_t width, std::int64_t height)>;

/// Region decoding (DecodeOptions::region): `plan` is called once with the size of the image as
/// decode_image would give it, and only the part it answers is decoded (JPEG: rows and columns,
/// at 1/2 or 1/4 with options.region_scaling). Other images, EXIF-turned ones (with
/// exif_orientation) and options.region off: decoded whole, `plan` called with their size, and the
/// whole image returned. Empty image with `why` set on failure (then `plan` may not have been called).
inline RegionImage decode_image_region(const std::uint8_t* bytes, std::size_t size, std::string& why, const DecodeOptions& options,
                                       const RegionPlanFn& plan) {
  const bool jpeg = size > 2 && bytes[0] == 0xff && bytes[1] == 0xd8;
  const auto header = jpeg ? encoded_image_size(bytes, size) : std::nullopt;
  const bool turned = options.exif_orientation && exif_orientation(bytes, size) != 1;
#if defined(FTMETA_WITH_LIBJPEG)
  const bool by_region = options.region && jpeg && header && !turned && !jpeg_truncated(bytes, size);
#else
  const bool by_region = false;
#endif
  RegionImage got;
  if (!by_region) {
    got.image = decode_image(bytes, size, why, options);
    if (!got.image.empty()) plan(got.image.cols, got.image.rows);
    return got;
  }
#if defined(FTMETA_WITH_LIBJPEG)
  const auto [w, h] = *header;
  if (options.max_pixels > 0 && w > 0 && h > options.max_pixels / w) return {decode_image(bytes, size, why, options)};  // "too large"
  DecodeRegion region = plan(w, h);
  region.factor = options.region_scaling ? std::clamp(region.factor, 1, 4) : 1;
  if (region.factor == 3) region.factor = 2;
  const bool whole = region.factor == 1 && region.x <= 0 && region.y <= 0 && region.x + region.width >= w && region.y + region.height >= h;
  if (!detail::decode_jpeg_direct(bytes, size, region.factor, got.image, why, whole ? nullptr : &region, &got.x, &got.y)) return {};
  got.factor = region.factor;
#endif
  return got;
}

/// Reads a whole file into `bytes`; false with `why` set ("cannot open", "read error", ...).
inline bool read_file_bytes(const std::filesystem::path& path, std::vector<std::uint8_t>& bytes, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::filesystem::exists(path) ? "cannot open" : "cannot open (no such file)";
    return false;
  }
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0 || !in) {
    why = "cannot determine the size (not a regular file?)";
    return false;
  }
  bytes.resize(static_cast<std::size_t>(end));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    why = "read error";
    return false;
  }
  return true;
}

/// An image file under the decode rule (decode_image); empty with `why` set when it cannot be
/// read or decoded.
inline cv::Mat decode_file(const std::filesystem::path& path, std::string& why, const DecodeOptions& options = {}) {
  std::vector<std::uint8_t> bytes;
  if (!read_file_bytes(path, bytes, why)) return {};
  return decode_image(bytes.data(), bytes.size(), why, options);
}

/// decode_file, throwing FileError "PATH: WHY" when the file cannot be read or decoded.
inline cv::Mat read_image(const std::filesystem::path& path, const DecodeOptions& options = {}) {
  std::string why;
  cv::Mat img = decode_file(path, why, options);
  if (img.empty()) throw FileError(path.string() + ": " + (why.empty() ? "not a readable image" : why));
  return img;
}

}  // namespace ftmeta::data
