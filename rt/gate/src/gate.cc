// The parts of the gate that do not depend on the export's types.
#include <csignal>
#include <cstring>
#include <vector>

#include "flexcap/rt/call_support.hh"

namespace flexcap::rt::internal {
namespace {
std::string hex(std::uint64_t v) { return "0x" + cap::to_hex(v); }
}  // namespace

std::string describe_argument_refusal(Runtime& rt, const GateFrame& frame, std::size_t index,
                                      const cap::Capability& c) {
  const std::string which = "argument " + std::to_string(index + 1) + " (" + hex(c.address()) + ", " +
                            cap::to_hex(c.length()) + " bytes in hex)";
  if (!c.tag()) return which + " is not a valid capability: it was forged or derived illegally";
  if (c.is_sealed()) return which + " is sealed: memory arguments must be unsealed capabilities";
  const std::string owner = rt.describe_owner(c.base());
  const std::string caller(rt.compartment(frame.caller).name());
  const std::string callee(rt.compartment(frame.callee).name());
  const int owner_index = rt.owner_of(c.base());
  if (owner_index == frame.callee) {
    return which + " lies in compartment '" + callee + "''s own private memory, which '" + caller +
           "' does not hold: refused, since the callee would write its own memory on the caller's behalf (a "
           "confused deputy)";
  }
  if (owner_index == frame.caller && rt.spec().backend != Backend::Cheri) {
    return which + " lies in " + owner + ", which compartment '" + callee + "' cannot see under " +
           std::string(to_string(rt.spec().backend)) +
           ": allocate it with rt::shared_alloc(), or set `sharing: copy` on compartment '" + callee +
           "' to copy private buffers through the shared region";
  }
  return which + " lies in " + owner + ", which compartment '" + caller +
         "' does not hold: a compartment can only hand over memory it owns, shares or was handed";
}

GateError describe_signal_fault(Runtime& rt, const GateFrame& frame) {
  const char* what = frame.fault_signal == SIGSEGV  ? "page fault"
                     : frame.fault_signal == SIGBUS ? "bus error"
                     : frame.fault_signal == SIGFPE ? "arithmetic fault"
                                                    : "illegal instruction";
  std::string cause = std::string(what) + " (" + strsignal(frame.fault_signal) + ")";
  if (frame.fault_signal == SIGSEGV || frame.fault_signal == SIGBUS) {
    cause += ": access to " + rt.describe_owner(frame.fault_address);
  }
  return GateError{GateErrorKind::Fault, std::string(rt.compartment(frame.callee).name()),
                   std::string(frame.library) + "." + std::string(frame.function), frame.fault_address, cause};
}

void copy_into_bounce(Bounce& bounce) {
  std::memcpy(bounce.shared.write_span(0, bounce.bytes)->data(), reinterpret_cast<const void*>(bounce.caller_address),
              bounce.bytes);
}

void copy_out_of_bounce(const Bounce& bounce) {
  std::memcpy(reinterpret_cast<void*>(bounce.caller_address), bounce.shared.read_span(0, bounce.bytes)->data(),
              bounce.bytes);
}

}  // namespace flexcap::rt::internal

namespace flexcap::rt::internal {
namespace {
std::vector<RemoteEntryInfo>& remote_entries() {
  static std::vector<RemoteEntryInfo> all;  // filled during static initialisation
  return all;
}
}  // namespace

std::uint32_t register_remote_entry(RemoteServe serve, std::string_view library, std::string_view function) {
  remote_entries().push_back({serve, library, function});
  return static_cast<std::uint32_t>(remote_entries().size() - 1);
}

const RemoteEntryInfo& remote_entry(std::uint32_t id) { return remote_entries().at(id); }

}  // namespace flexcap::rt::internal
