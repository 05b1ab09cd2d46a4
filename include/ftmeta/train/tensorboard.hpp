// ftmeta/train/tensorboard.hpp: scalars in TensorBoard's event-file format (TFRecord framing of
// Event protocol buffers, written by hand: no protobuf or TensorFlow dependency).
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/util/atomic_file.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace ftmeta::train {

namespace detail {
/// CRC-32C (Castagnoli), as TFRecord frames use it.
inline std::uint32_t crc32c(const void* data, std::size_t n) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}
inline std::uint32_t masked_crc(const void* data, std::size_t n) {
  const std::uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

// Protocol-buffer wire encoding, only what an Event with scalars needs.
inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline void put_tag(std::string& out, int field, int wire_type) { put_varint(out, static_cast<std::uint64_t>(field << 3 | wire_type)); }
inline void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}
template <class T>
void put_fixed(std::string& out, int field, int wire_type, T value) {
  put_tag(out, field, wire_type);
  char b[sizeof(T)];
  std::memcpy(b, &value, sizeof(T));  // little-endian hosts (x86-64, aarch64)
  out.append(b, sizeof(T));
}
}  // namespace detail

/// Appends scalar events to `<dir>/events.out.tfevents.<seconds>.<host>`, which TensorBoard reads.
///
///   TensorBoardWriter tb(out_dir);
///   tb.scalar("val/accuracy", 0.91, epoch);
class TensorBoardWriter {
 public:
  explicit TensorBoardWriter(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    path_ = dir / ("events.out.tfevents." + std::to_string(secs) + "." + host);
    try {
      out_.open(path_);
    } catch (const FileError& e) {
      throw FileError(std::string("TensorBoardWriter: ") + e.what());
    }
    std::string event;
    detail::put_fixed(event, 1, 1, now());
    detail::put_bytes(event, 3, "brain.Event:2");
    write_record(event);
  }

  /// One scalar point: `tag` (e.g. "train/loss") at `step`.
  void scalar(std::string_view tag, double value, std::int64_t step) {
    std::string v;
    detail::put_bytes(v, 1, tag);
    detail::put_fixed(v, 2, 5, static_cast<float>(value));
    std::string summary;
    detail::put_bytes(summary, 1, v);
    std::string event;
    detail::put_fixed(event, 1, 1, now());
    detail::put_tag(event, 2, 0);
    detail::put_varint(event, static_cast<std::uint64_t>(step));
    detail::put_bytes(event, 5, summary);
    write_record(event);
  }
  /// Records are in the file as soon as scalar() returns; flush() also puts them on disk.
  void flush() { out_.sync(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  static double now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  void write_record(const std::string& data) {
    char header[12];
    const std::uint64_t len = data.size();
    std::memcpy(header, &len, 8);
    const std::uint32_t len_crc = detail::masked_crc(header, 8);
    std::memcpy(header + 8, &len_crc, 4);
    const std::uint32_t data_crc = detail::masked_crc(data.data(), data.size());
    std::string record(header, 12);
    record += data;
    record.append(reinterpret_cast<const char*>(&data_crc), 4);
    try {  // the whole record or nothing: a full disk leaves the events file readable
      out_.append(record);
    } catch (const FileError& e) {
      throw FileError(std::string("TensorBoardWriter: ") + e.what());
    }
  }
  std::filesystem::path path_;
  util::AppendFile out_;
};

}  // namespace ftmeta::train
