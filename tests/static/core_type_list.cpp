// Compile-only tests of ftmeta/core: if this file compiles, they pass.
#include <ftmeta/core/fixed_string.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>

#include <type_traits>

namespace {
using namespace ftmeta::meta;
struct A {};
struct B {};
struct C {};
using L = TypeList<A, B, C>;

static_assert(size_v<L> == 3);
static_assert(std::is_same_v<at_t<0, L>, A> && std::is_same_v<at_t<2, L>, C>);
static_assert(std::is_same_v<concat_t<TypeList<A>, TypeList<>, TypeList<B, C>>, L>);
static_assert(contains_v<B, L> && !contains_v<int, L>);

template <class T> struct IsB : std::is_same<T, B> {};
static_assert(find_if_v<IsB, L> == 1);
static_assert(find_if_v<IsB, TypeList<A, C>> == 2);  // not found: the size
static_assert(count_if_v<IsB, TypeList<B, A, B>> == 2);
static_assert(std::is_same_v<transform_t<std::add_pointer_t, TypeList<A, B>>, TypeList<A*, B*>>);

constexpr FixedString name = "backbone";
static_assert(name.view() == "backbone" && name.view().size() == 8);

// The generator is a pure function of (seed, stream, counter), usable at compile time.
constexpr auto draw(std::uint64_t seed, std::uint64_t epoch, std::uint64_t index) {
  auto rng = ftmeta::Rng::for_sample(seed, epoch, index);
  return rng();
}
static_assert(draw(1, 2, 3) == draw(1, 2, 3));
static_assert(draw(1, 2, 3) != draw(1, 2, 4) && draw(1, 2, 3) != draw(1, 3, 3));
constexpr bool in_range() {
  ftmeta::Rng rng(7);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.uniform();
    const auto k = rng.integer(-2, 5);
    if (u < 0.0 || u >= 1.0 || k < -2 || k > 5) return false;
  }
  return true;
}
static_assert(in_range());
}  // namespace
