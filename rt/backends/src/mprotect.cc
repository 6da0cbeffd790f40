#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/kernel_wait.hh"
#include "flexcap/rt/signal_entry.hh"

namespace flexcap::rt {
namespace {

void protect(Compartment& c, int protection) {
  auto bytes = c.memory().unsafe_bytes();
  if (mprotect(bytes.data(), bytes.size(), protection) != 0) {
    // Only an invalid mapping can make this fail: a bug in the runtime, not the image.
    throw std::runtime_error("flexcap mprotect backend: mprotect failed: " + std::string(std::strerror(errno)));
  }
}

// Page protections belong to the process, not to a thread: while one thread runs in a
// compartment, only that compartment's region is mapped, for every thread. A compartment
// with threads of its own (Redis's background threads) must then wait while another
// thread is elsewhere: the fault of such a thread on its own compartment's region is not
// an attack but a wait, until the region is mapped again (the futex below); then the
// access is retried. A thread never reaches another compartment's region this way.
std::atomic<int> g_mapped{0};              // the compartment whose region is mapped now; -1 while switching
std::atomic<std::uint64_t> g_switches{0};  // switches completed
std::atomic<int> g_waiting{0};             // threads waiting for their region
std::atomic<pid_t> g_switcher{0};          // the thread that made the last switch: the mapping follows it
// The signals that thread blocked then, outside the switch (which blocks them all for a
// moment): signals 1 to 64, bit n-1 for signal n, as the kernel lays out a sigset_t.
std::atomic<std::uint64_t> g_switcher_blocks{0};
static_assert(NSIG - 1 <= 64, "g_switcher_blocks holds every signal");
// A signal passed on (pass_to_switching_thread): the kernel lets a thread queue SI_USER
// (kill's) only to itself, so it travels as SI_QUEUE pointing at its slot here, where the
// original waits (one per signal: a standard one sent again while it waits would be
// merged with it anyway).
siginfo_t g_passed[NSIG];
std::atomic<bool> g_passed_full[NSIG];

long futex(std::atomic<int>* word, int op, int value) {
  return syscall(SYS_futex, reinterpret_cast<int*>(word), op, value, nullptr, nullptr, 0);
}

// Sleeps until `compartment`'s region is the one mapped (a switch wakes the waiters).
void wait_until_mapped(int compartment) {
  g_waiting.fetch_add(1, std::memory_order_acq_rel);
  for (int mapped = g_mapped.load(std::memory_order_acquire); mapped != compartment;
       mapped = g_mapped.load(std::memory_order_acquire)) {
    futex(&g_mapped, FUTEX_WAIT_PRIVATE, mapped);
  }
  g_waiting.fetch_sub(1, std::memory_order_acq_rel);
}

bool wait_for_own_region(std::uint64_t address) {
  if (!Runtime::started()) return false;
  const int mine = Runtime::current();
  const cap::TaggedMemory& region = Runtime::get().compartment(mine).memory();
  if (address < region.base() || address - region.base() >= region.size()) return false;
  // Mapped now: it was not at the fault, and the retry will pass. The same access
  // faulting again with no switch in between was made while the region was mapped all
  // along: a fault of its own.
  thread_local std::uint64_t retried_address = 0;
  thread_local std::uint64_t retried_at = 0;
  if (g_mapped.load(std::memory_order_acquire) == mine) {
    const std::uint64_t switches = g_switches.load(std::memory_order_acquire);
    if (retried_address == address && retried_at == switches) {
      retried_address = 0;
      return false;
    }
    retried_address = address;
    retried_at = switches;
    return true;
  }
  retried_address = 0;
  wait_until_mapped(mine);
  return true;
}

// This thread as the one the mapping follows, with the signals it blocks (`mask`; null:
// its mask now).
void record_switcher(const sigset_t* mask = nullptr) {
  sigset_t now;
  if (mask == nullptr) {
    pthread_sigmask(SIG_BLOCK, nullptr, &now);
    mask = &now;
  }
  std::uint64_t blocked = 0;
  std::memcpy(&blocked, mask, sizeof(blocked));
  g_switcher_blocks.store(blocked, std::memory_order_relaxed);
  g_switcher.store(gettid(), std::memory_order_relaxed);
}

// A switch a gate makes records who made it (the thread the mapping follows) and what it
// blocks; a signal handler's switch does not (it is the handler's, not the program's).
void switch_mapping(Runtime& rt, int from, int to, bool by_gate) {
  if (from == to) return;
  // A signal handler switches too (run_signal_handler_in): none may run half-way through.
  // (The faults are left open: a switch makes none, and a blocked one would kill.)
  sigset_t asynchronous, before;
  sigfillset(&asynchronous);
  for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) sigdelset(&asynchronous, fault);
  pthread_sigmask(SIG_BLOCK, &asynchronous, &before);
  g_mapped.store(-1, std::memory_order_release);
  protect(rt.compartment(to), PROT_READ | PROT_WRITE);
  protect(rt.compartment(from), PROT_NONE);
  Runtime::set_current(to);
  g_mapped.store(to, std::memory_order_release);
  if (by_gate) record_switcher(&before);
  g_switches.fetch_add(1, std::memory_order_acq_rel);
  if (g_waiting.load(std::memory_order_acquire) != 0) futex(&g_mapped, FUTEX_WAKE_PRIVATE, INT32_MAX);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

}  // namespace

void MprotectBackend::start(Runtime& rt) {
  for (int i = 0; i < rt.compartment_count(); ++i) {
    if (i != Runtime::current()) protect(rt.compartment(i), PROT_NONE);
  }
  g_mapped.store(Runtime::current(), std::memory_order_release);
  record_switcher();  // the thread that starts the image, until one crosses a gate
  set_fault_retry_hook(wait_for_own_region);
  install_fault_handler();
}

// Under page protection the callee can see only its own region and the shared region,
// so memory is handed over in the shared region, or copied there when the
// compartment asked for copy-based sharing.
ArgumentPolicy MprotectBackend::check_argument(Runtime& rt, const GateFrame& frame, const cap::Capability& c) {
  if (!c.tag() || c.is_sealed()) return ArgumentPolicy::Refuse;
  if (rt.shared().holds(c)) return ArgumentPolicy::Pass;
  if (rt.compartment(frame.caller).memory().holds(c) && rt.compartment(frame.callee).spec().sharing == Sharing::Copy) {
    return ArgumentPolicy::Bounce;
  }
  return ArgumentPolicy::Refuse;
}

void MprotectBackend::switch_to(Runtime& rt, int from, int to) { switch_mapping(rt, from, to, true); }

bool pass_to_switching_thread(int signal, const siginfo_t* info, bool resets_handler) {
  if (!Runtime::started() || Runtime::get().spec().backend != Backend::Mprotect) return false;
  // Sent to this thread on purpose (pthread_kill, raise), or the handler is gone once
  // delivered (SA_RESETHAND): it runs here.
  if (info == nullptr || info->si_code == SI_TKILL || resets_handler || signal <= 0 || signal >= NSIG) return false;
  const pid_t switcher = g_switcher.load(std::memory_order_relaxed);
  if (switcher == 0 || switcher == gettid()) return false;
  // A thread that blocks it (one set apart for another to handle the program's signals)
  // would leave it pending.
  if ((g_switcher_blocks.load(std::memory_order_relaxed) >> (signal - 1) & 1) != 0) return false;
  if (g_passed_full[signal].exchange(true, std::memory_order_acq_rel)) return false;  // one already on its way
  g_passed[signal] = *info;
  siginfo_t note{};
  note.si_signo = signal;
  note.si_code = SI_QUEUE;
  note.si_pid = getpid();
  note.si_uid = getuid();
  note.si_value.sival_ptr = &g_passed[signal];
  if (syscall(SYS_rt_tgsigqueueinfo, getpid(), switcher, signal, &note) == 0) return true;
  g_passed_full[signal].store(false, std::memory_order_release);
  return false;
}

void take_passed_signal(int signal, siginfo_t* info) {
  if (info == nullptr || signal <= 0 || signal >= NSIG || info->si_code != SI_QUEUE ||
      info->si_value.sival_ptr != &g_passed[signal] || !g_passed_full[signal].load(std::memory_order_acquire)) {
    return;
  }
  *info = g_passed[signal];
  g_passed_full[signal].store(false, std::memory_order_release);
}

int open_kernel_wait(std::span<const std::byte> kernel_writes) {
  if (!Runtime::started()) return -1;
  Runtime& rt = Runtime::get();
  if (rt.spec().backend != Backend::Mprotect) return -1;
  const GateFrame* frame = Runtime::innermost_frame();
  const int here = Runtime::current();
  if (frame == nullptr || frame->callee != here || frame->caller == here) return -1;
  // The kernel writes while this region is closed: into it, the call would fail (EFAULT).
  const cap::TaggedMemory& region = rt.compartment(here).memory();
  const auto start = reinterpret_cast<std::uint64_t>(kernel_writes.data());
  if (!kernel_writes.empty() && start < region.base() + region.size() &&
      region.base() < start + kernel_writes.size()) {
    return -1;
  }
  // Only the thread the mapping follows gives it away (another thread's switch of its
  // own, a Redis thread's gate into the file system, keeps it).
  if (g_mapped.load(std::memory_order_acquire) != here) return -1;
  switch_mapping(rt, here, frame->caller, true);
  return here;
}

void close_kernel_wait(int compartment) {
  Runtime& rt = Runtime::get();
  // Another thread of the caller may have crossed a gate meanwhile (Redis's AOF thread into
  // the file system): wait until it is back, as this thread would have waited for its
  // region, rather than close that compartment under it.
  const int lent_to = Runtime::innermost_frame()->caller;
  wait_until_mapped(lent_to);
  switch_mapping(rt, lent_to, compartment, true);
}

void run_signal_handler_in(int compartment, void (*body)(void*), void* argument) {
  if (!Runtime::started()) {
    body(argument);
    return;
  }
  Runtime& rt = Runtime::get();
  const int interrupted = Runtime::current();
  switch (rt.spec().backend) {
    case Backend::Mprotect: {
      // What is mapped is the process's, not this thread's: another thread may be
      // switching (this one cannot be: its switches block signals).
      int mapped = g_mapped.load(std::memory_order_acquire);
      while (mapped < 0) {
        __builtin_ia32_pause();
        mapped = g_mapped.load(std::memory_order_acquire);
      }
      if (mapped != compartment) switch_mapping(rt, mapped, compartment, false);
      Runtime::set_current(compartment);
      body(argument);
      if (mapped != compartment) switch_mapping(rt, compartment, mapped, false);
      break;
    }
    case Backend::IntelPku:
      IntelPkuBackend::switch_to(rt, interrupted, compartment);
      body(argument);
      IntelPkuBackend::switch_to(rt, compartment, interrupted);
      break;
    default:
      Runtime::set_current(compartment);
      body(argument);
      break;
  }
  Runtime::set_current(interrupted);
}

}  // namespace flexcap::rt
