// flexcap/rt/runtime.hh — the compartments of a running image and their memory.
//
// The runtime is the image's kernel: it owns one memory region per compartment (its
// heap, where the state of its libraries lives), the shared region that buffers cross
// gates in, and the record of which compartment is running. Backends (backends.hh)
// switch between compartments; rt::call (call.hh) decides when they must.
//
// Library code reaches its own state and memory through the runtime:
//
//   struct Files { ... };                                  // a library's state
//   Files& files = rt::library_state<Library, Files>();    // placed in its compartment's heap
//   cap::Cap<std::byte> buffer = rt::shared_alloc(4096);   // memory any compartment may be handed
//   rt::check(buffer.store(0, std::byte{1}));              // a refused access faults the compartment
#pragma once

#include <setjmp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flexcap/cap/cap.hh"
#include "flexcap/cap/revocation.hh"
#include "flexcap/rt/config.hh"
#include "flexcap/rt/gate_error.hh"
#include "flexcap/support/expected.hh"

namespace flexcap::rt {

// What the build knows of a compartment (generated from the configuration).
struct CompartmentSpec {
  std::string_view name;
  std::uint64_t heap_bytes;
  Sharing sharing;
  RestartPolicy restart;
  // The region the linker placed for it (the image's flexcap_image.ld), one range its
  // DDC bounds exactly: its stack (the first stack_bytes), then, up to globals_end, the
  // globals of its hybrid libraries, then its heap. Null when a runtime is started by
  // hand (a test): it then maps a region of heap_bytes, with no globals and no stack.
  std::byte* region_begin = nullptr;
  std::byte* globals_end = nullptr;
  std::byte* region_end = nullptr;
  std::uint64_t stack_bytes = 0;
  // With `sharing: overlap`, what its DDC bounds: the region plus the overlap regions it
  // shares with its neighbours, [window_begin, window_end) ⊇ the region. Null otherwise:
  // the DDC is the region.
  std::byte* window_begin = nullptr;
  std::byte* window_end = nullptr;
  // The code of its libraries, gathered by the linker into one range (flexcap_image.ld):
  // what its PCC bounds under cheri, so that its hybrid code's indirect calls stay in
  // its own code, as on Morello. Null when the linker could not gather it (an image
  // built with link-time optimization, a runtime started by hand): the PCC is then the
  // executable's whole text.
  std::byte* code_begin = nullptr;
  std::byte* code_end = nullptr;
  // `revocation:` (docs/revocation.md): what its heap's frees do, and whether capabilities
  // loaded from its memory pass the load filter.
  RevocationPolicy revocation = RevocationPolicy::Off;
  double quarantine_fraction = kDefaultQuarantineFraction;
};

// Which compartment each micro-library of the image was placed in.
struct LibrarySpec {
  std::string_view name;
  int compartment;
};

struct ImageSpec {
  std::string_view config_path;
  Backend backend;
  std::span<const CompartmentSpec> compartments;
  std::span<const LibrarySpec> libraries;
  int default_compartment;
  std::uint64_t shared_bytes = 16ull << 20;
  // The top-level `revocation:`: the shared region's heap and its load filter.
  RevocationPolicy revocation = RevocationPolicy::Off;
  double quarantine_fraction = kDefaultQuarantineFraction;
};

// A first-fit free-list allocator over a compartment's region. All its bookkeeping lives
// inside the region, so it is protected like the rest of the compartment's memory, and
// shared where the region is shared. Given the region's tagged memory, it also keeps the
// allocation starts beside the tags (where nothing can forge them), so that a free of
// anything but a live block's start is refused, and clears the tags of what is freed.
//
// With revocation (docs/revocation.md) a freed block is not reused at once: it is painted
// in the memory's revocation shadow and waits in quarantine. When the quarantine holds
// `quarantine_fraction` of the bytes in use (at least 64 KiB), or an allocation finds no
// room, the revoker sweeps, and every block freed before the sweep began returns to the
// free lists.
class Heap {
 public:
  Heap() = default;
  Heap(std::byte* begin, std::size_t bytes, cap::TaggedMemory* memory = nullptr);
  void set_revocation(cap::Revoker* revoker, double quarantine_fraction);
  // Aligned to `alignment` (a power of two; at least 16, the capability granule);
  // nullptr when the heap has no such block.
  void* allocate(std::size_t bytes, std::size_t alignment = 16);
  void free(void* p);
  // The free of a capability to a block allocate() returned (`bytes` long): refused, with
  // the reason and nothing freed, unless it is tagged, unsealed, not revoked, and bounds
  // exactly a live block. Needs the tagged memory.
  std::optional<std::string> free_capability(const cap::Capability& block);
  // A sweep now, and every block in quarantine that it clears back in the free lists.
  void revoke_now();
  // Only the second half: what sweeps so far have cleared (after the revoker swept).
  void reuse_cleared();
  bool revocable() const { return revoker_ != nullptr; }
  std::size_t bytes_in_use() const;  // quarantined blocks count as in use
  std::size_t quarantined_bytes() const;
  std::uint64_t sweeps() const { return sweeps_; }
  // Page backends (`revocation: pages`, docs/revocation.md): a freed block's whole pages
  // are mapped inaccessible, to every compartment at once, until its quarantine fills and
  // an epoch ends; then they are mapped again and reused. Blocks of a page or more are
  // page-aligned and padded to whole pages; a smaller block is reused at once.
  void set_page_revocation(double quarantine_fraction);
  bool page_revocation() const { return page_revocation_; }
  void end_page_epoch();  // maps the quarantined pages again and reuses them
  std::uint64_t page_epochs() const;
  // Processes that share the region (the process backend) each have page tables of their
  // own: a free or an epoch in one is logged in the region, and each applies what the
  // others logged when a gate crossing reaches it, before compartment code runs there.
  void catch_up_page_protections();
  // The usable size of a block allocate() returned (at least what was asked).
  static std::size_t size_of(const void* p);

 private:
  struct Block;
  class Lock;
  Block*& head() const;
  Block*& quick(std::size_t size) const;
  struct LargeList;
  LargeList* large_lists() const;  // kLargeSizes of them, in the region
  Block** large(std::size_t size, bool claim) const;
  Block*& quarantine() const;
  std::uint64_t& quarantine_bytes() const;
  void* allocate_from_list(std::size_t need, std::size_t alignment, std::size_t requested);
  void release_to_list(Block* b);
  void release(Block* b);      // to its quick list or the address-ordered list
  void free_locked(Block* b);  // the lock held
  void revoke_locked();        // the lock held
  void reuse_cleared_locked();
  void end_page_epoch_locked();
  struct PageLog;
  PageLog* page_log() const;  // in the region: null without page revocation
  void log_page_change(std::uint64_t first, std::uint64_t last);
  void catch_up_locked();
  std::byte* begin_ = nullptr;
  std::size_t size_ = 0;
  cap::TaggedMemory* memory_ = nullptr;
  cap::Revoker* revoker_ = nullptr;
  double quarantine_fraction_ = 0;  // of the bytes in use, as CheriBSD's allocator counts it
  std::uint64_t sweeps_ = 0;  // started by this heap (this process's view)
  bool page_revocation_ = false;
  std::uint64_t page_changes_applied_ = 0;  // how much of the page log this process's page tables show
};

class Compartment {
 public:
  Compartment(int index, const CompartmentSpec& spec);
  int index() const { return index_; }
  std::string_view name() const { return spec_.name; }
  const CompartmentSpec& spec() const { return spec_; }
  cap::TaggedMemory& memory() { return memory_; }
  Heap& heap() { return heap_; }
  // The capability to all of the compartment's memory: its DDC on the cheri backend. With
  // `sharing: overlap` it also reaches the overlap regions shared with its neighbours.
  cap::Capability data_capability() const { return data_capability_; }
  // The bottom of its region, where the code that runs in it keeps its frames (empty for
  // a region mapped by hand).
  std::span<std::byte> stack() const { return stack_; }
  // Where the next entry into the compartment starts its frames: the top of its stack,
  // or, while it has called out through a gate, just below the frames it left there.
  std::byte* stack_cursor() const { return stack_cursor_; }
  void set_stack_cursor(std::byte* cursor) { stack_cursor_ = cursor; }

  bool failed() const { return failed_; }
  const GateError& failure() const { return failure_; }
  void mark_failed(const GateError& error);
  // Forgets every library state and clears the memory: the compartment starts over.
  void reset();

  // Quarantine and revocation for its heap, and the load filter for its memory (set by
  // the runtime from the configuration; kept across restarts).
  void set_revocation(cap::Revoker& revoker, RevocationPolicy policy, double quarantine_fraction);
  RevocationPolicy revocation() const { return revocation_; }

  std::vector<void*>& state_slots() { return state_slots_; }
  bool owns(std::uint64_t address, std::uint64_t size) const { return memory_.contains(address, size); }

 private:
  int index_;
  CompartmentSpec spec_;
  cap::TaggedMemory memory_;
  Heap heap_after_globals() const;

  cap::Capability data_capability_;
  std::span<std::byte> globals_;
  std::span<std::byte> stack_;
  std::byte* stack_cursor_ = nullptr;
  Heap heap_;
  cap::Revoker* revoker_ = nullptr;
  RevocationPolicy revocation_ = RevocationPolicy::Off;
  double quarantine_fraction_ = kDefaultQuarantineFraction;
  bool failed_ = false;
  GateError failure_;
  std::vector<void*> state_slots_;
};

// One active cross-compartment call (innermost last). A fault in the callee returns
// here: by exception (capability faults) or by longjmp from the signal handler (page
// faults).
struct GateFrame {
  static constexpr std::size_t kMaxGrants = 8;  // memory arguments of one export, at most

  int caller = 0;
  int callee = 0;
  int import = -1;  // the call site's index in imports(), -1 for a call that is not one
  std::string_view library;
  std::string_view function;
  GateFrame* outer = nullptr;  // the enclosing gate on this thread
  // The memory arguments handed to the callee: an inline array (no allocation per call)
  // of which only the first grant_count are written and read. Left uninitialised on
  // purpose: zeroing it cost more than the rest of an fcall gate.
  union Grants {
    Grants() {}
    cap::Capability item[kMaxGrants];
  } grants;
  std::size_t grant_count = 0;
  bool faulted = false;
  GateError error;
  // Set by the signal handler before it jumps back to `recovery`.
  int fault_signal = 0;
  std::uint64_t fault_address = 0;
  sigjmp_buf recovery;
};

class Runtime;

namespace internal {
// The runtime's per-process and per-thread state, inline so that a gate reaches it
// without a function call (every cross-compartment call reads and writes these).
inline Runtime* g_runtime = nullptr;  // the image's runtime: one per process, like a kernel
inline thread_local int t_current = 0;
inline thread_local GateFrame* t_innermost = nullptr;
// Cross-compartment calls made by the image. A counter of this process, unless a
// backend runs compartments in several processes: it then points it at a word they
// all share (one thread of control at a time, so plain increments suffice).
inline std::uint64_t g_own_gate_crossings = 0;
inline std::uint64_t* g_gate_crossings = &g_own_gate_crossings;
[[noreturn]] void runtime_not_started();
}  // namespace internal

class Runtime {
 public:
  // Starts the image described by `spec`: maps every compartment's region and the
  // shared region. Called once, by the generated image start-up (image.hh).
  static Runtime& start(const ImageSpec& spec);
  static Runtime& get() {
    if (internal::g_runtime == nullptr) [[unlikely]]
      internal::runtime_not_started();
    return *internal::g_runtime;
  }
  static bool started() { return internal::g_runtime != nullptr; }

  const ImageSpec& spec() const { return spec_; }
  int compartment_count() const { return static_cast<int>(compartments_.size()); }
  Compartment& compartment(int index) { return *compartments_[static_cast<std::size_t>(index)]; }
  cap::TaggedMemory& shared() { return shared_; }
  Heap& shared_heap() { return shared_heap_; }
  // Revokes capabilities to freed memory in every region and in the runtime's roots
  // (docs/revocation.md). Sweeps only where some heap has revocation.
  cap::Revoker& revoker() { return revoker_; }
  // Which compartment owns [address, address + size): its index, -2 for the shared
  // region, -3 for an overlap region of two neighbours (`sharing: overlap`), -1 for
  // memory outside every region.
  int owner_of(std::uint64_t address, std::uint64_t size = 1) const;
  std::string describe_owner(std::uint64_t address) const;

  // The compartment running on this thread.
  static int current() { return internal::t_current; }
  static void set_current(int index) { internal::t_current = index; }
  // The innermost gate frame on this thread (nullptr outside any gate); frames link
  // outwards through GateFrame::outer.
  static GateFrame* innermost_frame() { return internal::t_innermost; }
  static void push_frame(GateFrame& frame) {
    frame.outer = internal::t_innermost;
    internal::t_innermost = &frame;
  }
  static void pop_frame(GateFrame& frame) { internal::t_innermost = frame.outer; }

  // Restores a failed compartment with restart policy on-fault.
  void restart(int index);

 private:
  explicit Runtime(const ImageSpec& spec);
  void start_revocation();
  ImageSpec spec_;
  cap::Revoker revoker_;  // before the regions it sweeps, so that it outlives them
  std::unique_ptr<cap::RootSet> gate_roots_;
  std::vector<std::unique_ptr<Compartment>> compartments_;
  cap::TaggedMemory shared_;
  Heap shared_heap_;
};

// Prints the audit report of the image (`flexcap audit`): JSON with the backend and,
// per compartment, its libraries, exports (what other compartments call in it),
// imports (what it calls elsewhere) and shared regions.
void print_audit(const ImageSpec& spec, std::ostream& out);

// Raised by library code when an access is refused; the gate into the compartment
// turns it into a GateError for the caller and marks the compartment failed.
struct CompartmentFault {
  std::uint64_t address = 0;
  std::string cause;
};

// Returns the value, or faults the running compartment with the capability fault.
template <class T>
T check(Expected<T, cap::CapabilityFault> result) {
  if (!result) throw CompartmentFault{result.error().address, result.error().describe()};
  return std::move(*result);
}
void check(const Expected<void, cap::CapabilityFault>& result);

// How many cross-compartment calls the image has made, in all its processes (what
// benchmarks report as gate crossings).
inline std::uint64_t gate_crossings() { return *internal::g_gate_crossings; }

// Memory in the shared region: any compartment may be handed it. As from a CHERI
// allocator, the reference is exact: `bytes` long when that length is representable,
// otherwise padded to the next representable length (RRLEN) at an address aligned for
// it (RRMASK), so that no capability to a block ever reaches beyond the block.
cap::Cap<std::byte> shared_alloc(std::size_t bytes);
// Frees a block shared_alloc() returned. Refused (the running compartment faults, with the
// cause, and nothing is freed) for a capability that is untagged, sealed or revoked, that
// does not start at a live block (an interior pointer, a double free) or whose bounds were
// shrunk: a free takes back exactly what the allocator handed out. With revocation the
// block waits in quarantine until a sweep has revoked every capability to it.
void shared_free(const cap::Cap<std::byte>& block);

// Runs a revocation now: a sweep of every region and root, after which every heap's
// quarantine is reused (CheriBSD's forced revocation; flexcap attack and tests use it to
// see freed memory reissued). Does nothing where no heap has revocation.
cap::SweepStats revoke();

// The running compartment's own memory, as a capability-checked reference to `bytes`
// fresh bytes of its heap (bounded as shared_alloc's are). Faults the compartment when
// the heap is exhausted.
cap::Cap<std::byte> private_alloc(std::size_t bytes);

// The index of `library` in the image (generated table).
int library_slot(std::string_view library);

namespace internal {
// Library state is kept per (library, state type) pair, so that code built into a
// library (such as SQLite's VFS adaptor in whichever library hosts it) can keep state
// of its own beside the library's. A pair gets its number on first use.
int register_state(std::string_view library);
// Where state `key` lives: a slot in its library's compartment.
void*& state_slot(int key);
// Creates the state in that compartment's heap (first use, or after a restart).
void* create_state(int key, std::size_t bytes, void (*construct)(void*));
}  // namespace internal

// The `State` object of library `Lib`, created on first use in the heap of the
// compartment that runs the library, and forgotten when that compartment restarts.
// Libraries reach their state on every export call: the slot is looked up once.
template <class Lib, class State>
State& library_state() {
  static const int key = internal::register_state(Lib::name);
  void* p = internal::state_slot(key);
  if (p == nullptr) [[unlikely]]
    p = internal::create_state(key, sizeof(State), [](void* at) { new (at) State(); });
  return *static_cast<State*>(p);
}

}  // namespace flexcap::rt
