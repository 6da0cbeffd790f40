// flexcap/rt/call_support.hh — the parts of the gate (call.hh) that do not depend on
// the image: argument refusals, fault descriptions and bounce buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt::internal {

template <class T>
struct CapElement;
template <class T>
struct CapElement<cap::Cap<T>> {
  using type = T;
};

// A caller's private buffer, copied through the shared region for the call.
struct Bounce {
  cap::Cap<std::byte> shared;
  std::uint64_t caller_address = 0;
  std::size_t bytes = 0;
  bool copy_back = false;
};

std::string describe_argument_refusal(Runtime& rt, const GateFrame& frame, std::size_t index, const cap::Capability& c);
GateError describe_signal_fault(Runtime& rt, const GateFrame& frame);
void copy_into_bounce(Bounce& bounce);
void copy_out_of_bounce(const Bounce& bounce);

}  // namespace flexcap::rt::internal
