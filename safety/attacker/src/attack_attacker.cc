// The attacks, each as a compromised compartment would try it. Every one makes a real
// attempt through the same APIs the rest of FlexCap uses.
#include "flexcap/lib/attack_attacker.hh"

#include <array>
#include <span>
#include <string>

#include "flexcap/lib/attack_victim.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/rt/memory_access.hh"
#include "raw.h"

namespace flexcap::lib::attack_attacker {
namespace {
namespace victim = attack_victim;

constexpr std::int32_t kGotThrough = 0;
constexpr std::int32_t kStopped = 1;

std::uint64_t victim_secret_address() {
  auto r = rt::call<victim::Exports::secret_address>();
  return r ? r->unsafe_unverified() : 0;
}

std::uint64_t victim_secret() {
  auto r = rt::call<victim::Exports::secret>();
  return r ? r->unsafe_unverified() : 0;
}

// Throws the gate's error so that the harness reports it as the reason.
template <class T>
void raise_if_error(const T& result) {
  if (!result) throw rt::CompartmentFault{result.error().address, result.error().describe()};
}
}  // namespace

// Read the victim's secret with a plain load, as unported code would.
std::int32_t Exports::read_private_impl() {
  return rt::hybrid_load<std::uint64_t>(victim_secret_address()) == victim::kSecret ? kGotThrough : kStopped;
}

// Overwrite it.
std::int32_t Exports::write_private_impl() {
  rt::hybrid_store<std::uint64_t>(victim_secret_address(), 0xbad);
  return victim_secret() == 0xbad ? kGotThrough : kStopped;
}

// Enter the victim at an export the image never calls from here.
std::int32_t Exports::call_unexported_impl() {
  auto r = rt::unsafe_call_without_import<victim::Exports::unexported_helper>();
  raise_if_error(r);
  return r->unsafe_unverified() == victim_secret() ? kGotThrough : kStopped;  // it read the secret
}

// Write a capability's bytes as data, with the Store permission bit added, and use
// what comes back as a capability.
std::int32_t Exports::forge_capability_impl() {
  cap::Cap<std::byte> slot = rt::shared_alloc(32);
  cap::Cap<std::byte> target = rt::shared_alloc(16);
  const cap::Capability read_only = target.capability().clear_permissions(cap::Permission::Store);
  std::array<std::uint64_t, 2> bytes = {read_only.cursor(),
                                        read_only.pesbt() | (std::uint64_t{1} << (46 + 16))};  // Store is bit 16
  std::array<std::byte, 16> raw{};
  std::memcpy(raw.data(), bytes.data(), raw.size());
  rt::check(slot.copy_in(0, raw));
  auto forged = slot.memory()->load_capability(slot.capability(), slot.capability().base());
  raise_if_error(forged);
  rt::check(cap::Cap<std::uint8_t>(*forged, slot.memory()).store(0, 0x41));
  return kGotThrough;
}

// Read one element past the end of a buffer the attacker holds.
std::int32_t Exports::beyond_bounds_impl() {
  cap::Cap<std::byte> block = rt::shared_alloc(16);
  const cap::Cap<const std::uint64_t> two(block.capability(), block.memory());
  (void)rt::check(two.load(2));
  return kGotThrough;
}

// Turn a read-only capability back into a writable one.
std::int32_t Exports::widen_permissions_impl() {
  cap::Cap<std::byte> block = rt::shared_alloc(16);
  const cap::Capability read_only = block.capability().restrict_permissions(cap::Permission::Load);
  const cap::Capability widened = read_only.restrict_permissions(cap::Permissions::all());  // cannot add
  rt::check(cap::Cap<std::uint8_t>(widened, block.memory()).store(0, 1));
  return kGotThrough;
}

// Hand the victim a reference to the victim's own secret, hoping that the victim,
// with its own rights, writes through it (a confused deputy).
std::int32_t Exports::confused_deputy_impl() {
  const cap::Capability aimed = cap::Capability::root().set_value(victim_secret_address()).set_bounds_exact(8);
  auto r = rt::call<victim::Exports::fill>(cap::Cap<std::uint8_t>(aimed), std::uint8_t{0x41});
  raise_if_error(r);
  return victim_secret() == 0x4141414141414141ULL ? kGotThrough : kStopped;
}

// Hand the victim a buffer it keeps, free it, let it be reused, then make the victim
// write through its stale capability.
std::int32_t Exports::use_after_free_impl() {
  cap::Cap<std::byte> first = rt::shared_alloc(64);
  auto kept = rt::call<victim::Exports::keep>(cap::Cap<std::uint8_t>(first.capability(), first.memory()));
  raise_if_error(kept);
  rt::shared_free(first);
  cap::Cap<std::byte> reused = rt::shared_alloc(64);  // the allocator hands the same memory out again
  rt::check(reused.fill(0, 64, std::byte{0x11}));
  auto wrote = rt::call<victim::Exports::write_kept>(std::uint8_t{0x99});
  raise_if_error(wrote);
  const bool corrupted = rt::check(reused.load(0)) == std::byte{0x99};
  rt::shared_free(reused);
  return corrupted ? kGotThrough : kStopped;
}

// --- Temporal safety -----------------------------------------------------------------

// Hand the victim a shared buffer, which it keeps three ways (in its memory, sealed in its
// memory, in a local), free it, and have the victim use each copy. Any use that goes
// through is a use after free; each must fault.
std::int32_t Exports::use_after_free_shared_impl() {
  std::string faults;
  for (std::int32_t which : {0, 1, 2}) {
    cap::Cap<std::byte> buffer = rt::shared_alloc(64);
    raise_if_error(rt::call<victim::Exports::keep_copies>(cap::Cap<std::uint8_t>(buffer.capability(), buffer.memory())));
    rt::shared_free(buffer);
    auto used = rt::call<victim::Exports::use_copy>(which, std::uint8_t{0x99});
    if (used) return kGotThrough;
    static constexpr const char* kHow[] = {"in memory", "sealed in memory", "in a local"};
    faults += std::string(faults.empty() ? "" : "; ") + kHow[which] + ": " + used.error().cause;
  }
  throw rt::CompartmentFault{0, "every use of the freed buffer faulted (" + faults + ")"};
}

// Use after reallocation, in two steps around the harness (attack_main.cc), which stands
// for a third compartment: the victim keeps a buffer the attacker then frees; the harness
// gets the same memory back (after a revocation, where there is one) and fills it; then
// the victim writes through its stale capability.
std::int32_t Exports::hand_over_and_free_impl() {
  cap::Cap<std::byte> buffer = rt::shared_alloc(64);
  raise_if_error(rt::call<victim::Exports::keep>(cap::Cap<std::uint8_t>(buffer.capability(), buffer.memory())));
  rt::shared_free(buffer);
  return static_cast<std::int32_t>(buffer.capability().base() & 0x7fffffff);
}

std::int32_t Exports::reach_reallocated_impl() {
  raise_if_error(rt::call<victim::Exports::write_kept>(std::uint8_t{0x99}));
  return kGotThrough;  // the harness checks that its data changed
}

// Free a buffer twice: an allocator that takes it twice hands the same memory to two owners.
std::int32_t Exports::double_free_impl() {
  cap::Cap<std::byte> buffer = rt::shared_alloc(64);
  rt::shared_free(buffer);
  rt::shared_free(buffer);
  return kGotThrough;
}

// Free the middle of a buffer, with a block header forged in front of it (its size, and
// the mark of a live block): an allocator that trusts headers in the memory it hands out
// would take the slice as a block and later hand it out again, overlapping the buffer.
std::int32_t Exports::free_interior_pointer_impl() {
  cap::Cap<std::byte> buffer = rt::shared_alloc(256);
  const std::uint64_t header[2] = {64, (std::uint64_t{64} << 4) | 0x9};
  rt::check(buffer.copy_in(16, std::as_bytes(std::span(header))));
  rt::shared_free(rt::check(buffer.slice(32, 64)));
  return kGotThrough;
}

// Present the switcher with a sealed entry for the victim that no one granted: the
// attacker knows the layout and the victim's object type, so it writes the bits.
std::int32_t Exports::forged_sealed_entry_impl() {
  const std::uint32_t victim_type = 16 + static_cast<std::uint32_t>(image::compartment_index("attack_victim"));
  const cap::Capability entry = cap::Capability::unsafe_from_bits(
      (rt::ddc().pesbt() & ~(std::uint64_t{0x7fff} << 31)) | (std::uint64_t{victim_type} << 31), rt::ddc().cursor(),
      false);  // bits are all an attacker can write: the tag comes only from derivation
  if (auto refused = rt::check_sealed_entry(entry)) throw rt::CompartmentFault{0, refused->cause};
  return kGotThrough;
}

// --- The same attempts from unported C (raw.c), which the hybrid pass checks ----------

// Read the victim's secret through an ordinary pointer.
std::int32_t Exports::raw_read_other_impl() {
  // (Compared with what the victim holds now: an earlier attack may have changed it.)
  const std::uint64_t secret = victim_secret();
  return raw_read(reinterpret_cast<const std::uint64_t*>(victim_secret_address())) == secret ? kGotThrough : kStopped;
}

// Overwrite it through an ordinary pointer.
std::int32_t Exports::raw_write_other_impl() {
  raw_write(reinterpret_cast<std::uint64_t*>(victim_secret_address()), 0xbad);
  return victim_secret() == 0xbad ? kGotThrough : kStopped;
}

// Branch into the victim's code (a function it does not export) through an ordinary
// function pointer. On cheri the attacker's PCC bounds only its own code, so the
// indirect call faults before the victim's code runs; on the page backends the code runs,
// as the attacker, and faults when it touches the victim's memory.
std::int32_t Exports::raw_call_other_impl() {
  auto address = rt::call<victim::Exports::code_address>();
  if (!address) return kStopped;
  raw_call(reinterpret_cast<void (*)()>(address->unsafe_unverified()));
  return victim_secret() == victim::kOverwrittenByCall ? kGotThrough : kStopped;
}

// Call a function of the victim's code by its name, a plain direct call that bypasses
// the gate (unported C that was never given one). On cheri the target is outside the
// attacker's PCC and the call faults before the victim's code runs, as the fetch would on
// Morello; on the page backends the code runs as the attacker and faults on the
// victim's memory.
std::int32_t Exports::raw_direct_call_other_impl() {
  raw_call_direct();
  return victim_secret() == victim::kOverwrittenByCall ? kGotThrough : kStopped;
}

// An off-by-one write from a buffer at the very end of the attacker's region: the byte
// it should not write lies just past its DDC (the next compartment's memory, or none).
std::int32_t Exports::raw_off_by_one_leaves_ddc_impl() {
  const cap::TaggedMemory& own = rt::Runtime::get().compartment(rt::Runtime::current()).memory();
  auto* last = reinterpret_cast<std::uint8_t*>(own.base() + own.size() - 16);  // free heap: nobody's data
  raw_fill_off_by_one(last, 16, 0x41);
  return kGotThrough;
}

// The same bug inside the attacker's own memory: the extra byte lands in its next
// allocation. Its DDC allows both, as on Morello: hybrid code has no per-object bounds.
std::int32_t Exports::raw_off_by_one_inside_ddc_impl() {
  cap::Cap<std::byte> buffer = rt::private_alloc(16);
  cap::Cap<std::byte> neighbour = rt::private_alloc(16);
  rt::check(neighbour.fill(0, 16, std::byte{0}));
  const std::uint64_t distance = neighbour.capability().base() - buffer.capability().base();
  raw_fill_off_by_one(reinterpret_cast<std::uint8_t*>(buffer.capability().base()), distance, 0x41);
  return rt::check(neighbour.load(0)) == std::byte{0x41} ? kGotThrough : kStopped;
}

}  // namespace flexcap::lib::attack_attacker
