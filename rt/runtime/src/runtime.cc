#include "flexcap/rt/runtime.hh"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "flexcap/rt/descriptors.hh"

#include "flexcap/cc/hybrid_runtime.hh"

namespace flexcap::rt {
namespace {

// Data capabilities carry no Execute or system authority: code is not in the regions.
// Under `sharing: overlap` the DDC reaches the overlap regions beside the compartment's
// own, as one capability: the image's layout made those bounds exact.
cap::Capability data_capability_for(const CompartmentSpec& spec, cap::TaggedMemory& memory) {
  const cap::Capability own = memory.root().restrict_permissions(cap::Permissions::data());
  if (spec.window_begin == nullptr) return own;
  const auto begin = reinterpret_cast<std::uint64_t>(spec.window_begin);
  const auto length = static_cast<std::uint64_t>(spec.window_end - spec.window_begin);
  const cap::Capability window =
      cap::Capability::root().restrict_permissions(cap::Permissions::data()).set_value(begin).set_bounds_exact(length);
  if (!window.tag() || !window.range_in_bounds(memory.base(), memory.size())) {
    throw std::logic_error("flexcap: the DDC window of compartment '" + std::string(spec.name) + "' (" +
                           std::to_string(length) + " bytes at 0x" + cap::to_hex(begin) +
                           ") is not exact or does not hold its region: the image's layout is wrong");
  }
  return window;
}

std::string hex(std::uint64_t v) { return "0x" + cap::to_hex(v); }

}  // namespace

std::string_view to_string(GateErrorKind kind) {
  switch (kind) {
    case GateErrorKind::Fault: return "fault";
    case GateErrorKind::CompartmentFailed: return "compartment failed";
    case GateErrorKind::BadArgument: return "bad argument";
    case GateErrorKind::NotExported: return "not exported";
  }
  return "error";
}

std::string GateError::describe() const {
  std::string s = "gate to " + function + ": " + std::string(to_string(kind)) + " in compartment '" + compartment + "'";
  if (address != 0) s += " at " + hex(address);
  return s + ": " + cause;
}

namespace {
cap::TaggedMemory region_of(const CompartmentSpec& spec) {
  if (spec.region_begin == nullptr) return cap::TaggedMemory(spec.heap_bytes);
  return cap::TaggedMemory(std::span<std::byte>(spec.region_begin, spec.region_end));
}
}  // namespace

Compartment::Compartment(int index, const CompartmentSpec& spec)
    : index_(index), spec_(spec), memory_(region_of(spec)) {
  data_capability_ = data_capability_for(spec, memory_);
  auto* begin = reinterpret_cast<std::byte*>(memory_.base());
  if (spec.region_begin != nullptr) {
    stack_ = std::span<std::byte>(spec.region_begin, spec.stack_bytes);
    globals_ = std::span<std::byte>(spec.region_begin + spec.stack_bytes, spec.globals_end);
  } else {
    stack_ = std::span<std::byte>(begin, 0);
    globals_ = std::span<std::byte>(begin, 0);
  }
  stack_cursor_ = stack_.data() + stack_.size();
  heap_ = heap_after_globals();
}

// The heap: from the end of the globals to the end of the region.
Heap Compartment::heap_after_globals() const {
  std::byte* const begin = globals_.data() + globals_.size();
  return Heap(begin, static_cast<std::size_t>(reinterpret_cast<std::byte*>(memory_.base()) + memory_.size() - begin),
              const_cast<cap::TaggedMemory*>(&memory_));
}

void Compartment::set_revocation(cap::Revoker& revoker, RevocationPolicy policy, double quarantine_fraction) {
  revoker_ = &revoker;
  revocation_ = policy;
  quarantine_fraction_ = quarantine_fraction;
  // Swept whatever its own policy: it may keep capabilities to other heaps' blocks.
  revoker.add_memory(memory_, policy == RevocationPolicy::LoadFilter);
  heap_.set_revocation(policy == RevocationPolicy::Off ? nullptr : &revoker, quarantine_fraction);
}

void Compartment::mark_failed(const GateError& error) {
  failed_ = true;
  failure_ = error;
}

void Compartment::reset() {
  // Globals and heap start over. The stack is left as it is: frames of an outer call
  // into this compartment may still be on it (A calls B, B calls back into A, which
  // faults; B's next call restarts A while A's first frames wait below).
  std::byte* const from = globals_.data();
  const std::size_t bytes =
      static_cast<std::size_t>(reinterpret_cast<std::byte*>(memory_.base()) + memory_.size() - from);
  if (revocation_ != RevocationPolicy::Off) {
    // Its heap is reissued to the new start: no capability to the old one may survive
    // elsewhere (the region's base, the DDC's, is not painted).
    const auto heap_begin = reinterpret_cast<std::uint64_t>(globals_.data() + globals_.size());
    memory_.paint(heap_begin, memory_.base() + memory_.size() - heap_begin);
    revoker_->sweep();
  }
  cap::forget_held_in(reinterpret_cast<std::uint64_t>(from), bytes);  // wiped, not destroyed
  std::memset(from, 0, bytes);
  memory_.clear_tags(reinterpret_cast<std::uint64_t>(from), bytes);
  cc::initialize_hybrid_globals(globals_);  // the hybrid libraries' globals, as at start
  memory_.clear_shadows(reinterpret_cast<std::uint64_t>(from), bytes);
  heap_ = heap_after_globals();
  heap_.set_revocation(revocation_ == RevocationPolicy::Off ? nullptr : revoker_, quarantine_fraction_);
  std::fill(state_slots_.begin(), state_slots_.end(), nullptr);
  internal::close_descriptors_of(index_);  // its host descriptors go with it (descriptors.hh)
  failed_ = false;
  failure_ = {};
}

// The shared region is shared between processes only where compartments are processes.
// Elsewhere it is private, so that a child the application forks (Redis's BGSAVE) gets a
// copy, as of all its memory, and cannot write into its parent's transfers.
Runtime::Runtime(const ImageSpec& spec)
    : spec_(spec),
      shared_(spec.shared_bytes, spec.backend == Backend::Process ? cap::TaggedMemory::Mapping::SharedBetweenProcesses
                                                                  : cap::TaggedMemory::Mapping::Private) {
  for (std::size_t i = 0; i < spec.compartments.size(); ++i) {
    compartments_.push_back(std::make_unique<Compartment>(static_cast<int>(i), spec.compartments[i]));
  }
  shared_heap_ = Heap(reinterpret_cast<std::byte*>(shared_.base()), shared_.size(), &shared_);
  start_revocation();
}

namespace {
// The capabilities the gates hold: each active frame's grants (the memory arguments the
// callee was handed, which it may pass on). This thread's frames: the sweep runs on the
// thread that frees (docs/revocation.md says what that leaves out).
class GateFrameRoots final : public cap::RootSet {
 public:
  std::string_view name() const override { return "gate frames"; }
  void for_each(const std::function<void(cap::Capability&)>& visit) override {
    for (GateFrame* f = Runtime::innermost_frame(); f != nullptr; f = f->outer) {
      for (std::size_t i = 0; i < f->grant_count; ++i) visit(f->grants.item[i]);
    }
  }
};
}  // namespace

// Revocation is set up only where the configuration asks for it: an image without it
// sweeps nothing and pays nothing beyond the allocation-start bits.
void Runtime::start_revocation() {
  if (spec_.revocation == RevocationPolicy::Pages) {
    // Page backends: the shared heap's freed pages (the configuration allows nothing else).
    shared_heap_.set_page_revocation(spec_.quarantine_fraction);
    return;
  }
  bool any = spec_.revocation != RevocationPolicy::Off;
  for (const CompartmentSpec& c : spec_.compartments) any = any || c.revocation != RevocationPolicy::Off;
  if (!any) return;
  revoker_.add_memory(shared_, spec_.revocation == RevocationPolicy::LoadFilter);
  shared_heap_.set_revocation(spec_.revocation == RevocationPolicy::Off ? nullptr : &revoker_,
                              spec_.quarantine_fraction);
  for (auto& c : compartments_) c->set_revocation(revoker_, c->spec().revocation, c->spec().quarantine_fraction);
  gate_roots_ = std::make_unique<GateFrameRoots>();
  revoker_.add_roots(*gate_roots_);
}

namespace {
// The regions are part of the executable's data: whatever runs at exit and reads it all
// (LeakSanitizer's scan for pointers) must not meet a region a backend left
// inaccessible. Registered at start, so it runs before the sanitizer's own exit hook.
void regions_accessible_at_exit() {
  Runtime& rt = Runtime::get();
  for (int i = 0; i < rt.compartment_count(); ++i) {
    const auto bytes = rt.compartment(i).memory().unsafe_bytes();
    mprotect(bytes.data(), bytes.size(), PROT_READ | PROT_WRITE);
  }
}
}  // namespace

Runtime& Runtime::start(const ImageSpec& spec) {
  if (internal::g_runtime != nullptr) throw std::logic_error("flexcap: the image runtime was started twice");
  internal::g_runtime = new Runtime(spec);  // lives as long as the process, like the image itself
  internal::t_current = spec.default_compartment;
  std::atexit(regions_accessible_at_exit);
  return *internal::g_runtime;
}

void internal::runtime_not_started() {
  throw std::logic_error("flexcap: the image runtime is not started (call flexcap::image::start() first)");
}

namespace {
// The overlap region (`sharing: overlap`) that holds `address`: the compartment below it,
// whose window reaches up over it; -1 when none does.
int overlap_below(const std::vector<std::unique_ptr<Compartment>>& compartments, std::uint64_t address) {
  for (std::size_t i = 0; i + 1 < compartments.size(); ++i) {
    const CompartmentSpec& spec = compartments[i]->spec();
    if (spec.window_end == nullptr) continue;
    const auto from = reinterpret_cast<std::uint64_t>(spec.region_end);
    const auto to = reinterpret_cast<std::uint64_t>(spec.window_end);
    if (address >= from && address < to) return static_cast<int>(i);
  }
  return -1;
}
}  // namespace

int Runtime::owner_of(std::uint64_t address, std::uint64_t size) const {
  if (shared_.contains(address, size)) return -2;
  for (const auto& c : compartments_) {
    if (c->owns(address, size)) return c->index();
  }
  if (overlap_below(compartments_, address) >= 0) return -3;
  return -1;
}

std::string Runtime::describe_owner(std::uint64_t address) const {
  const int owner = owner_of(address);
  if (owner == -2) {
    if (shared_heap_.page_revocation() && shared_.painted(address)) {
      return "the shared region, in a block freed and not yet reused (revocation: pages): a use after free";
    }
    return "the shared region";
  }
  if (owner == -3) {
    const auto below = static_cast<std::size_t>(overlap_below(compartments_, address));
    return "the overlap region of compartments '" + std::string(compartments_[below]->name()) + "' and '" +
           std::string(compartments_[below + 1]->name()) + "'";
  }
  if (owner == -1) return "memory outside every compartment";
  return "compartment '" + std::string(compartments_[static_cast<std::size_t>(owner)]->name()) + "''s private memory";
}

void Runtime::restart(int index) { compartment(index).reset(); }

void check(const Expected<void, cap::CapabilityFault>& result) {
  if (!result) throw CompartmentFault{result.error().address, result.error().describe()};
}

namespace {

// A block laid out as a CHERI allocator lays it out: its length padded to a
// representable one and its address aligned for that length, so that the capability
// derived from `authority` is exact. Without this, the bounds of a large block would
// round outwards over its neighbour or the heap's own headers.
std::optional<cap::Cap<std::byte>> bounded_block(Heap& heap, const cap::Capability& authority,
                                                 cap::TaggedMemory& memory, std::size_t bytes) {
  const std::uint64_t length = cap::representable_length(bytes);
  const std::uint64_t alignment = ~cap::representable_alignment_mask(bytes) + 1;  // 0 when any will do
  void* p = heap.allocate(length, std::max<std::uint64_t>(alignment, 16));
  if (p == nullptr) return std::nullopt;
  const auto address = reinterpret_cast<std::uint64_t>(p);
  return cap::Cap<std::byte>(authority.set_value(address).set_bounds_exact(length), &memory);
}

}  // namespace

cap::Cap<std::byte> shared_alloc(std::size_t bytes) {
  Runtime& rt = Runtime::get();
  const cap::Capability whole = rt.shared().root().restrict_permissions(cap::Permissions::data());
  auto block = bounded_block(rt.shared_heap(), whole, rt.shared(), bytes);
  if (!block) throw CompartmentFault{0, "the shared region is exhausted (" + std::to_string(bytes) + " bytes asked)"};
  return *block;
}

void shared_free(const cap::Cap<std::byte>& block) {
  if (auto refused = Runtime::get().shared_heap().free_capability(block.capability())) {
    throw CompartmentFault{block.capability().address(), *refused};
  }
}

cap::SweepStats revoke() {
  Runtime& rt = Runtime::get();
  rt.shared_heap().end_page_epoch();  // revocation: pages (a no-op otherwise)
  std::vector<Heap*> heaps;
  if (rt.shared_heap().revocable()) heaps.push_back(&rt.shared_heap());
  for (int i = 0; i < rt.compartment_count(); ++i) {
    if (rt.compartment(i).heap().revocable()) heaps.push_back(&rt.compartment(i).heap());
  }
  if (heaps.empty()) return {};
  const cap::SweepStats stats = rt.revoker().sweep();
  for (Heap* heap : heaps) heap->reuse_cleared();
  return stats;
}

cap::Cap<std::byte> private_alloc(std::size_t bytes) {
  Compartment& c = Runtime::get().compartment(Runtime::current());
  auto block = bounded_block(c.heap(), c.data_capability(), c.memory(), bytes);
  if (!block) {
    throw CompartmentFault{0, "the heap of compartment '" + std::string(c.name()) + "' is exhausted (" +
                                  std::to_string(bytes) + " bytes asked): raise its heap: in the configuration"};
  }
  return *block;
}

int library_slot(std::string_view library) {
  const auto& libraries = Runtime::get().spec().libraries;
  for (std::size_t i = 0; i < libraries.size(); ++i) {
    if (libraries[i].name == library) return static_cast<int>(i);
  }
  throw std::logic_error("flexcap: library '" + std::string(library) + "' is not part of this image");
}

namespace {
struct StateKey {
  std::string_view library;
  int home;  // the compartment that runs the library
};
std::vector<StateKey>& state_keys() {
  static std::vector<StateKey> keys;
  return keys;
}
}  // namespace

int internal::register_state(std::string_view library) {
  Runtime& rt = Runtime::get();
  const int home = rt.spec().libraries[static_cast<std::size_t>(library_slot(library))].compartment;
  state_keys().push_back({library, home});
  const std::size_t count = state_keys().size();
  for (int i = 0; i < rt.compartment_count(); ++i) rt.compartment(i).state_slots().resize(count, nullptr);
  return static_cast<int>(count - 1);
}

void*& internal::state_slot(int key) {
  const int home = state_keys()[static_cast<std::size_t>(key)].home;
  return Runtime::get().compartment(home).state_slots()[static_cast<std::size_t>(key)];
}

void* internal::create_state(int key, std::size_t bytes, void (*construct)(void*)) {
  const StateKey& k = state_keys()[static_cast<std::size_t>(key)];
  void*& p = state_slot(key);
  p = Runtime::get().compartment(k.home).heap().allocate(bytes);
  if (p == nullptr) throw CompartmentFault{0, "no room for the state of library '" + std::string(k.library) + "'"};
  construct(p);
  return p;
}

}  // namespace flexcap::rt
