// ftmeta/core/fixed_string.hpp: strings usable as template arguments (names of parts, presets).
// ftmeta:pure
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace ftmeta::meta {

/// A string literal as a structural type: `Part<"backbone">`.
template <std::size_t N>
struct FixedString {
  char chars[N]{};
  constexpr FixedString(const char (&s)[N]) { std::copy_n(s, N, chars); }
  constexpr std::string_view view() const { return {chars, N - 1}; }
  constexpr operator std::string_view() const { return view(); }
  template <std::size_t M>
  constexpr bool operator==(const FixedString<M>& o) const { return view() == o.view(); }
};

}  // namespace ftmeta::meta
