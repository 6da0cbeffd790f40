// The hybrid runtime: the registers instrumented code reads and the slow path of its
// checks. Compiled by the project's C++ compiler, never with the pass (which refuses a
// module that defines flexcap_hybrid_registers).
#include "flexcap/cc/hybrid_runtime.hh"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "flexcap/cap/access.hh"
#include "flexcap/cc/hybrid_abi.h"
#include "flexcap/rt/runtime.hh"

// No compartment's code until the cheri switcher publishes it.
struct flexcap_hybrid_window flexcap_hybrid_compartment_code = {0, 0};

// Linker-defined bounds of the executable's code (GNU ld and lld define both).
extern "C" char __executable_start[];
extern "C" char etext[];

namespace flexcap::cc {
namespace {

// The shortest window published (hybrid_abi.h), and the one no user-space address
// passes: base 2^64 - 4096.
constexpr std::uint64_t kShortestWindow = 4096;
constexpr flexcap_hybrid_window kDenied = {~(kShortestWindow - 1), kShortestWindow};
// Every address: what runs unconfined sees.
constexpr flexcap_hybrid_window kAll = {0, ~std::uint64_t{0}};

// The fast window (hybrid_abi.h): the DDC's bounds where loads and stores are both
// allowed through it, so that one comparison decides either kind; as a base and the
// limit `length - 4096` the pass compares with.
struct FastWindow {
  std::uint64_t base, limit;
};
constexpr FastWindow fast_window(const flexcap_hybrid_window& load, const flexcap_hybrid_window& store) {
  const bool both = load.base == store.base && load.length == store.length && load.base != kDenied.base;
  const flexcap_hybrid_window w = both ? load : kDenied;
  return {w.base, w.length - kShortestWindow};
}
constexpr FastWindow kAllFast = fast_window(kAll, kAll);

// The state installed last on this thread (the switcher keeps it alive); none: unconfined.
thread_local const HybridState* t_state = nullptr;

// The fast form of `authority` for accesses that need `permission`.
flexcap_hybrid_window window_of(const cap::Capability& authority, cap::Permission permission) {
  if (!authority.tag() || authority.is_sealed() || !authority.permissions().has(permission)) return kDenied;
  const cap::Bounds bounds = authority.bounds();
  const cap::Uint128 length = bounds.top - bounds.base;
  if (!bounds.valid || length < kShortestWindow) return kDenied;  // the slow path decides these exactly
  // A window reaching 2^64 is cut one byte short: the comparison is on 64-bit values.
  const std::uint64_t bytes = length > ~std::uint64_t{0} ? ~std::uint64_t{0} : static_cast<std::uint64_t>(length);
  return {bounds.base, bytes};
}

std::string hex(std::uint64_t v) { return "0x" + cap::to_hex(v); }

[[noreturn]] void raise(const cap::CapabilityFault& fault) {
  throw rt::CompartmentFault{fault.address, fault.describe()};
}

}  // namespace

cap::Capability unconfined_ddc() { return cap::Capability::root().restrict_permissions(cap::Permissions::data()); }
cap::Capability unconfined_pcc() {
  return cap::Capability::root().restrict_permissions(cap::Permission::Execute | cap::Permission::Load |
                                                      cap::Permission::Global);
}

cap::Capability executable_text() {
  const auto start = reinterpret_cast<std::uint64_t>(__executable_start);
  const auto end = reinterpret_cast<std::uint64_t>(etext);
  return unconfined_pcc().set_value(start).set_bounds(end - start).capability;
}

HybridState hybrid_state(const cap::Capability& ddc, const cap::Capability& pcc) {
  const flexcap_hybrid_window load = window_of(ddc, cap::Permission::Load);
  const flexcap_hybrid_window store = window_of(ddc, cap::Permission::Store);
  const FastWindow fast = fast_window(load, store);
  return {ddc, pcc, load, store, window_of(pcc, cap::Permission::Execute), fast.base, fast.limit};
}

void install_hybrid_state(const HybridState& state) {
  t_state = &state;
  flexcap_hybrid_registers.load = state.load;
  flexcap_hybrid_registers.store = state.store;
  flexcap_hybrid_registers.execute = state.execute;
  flexcap_hybrid_registers.fast_base = state.fast_base;
  flexcap_hybrid_registers.fast_limit = state.fast_limit;
}

void set_compartment_code(std::uint64_t begin, std::uint64_t end) {
  flexcap_hybrid_compartment_code = {begin, end > begin ? end - begin : 0};
}

void uninstall_hybrid_state() {
  t_state = nullptr;
  flexcap_hybrid_registers.load = flexcap_hybrid_registers.store = flexcap_hybrid_registers.execute = kAll;
  flexcap_hybrid_registers.fast_base = kAllFast.base;
  flexcap_hybrid_registers.fast_limit = kAllFast.limit;
}

const HybridState* installed_hybrid_state() { return t_state; }

cap::Capability hybrid_ddc() { return t_state != nullptr ? t_state->ddc : unconfined_ddc(); }
cap::Capability hybrid_pcc() { return t_state != nullptr ? t_state->pcc : unconfined_pcc(); }
std::uint64_t hybrid_checks_made() { return flexcap_hybrid_registers.checks; }

namespace {
struct InitialValue {
  std::byte* global;
  const std::byte* initial;
  std::uint64_t bytes;
};
// Filled by the hybrid modules' constructors, before main.
std::vector<InitialValue>& initial_values() {
  static std::vector<InitialValue> all;
  return all;
}
}  // namespace

void initialize_hybrid_globals(std::span<std::byte> region) {
  for (const InitialValue& v : initial_values()) {
    if (v.global >= region.data() && v.global + v.bytes <= region.data() + region.size()) {
      std::memcpy(v.global, v.initial, v.bytes);
    }
  }
}

}  // namespace flexcap::cc

// Everything allowed until a switcher says otherwise (see unconfined_ddc()).
__thread struct flexcap_hybrid_registers flexcap_hybrid_registers = {
    flexcap::cc::kAll, flexcap::cc::kAll, flexcap::cc::kAll, 0, flexcap::cc::kAllFast.base, flexcap::cc::kAllFast.limit};

extern "C" void flexcap_hybrid_register_global(void* global, const void* initial, std::uint64_t bytes) {
  std::memcpy(global, initial, bytes);
  flexcap::cc::initial_values().push_back(
      {static_cast<std::byte*>(global), static_cast<const std::byte*>(initial), bytes});
}

extern "C" void flexcap_hybrid_slow_check(std::uint64_t address, std::uint64_t size, std::uint32_t access) {
  using flexcap::cap::Access;
  namespace cc = flexcap::cc;
  const bool execute = access == FLEXCAP_HYBRID_EXECUTE;
  const flexcap::cap::Capability authority = execute ? cc::hybrid_pcc() : cc::hybrid_ddc();
  // An atomic read-modify-write needs both permissions: Load is checked first.
  if (access == FLEXCAP_HYBRID_LOAD || access == FLEXCAP_HYBRID_LOAD_STORE) {
    if (auto ok = flexcap::cap::check_access(authority, Access::Load, address, size); !ok) cc::raise(ok.error());
  }
  if (access == FLEXCAP_HYBRID_STORE || access == FLEXCAP_HYBRID_LOAD_STORE) {
    if (auto ok = flexcap::cap::check_access(authority, Access::Store, address, size); !ok) cc::raise(ok.error());
  }
  if (execute) {
    if (auto ok = flexcap::cap::check_access(authority, Access::Execute, address, size); !ok) cc::raise(ok.error());
  }
  // The model allows it. On Morello the top byte of an address is flags, ignored by the
  // bounds check; on x86 such an address cannot be used at all.
  if ((address >> 56) != 0) {
    throw flexcap::rt::CompartmentFault{address,
                                        "hybrid access to " + cc::hex(address) +
                                            ": its top byte holds flags, which Morello ignores and x86 cannot address"};
  }
}

extern "C" void flexcap_hybrid_fault(std::uint64_t address, std::uint64_t size, std::uint32_t access) {
  flexcap_hybrid_slow_check(address, size, access);
  throw flexcap::rt::CompartmentFault{
      address, "hybrid access to " + flexcap::cc::hex(address) +
                   " under a DDC shorter than 4096 bytes: the model allows it, but FlexCap's in-line checks need "
                   "a DDC of at least 4096 bytes"};
}
