// flexcap/rt/call_support.hh — the parts of the gate (call.hh) that do not depend on
// the image: argument refusals, fault descriptions and bounce buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt::internal {

template <class T>
struct CapElement;
template <class T>
struct CapElement<cap::Cap<T>> {
  using type = T;
};

// Backends that run the callee on its own stack: what a caller's frame keeps below it
// (the red zone of the x86-64 ABI and a margin), and the least stack a call starts with.
inline constexpr std::ptrdiff_t kStackRedZone = 512;
inline constexpr std::size_t kMinimumStack = 16 * 1024;

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

// Remote calls (process backend): arguments travel as bytes. Every gate value is
// trivially copyable (scalars, Cap<T>), and every process is a fork of the same
// binary, so a Cap<T>'s memory pointer means the same in all of them.
inline constexpr std::size_t kRemotePayloadBytes = 512;

// Returns how many bytes of `out` the message uses: only those cross to the other
// process (each cache line a message touches is a transfer between CPUs).
template <class... Ps>
std::size_t pack(std::byte* out, const Ps&... ps) {
  static_assert((0 + ... + ((sizeof(Ps) + 15) / 16 * 16)) <= kRemotePayloadBytes,
                "FlexCap: the arguments of this export do not fit a remote call's message");
  std::size_t offset = 0;
  static_assert((std::is_trivially_copyable_v<Ps> && ...), "FlexCap: gate values must be trivially copyable");
  ((std::memcpy(out + offset, &ps, sizeof(Ps)), offset += (sizeof(Ps) + 15) / 16 * 16), ...);
  return offset;
}

template <class... Ps>
void unpack(const std::byte* in, Ps&... ps) {
  std::size_t offset = 0;
  ((std::memcpy(&ps, in + offset, sizeof(Ps)), offset += (sizeof(Ps) + 15) / 16 * 16), ...);
}

// Runs the export on the message `in`; writes the result to `out` and returns its size.
using RemoteServe = std::size_t (*)(Runtime& rt, GateFrame& frame, const std::byte* in, std::byte* out);
struct RemoteEntryInfo {
  RemoteServe serve;
  std::string_view library;
  std::string_view function;
};
std::uint32_t register_remote_entry(RemoteServe serve, std::string_view library, std::string_view function);
const RemoteEntryInfo& remote_entry(std::uint32_t id);

}  // namespace flexcap::rt::internal
