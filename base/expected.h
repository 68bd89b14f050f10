// A minimal value-or-error type until C++23's std::expected is available to us (g++ 12, C++20).
// Expected errors (I/O, corruption, compacted, not found) travel as values; states that cannot happen
// are assertions (CAIRN_ASSERT in base/assert.h), never exceptions across an event loop.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace cairn {

template <typename E>
struct Unexpected {
  E error;
};

template <typename E>
Unexpected<E> unexpected(E e) {
  return Unexpected<E>{std::move(e)};
}

template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Expected(Unexpected<E> u) : v_(std::in_place_index<1>, std::move(u.error)) {}
  // Accepts an error of a convertible type (e.g. unexpected("text") for a std::string error).
  template <typename G>
  requires(!std::is_same_v<G, E> && std::is_constructible_v<E, G>) Expected(Unexpected<G> u)
      : v_(std::in_place_index<1>, E(std::move(u.error))) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  // By value, so that `for (auto& x : f().value())` does not bind to a dead temporary.
  T value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace cairn
