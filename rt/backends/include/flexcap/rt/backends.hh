// flexcap/rt/backends.hh — the mechanisms that isolate compartments.
//
// A backend is a type with static hooks that the gate (call.hh) calls around every
// cross-compartment call; the image's generated header picks one. Each says what it
// enforces:
//
//   FcallBackend     nothing: a plain call (the baseline, and for debugging)
//   MprotectBackend  page protections: only the running compartment's region and the
//                    shared region are mapped accessible; a stray access is a page
//                    fault, which the gate turns into an error
//   CheriBackend     the capability model: each compartment holds capabilities only to
//                    its own region, the shared region and what it was handed; entries
//                    are sealed and the switcher unseals them; DDC, stack and
//                    capability table are switched on every call
//
// The hooks:
//   start(rt)                       once, after the runtime mapped the regions
//   check_argument(rt, frame, cap)  may this capability be handed from caller to callee?
//   switch_to(rt, from, to)         make `to` the running compartment
//   invoke(rt, frame)               the entry check (cheri: unseal the callee's entry)
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "flexcap/cap/capability.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {

// What an argument check decided.
enum class ArgumentPolicy { Pass, Bounce, Refuse };

struct FcallBackend {
  static constexpr Backend kKind = Backend::Fcall;
  static constexpr bool kInProcess = true;
  static constexpr bool kCatchesPageFaults = false;
  static constexpr bool kSwitchesStacks = false;
  static void start(Runtime&) {}
  static ArgumentPolicy check_argument(Runtime&, const GateFrame&, const cap::Capability&) {
    return ArgumentPolicy::Pass;
  }
  static void switch_to(Runtime&, int, int to) { Runtime::set_current(to); }
  static std::optional<GateError> invoke(Runtime&, const GateFrame&) { return std::nullopt; }
};

// Page-protection isolation (FlexCap's real isolation on any Linux machine). Costs one
// mprotect system call per region switched, twice per call.
struct MprotectBackend {
  static constexpr Backend kKind = Backend::Mprotect;
  static constexpr bool kInProcess = true;
  static constexpr bool kCatchesPageFaults = true;
  static constexpr bool kSwitchesStacks = false;
  static void start(Runtime& rt);
  static ArgumentPolicy check_argument(Runtime& rt, const GateFrame& frame, const cap::Capability& c);
  static void switch_to(Runtime& rt, int from, int to);
  static std::optional<GateError> invoke(Runtime&, const GateFrame&) { return std::nullopt; }
};

// The capability backend on the Morello model.
// The callee runs on its own stack, at the top of its region, inside its DDC: hybrid
// code's stack accesses then pass the DDC check, as on Morello.
struct CheriBackend {
  static constexpr Backend kKind = Backend::Cheri;
  static constexpr bool kInProcess = true;
  static constexpr bool kCatchesPageFaults = false;
  static constexpr bool kSwitchesStacks = true;
  static void start(Runtime& rt);
  static ArgumentPolicy check_argument(Runtime& rt, const GateFrame& frame, const cap::Capability& c);
  static void switch_to(Runtime& rt, int from, int to);
  static std::optional<GateError> invoke(Runtime& rt, const GateFrame& frame);
};

// Linux protection keys: one key per compartment (at most 15), PKRU switched by one
// WRPKRU instruction per direction. Needs a CPU with PKU (backend_support says why not).
struct IntelPkuBackend {
  static constexpr Backend kKind = Backend::IntelPku;
  static constexpr bool kInProcess = true;
  static constexpr bool kCatchesPageFaults = true;
  static constexpr bool kSwitchesStacks = false;
  static void start(Runtime& rt);
  static ArgumentPolicy check_argument(Runtime& rt, const GateFrame& frame, const cap::Capability& c) {
    return MprotectBackend::check_argument(rt, frame, c);  // the same rule: only shared memory crosses
  }
  static void switch_to(Runtime& rt, int from, int to);
  static std::optional<GateError> invoke(Runtime&, const GateFrame&) { return std::nullopt; }
};

// One process per compartment, forked from the image at start; the shared region is
// mapped at the same address in all of them. A call is a message in the callee's
// mailbox in shared memory (spin briefly, then futex); a crash of the callee's process
// is noticed and reported. FlexOS's EPT backend in spirit.
struct ProcessBackend {
  static constexpr Backend kKind = Backend::Process;
  static constexpr bool kInProcess = false;
  static constexpr bool kCatchesPageFaults = true;
  static constexpr bool kSwitchesStacks = false;
  static void start(Runtime& rt);
  static ArgumentPolicy check_argument(Runtime& rt, const GateFrame& frame, const cap::Capability& c) {
    return MprotectBackend::check_argument(rt, frame, c);  // the same rule: only shared memory crosses
  }
  static std::optional<GateError> invoke(Runtime&, const GateFrame&) { return std::nullopt; }
  static void remote_call(Runtime& rt, GateFrame& frame, std::uint32_t entry, const std::byte* in, std::size_t in_bytes,
                          std::byte* out);
};

// The capability registers of the running compartment on the cheri backend.
struct CapabilityRegisters {
  cap::Capability ddc;  // default data capability: the compartment's own region
  cap::Capability csp;  // stack capability: the compartment's stack area
  cap::Capability pcc;  // program counter capability: the code it may branch to (the image's text)
  int table = 0;        // which compartment's capability table (sealed imports) is live
};
const CapabilityRegisters& capability_registers();

// The cheri switcher's entry check on a capability a compartment presents as a sealed
// entry: nothing (accepted) if it is a genuine, tagged entry the switcher sealed, else
// why not. On other backends there are no sealed entries: returns an error saying so.
std::optional<GateError> check_sealed_entry(const cap::Capability& entry);

// The running compartment's default data capability: all the memory it may reach on
// its own. Library code derives its references from it.
cap::Capability ddc();

// Installs the handler that turns SIGSEGV/SIGBUS/SIGFPE/SIGILL inside a gate into an
// error for the gate's caller (backends whose kCatchesPageFaults is true).
void install_fault_handler();
// A descriptor handed to another compartment: `fd` (this process's) to compartment
// `to`, which takes its own descriptor for the same open file with receive_descriptor()
// during the gate call that follows (Redis's pipes, watched by the net library's epoll).
// Where compartments share a process the receiver gets a duplicate; on the process
// backend the descriptor crosses a Unix socket (SCM_RIGHTS). false / -1, errno set, when
// it cannot.
bool send_descriptor(int to, int fd);
int receive_descriptor();
// A backend's say on a SIGSEGV before it becomes a fault: true when the faulting thread
// may retry the access (the backend waited until it became possible). mprotect installs
// one: another thread of the faulting thread's compartment runs elsewhere.
using RetryHook = bool (*)(std::uint64_t address);
void set_fault_retry_hook(RetryHook hook);
// An application's sigaction() for SIGSEGV, SIGBUS, SIGFPE or SIGILL, where FlexCap's
// fault handler is installed: the action is kept (and the previous one returned), and
// FlexCap's handler runs it for the faults outside every gate, so that the gates still
// contain theirs. False (nothing done) for other signals, or where FlexCap has no handler.
bool application_sigaction(int signal, const struct sigaction* action, struct sigaction* previous);

// Called at static initialisation for every cross-compartment call site: the set of
// imports. The cheri backend grants sealed entries for exactly these; audit prints them.
struct Import {
  int caller;
  int callee;
  std::string_view library;
  std::string_view function;
};
// Returns the import's index in imports() (the same call site registers once).
int register_import(const Import& import);
const std::vector<Import>& imports();

}  // namespace flexcap::rt
