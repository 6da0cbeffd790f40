#include "flexcap/lib/attack_victim.hh"

#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::attack_victim {
namespace {
struct State {
  std::uint64_t secret = kSecret;
  cap::Cap<std::uint8_t> kept;
};
State& state() { return rt::library_state<Library, State>(); }

// Victim code that is no export: an attacker who learns its address may branch to it.
void overwrite_secret() { state().secret = kOverwrittenByCall; }
}  // namespace

std::uint64_t Exports::secret_address_impl() { return reinterpret_cast<std::uint64_t>(&state().secret); }
std::uint64_t Exports::secret_impl() { return state().secret; }
void Exports::fill_impl(cap::Cap<std::uint8_t> buffer, std::uint8_t value) {
  rt::check(buffer.fill(0, buffer.size(), value));
}
void Exports::keep_impl(cap::Cap<std::uint8_t> buffer) { state().kept = buffer; }
void Exports::write_kept_impl(std::uint8_t value) { rt::check(state().kept.fill(0, state().kept.size(), value)); }
std::uint64_t Exports::unexported_helper_impl() { return state().secret; }
std::uint64_t Exports::code_address_impl() { return reinterpret_cast<std::uint64_t>(&overwrite_secret); }

}  // namespace flexcap::lib::attack_victim

// The same victim code under a name the attacker's C can link against and call directly.
extern "C" void flexcap_attack_victim_overwrite() { flexcap::lib::attack_victim::overwrite_secret(); }
