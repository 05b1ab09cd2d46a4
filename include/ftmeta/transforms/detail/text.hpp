// ftmeta/transforms/detail/text.hpp: compile-time text for describe(): numbers and type names.
// ftmeta:pure
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

// Whether describe() can run at compile time: GCC 12+ with libstdc++'s constexpr std::string.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__cpp_lib_constexpr_string)
#define FTMETA_CONSTEXPR_DESCRIBE 1
#else
#define FTMETA_CONSTEXPR_DESCRIBE 0
#endif

namespace ftmeta::transforms::detail {

/// Concatenation by appending only (GCC 12's constexpr std::string mishandles insertion at the front).
template <class... Parts>
constexpr std::string cat(const Parts&... parts) {
  std::string text;
  (text.append(std::string_view(parts)), ...);
  return text;
}

/// Decimal text of an integer, usable in constant expressions.
constexpr std::string int_text(long long v) {
  char buffer[24]{};
  int at = 24;
  const bool negative = v < 0;
  unsigned long long u = negative ? 0ull - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  do {
    buffer[--at] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u);
  if (negative) buffer[--at] = '-';
  return std::string(buffer + at, buffer + 24);
}

/// `prefix` and the decimal text of v when `show`, else "" (GCC 12 cannot constant-evaluate `c ? a : b` of strings).
constexpr std::string int_text_if(bool show, std::string_view prefix, long long v) {
  std::string text;
  if (show) text.append(prefix), text.append(int_text(v));
  return text;
}

/// Decimal text of a real with at most four decimals, trailing zeros dropped: 0.5, 0.229, 1.
constexpr std::string real_text(double v) {
  const bool negative = v < 0;
  const double a = negative ? -v : v;
  const auto scaled = static_cast<long long>(a * 10000.0 + 0.5);
  std::string text;
  if (negative) text.append("-");
  text.append(int_text(scaled / 10000));
  if (const long long frac = scaled % 10000) {
    char digits[5] = {char('0' + frac / 1000), char('0' + frac / 100 % 10), char('0' + frac / 10 % 10),
                      char('0' + frac % 10), 0};
    std::size_t n = 4;
    while (n > 1 && digits[n - 1] == '0') --n;
    text.append(".");
    text.append(std::string_view(digits, n));
  }
  return text;
}

/// The name of T as the compiler spells it, without the `ftmeta::transforms::` prefixes.
template <class T>
constexpr std::string type_name() {
#if defined(__clang__) || defined(__GNUC__)
  constexpr std::string_view pretty = __PRETTY_FUNCTION__;
  constexpr std::string_view key = "T = ";
  const auto start = pretty.find(key) + key.size();
  auto end = pretty.find(';', start);
  if (end == std::string_view::npos) end = pretty.rfind(']');
  std::string name(pretty.substr(start, end - start));
#else
  std::string name = "<type>";
#endif
  for (std::string_view prefix : {"ftmeta::transforms::", "{anonymous}::", "(anonymous namespace)::"})
    for (auto at = name.find(prefix); at != std::string::npos; at = name.find(prefix)) name.erase(at, prefix.size());
  return name;
}

}  // namespace ftmeta::transforms::detail
