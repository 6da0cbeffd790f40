// flexcap/cap/access.hh — the checks every access through a capability makes.
//
// These follow CheckCapability and the capability load/store rules of the Morello
// pseudocode. They only decide; moving bytes is TaggedMemory's and Cap<T>'s job.
//
//   if (auto ok = check_access(cap, Access::Store, addr, 8); !ok) return ok.error();
#pragma once

#include <cstdint>

#include "flexcap/cap/capability.hh"
#include "flexcap/cap/fault.hh"
#include "flexcap/support/expected.hh"

namespace flexcap::cap {

// The permissions an access of this kind needs (before any value-dependent ones).
Permissions required_permissions(Access access);

// CheckCapability: tag, then seal, then permissions, then bounds. Bounds are checked on
// the bounds address of `address` (its top byte is flags, bits 63..56 sign-extended
// from bit 55). Capability accesses must also be 16-byte aligned.
Expected<void, CapabilityFault> check_access(const Capability& authority, Access access, std::uint64_t address,
                                             std::uint64_t size);

// A capability store of `value`: check_access(StoreCapability), and when `value` is
// tagged, StoreCap; when it is also local (no Global), StoreLocalCap.
Expected<void, CapabilityFault> check_capability_store(const Capability& authority, std::uint64_t address,
                                                       const Capability& value);

// What a capability load through `authority` makes of the 16 bytes and tag it read:
// without LoadCap the tag is cleared; without MutableLoad an unsealed tagged result
// loses Store, StoreCap, StoreLocalCap and MutableLoad.
Capability apply_load_rules(const Capability& authority, Capability loaded);

}  // namespace flexcap::cap
