#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "flexcap/rt/backends.hh"

namespace flexcap::rt {
namespace {

void protect(Compartment& c, int protection) {
  auto bytes = c.memory().unsafe_bytes();
  if (mprotect(bytes.data(), bytes.size(), protection) != 0) {
    // Only an invalid mapping can make this fail: a bug in the runtime, not the image.
    throw std::runtime_error("flexcap mprotect backend: mprotect failed: " + std::string(std::strerror(errno)));
  }
}

}  // namespace

void MprotectBackend::start(Runtime& rt) {
  for (int i = 0; i < rt.compartment_count(); ++i) {
    if (i != Runtime::current()) protect(rt.compartment(i), PROT_NONE);
  }
  install_fault_handler();
}

// Under page protection the callee can see only its own region and the shared region,
// so memory is handed over in the shared region, or copied there when the
// compartment asked for copy-based sharing.
ArgumentPolicy MprotectBackend::check_argument(Runtime& rt, const GateFrame& frame, const cap::Capability& c) {
  if (!c.tag() || c.is_sealed()) return ArgumentPolicy::Refuse;
  if (rt.shared().holds(c)) return ArgumentPolicy::Pass;
  if (rt.compartment(frame.caller).memory().holds(c) && rt.compartment(frame.callee).spec().sharing == Sharing::Copy) {
    return ArgumentPolicy::Bounce;
  }
  return ArgumentPolicy::Refuse;
}

void MprotectBackend::switch_to(Runtime& rt, int from, int to) {
  if (from == to) return;
  protect(rt.compartment(to), PROT_READ | PROT_WRITE);
  protect(rt.compartment(from), PROT_NONE);
  Runtime::set_current(to);
}

}  // namespace flexcap::rt
