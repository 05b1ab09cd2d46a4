// ftmeta/core/reflect.hpp: option structs described once, field by field (name, type, default, doc, range or choices),
// as a Boost.Hana tuple; from that one definition: parsing text into a field (errors name the field), the run
// configuration as JSON, and describe(). The application layer (ftmeta_app/cli.hpp) makes flags and --help of it.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ftmeta::reflect {

/// The range of a number field, both ends included.
struct Range {
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
};

namespace detail {
/// T, or the T of std::optional<T>.
template <class T>
struct value_of {
  using type = T;
};
template <class T>
struct value_of<std::optional<T>> {
  using type = T;
};
}  // namespace detail

/// One field of an option struct Owner: its name (as in the code: the JSON key; the flag is the name with dashes, or
/// `flag` when given), its member, its doc, a range for numbers, names for an enum's values. Its default is the
/// member's initializer: what a default-constructed Owner holds.
template <class Owner, class T, std::size_t N = 0>
struct Field {
  using owner = Owner;
  using type = T;
  std::string_view name;
  T Owner::*member;
  std::string_view doc;
  Range range{};
  std::array<std::pair<std::string_view, typename detail::value_of<T>::type>, N> choices{};
  std::string_view flag{};  ///< the command-line name when it is not the field's name with dashes

  /// The same field under another command-line name (`--ema` for ema_decay).
  constexpr Field as_flag(std::string_view f) const {
    Field r = *this;
    r.flag = f;
    return r;
  }
};

template <class Owner, class T>
constexpr Field<Owner, T> field(std::string_view name, T Owner::*member, std::string_view doc, Range range = {}) {
  return {name, member, doc, range};
}
/// A named value of an enum field: choice("fp16", Precision::fp16).
template <class V>
constexpr std::pair<std::string_view, V> choice(std::string_view name, V value) {
  return {name, value};
}
/// An enum field (or one of an optional enum) whose values have names:
///   field("precision", &TrainOptions::precision, "autocast", {choice("fp32", Precision::fp32), choice("fp16", Precision::fp16)})
template <class Owner, class T, class V, std::size_t N>
constexpr Field<Owner, T, N> field(std::string_view name, T Owner::*member, std::string_view doc,
                                   const std::pair<std::string_view, V> (&choices)[N]) {
  Field<Owner, T, N> f{name, member, doc};
  for (std::size_t i = 0; i < N; ++i) f.choices[i] = {choices[i].first, choices[i].second};
  return f;
}

/// The fields of S: `S::fields()`, or a specialization of Fields<S> for a struct defined elsewhere.
template <class S>
struct Fields {};
template <class S>
  requires requires { S::fields(); }
struct Fields<S> {
  static constexpr auto get() { return S::fields(); }
};
template <class S>
constexpr auto fields_of() {
  return Fields<S>::get();
}
template <class S>
concept Reflected = requires { Fields<S>::get(); };

/// Calls f(field) for each field of S, in declaration order.
template <class S, class F>
constexpr void for_each_field(F&& f) {
  boost::hana::for_each(fields_of<S>(), std::forward<F>(f));
}

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

inline std::string number_text(double v) {
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}
}  // namespace detail

/// A field's value as text ("unset" for an empty optional; an enum by its name).
template <class F, class V>
std::string value_text(const F& f, const V& v) {
  if constexpr (detail::is_optional<V>::value) {
    return v ? value_text(f, *v) : std::string("unset");
  } else if constexpr (std::is_same_v<V, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<V>) {
    for (const auto& [name, value] : f.choices)
      if (value == v) return std::string(name);
    return std::to_string(static_cast<long long>(v));
  } else if constexpr (std::is_integral_v<V>) {
    return std::to_string(v);
  } else if constexpr (std::is_floating_point_v<V>) {
    return detail::number_text(v);
  } else if constexpr (std::is_same_v<V, std::filesystem::path>) {
    return v.string();
  } else {
    return std::string(v);
  }
}

/// Parses `text` into field f of `owner`; UsageError naming the field ("epochs: expected an integer, got 'two'",
/// "ema_decay: 1.5 is out of range [0, 1]", "precision fp64: expected fp32, fp16 or bf16").
template <class F>
void parse_into(const F& f, typename F::owner& owner, const std::string& text) {
  using V = typename detail::value_of<typename F::type>::type;
  const std::string name(f.name);
  V v{};
  if constexpr (std::is_same_v<V, bool>) {
    if (text == "true" || text == "1" || text == "yes") v = true;
    else if (text == "false" || text == "0" || text == "no") v = false;
    else throw UsageError(name + ": expected true or false, got '" + text + "'");
  } else if constexpr (std::is_enum_v<V>) {
    bool found = false;
    std::string names;
    for (std::size_t i = 0; i < f.choices.size(); ++i) {
      names += (i == 0 ? "" : i + 1 == f.choices.size() ? " or " : ", ") + std::string(f.choices[i].first);
      if (f.choices[i].first == text) v = f.choices[i].second, found = true;
    }
    if (!found) throw UsageError(name + " " + text + ": expected " + names);
  } else if constexpr (std::is_arithmetic_v<V>) {
    constexpr bool integer = std::is_integral_v<V>;
    std::size_t used = 0;
    long double x = 0;
    try {
      x = integer ? static_cast<long double>(std::stoll(text, &used)) : std::stold(text, &used);
    } catch (...) {
      used = 0;
    }
    if (used == 0 || used != text.size())
      throw UsageError(name + ": expected " + (integer ? "an integer" : "a number") + ", got '" + text + "'");
    if (!(x >= f.range.lo && x <= f.range.hi) || (std::is_unsigned_v<V> && x < 0))
      throw UsageError(name + ": " + text + " is out of range [" + detail::number_text(f.range.lo) + ", " +
                       detail::number_text(f.range.hi) + "]");
    v = static_cast<V>(x);
  } else {
    v = V(text);
  }
  owner.*f.member = v;
}

/// Throws UsageError naming the first field of `s` whose value lies outside its range.
template <Reflected S>
void check(const S& s) {
  for_each_field<S>([&](const auto& f) {
    using V = typename detail::value_of<typename std::remove_cvref_t<decltype(f)>::type>::type;
    if constexpr (std::is_arithmetic_v<V> && !std::is_same_v<V, bool>) {
      const auto& raw = s.*f.member;
      const auto* v = [&] {
        if constexpr (detail::is_optional<std::remove_cvref_t<decltype(raw)>>::value) return raw ? &*raw : nullptr;
        else return &raw;
      }();
      if (v && !(static_cast<double>(*v) >= f.range.lo && static_cast<double>(*v) <= f.range.hi))
        throw UsageError(std::string(f.name) + ": " + value_text(f, *v) + " is out of range [" + detail::number_text(f.range.lo) +
                         ", " + detail::number_text(f.range.hi) + "]");
    }
  });
}

/// The fields of `s` as one JSON object, in declaration order: {"epochs": 2, "precision": "fp32", ...}.
template <Reflected S>
std::string to_json(const S& s) {
  std::string out = "{";
  for_each_field<S>([&](const auto& f) {
    using V = typename std::remove_cvref_t<decltype(f)>::type;
    using U = typename detail::value_of<V>::type;
    const auto& v = s.*f.member;
    out += (out.size() > 1 ? ", " : "") + detail::json_string(f.name) + ": ";
    bool empty = false;
    if constexpr (detail::is_optional<V>::value) empty = !v.has_value();
    if (empty) out += "null";
    else if constexpr ((std::is_arithmetic_v<U> || std::is_same_v<U, bool>) && !std::is_enum_v<U>) out += value_text(f, v);
    else out += detail::json_string(value_text(f, v));
  });
  return out + "}";
}

/// One line: "epochs 2, seed 0, precision fp32, ...".
template <Reflected S>
std::string describe(const S& s) {
  std::string out;
  for_each_field<S>([&](const auto& f) { out += (out.empty() ? "" : ", ") + std::string(f.name) + " " + value_text(f, s.*f.member); });
  return out;
}

/// The command-line name of a field: `flag`, or the name with dashes for underscores.
template <class F>
constexpr std::string flag_name(const F& f) {
  std::string s(f.flag.empty() ? f.name : f.flag);
  for (auto& c : s)
    if (c == '_') c = '-';
  return s;
}

}  // namespace ftmeta::reflect
