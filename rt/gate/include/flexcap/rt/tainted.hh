// flexcap/rt/tainted.hh — a value that came back across a gate and is not yet trusted.
//
// A compartment may be compromised, so whatever it returns is untrusted until the
// caller checks it (RLBox's tainted<T>). Tainted<T> has no implicit conversion: the
// caller either verifies the value with a predicate that says what a valid answer
// looks like, or takes it with unsafe_unverified(), a name that is easy to grep.
//
//   auto r = rt::call<fs::Exports::read>(fd, buffer);     // Expected<Tainted<long>, GateError>
//   long n = r->verify([&](long v) { return v >= 0 && v <= buffer_size; }).value_or(-1);
#pragma once

#include <optional>
#include <utility>

namespace flexcap::rt {

template <class T>
class Tainted {
 public:
  explicit Tainted(T value) : value_(std::move(value)) {}

  // The value if `valid(value)` holds, else nothing.
  template <class Predicate>
  std::optional<T> verify(Predicate&& valid) const {
    if (std::forward<Predicate>(valid)(value_)) return value_;
    return std::nullopt;
  }

  // The value without a check: for values that cannot be dangerous whatever they hold
  // (a statistic to print), or for tests. Every use is a place a reviewer should look.
  const T& unsafe_unverified() const { return value_; }

 private:
  T value_;
};

}  // namespace flexcap::rt
