// flexcap/cap/permissions.hh — the 18 permission bits of a Morello capability.
//
// A capability's permissions (bits 127..110) say what may be done through it. They only
// ever shrink: CLRPERM removes bits, nothing adds them. Bit numbers follow the Morello
// architecture (CAP_PERM_* in Arm's pseudocode), counted from bit 110 of the capability.
//
//   Permissions read_only = Permissions::data() - Permission::Store - Permission::StoreCap;
//   if (!cap.permissions().has(Permission::Load)) { ... }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flexcap::cap {

enum class Permission : std::uint32_t {
  Global = 1u << 0,     // may be stored anywhere (without it: only with StoreLocalCap)
  Executive = 1u << 1,  // PCC runs in Executive (privileged-within-process) mode
  User1 = 1u << 2,      // software-defined
  User2 = 1u << 3,
  User3 = 1u << 4,
  User4 = 1u << 5,
  MutableLoad = 1u << 6,       // capabilities loaded through it keep their store permissions
  CompartmentId = 1u << 7,     // may be used as a compartment identifier
  BranchSealedPair = 1u << 8,  // may be the target of a branch-to-sealed-pair
  System = 1u << 9,            // may access system registers
  Unseal = 1u << 10,           // may unseal capabilities whose object type is its value
  Seal = 1u << 11,             // may seal capabilities with its value as object type
  StoreLocalCap = 1u << 12,    // may store capabilities that lack Global
  StoreCap = 1u << 13,         // may store tagged capabilities
  LoadCap = 1u << 14,          // capabilities loaded through it keep their tag
  Execute = 1u << 15,          // may fetch instructions
  Store = 1u << 16,            // may store data
  Load = 1u << 17,             // may load data
};

inline constexpr int kPermissionCount = 18;

// A set of permissions: the 18-bit field of a capability.
class Permissions {
 public:
  static constexpr std::uint32_t kMask = (1u << kPermissionCount) - 1;

  constexpr Permissions() = default;
  constexpr Permissions(Permission p) : bits_(static_cast<std::uint32_t>(p)) {}  // NOLINT
  static constexpr Permissions from_bits(std::uint32_t bits) { return Permissions(bits & kMask, 0); }
  static constexpr Permissions all() { return from_bits(kMask); }
  static constexpr Permissions none() { return {}; }
  // Load, Store and their capability forms: what a data region hands out.
  static constexpr Permissions data() {
    return from_bits(
        static_cast<std::uint32_t>(Permission::Load) | static_cast<std::uint32_t>(Permission::Store) |
        static_cast<std::uint32_t>(Permission::LoadCap) | static_cast<std::uint32_t>(Permission::StoreCap) |
        static_cast<std::uint32_t>(Permission::StoreLocalCap) | static_cast<std::uint32_t>(Permission::MutableLoad) |
        static_cast<std::uint32_t>(Permission::Global));
  }

  constexpr std::uint32_t bits() const { return bits_; }
  constexpr bool has(Permissions p) const { return (bits_ & p.bits_) == p.bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr Permissions missing_from(Permissions held) const { return from_bits(bits_ & ~held.bits_); }

  friend constexpr Permissions operator|(Permissions a, Permissions b) { return from_bits(a.bits_ | b.bits_); }
  friend constexpr Permissions operator&(Permissions a, Permissions b) { return from_bits(a.bits_ & b.bits_); }
  friend constexpr Permissions operator-(Permissions a, Permissions b) { return from_bits(a.bits_ & ~b.bits_); }
  friend constexpr bool operator==(Permissions a, Permissions b) = default;

  // "Load|Store|LoadCap", or "none".
  std::string to_string() const;

 private:
  constexpr Permissions(std::uint32_t bits, int) : bits_(bits) {}
  std::uint32_t bits_ = 0;
};

constexpr Permissions operator|(Permission a, Permission b) { return Permissions(a) | Permissions(b); }

std::string_view permission_name(Permission p);
// The permission named `name` (as printed by Permissions::to_string), if any.
std::optional<Permission> permission_from_name(std::string_view name);

}  // namespace flexcap::cap
