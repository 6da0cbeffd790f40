// flexcap/support/expected.hh — a value or the error that explains why there is none.
//
// FlexCap reports every error a caller can handle as a value (CONVENTIONS.md), never
// silently. C++20 has no std::expected (it arrives in C++23), so this is the small
// subset of it that FlexCap needs, with the same names so that a later switch is a
// search and replace.
//
//   Expected<std::uint64_t, CapabilityFault> r = ref.load(3);
//   if (!r) { std::cerr << r.error().describe() << "\n"; return 1; }
//   use(*r);
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace flexcap {

// Wraps an error value so that Expected<T, E> can be built from it unambiguously,
// even when T and E are the same type.
template <class E>
struct Unexpected {
  explicit Unexpected(E error) : value(std::move(error)) {}
  E value;
};

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(const T& value) : state_(std::in_place_index<0>, value) {}        // NOLINT(google-explicit-constructor)
  Expected(T&& value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  template <class G>
  Expected(Unexpected<G> error) : state_(std::in_place_index<1>, std::move(error.value)) {}  // NOLINT

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const& { return std::get<1>(state_); }
  E& error() & { return std::get<1>(state_); }

  T value_or(T fallback) const& { return has_value() ? value() : std::move(fallback); }

 private:
  std::variant<T, E> state_;
};

// Expected<void, E>: success carries nothing (no E is built: success is the hot path,
// through every gate), failure carries the error.
template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  // User-provided on purpose: `return {};` then only marks the error absent instead of
  // zeroing the error's storage first (which cost more than the rest of an fcall gate).
  Expected() noexcept {}
  template <class G>
  Expected(Unexpected<G> error) : error_(std::in_place, std::move(error.value)) {}  // NOLINT

  bool has_value() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }
  const E& error() const& { return *error_; }

 private:
  std::optional<E> error_;
};

}  // namespace flexcap
