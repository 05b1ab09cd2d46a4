// ftmeta/data/class_map.hpp: ClassMap, the class names of a dataset in label order (checkpoints store it).
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// The class names of a dataset, in label order (`name(0)` is label 0), with lookups both ways.
/// Names are unique, non-empty and hold no line break or tab (so the text form is one name a line).
///
///   ClassMap m({"cat", "dog"});
///   m.index("dog") == 1;  m.name(0) == "cat";
///   ClassMap::parse(m.serialize()) == m;
class ClassMap {
 public:
  ClassMap() = default;
  explicit ClassMap(std::vector<std::string> names) : names_(std::move(names)) {
    for (std::size_t i = 0; i < names_.size(); ++i) {
      const std::string& n = names_[i];
      if (n.empty()) throw DataError("ClassMap: class " + std::to_string(i) + " has an empty name");
      if (n.find_first_of("\n\r\t") != std::string::npos)
        throw DataError("ClassMap: class name '" + n + "' holds a line break or tab");
      if (!index_.emplace(n, static_cast<std::int64_t>(i)).second)
        throw DataError("ClassMap: class name '" + n + "' appears twice");
    }
  }

  std::int64_t size() const noexcept { return static_cast<std::int64_t>(names_.size()); }
  bool empty() const noexcept { return names_.empty(); }
  /// The names in label order.
  const std::vector<std::string>& names() const noexcept { return names_; }

  /// The name of label `idx`; DataError if there is no such label.
  const std::string& name(std::int64_t idx) const {
    if (idx < 0 || idx >= size())
      throw DataError("ClassMap: label " + std::to_string(idx) + " is out of range (" + std::to_string(size()) +
                      " classes)");
    return names_[static_cast<std::size_t>(idx)];
  }
  /// The label of class `name`, if there is one.
  std::optional<std::int64_t> find(std::string_view name) const {
    auto it = index_.find(name);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }
  /// The label of class `name`; DataError naming it if there is none.
  std::int64_t index(std::string_view name) const {
    if (auto i = find(name)) return *i;
    throw DataError("ClassMap: no class named '" + std::string(name) + "'");
  }
  /// torchvision's `class_to_idx`: name -> label, ordered by name.
  const std::map<std::string, std::int64_t, std::less<>>& class_to_idx() const noexcept { return index_; }
  /// torchvision's `classes` (label -> name); the same as names().
  const std::vector<std::string>& idx_to_class() const noexcept { return names_; }

  friend bool operator==(const ClassMap& a, const ClassMap& b) noexcept { return a.names_ == b.names_; }

  /// A stable text form: the line "ftmeta-classmap 1", the line with the number of classes, then one
  /// name a line, each line ending in '\n'. parse() reads it back.
  std::string serialize() const {
    std::string out = "ftmeta-classmap 1\n" + std::to_string(names_.size()) + "\n";
    for (const auto& n : names_) out += n + "\n";
    return out;
  }
  /// Reads serialize()'s text; DataError saying what is wrong otherwise.
  static ClassMap parse(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t end = text.find('\n', pos);
      if (end == std::string_view::npos)
        throw DataError("ClassMap::parse: the text does not end with a line break");
      lines.emplace_back(text.substr(pos, end - pos));
      pos = end + 1;
    }
    if (lines.size() < 2 || lines[0] != "ftmeta-classmap 1")
      throw DataError("ClassMap::parse: the text does not start with 'ftmeta-classmap 1'");
    std::size_t n = 0;
    try {
      std::size_t used = 0;
      n = std::stoul(lines[1], &used);
      if (used != lines[1].size()) throw std::invalid_argument("count");
    } catch (const std::exception&) {
      throw DataError("ClassMap::parse: '" + lines[1] + "' is not a class count");
    }
    if (lines.size() != n + 2)
      throw DataError("ClassMap::parse: announces " + std::to_string(n) + " classes but holds " +
                      std::to_string(lines.size() - 2) + " names");
    return ClassMap(std::vector<std::string>(lines.begin() + 2, lines.end()));
  }
  /// A stable 64-bit hash (FNV-1a of serialize()); equal maps hash equal on every platform.
  std::uint64_t hash() const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : serialize()) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    return h;
  }

 private:
  std::vector<std::string> names_;
  std::map<std::string, std::int64_t, std::less<>> index_;
};

}  // namespace ftmeta::data
