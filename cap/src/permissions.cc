#include "flexcap/cap/permissions.hh"

#include <array>

namespace flexcap::cap {
namespace {

// Indexed by bit number; the names are the architecture's, in CamelCase.
constexpr std::array<std::string_view, kPermissionCount> kNames = {
    "Global",        "Executive",        "User1",  "User2",  "User3", "User4",         "MutableLoad",
    "CompartmentId", "BranchSealedPair", "System", "Unseal", "Seal",  "StoreLocalCap", "StoreCap",
    "LoadCap",       "Execute",          "Store",  "Load"};

}  // namespace

std::string_view permission_name(Permission p) {
  const auto bits = static_cast<std::uint32_t>(p);
  for (int i = 0; i < kPermissionCount; ++i) {
    if (bits == (1u << i)) return kNames[static_cast<std::size_t>(i)];
  }
  return "?";
}

std::optional<Permission> permission_from_name(std::string_view name) {
  for (int i = 0; i < kPermissionCount; ++i) {
    if (kNames[static_cast<std::size_t>(i)] == name) return static_cast<Permission>(1u << i);
  }
  return std::nullopt;
}

std::string Permissions::to_string() const {
  if (bits_ == 0) return "none";
  std::string out;
  // Most significant first, so that Load|Store|... reads like the architecture's tables.
  for (int i = kPermissionCount - 1; i >= 0; --i) {
    if ((bits_ >> i) & 1) {
      if (!out.empty()) out += '|';
      out += kNames[static_cast<std::size_t>(i)];
    }
  }
  return out;
}

}  // namespace flexcap::cap
