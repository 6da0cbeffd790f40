// flexcap/rt/call.hh — calling an export of another micro-library.
//
// A call site names the export, never a backend:
//
//   auto r = rt::call<lib::counter::Exports::add>(5);   // Expected<Tainted<int64_t>, GateError>
//   if (!r) { std::cerr << r.error().describe() << "\n"; }
//
// The build knows which compartment the calling library and the called one are in
// (the image's generated header, flexcap_image.hh). Same compartment: a plain call the
// compiler can inline. Different compartments: the gate of the image's backend, which
// checks every memory argument, switches compartments, contains faults in the callee
// and returns the result as Tainted until the caller verifies it. A call the build
// cannot place does not compile.
#pragma once

#include <signal.h>

#include <cstring>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/call_support.hh"
#include "flexcap/rt/export.hh"
#include "flexcap/rt/runtime.hh"
#include "flexcap/rt/stack.hh"
#include "flexcap/rt/tainted.hh"
#include "flexcap_image.hh"  // generated for each image from its configuration

#ifndef FLEXCAP_CURRENT_LIBRARY
#error \
    "FlexCap: this source file is not part of a micro-library of an image. Declare its library with \
flexcap_micro_library() and build it into an image with flexcap_image() (cmake/FlexcapImage.cmake): the build \
compiles each library once per image, knowing which compartment it runs in."
#endif

namespace flexcap::rt {

template <class R>
struct GateResultOf {
  using type = Expected<Tainted<R>, GateError>;
};
template <>
struct GateResultOf<void> {
  using type = Expected<void, GateError>;
};
template <class R>
using GateResult = typename GateResultOf<R>::type;

namespace internal {

// Checks (and where the compartment shares by copy, bounces) every memory argument.
template <class Backend, class Parameter>
std::optional<GateError> pass_argument(Runtime& rt, GateFrame& frame, std::size_t index, Parameter& p,
                                       std::vector<Bounce>& bounces) {
  if constexpr (IsCap<Parameter>::value) {
    using T = typename CapElement<Parameter>::type;
    const cap::Capability c = p.capability();
    switch (Backend::check_argument(rt, frame, c)) {
      case ArgumentPolicy::Pass: break;
      case ArgumentPolicy::Refuse:
        return GateError{GateErrorKind::BadArgument, std::string(rt.compartment(frame.callee).name()),
                         std::string(frame.library) + "." + std::string(frame.function), c.address(),
                         describe_argument_refusal(rt, frame, index, c)};
      case ArgumentPolicy::Bounce: {
        Bounce b;
        b.bytes = static_cast<std::size_t>(c.length());
        b.caller_address = c.base();
        b.copy_back = c.permissions().has(cap::Permission::Store);
        b.shared = shared_alloc(b.bytes);
        copy_into_bounce(b);
        const cap::Capability moved = b.shared.capability()
                                          .set_value(b.shared.capability().base() + (c.address() - c.base()))
                                          .restrict_permissions(c.permissions());
        p = Parameter(moved, &rt.shared());
        bounces.push_back(b);
        break;
      }
    }
    if (frame.grant_count == GateFrame::kMaxGrants) {
      return GateError{GateErrorKind::BadArgument, std::string(rt.compartment(frame.callee).name()),
                       std::string(frame.library) + "." + std::string(frame.function), 0,
                       "more memory arguments than a gate takes (" + std::to_string(GateFrame::kMaxGrants) + ")"};
    }
    frame.grants.item[frame.grant_count++] = p.capability();
    (void)sizeof(T);
  }
  (void)rt, (void)frame, (void)index, (void)p, (void)bounces;
  return std::nullopt;
}

// Registers each cross-compartment call site once, at static initialisation.
template <int Caller, int Callee, const auto& E>
struct ImportSite {
  static inline const int index =
      register_import(Import{Caller, Callee, std::remove_cvref_t<decltype(E)>::Library::name, E.name});
};

// Runs the export on this thread, in the callee compartment (already switched to),
// turning a capability fault (exception) or a hardware fault (signal) into
// frame.faulted / frame.error. `result` receives the value on success.
template <bool CatchesSignals, const auto& E, class Params, class Result>
void run_contained(Runtime& rt, GateFrame& frame, Params& params, std::optional<Result>& result) {
  using Ex = std::remove_cvref_t<decltype(E)>;
  Runtime::push_frame(frame);
  if constexpr (CatchesSignals) {
    if (sigsetjmp(frame.recovery, 0) != 0) {
      // Back from the signal handler: the callee faulted. Its C++ frames are abandoned.
      frame.faulted = true;
      frame.error = describe_signal_fault(rt, frame);
    }
  }
  if (!frame.faulted) {
    try {
      if constexpr (std::is_void_v<typename Ex::Result>) {
        std::apply(Ex::function, params);
        result = true;
      } else {
        result = std::apply(Ex::function, params);
      }
    } catch (const CompartmentFault& f) {
      frame.faulted = true;
      frame.error = GateError{GateErrorKind::Fault, std::string(rt.compartment(frame.callee).name()),
                              std::string(frame.library) + "." + std::string(frame.function), f.address, f.cause};
    }
  }
  Runtime::pop_frame(frame);
}

// run_contained on the callee's own stack (backends whose kSwitchesStacks is true): from
// the top of its stack, or below the frames it left there if it is in a call out. While
// the callee runs, the caller's next entry starts below the caller's current frame, so a
// call back into the caller (B calls A during A's call into B) does not overwrite it.
template <bool CatchesSignals, const auto& E, class Params, class Result>
void run_on_callee_stack(Runtime& rt, GateFrame& frame, Params& params, std::optional<Result>& result) {
  Compartment& caller = rt.compartment(frame.caller);
  Compartment& callee = rt.compartment(frame.callee);
  const std::span<std::byte> stack = callee.stack();
  if (stack.empty()) {  // a region mapped by hand has no stack: stay on this one
    run_contained<CatchesSignals, E>(rt, frame, params, result);
    return;
  }
  std::byte* const here = static_cast<std::byte*>(__builtin_frame_address(0));
  const std::span<std::byte> caller_stack = caller.stack();
  // Restored however the call ends (a fault is caught inside; anything else unwinds).
  struct RestoreCursor {
    Compartment& compartment;
    std::byte* cursor;
    ~RestoreCursor() { compartment.set_stack_cursor(cursor); }
  } restore{caller, caller.stack_cursor()};
  if (here > caller_stack.data() && here <= caller_stack.data() + caller_stack.size()) {
    caller.set_stack_cursor(here - kStackRedZone);
  }
  std::byte* const top = callee.stack_cursor();
  if (top - stack.data() < static_cast<std::ptrdiff_t>(kMinimumStack)) {
    frame.faulted = true;
    frame.error = GateError{GateErrorKind::Fault, std::string(callee.name()),
                            std::string(frame.library) + "." + std::string(frame.function), 0,
                            "its stack is exhausted (calls nested too deeply through it): raise its stack: in the "
                            "configuration"};
    return;
  }
  ::flexcap::rt::run_on_stack(std::span<std::byte>(stack.data(), top),
                              [&] { run_contained<CatchesSignals, E>(rt, frame, params, result); });
}

template <class R>
using ResultSlot = std::optional<std::conditional_t<std::is_void_v<R>, bool, R>>;

template <class Ex, class Indices>
struct ParamsTuple;
template <class Ex, std::size_t... I>
struct ParamsTuple<Ex, std::index_sequence<I...>> {
  using type = std::tuple<typename Ex::Traits::template Parameter<I>...>;
};
// The export's parameters, as one tuple.
template <const auto& E>
using ParamsOf = typename ParamsTuple<std::remove_cvref_t<decltype(E)>,
                                      std::make_index_sequence<std::remove_cvref_t<decltype(E)>::Traits::kArity>>::type;

// For backends that run the callee in another process: the export's entry there. All
// processes are forks of one binary, so static initialisation gives every export the
// same number in each of them.
template <const auto& E>
struct RemoteEntry {
  using Ex = std::remove_cvref_t<decltype(E)>;
  using Params = ParamsOf<E>;
  static std::size_t serve(Runtime& rt, GateFrame& frame, const std::byte* in, std::byte* out) {
    Params params;
    std::apply([&](auto&... p) { unpack(in, p...); }, params);
    ResultSlot<typename Ex::Result> result;
    run_contained<true, E>(rt, frame, params, result);
    if constexpr (!std::is_void_v<typename Ex::Result>) {
      if (result) {
        std::memcpy(out, &*result, sizeof(*result));
        return sizeof(*result);
      }
    }
    return 0;
  }
  static inline const std::uint32_t id = register_remote_entry(&serve, Ex::Library::name, E.name);
};

// Imported: a call site of the image (it is registered as an import, so the cheri
// switcher grants a sealed entry for it). The attack suite also makes calls that are
// not imports, to show which backends notice.
template <class Backend, int Caller, int Callee, const auto& E, bool Imported = true, class... Args>
auto cross_call(Args&&... args) -> GateResult<typename std::remove_cvref_t<decltype(E)>::Result> {
  using Ex = std::remove_cvref_t<decltype(E)>;
  using R = typename Ex::Result;
  Runtime& rt = Runtime::get();
  ++*internal::g_gate_crossings;
  GateFrame frame;
  if constexpr (Imported) frame.import = ImportSite<Caller, Callee, E>::index;
  frame.caller = Caller;
  frame.callee = Callee;
  frame.library = Ex::Library::name;
  frame.function = E.name;
  const auto fail = [&](GateError error) { return GateResult<R>(Unexpected(std::move(error))); };

  if (auto refused = Backend::invoke(rt, frame)) return fail(*refused);
  Compartment& callee = rt.compartment(Callee);
  if (Backend::kInProcess && callee.failed() && callee.spec().restart == RestartPolicy::Never) {
    GateError e = callee.failure();
    e.kind = GateErrorKind::CompartmentFailed;
    e.cause = "it faulted before and its restart policy is `never` (" + callee.failure().cause + ")";
    return fail(std::move(e));
  }

  // Arguments, converted to the export's parameter types, then checked one by one.
  ParamsOf<E> params{std::forward<Args>(args)...};
  std::vector<Bounce> bounces;
  std::optional<GateError> bad;
  std::size_t index = 0;
  const auto check_one = [&](auto& p) {
    if (!bad) bad = pass_argument<Backend>(rt, frame, index++, p, bounces);
  };
  std::apply([&](auto&... p) { (check_one(p), ...); }, params);
  if (bad) {
    for (Bounce& b : bounces) shared_free(b.shared);
    return fail(*bad);
  }

  ResultSlot<R> result;
  if constexpr (Backend::kInProcess) {
    Backend::switch_to(rt, Caller, Callee);
    if (callee.failed()) callee.reset();  // restart policy on-fault: start it over, then call
    if constexpr (Backend::kSwitchesStacks) {
      run_on_callee_stack<Backend::kCatchesPageFaults, E>(rt, frame, params, result);
    } else {
      run_contained<Backend::kCatchesPageFaults, E>(rt, frame, params, result);
    }
    Backend::switch_to(rt, Callee, Caller);
  } else {
    // Another process runs the callee: send the arguments, wait for the result.
    std::byte in[kRemotePayloadBytes];
    in[0] = std::byte{0};  // GCC cannot see that an export without arguments sends 0 bytes
    std::byte out[kRemotePayloadBytes];
    const std::size_t in_bytes = std::apply([&](auto&... p) { return pack(in, p...); }, params);
    Backend::remote_call(rt, frame, RemoteEntry<E>::id, in, in_bytes, out);
    if (!frame.faulted) {
      if constexpr (std::is_void_v<R>) {
        result = true;
      } else {
        R value;
        std::memcpy(&value, out, sizeof(R));
        result = value;
      }
    }
  }
  for (Bounce& b : bounces) {
    if (!frame.faulted && b.copy_back) copy_out_of_bounce(b);
    shared_free(b.shared);
  }
  if (frame.faulted) {
    if constexpr (Backend::kInProcess) callee.mark_failed(frame.error);
    return fail(frame.error);
  }
  if constexpr (std::is_void_v<R>) {
    return {};
  } else {
    return Tainted<R>(std::move(*result));
  }
}

}  // namespace internal

// For the attack suite only: what a compromised compartment can attempt beyond the
// call sites the build saw — enter another compartment at an export that no import
// grants it. The cheri switcher refuses; page-based backends cannot tell.
template <const auto& E, class... Args>
auto unsafe_call_without_import(Args&&... args) -> GateResult<typename std::remove_cvref_t<decltype(E)>::Result> {
  using Ex = std::remove_cvref_t<decltype(E)>;
  constexpr int callee = image::compartment_index(Ex::Library::name);
  constexpr int caller = image::compartment_index(FLEXCAP_CURRENT_LIBRARY);
  static_assert(caller != callee, "an attack across no boundary proves nothing");
  return internal::cross_call<image::Backend, caller, callee, E, false>(std::forward<Args>(args)...);
}

template <const auto& E, class... Args>
auto call(Args&&... args) -> GateResult<typename std::remove_cvref_t<decltype(E)>::Result> {
  using Ex = std::remove_cvref_t<decltype(E)>;
  using R = typename Ex::Result;
  constexpr int callee = image::compartment_index(Ex::Library::name);
  constexpr int caller = image::compartment_index(FLEXCAP_CURRENT_LIBRARY);
  static_assert(callee >= 0,
                "FlexCap: the library of this export is in no compartment of this image. Place it under "
                "`libraries:` in the configuration, or mark one compartment `default: true`.");
  static_assert(caller >= 0, "FlexCap: the calling library is in no compartment of this image (see above).");
  if constexpr (caller == callee) {
    // Same compartment: no boundary, so a plain call that the compiler can inline.
    if constexpr (std::is_void_v<R>) {
      Ex::function(std::forward<Args>(args)...);
      return {};
    } else {
      return Tainted<R>(Ex::function(std::forward<Args>(args)...));
    }
  } else {
    return internal::cross_call<image::Backend, caller, callee, E>(std::forward<Args>(args)...);
  }
}

}  // namespace flexcap::rt
