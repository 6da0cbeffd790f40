#include <algorithm>
#include <stdexcept>
#include <string>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/rt/backends.hh"

namespace flexcap::rt {
namespace {

// The switcher's private state: the authority to seal and unseal entries, one object
// type per compartment, and each compartment's capability table of sealed entries
// (one per export it may call).
struct Switcher {
  cap::TaggedMemory descriptors{64 * 1024};  // one granule per export: the entry descriptors
  cap::Capability sealing_authority;         // Seal|Unseal over the object types it uses
  std::vector<Import> exports;               // the distinct exports some compartment imports
  // tables[caller][export]: the sealed entry the caller holds for that export, or an
  // untagged capability where the caller has no call site to it.
  std::vector<std::vector<cap::Capability>> tables;
  std::vector<std::size_t> export_of_import;   // imports()[i] calls exports[export_of_import[i]]
  std::vector<cap::Capability> keys;           // keys[c]: unseals compartment c's entries
  std::vector<CapabilityRegisters> registers;  // registers[c]: loaded when c runs
  std::vector<cc::HybridState> hybrid;         // hybrid[c]: c's DDC and PCC for its hybrid code
};

Switcher* g_switcher = nullptr;
// The registers of the compartment running on this thread: its entry in
// g_switcher->registers, which never changes once computed, so a switch moves a pointer
// rather than copying three capabilities.
thread_local const CapabilityRegisters* t_registers = nullptr;

// The switcher's capabilities, which a revocation sweep visits as a kernel's revoker visits
// its own tables and the saved register files (docs/revocation.md): the sealing
// authority, the keys, every compartment's table of sealed entries and its registers
// (which a thread's live registers point to). None is based in a heap, so no sweep
// revokes one; they are swept all the same, so that nothing depends on it.
class SwitcherRoots final : public cap::RootSet {
 public:
  std::string_view name() const override { return "cheri switcher"; }
  void for_each(const std::function<void(cap::Capability&)>& visit) override {
    visit(g_switcher->sealing_authority);
    for (cap::Capability& key : g_switcher->keys) visit(key);
    for (auto& table : g_switcher->tables) {
      for (cap::Capability& entry : table) visit(entry);
    }
    for (CapabilityRegisters& r : g_switcher->registers) visit(r.ddc), visit(r.csp), visit(r.pcc);
  }
};

constexpr std::uint32_t kFirstObjectType = 16;

std::uint32_t object_type_of(int compartment) { return kFirstObjectType + static_cast<std::uint32_t>(compartment); }

cap::Capability derive_key(int compartment) {
  return g_switcher->sealing_authority.set_value(object_type_of(compartment)).set_bounds_exact(1);
}
const cap::Capability& key_for(int compartment) { return g_switcher->keys[static_cast<std::size_t>(compartment)]; }

// A compartment's PCC: the code of its own libraries, which the image's linker script
// gathered into one range and aligned so that one capability bounds it exactly (as a
// CHERI linker pads code for its PCC). Where the linker did not gather it (link-time
// optimization mixes every library's code), the executable's whole text.
cap::Capability code_capability(const Compartment& c) {
  const CompartmentSpec& spec = c.spec();
  if (spec.code_begin == nullptr || spec.code_end == spec.code_begin) return cc::executable_text();
  const auto begin = reinterpret_cast<std::uint64_t>(spec.code_begin);
  const auto length = static_cast<std::uint64_t>(spec.code_end - spec.code_begin);
  const cap::Capability pcc = cc::unconfined_pcc().set_value(begin).set_bounds_exact(length);
  if (!pcc.tag()) {
    throw std::logic_error("flexcap cheri backend: the code of compartment '" + std::string(spec.name) + "' (" +
                           std::to_string(length) + " bytes at 0x" + cap::to_hex(begin) +
                           ") cannot be bounded exactly by one capability: the image's flexcap_image.ld must align "
                           "it to 0x" + cap::to_hex(~cap::representable_alignment_mask(length) + 1));
  }
  return pcc;
}

// What a compartment's capability registers hold while it runs: computed once at start,
// so a switch is a copy.
CapabilityRegisters registers_for(Runtime& rt, int index) {
  Compartment& c = rt.compartment(index);
  CapabilityRegisters r;
  r.ddc = c.data_capability();
  // The stack: the top of the region, where the gate runs the compartment's code. Local:
  // a capability to the stack must not be stored where another compartment could find it.
  const std::span<std::byte> stack = c.stack();
  const auto base = stack.empty() ? c.memory().base() : reinterpret_cast<std::uint64_t>(stack.data());
  r.csp = c.data_capability()
              .set_value(base)
              .set_bounds(stack.empty() ? 0 : stack.size())
              .capability.clear_permissions(cap::Permission::Global);
  r.pcc = code_capability(c);
  r.table = index;
  return r;
}

// CUnseal of `entry` with compartment `callee`'s key, on the switcher's hot path. The
// keys are the switcher's own and were checked when it derived them (tagged, unsealed,
// Unseal permission, value within bounds: start() asserts it), so what CUnseal still
// decides per call is the entry's side: tagged, sealed (not a sentry) with the callee's
// object type. Equal to `entry.unseal(key).tag()`, without decoding the key's bounds.
bool unseals(const cap::Capability& entry, int callee) {
  return entry.tag() && entry.is_sealed() && !entry.is_sentry() && entry.object_type() == object_type_of(callee);
}

void load_registers(int index) {
  t_registers = &g_switcher->registers[static_cast<std::size_t>(index)];
  cc::install_hybrid_state(g_switcher->hybrid[static_cast<std::size_t>(index)]);
}

}  // namespace

const CapabilityRegisters& capability_registers() {
  static const CapabilityRegisters none{};  // a thread that has entered no compartment yet
  return t_registers != nullptr ? *t_registers : none;
}

cap::Capability ddc() {
  // Without the cheri backend nothing confines by capability: DDC covers everything.
  if (g_switcher == nullptr) return cap::Capability::root().restrict_permissions(cap::Permissions::data());
  return capability_registers().ddc;
}

void CheriBackend::start(Runtime& rt) {
  g_switcher = new Switcher();  // lives as long as the image
  const int n = rt.compartment_count();
  if (kFirstObjectType + static_cast<std::uint32_t>(n) > cap::kMaxObjectType) {
    throw std::runtime_error("flexcap cheri backend: more compartments than 15-bit object types");
  }
  g_switcher->sealing_authority = cap::Capability::root()
                                      .restrict_permissions(cap::Permission::Seal | cap::Permission::Unseal)
                                      .set_value(kFirstObjectType)
                                      .set_bounds(static_cast<std::uint64_t>(n))
                                      .capability;
  for (int i = 0; i < n; ++i) {
    g_switcher->keys.push_back(derive_key(i));
    const cap::Capability& key = g_switcher->keys.back();
    if (!key.tag() || key.is_sealed() || !key.permissions().has(cap::Permission::Unseal) ||
        !key.range_in_bounds(key.value(), 1)) {
      throw std::logic_error("flexcap cheri backend: an unsealing key is not valid: " + key.to_string());
    }
    g_switcher->registers.push_back(registers_for(rt, i));
    g_switcher->hybrid.push_back(cc::hybrid_state(g_switcher->registers.back().ddc, g_switcher->registers.back().pcc));
  }
  // Every compartment's code: where a direct call from hybrid code must stay inside the
  // caller's own PCC (the C library and the runtime lie outside it).
  std::uint64_t code_begin = ~std::uint64_t{0}, code_end = 0;
  for (int i = 0; i < n; ++i) {
    const CompartmentSpec& spec = rt.compartment(i).spec();
    if (spec.code_begin == nullptr || spec.code_end == spec.code_begin) continue;
    code_begin = std::min(code_begin, reinterpret_cast<std::uint64_t>(spec.code_begin));
    code_end = std::max(code_end, reinterpret_cast<std::uint64_t>(spec.code_end));
  }
  if (code_end != 0) cc::set_compartment_code(code_begin, code_end);
  // One entry descriptor per imported export, sealed with the object type of the
  // compartment that implements it. A caller's table holds the sealed entry of an
  // export only if the image has a call site from the caller to it (the imports):
  // nothing else can be invoked.
  for (const Import& import : imports()) {
    bool known = false;
    for (const Import& e : g_switcher->exports) {
      known = known || (e.callee == import.callee && e.library == import.library && e.function == import.function);
    }
    if (!known) g_switcher->exports.push_back(import);
  }
  const cap::Capability descriptors = g_switcher->descriptors.root();
  const std::size_t count = g_switcher->exports.size();
  if (count * 16 > g_switcher->descriptors.size()) throw std::runtime_error("flexcap cheri backend: too many exports");
  g_switcher->tables.assign(static_cast<std::size_t>(n), std::vector<cap::Capability>(count));
  for (const Import& import : imports()) {
    for (std::size_t e = 0; e < count; ++e) {
      const Import& x = g_switcher->exports[e];
      if (x.callee != import.callee || x.library != import.library || x.function != import.function) continue;
      g_switcher->tables[static_cast<std::size_t>(import.caller)][e] =
          descriptors.set_value(descriptors.base() + 16 * e).set_bounds_exact(16).seal(key_for(x.callee));
      g_switcher->export_of_import.push_back(e);
    }
  }
  load_registers(Runtime::current());
  rt.revoker().add_roots(*new SwitcherRoots());  // lives as long as the switcher
}

// A capability argument is handed over as it is (zero copy), if the caller could have
// made it: it must be derived from memory the caller holds — its own region (with
// `sharing: overlap`, its whole DDC), the shared region, or what its own caller handed it. Anything else is a forged or
// confused-deputy pointer.
ArgumentPolicy CheriBackend::check_argument(Runtime& rt, const GateFrame& frame, const cap::Capability& c) {
  if (!c.tag()) return ArgumentPolicy::Refuse;
  const cap::Bounds b = c.bounds();
  Compartment& caller = rt.compartment(frame.caller);
  if (caller.memory().holds(b) || rt.shared().holds(b)) return ArgumentPolicy::Pass;
  if (caller.spec().window_begin != nullptr) {  // `sharing: overlap`: its DDC also reaches its overlap regions
    const cap::Bounds window = caller.data_capability().bounds();
    if (b.valid && b.base >= window.base && b.top <= window.top) return ArgumentPolicy::Pass;
  }
  for (const GateFrame* outer = frame.outer != nullptr ? frame.outer : Runtime::innermost_frame(); outer != nullptr;
       outer = outer->outer) {
    if (outer->callee != frame.caller) continue;
    for (std::size_t i = 0; i < outer->grant_count; ++i) {
      const cap::Capability& granted = outer->grants.item[i];
      const cap::Bounds g = granted.bounds();
      const bool within = b.valid && b.base >= g.base && b.top <= g.top;
      if (within && granted.permissions().has(c.permissions())) return ArgumentPolicy::Pass;
    }
  }
  return ArgumentPolicy::Refuse;
}

void CheriBackend::switch_to(Runtime&, int, int to) {
  Runtime::set_current(to);
  load_registers(to);
}

namespace {

// The entry check for a call that is not one of the image's call sites (a test's, or a
// tool's), and the refusal: out of line, so that the hot path keeps a small frame.
[[gnu::noinline]] std::optional<GateError> invoke_by_name(Runtime& rt, const GateFrame& frame) {
  const auto& table = g_switcher->tables[static_cast<std::size_t>(frame.caller)];
  for (std::size_t e = 0; frame.import < 0 && e < g_switcher->exports.size(); ++e) {
    const Import& x = g_switcher->exports[e];
    if (x.callee != frame.callee || x.library != frame.library || x.function != frame.function) continue;
    if (unseals(table[e], frame.callee)) return std::nullopt;
  }
  return GateError{GateErrorKind::NotExported, std::string(rt.compartment(frame.callee).name()),
                   std::string(frame.library) + "." + std::string(frame.function), 0,
                   "compartment '" + std::string(rt.compartment(frame.caller).name()) +
                       "' holds no sealed entry for this export: the image has no call site to it from there"};
}

}  // namespace

// The switcher's entry check: the caller's table must hold a sealed entry for the
// callee, and it must unseal with the callee's object type.
std::optional<GateError> CheriBackend::invoke(Runtime& rt, const GateFrame& frame) {
  if (frame.import >= 0) {  // a call site of the image: its entry is one table lookup away
    const auto& table = g_switcher->tables[static_cast<std::size_t>(frame.caller)];
    const std::size_t e = g_switcher->export_of_import[static_cast<std::size_t>(frame.import)];
    if (unseals(table[e], frame.callee)) return std::nullopt;
  }
  return invoke_by_name(rt, frame);
}

}  // namespace flexcap::rt

namespace flexcap::rt {

std::optional<GateError> check_sealed_entry(const cap::Capability& entry) {
  if (g_switcher == nullptr) {
    return GateError{GateErrorKind::NotExported, "", "", 0, "this backend has no sealed entries"};
  }
  const std::uint32_t type = entry.object_type();
  const bool ours = type >= kFirstObjectType && type < kFirstObjectType + g_switcher->tables.size();
  if (ours && entry.unseal(key_for(static_cast<int>(type - kFirstObjectType))).tag()) return std::nullopt;
  return GateError{GateErrorKind::NotExported, "", "", entry.address(),
                   entry.tag() ? "the capability is not an entry the switcher sealed"
                               : "the entry is not a valid capability (forged from bytes)"};
}

}  // namespace flexcap::rt
