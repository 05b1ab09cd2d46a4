// ftmeta/core/type_list.hpp: flat type lists and the few algorithms the planners need.
// ftmeta:pure
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace ftmeta::meta {

/// A flat list of types. `TypeList<A, B, C>` is the shape every variadic recipe part reduces to.
template <class... Ts>
struct TypeList {
  static constexpr std::size_t size = sizeof...(Ts);
};

/// Number of elements.
template <class List>
inline constexpr std::size_t size_v = List::size;

namespace detail {
template <std::size_t I, class List>
struct at;
template <std::size_t I, class T, class... Ts>
struct at<I, TypeList<T, Ts...>> : at<I - 1, TypeList<Ts...>> {};
template <class T, class... Ts>
struct at<0, TypeList<T, Ts...>> {
  using type = T;
};

template <class... Lists>
struct concat;
template <>
struct concat<> {
  using type = TypeList<>;
};
template <class... As>
struct concat<TypeList<As...>> {
  using type = TypeList<As...>;
};
template <class... As, class... Bs, class... Rest>
struct concat<TypeList<As...>, TypeList<Bs...>, Rest...> : concat<TypeList<As..., Bs...>, Rest...> {};
}  // namespace detail

/// The I-th element.
template <std::size_t I, class List>
using at_t = typename detail::at<I, List>::type;

/// Lists joined end to end.
template <class... Lists>
using concat_t = typename detail::concat<Lists...>::type;

/// Position of the first element satisfying Pred (a class template with `::value`), or size.
template <template <class> class Pred, class List>
struct find_if;
template <template <class> class Pred, class... Ts>
struct find_if<Pred, TypeList<Ts...>> {
  static constexpr std::size_t value = [] {
    constexpr bool hits[] = {Pred<Ts>::value..., false};
    std::size_t i = 0;
    while (i < sizeof...(Ts) && !hits[i]) ++i;
    return i;
  }();
};
template <template <class> class Pred, class List>
inline constexpr std::size_t find_if_v = find_if<Pred, List>::value;

/// How many elements satisfy Pred.
template <template <class> class Pred, class List>
struct count_if;
template <template <class> class Pred, class... Ts>
struct count_if<Pred, TypeList<Ts...>> {
  static constexpr std::size_t value = (std::size_t{0} + ... + std::size_t{Pred<Ts>::value});
};
template <template <class> class Pred, class List>
inline constexpr std::size_t count_if_v = count_if<Pred, List>::value;

/// Whether T is in List.
template <class T, class List>
struct contains;
template <class T, class... Ts>
struct contains<T, TypeList<Ts...>> : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};
template <class T, class List>
inline constexpr bool contains_v = contains<T, List>::value;

/// Applies F to every element: `transform_t<F, TypeList<A, B>>` is `TypeList<F<A>, F<B>>`.
template <template <class> class F, class List>
struct transform;
template <template <class> class F, class... Ts>
struct transform<F, TypeList<Ts...>> {
  using type = TypeList<F<Ts>...>;
};
template <template <class> class F, class List>
using transform_t = typename transform<F, List>::type;

/// Calls f.template operator()<T, I>() for every element, in order.
template <class... Ts, class F>
constexpr void for_each_type(TypeList<Ts...>, F&& f) {
  [&]<std::size_t... Is>(std::index_sequence<Is...>) {
    (f.template operator()<Ts, Is>(), ...);
  }(std::index_sequence_for<Ts...>{});
}

}  // namespace ftmeta::meta
