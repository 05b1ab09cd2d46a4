// ftmeta/nn/detail/safetensors.hpp: the safetensors header parser behind load_safetensors (no torch here).
// ftmeta:pure
#pragma once
#ifndef FTMETA_NN_WEIGHTS_INTERNAL
#error "ftmeta/nn/detail/safetensors.hpp is internal; include <ftmeta/nn/safetensors.hpp>"
#endif

#include <ftmeta/core/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ftmeta::nn::detail {

// The safetensors dtypes that torch has, with their names in the header.
enum class SafeDtype : std::uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2, C64 };

struct SafeDtypeInfo {
  std::string_view name;
  SafeDtype dtype;
  std::size_t size;
};
inline constexpr SafeDtypeInfo safe_dtypes[] = {
    {"F64", SafeDtype::F64, 8},      {"F32", SafeDtype::F32, 4},          {"F16", SafeDtype::F16, 2},
    {"BF16", SafeDtype::BF16, 2},    {"I64", SafeDtype::I64, 8},          {"I32", SafeDtype::I32, 4},
    {"I16", SafeDtype::I16, 2},      {"I8", SafeDtype::I8, 1},            {"U64", SafeDtype::U64, 8},
    {"U32", SafeDtype::U32, 4},      {"U16", SafeDtype::U16, 2},          {"U8", SafeDtype::U8, 1},
    {"BOOL", SafeDtype::BOOL, 1},    {"F8_E4M3", SafeDtype::F8_E4M3, 1}, {"F8_E5M2", SafeDtype::F8_E5M2, 1},
    {"C64", SafeDtype::C64, 8},
};
inline const SafeDtypeInfo& safe_dtype_info(SafeDtype d) { return safe_dtypes[static_cast<std::size_t>(d)]; }

struct SafeEntry {
  std::string name;
  SafeDtype dtype = SafeDtype::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets in the data section
};
struct SafeHeader {
  std::vector<SafeEntry> tensors;  // in header order
  std::vector<std::pair<std::string, std::string>> metadata;
  std::uint64_t data_start = 0;  // 8 + header length
};

// The header is at most this long (as the reference implementation limits it).
inline constexpr std::uint64_t safetensors_max_header = 100u << 20;

// A strict reader of the JSON subset a safetensors header is: an object of tensor entries and an
// optional "__metadata__" object of strings. Every fault throws WeightsError naming `what`.
class SafeHeaderParser {
 public:
  SafeHeaderParser(std::string_view json, std::string what) : s_(json), what_(std::move(what)) {}

  SafeHeader parse() {
    SafeHeader h;
    std::unordered_set<std::string> seen;
    skip();
    expect('{', "the header to be a JSON object");
    skip();
    if (peek() == '}') ++i_;
    else
      for (;;) {
        skip();
        std::string key = string();
        skip();
        expect(':', "':' after a key");
        skip();
        if (!seen.insert(key).second) fail("names '" + key + "' twice");
        if (key == "__metadata__") metadata(h);
        else h.tensors.push_back(entry(std::move(key)));
        skip();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}', "',' or '}' in the header object");
        break;
      }
    skip();
    if (i_ != s_.size()) fail("has bytes after the header's JSON object (at header byte " + std::to_string(i_) + ")");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw WeightsError(what_ + ": safetensors header " + why); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c, const char* wanted) {
    if (i_ >= s_.size() || s_[i_] != c)
      fail(std::string("is not valid: expected ") + wanted + " at header byte " + std::to_string(i_));
    ++i_;
  }
  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::uint32_t hex4() {
    if (s_.size() - i_ < 4) fail("is not valid: a \\u escape is cut off");
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else fail("is not valid: a \\u escape has a non-hex digit");
    }
    return v;
  }
  std::string string() {
    expect('"', "a string");
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail("is not valid: a string is not closed");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("is not valid: a control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("is not valid: an escape is cut off");
      switch (const char e = s_[i_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            if (s_.size() - i_ < 2 || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail("is not valid: an unpaired surrogate");
            i_ += 2;
            const std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("is not valid: an unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("is not valid: an unpaired surrogate");
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("is not valid: unknown escape '\\" + std::string(1, e) + "'");
      }
    }
  }
  // A non-negative integer below 2^62.
  std::uint64_t integer(const std::string& field) {
    const std::size_t start = i_;
    std::uint64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + static_cast<std::uint64_t>(s_[i_++] - '0');
      if (v >= (std::uint64_t{1} << 62)) fail(field + " holds an absurd number");
    }
    if (i_ == start) fail(field + " must hold non-negative integers");
    if (i_ - start > 1 && s_[start] == '0') fail(field + " has a number with a leading zero");
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail(field + " must hold integers");
    return v;
  }
  std::vector<std::uint64_t> integers(const std::string& field) {
    std::vector<std::uint64_t> out;
    expect('[', "'[' to open a list");
    skip();
    if (peek() == ']') {
      ++i_;
      return out;
    }
    for (;;) {
      skip();
      if (out.size() >= 64) fail(field + " has more than 64 entries");
      out.push_back(integer(field));
      skip();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(']', "',' or ']' in a list");
      return out;
    }
  }
  void metadata(SafeHeader& h) {
    expect('{', "__metadata__ to be an object of strings");
    skip();
    if (peek() == '}') {
      ++i_;
      return;
    }
    for (;;) {
      skip();
      std::string k = string();
      skip();
      expect(':', "':' after a key");
      skip();
      if (peek() != '"') fail("__metadata__ entry '" + k + "' is not a string");
      h.metadata.emplace_back(std::move(k), string());
      skip();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}', "',' or '}' in __metadata__");
      return;
    }
  }
  SafeEntry entry(std::string name) {
    SafeEntry e;
    e.name = std::move(name);
    const std::string at = "tensor '" + e.name + "'";
    bool has_dtype = false, has_shape = false, has_offsets = false;
    expect('{', "a tensor entry object");
    skip();
    if (peek() == '}') fail(at + " has no dtype, shape or data_offsets");
    for (;;) {
      skip();
      const std::string field = string();
      skip();
      expect(':', "':' after a key");
      skip();
      if (field == "dtype" && !has_dtype) {
        const std::string d = string();
        const auto* info = std::find_if(std::begin(safe_dtypes), std::end(safe_dtypes), [&](const auto& x) { return x.name == d; });
        if (info == std::end(safe_dtypes)) fail(at + " has dtype '" + d + "', which ftmeta does not read");
        e.dtype = info->dtype;
        has_dtype = true;
      } else if (field == "shape" && !has_shape) {
        for (auto d : integers(at + " shape")) e.shape.push_back(static_cast<std::int64_t>(d));
        has_shape = true;
      } else if (field == "data_offsets" && !has_offsets) {
        const auto o = integers(at + " data_offsets");
        if (o.size() != 2) fail(at + " data_offsets must be [begin, end]");
        e.begin = o[0];
        e.end = o[1];
        has_offsets = true;
      } else {
        fail(at + " has an unknown or repeated field '" + field + "'");
      }
      skip();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}', "',' or '}' in a tensor entry");
      break;
    }
    if (!has_dtype || !has_shape || !has_offsets) fail(at + " lacks one of dtype, shape, data_offsets");
    return e;
  }

  std::string_view s_;
  std::string what_;
  std::size_t i_ = 0;
};

// Parses and checks the whole layout of a safetensors file held in [data, data + size): header
// length, header, each tensor's byte range against its dtype and shape, and that the ranges tile
// the data section exactly (no overlap, no hole, nothing after). Reads nothing outside the range.
inline SafeHeader parse_safetensors(const unsigned char* data, std::size_t size, const std::string& what) {
  const auto fail = [&](const std::string& why) { throw WeightsError(what + ": " + why); };
  if (size < 8) fail("is too short for a safetensors file (" + std::to_string(size) + " bytes)");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > size - 8)
    fail("says its safetensors header is " + std::to_string(n) + " bytes, but only " + std::to_string(size - 8) + " follow");
  if (n > safetensors_max_header) fail("has a safetensors header of " + std::to_string(n) + " bytes (more than 100 MiB)");
  SafeHeader h = SafeHeaderParser(std::string_view(reinterpret_cast<const char*>(data) + 8, n), what).parse();
  h.data_start = 8 + n;
  const std::uint64_t data_size = size - h.data_start;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& e : h.tensors) {
    const std::string at = "tensor '" + e.name + "'";
    std::uint64_t numel = 1;
    for (auto d : e.shape) {
      if (d != 0 && numel > (std::uint64_t{1} << 62) / static_cast<std::uint64_t>(d))
        fail(at + " has an absurd shape (more than 2^62 elements)");
      numel *= static_cast<std::uint64_t>(d);
    }
    const std::uint64_t elem = safe_dtype_info(e.dtype).size;
    if (numel > (std::uint64_t{1} << 62) / elem) fail(at + " has an absurd shape (more than 2^62 bytes)");
    if (e.begin > e.end || e.end > data_size)
      fail(at + " has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
           "] outside the data section of " + std::to_string(data_size) + " bytes");
    if (e.end - e.begin != numel * elem)
      fail(at + " spans " + std::to_string(e.end - e.begin) + " bytes, but " + std::string(safe_dtype_info(e.dtype).name) +
           " of its shape needs " + std::to_string(numel * elem));
    ranges.emplace_back(e.begin, e.end);
  }
  std::sort(ranges.begin(), ranges.end());
  std::uint64_t at = 0;
  for (const auto& [b, e] : ranges) {
    if (b != at) fail(b < at ? "has tensors whose data overlap" : "has bytes in its data section that no tensor uses");
    at = e;
  }
  if (at != data_size) fail("has " + std::to_string(data_size - at) + " bytes after its last tensor's data");
  return h;
}

}  // namespace ftmeta::nn::detail
