// ftmeta_app/cli.hpp: a small command-line parser for ftmeta's programs (examples, tools, benchmarks): declared
// flags, positional arguments, and a one-line UsageError for anything wrong. The application layer, apart from the
// library: only programs speak in flags (target ftmeta::app; not in <ftmeta.hpp>, not on ftmeta::ftmeta's path).
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/reflect.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ftmeta::app {

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

/// Runs `parse()`; a UsageError worded for the option field `field` ("field VALUE: why", "field: why", as the library
/// words its errors) is reworded for the flag: "--flag VALUE: why".
template <class F>
decltype(auto) with_flag(std::string_view flag, std::string_view field, F&& parse) {
  try {
    return parse();
  } catch (const UsageError& e) {
    const std::string m = e.what();
    if (m.rfind(std::string(field), 0) == 0) throw UsageError("--" + std::string(flag) + m.substr(field.size()));
    throw;
  }
}

namespace detail {
template <class F>
bool skipped(const F& f, const std::vector<std::string_view>& except) {
  for (auto e : except)
    if (e == f.name) return true;
  return false;
}
template <class T>
inline constexpr bool is_switch_v = std::is_same_v<T, bool> || std::is_same_v<T, std::optional<bool>>;
}  // namespace detail

/// The flags of a reflected option struct (ftmeta/core/reflect.hpp), one per field but those in `except`: the field's
/// command-line name, its doc and `current`'s value as the default. A bool is a switch: `--name` sets it, or
/// `--no-name` clears it when it is set by default; an optional bool has both.
template <reflect::Reflected S>
std::vector<Flag> flags_of(const S& current, const std::vector<std::string_view>& except = {}) {
  std::vector<Flag> out;
  reflect::for_each_field<S>([&](const auto& f) {
    if (detail::skipped(f, except)) return;
    using T = typename std::remove_cvref_t<decltype(f)>::type;
    const auto& v = current.*f.member;
    const std::string name = reflect::flag_name(f), doc(f.doc);
    if constexpr (std::is_same_v<T, bool>) {
      out.push_back({v ? "no-" + name : name, false, doc + (v ? " (default: on; this turns it off)" : "")});
    } else if constexpr (std::is_same_v<T, std::optional<bool>>) {
      out.push_back({name, false, doc});
      out.push_back({"no-" + name, false, "the opposite of --" + name});
    } else {
      std::string values;
      for (std::size_t i = 0; i < f.choices.size(); ++i) values += (i ? ", " : ": ") + std::string(f.choices[i].first);
      const std::string def = reflect::value_text(f, v);
      out.push_back({name, true, doc + values + (def.empty() || def == "unset" ? "" : " (default " + def + ")")});
    }
  });
  return out;
}

/// Sets the fields of `s` whose flags `args` holds (flags_of's), parsed and range-checked by the field's
/// definition; a bad value is a UsageError naming the flag ("--epochs: expected an integer, got 'two'").
template <reflect::Reflected S>
void read_flags(const Args& args, S& s, const std::vector<std::string_view>& except = {}) {
  reflect::for_each_field<S>([&](const auto& f) {
    if (detail::skipped(f, except)) return;
    using T = typename std::remove_cvref_t<decltype(f)>::type;
    const std::string name = reflect::flag_name(f);
    if constexpr (detail::is_switch_v<T>) {
      if (args.has(name)) s.*f.member = true;
      if (args.has("no-" + name)) s.*f.member = false;
    } else if (args.has(name)) {
      with_flag(name, f.name, [&] { reflect::parse_into(f, s, args.get(name)); });
    }
  });
}

}  // namespace ftmeta::app
