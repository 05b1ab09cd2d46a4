// Compile-only tests of ftmeta/data's pure layer: if this file compiles, they pass.
#include <ftmeta/data/class_map.hpp>
#include <ftmeta/data/idx.hpp>
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/data/sampler.hpp>
#include <ftmeta/data/split.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {
using ftmeta::data::natural_less;

// Natural order compares digit runs as numbers; string order does not.
static_assert(natural_less("2", "10") && !natural_less("10", "2"));
static_assert(natural_less("img2", "img10") && natural_less("a", "b") && !natural_less("b", "a"));
static_assert(natural_less("7", "07") != natural_less("07", "7"));  // still a strict total order
static_assert(!natural_less("x", "x"));
static_assert(std::string_view("10") < std::string_view("2"));      // what ClassOrder::string gives

// The epoch order is a permutation, a function of (seed, epoch), different between epochs.
constexpr bool is_permutation_of_iota(std::vector<std::int64_t> p) {
  std::sort(p.begin(), p.end());
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] != static_cast<std::int64_t>(i)) return false;
  return true;
}
static_assert(is_permutation_of_iota(ftmeta::data::epoch_permutation(100, 7, 3)));
static_assert(ftmeta::data::epoch_permutation(100, 7, 3) == ftmeta::data::epoch_permutation(100, 7, 3));
static_assert(ftmeta::data::epoch_permutation(100, 7, 3) != ftmeta::data::epoch_permutation(100, 7, 4));
static_assert(ftmeta::data::epoch_permutation(100, 7, 3) != ftmeta::data::epoch_permutation(100, 8, 3));
static_assert(ftmeta::data::epoch_permutation(5, 7, 3, false) == std::vector<std::int64_t>{0, 1, 2, 3, 4});
}  // namespace
