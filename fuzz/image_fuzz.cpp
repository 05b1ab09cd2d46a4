// fuzz/image_fuzz.cpp: libFuzzer target for ftmeta's one decode rule (data/decode.hpp), built twice
// by fuzz/run.sh: FTMETA_FUZZ_JPEG (the direct libjpeg-turbo path: markers, EXIF, CMYK, reduced
// decoding) and FTMETA_FUZZ_PNG (the PNG path: IHDR and eXIf parsing, 16-bit, alpha and palette
// conversion). The first input byte picks the options (EXIF honoured, reduced decoding); the rest is
// the file, given its signature when it lacks one. A refusal (an empty image with a reason) is
// the clean outcome; an accepted image is read end to end (ASan reports any pixel past it), and any
// crash, sanitizer report or image of the wrong type is a finding.
#include <ftmeta/data/decode.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  ftmeta::data::DecodeOptions options;
  options.max_pixels = 1 << 22;  // libFuzzer's memory limit, not a finding: headers above it are refused
  options.exif_orientation = data[0] & 1;
  options.min_side = (data[0] & 2) ? 8 : 0;
  options.min_crop_fraction = (data[0] & 4) ? 0.5 : 1.0;
#if defined(FTMETA_FUZZ_JPEG)
  static constexpr std::uint8_t signature[] = {0xff, 0xd8};
#else
  static constexpr std::uint8_t signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
#endif
  std::vector<std::uint8_t> file;
  const std::uint8_t* body = data + 1;
  const std::size_t n = size - 1;
  if (n < sizeof signature || !std::equal(signature, signature + sizeof signature, body)) file.assign(signature, signature + sizeof signature);
  file.insert(file.end(), body, body + n);
  std::string why;
  const cv::Mat img = ftmeta::data::decode_image(file.data(), file.size(), why, options);
  (void)ftmeta::data::exif_orientation(file.data(), file.size());
  (void)ftmeta::data::encoded_image_size(file.data(), file.size());
  if (img.empty()) {
    if (why.empty()) __builtin_trap();  // a refusal must say why
    return 0;
  }
  if (img.type() != CV_8UC3 || img.rows < 1 || img.cols < 1) __builtin_trap();
  unsigned sum = 0;
  for (int r = 0; r < img.rows; ++r)
    for (int c = 0; c < img.cols * 3; ++c) sum += img.ptr<std::uint8_t>(r)[c];
  return sum == 0xdeadbeef ? 1 : 0;
}
