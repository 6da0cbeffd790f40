// flexcap/cc/hybrid_runtime.hh — the capability registers that hybrid code runs under.
//
// Code compiled with `flexcap cc --abi hybrid` checks every access against the running
// compartment's DDC and every indirect call against its PCC (hybrid_abi.h). The cheri
// switcher installs them when it enters a compartment; no other code may:
//
//   static const cc::HybridState state = cc::hybrid_state(ddc, pcc);  // once per compartment
//   cc::install_hybrid_state(state);                                  // the switcher, on entry
//
// Until a switcher installs others, DDC and PCC cover everything: on backends without
// capabilities, hybrid code is confined only by what the backend itself enforces.
//
// This library is never instrumented: it is what the instrumented code calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "flexcap/cap/capability.hh"
#include "flexcap/cc/hybrid_abi.h"

namespace flexcap::cc {

// A compartment's DDC and PCC with their windows for the in-line checks, computed once
// (when the switcher starts), so that entering the compartment is a copy.
struct HybridState {
  cap::Capability ddc;
  cap::Capability pcc;
  flexcap_hybrid_window load, store, execute;
  std::uint64_t fast_base, fast_limit;  // the fast window of loads and stores (hybrid_abi.h)
};
HybridState hybrid_state(const cap::Capability& ddc, const cap::Capability& pcc);

// Installs a compartment's state for the code that runs next on this thread. `state`
// must outlive its use (the switcher keeps one per compartment for the image's life).
void install_hybrid_state(const HybridState& state);

// The state installed now on this thread; nullptr while unconfined.
const HybridState* installed_hybrid_state();

// The capabilities installed now on this thread.
cap::Capability hybrid_ddc();
cap::Capability hybrid_pcc();

// Every compartment's code, [begin, end) (flexcap_hybrid_compartment_code): the cheri
// switcher publishes it once, at start, so that a direct call from one compartment's
// hybrid code into another's code faults, as the fetch would on Morello.
void set_compartment_code(std::uint64_t begin, std::uint64_t end);

// Back to unconfined (what a thread starts with).
void uninstall_hybrid_state();

// What DDC and PCC are before any switcher installs others: all of memory, data
// permissions only (DDC); all of memory, execute only (PCC).
cap::Capability unconfined_ddc();
cap::Capability unconfined_pcc();

// The image's own code, as the executable's text segment: the PCC the cheri switcher
// gives a compartment (a target outside it — the heap, a stack, a library mapped
// elsewhere — is not code the compartment may branch to).
cap::Capability executable_text();

// Gives every hybrid global inside `region` its initial value again (a compartment's
// restart: the region was cleared).
void initialize_hybrid_globals(std::span<std::byte> region);

// Checks, as the pass checks hybrid code's accesses, that the running compartment's DDC
// allows `access` to [p, p + bytes), and raises the capability fault if not. For
// trusted glue that touches memory on hybrid code's behalf: the C library's wrappers,
// and adaptors such as SQLite's VFS, which copy from and into SQLite's buffers.
void check_range(const void* p, std::size_t bytes, flexcap_hybrid_access access);

// How many checks the code compiled to count them (--count-checks) made on this thread.
std::uint64_t hybrid_checks_made();

}  // namespace flexcap::cc
