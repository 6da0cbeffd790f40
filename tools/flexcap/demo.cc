// `flexcap demo`: what a capability is, in eight steps a newcomer can follow. Every
// line it prints is computed by the model; nothing is canned.
#include <array>
#include <cstdint>
#include <ostream>
#include <string>

#include "cap_commands.hh"
#include "flexcap/cap/cap.hh"

namespace flexcap::tools {
namespace {

using cap::Cap;
using cap::Capability;
using cap::Permission;
using cap::Permissions;

std::string hex(std::uint64_t v) { return "0x" + cap::to_hex(v); }

void step(std::ostream& out, int n, const std::string& title) { out << "\n" << n << ". " << title << "\n"; }

template <class R>
void report(std::ostream& out, const std::string& action, const R& result) {
  out << "   " << action << ": ";
  if (result) {
    out << "allowed\n";
  } else {
    out << "REFUSED\n     " << result.error().describe() << "\n";
  }
}

}  // namespace

int demo(std::ostream& out) {
  out << "FlexCap capability model demo: Morello capabilities, bit-exact, in software.\n"
         "(On x86 only accesses made through the model are checked; see docs/capability-model.md.)\n";

  cap::TaggedMemory memory(64 * 1024);
  const Capability region = memory.root();
  step(out, 1, "A compartment's memory and the capability that covers it (derived from the root)");
  out << "   " << region.to_string() << "\n";

  step(out, 2, "Derive a 256-byte read-only capability for one buffer inside it");
  const Capability buffer = region.set_value(memory.base() + 0x1000)
                                .set_bounds_exact(256)
                                .restrict_permissions(Permission::Load | Permission::Global);
  out << "   " << buffer.to_string() << "\n";
  out << "   encoded: pesbt=" << hex(buffer.pesbt()) << " cursor=" << hex(buffer.cursor()) << "\n";

  step(out, 3, "Use it through Cap<T>, the checked reference capability-aware code uses");
  Cap<std::uint64_t> writer(region.set_value(memory.base() + 0x1000).set_bounds_exact(256), &memory);
  for (std::size_t i = 0; i < writer.size(); ++i) (void)writer.store(i, i * i);
  Cap<const std::uint64_t> reader(buffer, &memory);
  report(out, "read element 5 (" + std::to_string(reader.load(5).value_or(0)) + ")", reader.load(5));
  report(out, "read element 32, one past the end", reader.load(32));
  Cap<std::uint64_t> sneaky(buffer, &memory);
  report(out, "write element 0 through the read-only capability", sneaky.store(0, 1));

  step(out, 4, "Capabilities only shrink: widening the bounds clears the tag");
  const Capability widened = buffer.set_value(memory.base()).set_bounds(4096).capability;
  out << "   set bounds to 4 KiB from the buffer: " << widened.to_string() << "\n";
  report(out, "read through the widened capability", Cap<const std::uint8_t>(widened, &memory).load(0));

  step(out, 5, "Seal the buffer capability with object type 42: an opaque handle");
  // Object types are a separate space: a capability whose value is an object type
  // and whose permissions are Seal/Unseal is the authority to seal with that type.
  const Capability otype_space =
      Capability::root().restrict_permissions(Permission::Seal | Permission::Unseal | Permission::Global);
  const Capability key = otype_space.set_value(42).set_bounds_exact(1);
  const Capability handle = buffer.seal(key);
  out << "   " << handle.to_string() << "\n";
  report(out, "read through the sealed handle", Cap<const std::uint64_t>(handle, &memory).load(0));
  const Capability wrong_key = otype_space.set_value(43).set_bounds_exact(1);
  out << "   unseal with the key for type 43: tag=" << handle.unseal(wrong_key).tag() << "\n";
  const Capability unsealed = handle.unseal(key);
  out << "   unseal with the key for type 42: tag=" << unsealed.tag() << "\n";
  report(out, "read through the unsealed capability", Cap<const std::uint64_t>(unsealed, &memory).load(1));

  step(out, 6, "Tagged memory: a capability stored as a capability keeps its tag");
  const std::uint64_t slot = memory.base() + 0x2000;
  report(out, "store the buffer capability at " + hex(slot), memory.store_capability(region, slot, buffer));
  out << "   granule tag after the store: " << memory.tag(slot) << "\n";
  auto loaded = memory.load_capability(region, slot);
  out << "   loaded back: " << loaded->to_string() << "\n";

  step(out, 7, "Forging: the same 16 bytes written as data come back untagged");
  std::array<std::byte, 16> bytes{};
  (void)memory.load_bytes(region, slot, bytes);
  report(out, "copy the bytes to " + hex(slot + 16) + " as data", memory.store_bytes(region, slot + 16, bytes));
  auto forged = memory.load_capability(region, slot + 16);
  out << "   loaded back: " << forged->to_string() << "\n";
  report(out, "read through the forged capability", Cap<const std::uint64_t>(*forged, &memory).load(0));
  std::array<std::byte, 1> one{std::byte{0}};
  (void)memory.store_bytes(region, slot + 3, one);
  out << "   one data byte written into the original slot: its tag is now " << memory.tag(slot) << "\n";

  step(out, 8, "Representable bounds: large buffers round to an alignment");
  for (std::uint64_t length : {std::uint64_t{4096}, std::uint64_t{100000}, std::uint64_t{123456789}}) {
    out << "   length " << length << " -> representable length " << cap::representable_length(length)
        << ", base alignment mask " << hex(cap::representable_alignment_mask(length)) << "\n";
  }
  out << "\nEvery refused access above came back as a value naming the check that failed; the process is still "
         "running.\n";
  return 0;
}

}  // namespace flexcap::tools
