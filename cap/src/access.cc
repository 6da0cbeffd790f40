#include "flexcap/cap/access.hh"

namespace flexcap::cap {

std::string_view to_string(Access access) {
  switch (access) {
    case Access::Load: return "load";
    case Access::Store: return "store";
    case Access::Execute: return "execute";
    case Access::LoadCapability: return "capability load";
    case Access::StoreCapability: return "capability store";
  }
  return "access";
}

std::string_view to_string(FaultCheck check) {
  switch (check) {
    case FaultCheck::Tag: return "tag";
    case FaultCheck::Seal: return "seal";
    case FaultCheck::Permission: return "permission";
    case FaultCheck::Bounds: return "bounds";
    case FaultCheck::Alignment: return "alignment";
    case FaultCheck::Unmapped: return "unmapped";
  }
  return "unknown";
}

std::string CapabilityFault::describe() const {
  const std::string what = std::string(to_string(access)) + " of " + std::to_string(size) + " byte" +
                           (size == 1 ? "" : "s") + " at 0x" + to_hex(address);
  std::string why;
  switch (check) {
    case FaultCheck::Tag: why = what + " through an untagged capability (it was forged or derived illegally)"; break;
    case FaultCheck::Seal: why = what + " through a sealed capability (unseal it or invoke it instead)"; break;
    case FaultCheck::Permission: why = what + " needs " + missing.to_string() + ", which the capability lacks"; break;
    case FaultCheck::Bounds: {
      const Bounds b = capability.bounds();
      why = what + " is outside [0x" + to_hex(b.base) + ",0x" + to_hex(b.top) + ")";
      break;
    }
    case FaultCheck::Alignment: why = what + " is not 16-byte aligned"; break;
    case FaultCheck::Unmapped: why = what + " is in bounds but not in memory the model holds"; break;
  }
  return "capability " + std::string(to_string(check)) + " fault: " + why + " of " + capability.to_string();
}

Permissions required_permissions(Access access) {
  switch (access) {
    case Access::Load:
    case Access::LoadCapability: return Permission::Load;
    case Access::Store:
    case Access::StoreCapability: return Permission::Store;
    case Access::Execute: return Permission::Execute;
  }
  return Permissions::all();
}

namespace {
Unexpected<CapabilityFault> fault(FaultCheck check, const Capability& authority, Access access, std::uint64_t address,
                                  std::uint64_t size, Permissions missing = {}) {
  return Unexpected(CapabilityFault{check, access, address, size, authority, missing});
}
}  // namespace

Expected<void, CapabilityFault> check_access(const Capability& authority, Access access, std::uint64_t address,
                                             std::uint64_t size) {
  if (!authority.tag()) return fault(FaultCheck::Tag, authority, access, address, size);
  if (authority.is_sealed()) return fault(FaultCheck::Seal, authority, access, address, size);
  const Permissions needed = required_permissions(access);
  if (!authority.permissions().has(needed)) {
    return fault(FaultCheck::Permission, authority, access, address, size,
                 needed.missing_from(authority.permissions()));
  }
  if (!authority.range_in_bounds(address, size)) return fault(FaultCheck::Bounds, authority, access, address, size);
  const bool capability_access = access == Access::LoadCapability || access == Access::StoreCapability;
  if (capability_access && address % kGranuleBytes != 0) {
    return fault(FaultCheck::Alignment, authority, access, address, size);
  }
  return {};
}

Expected<void, CapabilityFault> check_capability_store(const Capability& authority, std::uint64_t address,
                                                       const Capability& value) {
  if (auto ok = check_access(authority, Access::StoreCapability, address, kGranuleBytes); !ok) return ok;
  if (!value.tag()) return {};
  Permissions needed = Permission::StoreCap;
  if (!value.permissions().has(Permission::Global)) needed = needed | Permission::StoreLocalCap;
  if (!authority.permissions().has(needed)) {
    return fault(FaultCheck::Permission, authority, Access::StoreCapability, address, kGranuleBytes,
                 needed.missing_from(authority.permissions()));
  }
  return {};
}

Capability apply_load_rules(const Capability& authority, Capability loaded) {
  if (!authority.permissions().has(Permission::LoadCap)) return loaded.clear_tag();
  if (loaded.tag() && !loaded.is_sealed() && !authority.permissions().has(Permission::MutableLoad)) {
    loaded = loaded.clear_permissions(Permission::Store | Permission::StoreCap | Permission::StoreLocalCap |
                                      Permission::MutableLoad);
  }
  return loaded;
}

}  // namespace flexcap::cap
