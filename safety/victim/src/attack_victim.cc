#include "flexcap/lib/attack_victim.hh"

#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::attack_victim {
namespace {
struct State {
  std::uint64_t secret = kSecret;
  // Kept beyond the call that handed it over: roots the revoker reaches (a C++ member is
  // outside tagged memory, as a capability register is).
  cap::Held<std::uint8_t> kept;
  cap::Held<std::uint8_t> local;
  cap::Cap<std::byte> slots;  // 32 bytes of its own memory: a capability, then a sealed one
};
State& state() { return rt::library_state<Library, State>(); }

// The victim's own sealing authority (CheriBSD hands each process one): an object type
// no switcher entry uses.
cap::Capability sealing_key() {
  return cap::Capability::root()
      .restrict_permissions(cap::Permission::Seal | cap::Permission::Unseal)
      .set_value(0x4001)
      .set_bounds_exact(1);
}

// Victim code that is no export: an attacker who learns its address may branch to it.
void overwrite_secret() { state().secret = kOverwrittenByCall; }
}  // namespace

std::uint64_t Exports::secret_address_impl() { return reinterpret_cast<std::uint64_t>(&state().secret); }
std::uint64_t Exports::secret_impl() { return state().secret; }
void Exports::fill_impl(cap::Cap<std::uint8_t> buffer, std::uint8_t value) {
  rt::check(buffer.fill(0, buffer.size(), value));
}
void Exports::keep_impl(cap::Cap<std::uint8_t> buffer) { state().kept = buffer; }
void Exports::write_kept_impl(std::uint8_t value) { rt::check(state().kept->fill(0, state().kept->size(), value)); }

void Exports::keep_copies_impl(cap::Cap<std::uint8_t> buffer) {
  State& s = state();
  if (s.slots.capability().base() == 0) s.slots = rt::private_alloc(32);
  cap::TaggedMemory& own = *s.slots.memory();
  const cap::Capability at = s.slots.capability();
  rt::check(own.store_capability(at, at.base(), buffer.capability()));
  rt::check(own.store_capability(at, at.base() + 16, buffer.capability().seal(sealing_key())));
  s.local = buffer;
}

void Exports::use_copy_impl(std::int32_t which, std::uint8_t value) {
  State& s = state();
  cap::TaggedMemory& own = *s.slots.memory();
  const cap::Capability at = s.slots.capability();
  cap::Cap<std::uint8_t> through;
  if (which == 0) {
    through = cap::Cap<std::uint8_t>(rt::check(own.load_capability(at, at.base())), s.local->memory());
  } else if (which == 1) {
    const cap::Capability sealed = rt::check(own.load_capability(at, at.base() + 16));
    through = cap::Cap<std::uint8_t>(sealed.unseal(sealing_key()), s.local->memory());
  } else {
    through = s.local.get();
  }
  rt::check(through.fill(0, through.size(), value));
}
std::uint64_t Exports::unexported_helper_impl() { return state().secret; }
std::uint64_t Exports::code_address_impl() { return reinterpret_cast<std::uint64_t>(&overwrite_secret); }

}  // namespace flexcap::lib::attack_victim

// The same victim code under a name the attacker's C can link against and call directly.
extern "C" void flexcap_attack_victim_overwrite() { flexcap::lib::attack_victim::overwrite_secret(); }
