// ftmeta/nn/detail/json.hpp: a small strict JSON reader for the config files that come with weights (timm's config.json).
// ftmeta:pure
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ftmeta::nn::detail {

/// A parsed JSON value. Numbers are doubles; objects keep their keys sorted.
struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool boolean = false;
  double number = 0;
  std::string text;
  std::vector<Json> items;
  std::map<std::string, Json> fields;

  /// The member `key` of an object, or nullptr (also when this is not an object).
  const Json* get(std::string_view key) const {
    if (type != Type::Object) return nullptr;
    auto it = fields.find(std::string(key));
    return it == fields.end() ? nullptr : &it->second;
  }
};

/// Parses `text`; throws std::runtime_error("... at byte N") on anything that is not JSON.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}
  Json parse() {
    Json v = value(0);
    skip();
    if (i_ != s_.size()) fail("text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("not valid JSON: " + what + " at byte " + std::to_string(i_));
  }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool take(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  Json value(int depth) {
    if (depth > 64) fail("nesting deeper than 64");
    skip();
    if (i_ >= s_.size()) fail("end of text where a value was expected");
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      v.type = Json::Type::Object;
      ++i_;
      skip();
      if (take("}")) return v;
      for (;;) {
        skip();
        if (i_ >= s_.size() || s_[i_] != '"') fail("an object key that is not a string");
        std::string key = string();
        skip();
        if (!take(":")) fail("no ':' after an object key");
        v.fields[key] = value(depth + 1);
        skip();
        if (take("}")) return v;
        if (!take(",")) fail("no ',' or '}' in an object");
      }
    }
    if (c == '[') {
      v.type = Json::Type::Array;
      ++i_;
      skip();
      if (take("]")) return v;
      for (;;) {
        v.items.push_back(value(depth + 1));
        skip();
        if (take("]")) return v;
        if (!take(",")) fail("no ',' or ']' in an array");
      }
    }
    if (c == '"') {
      v.type = Json::Type::String;
      v.text = string();
      return v;
    }
    if (take("true")) return v.type = Json::Type::Bool, v.boolean = true, v;
    if (take("false")) return v.type = Json::Type::Bool, v;
    if (take("null")) return v;
    if (take("NaN") || take("Infinity") || take("-Infinity")) fail("a non-finite number");
    const std::size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    while (i_ < s_.size() && ((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E' ||
                              s_[i_] == '+' || s_[i_] == '-'))
      ++i_;
    if (i_ == start) fail(std::string("an unexpected character '") + c + "'");
    const std::string digits(s_.substr(start, i_ - start));
    char* end = nullptr;
    v.type = Json::Type::Number;
    v.number = std::strtod(digits.c_str(), &end);
    if (end != digits.c_str() + digits.size()) fail("a malformed number '" + digits + "'");
    return v;
  }
  std::string string() {
    ++i_;  // the opening quote
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("a control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) break;
      c = s_[i_++];
      switch (c) {
        case '"': case '\\': case '/': out += c; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("a short \\u escape");
          const unsigned long cp = std::strtoul(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16);
          i_ += 4;
          if (cp < 0x80) out += static_cast<char>(cp);
          else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3F));
          else
            out += static_cast<char>(0xE0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                out += static_cast<char>(0x80 | (cp & 0x3F));
          break;
        }
        default: fail(std::string("an unknown escape '\\") + c + "'");
      }
    }
    if (i_ >= s_.size()) fail("an unterminated string");
    ++i_;
    return out;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace ftmeta::nn::detail
