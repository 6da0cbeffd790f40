// flexcap/rt/export.hh — how a micro-library declares what it exports.
//
// A micro-library names itself once and lists its exported functions as members of an
// `Exports` class. The implementations are private, so code outside the library can
// reach them only through rt::call, which the build lowers to a plain call or to the
// gate of the configured mechanism. A direct call does not compile.
//
//   namespace flexcap::lib::counter {
//   FLEXCAP_LIBRARY(counter);                 // struct Library { name = "counter" }
//   class Exports {
//     static std::int64_t add_impl(std::int64_t by);
//     static std::int64_t sum_impl(cap::Cap<const std::int64_t> values);
//    public:
//     FLEXCAP_EXPORT(add, add_impl);          // static constexpr rt::Export<...> add
//     FLEXCAP_EXPORT(sum, sum_impl);
//   };
//   }
//
// Parameters and results must be scalars (passed by value) or cap::Cap<T> (memory, as
// a bounded capability): the gate rejects raw pointers and references at compile time,
// because it could not check what they point to.
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "flexcap/cap/cap_ref.hh"

namespace flexcap::rt {

template <class T>
struct IsCap : std::false_type {};
template <class T>
struct IsCap<cap::Cap<T>> : std::true_type {};

// What may cross a gate: scalars by value, and memory as Cap<T>.
template <class T>
inline constexpr bool kGateValue = std::is_arithmetic_v<T> || std::is_enum_v<T> || IsCap<T>::value;

template <class F>
struct FunctionTraits;
template <class R, class... Ps>
struct FunctionTraits<R (*)(Ps...)> {
  using Result = R;
  static constexpr std::size_t kArity = sizeof...(Ps);
  template <std::size_t I>
  using Parameter = std::tuple_element_t<I, std::tuple<Ps...>>;
  static constexpr bool kAllGateValues = (kGateValue<Ps> && ...);
  static constexpr bool kResultGateValue = std::is_void_v<R> || kGateValue<R>;
};

// An exported function of library `Lib`, implemented by `Function`.
template <class Lib, auto Function>
struct Export {
  using Library = Lib;
  using Traits = FunctionTraits<decltype(Function)>;
  using Result = typename Traits::Result;
  static constexpr auto function = Function;
  std::string_view name;

  static_assert(Traits::kAllGateValues,
                "FlexCap gate: a parameter of this export is a raw pointer, a reference or a class. Pass scalars by "
                "value and memory as flexcap::cap::Cap<T> (Cap<const T> if the callee only reads it), so that the "
                "gate can check what the callee is given.");
  static_assert(Traits::kResultGateValue,
                "FlexCap gate: this export returns a raw pointer, a reference or a class. Return a scalar or a "
                "flexcap::cap::Cap<T>.");
};

}  // namespace flexcap::rt

// Names the library in its namespace: defines `struct Library` with its name.
#define FLEXCAP_LIBRARY(library_name)                       \
  struct Library {                                          \
    static constexpr std::string_view name = #library_name; \
  }

// Inside `class Exports`: declares the export `name`, implemented by the private static
// member function `implementation`.
#define FLEXCAP_EXPORT(name, implementation) \
  static constexpr ::flexcap::rt::Export<Library, &implementation> name { #name }
