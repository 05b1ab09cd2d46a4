// ftmeta/util/cli.hpp: a small command-line parser for ftmeta's programs: declared flags,
// positional arguments, and a one-line UsageError for anything wrong.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ftmeta::util {

/// A flag a program accepts: `--name VALUE` (takes_value) or `--name`.
struct Flag {
  std::string name;       ///< without the leading dashes
  bool takes_value = true;
  std::string help;
};

/// Parsed command line. Unknown flags, missing values and bad numbers throw UsageError whose
/// message names the flag, so a program can print it on one line and exit non-zero.
class Args {
 public:
  Args(int argc, const char* const* argv, std::vector<Flag> flags) : flags_(std::move(flags)) {
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a.size() > 2 && a.substr(0, 2) == "--") {
        std::string name(a.substr(2));
        std::optional<std::string> inline_value;
        if (auto eq = name.find('='); eq != std::string::npos) {
          inline_value = name.substr(eq + 1);
          name.resize(eq);
        }
        const Flag* f = find(name);
        if (!f) throw UsageError("unknown flag --" + name + " (see --help)");
        if (f->takes_value) {
          if (inline_value) values_[name] = *inline_value;
          else if (i + 1 < argc) values_[name] = argv[++i];
          else throw UsageError("--" + name + " needs a value");
        } else {
          if (inline_value) throw UsageError("--" + name + " takes no value");
          values_[name] = "1";
        }
      } else if (a == "-h") {
        values_["help"] = "1";
      } else {
        positional_.emplace_back(a);
      }
    }
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback = {}) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  /// An integer flag within [lo, hi].
  std::int64_t get_int(const std::string& name, std::int64_t fallback, std::int64_t lo = INT64_MIN, std::int64_t hi = INT64_MAX) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    std::size_t used = 0;
    std::int64_t x = 0;
    try {
      x = std::stoll(v, &used);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != v.size()) throw UsageError("--" + name + ": expected an integer, got '" + v + "'");
    if (x < lo || x > hi)
      throw UsageError("--" + name + ": " + v + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return x;
  }
  /// A number flag within [lo, hi].
  double get_double(const std::string& name, double fallback, double lo = -1e300, double hi = 1e300) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(v, &used);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != v.size()) throw UsageError("--" + name + ": expected a number, got '" + v + "'");
    if (x < lo || x > hi) throw UsageError("--" + name + ": " + v + " is out of range");
    return x;
  }
  const std::vector<std::string>& positional() const { return positional_; }

  /// The flags with their help, one per line.
  std::string help() const {
    std::string s;
    for (auto& f : flags_) s += "  --" + f.name + (f.takes_value ? " VALUE" : "") + "\n      " + f.help + "\n";
    return s;
  }

 private:
  const Flag* find(const std::string& name) const {
    for (auto& f : flags_)
      if (f.name == name) return &f;
    return nullptr;
  }
  std::vector<Flag> flags_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace ftmeta::util
