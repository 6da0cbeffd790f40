// flexcap/cap/fault.hh — what a failed capability check reports.
//
// When an access through a capability is refused, the model does what Morello's
// CheckCapability does (tag, then seal, then permission, then bounds) and returns a
// CapabilityFault naming the check that failed, the access, the address and the
// capability, so that the message alone says what went wrong:
//
//   capability bounds fault: store of 8 bytes at 0x7f3a10001000 is outside
//   [0x7f3a10000000,0x7f3a10001000) of tag=1 value=0x7f3a10000000 ... perms=Load|Store
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "flexcap/cap/capability.hh"
#include "flexcap/cap/permissions.hh"

namespace flexcap::cap {

// The kind of memory access being checked.
enum class Access {
  Load,             // data read
  Store,            // data write
  Execute,          // instruction fetch / branch target
  LoadCapability,   // 16-byte capability read (tag preserved only with LoadCap)
  StoreCapability,  // 16-byte capability write (needs StoreCap, StoreLocalCap for local values)
};

// Which check refused the access, in the order the architecture makes them.
enum class FaultCheck {
  Tag,         // the authorising capability is not tagged (forged, or derived illegally)
  Seal,        // the authorising capability is sealed: it can only be unsealed or invoked
  Permission,  // a permission the access needs is missing
  Bounds,      // some byte of the access lies outside [base, top)
  Alignment,   // a capability access that is not 16-byte aligned
  Unmapped,    // in bounds, but not memory the model holds (outside the TaggedMemory)
};

std::string_view to_string(Access access);
std::string_view to_string(FaultCheck check);

struct CapabilityFault {
  FaultCheck check = FaultCheck::Tag;
  Access access = Access::Load;
  std::uint64_t address = 0;  // first byte of the access
  std::uint64_t size = 0;     // bytes accessed
  Capability capability;      // the authorising capability
  Permissions missing;        // for FaultCheck::Permission: what was missing

  // One sentence: which check, which access, where, and the capability.
  std::string describe() const;
};

}  // namespace flexcap::cap
