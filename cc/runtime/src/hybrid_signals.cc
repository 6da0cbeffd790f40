// Signal handlers that hybrid code installs (sigaction, signal) run as that code: in the
// compartment that installed them, under its DDC and PCC, on a stack inside its DDC.
// A signal arrives wherever the thread is — often inside a gate, in another compartment,
// on that compartment's stack (Redis's main thread waits in the net compartment's
// epoll_wait) — and the handler's checked accesses would then be checked against that
// compartment's DDC. On Morello the signal frame would carry the handler's capabilities;
// here a trampoline installs the handler's compartment and registers, switches to a stack
// taken from that compartment's heap (64 KiB, one per signal), runs the handler, and
// puts back what it interrupted.
//
// Code that is not hybrid (no hybrid state installed) on a page backend gets the same
// for its compartment's page protections: on mprotect and intel-pku the handler runs
// with its compartment's region mapped, as after a gate into it
// (rt::run_signal_handler_in), on the thread's stack; on mprotect, a signal sent to the
// process that lands on a thread other than the one crossing gates is sent on to that
// one (rt::pass_to_switching_thread). Elsewhere, outside every compartment, sigaction is
// the C library's.
//
// SIGSEGV, SIGBUS, SIGFPE and SIGILL stay FlexCap's (rt::application_sigaction: the
// program's handler runs for faults outside every gate). Not supported: a handler that
// calls another compartment through a gate, and one signal delivered to two threads at
// once (they would share its stack).
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstddef>
#include <span>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/rt/backends.hh"
#include "flexcap/rt/runtime.hh"
#include "flexcap/rt/signal_entry.hh"
#include "flexcap/rt/stack.hh"
#include "libc_checks.hh"

using namespace flexcap::cc::libc;
using flexcap::rt::Runtime;

namespace {

constexpr std::size_t kSignalStack = 64u << 10;

struct Handler {
  struct sigaction action {};  // the program's
  int compartment = 0;
  const flexcap::cc::HybridState* state = nullptr;  // null: not hybrid code (a page backend's)
  std::byte* stack = nullptr;
};
Handler g_handlers[NSIG];  // written with the signal blocked; read by the trampoline

struct Delivery {
  const Handler* handler;
  int signal;
  siginfo_t* info;
  void* context;
};

void deliver(void* p) {
  const auto* d = static_cast<Delivery*>(p);
  if ((d->handler->action.sa_flags & SA_SIGINFO) != 0) {
    d->handler->action.sa_sigaction(d->signal, d->info, d->context);
  } else {
    d->handler->action.sa_handler(d->signal);
  }
}

void trampoline(int signal, siginfo_t* info, void* context) {
  const Handler& h = g_handlers[signal];
  if (h.state == nullptr) {  // a page backend: its protections, on this stack
    if (flexcap::rt::pass_to_switching_thread(signal, info, (h.action.sa_flags & SA_RESETHAND) != 0)) return;
    flexcap::rt::take_passed_signal(signal, info);
    Delivery d{&h, signal, info, context};
    flexcap::rt::run_signal_handler_in(h.compartment, deliver, &d);
    return;
  }
  const flexcap::cc::HybridState* interrupted = flexcap::cc::installed_hybrid_state();
  const bool started = Runtime::started();
  const int current = started ? Runtime::current() : 0;
  if (started) Runtime::set_current(h.compartment);
  flexcap::cc::install_hybrid_state(*h.state);
  Delivery d{&h, signal, info, context};
  flexcap::rt::internal::run_on_stack(std::span<std::byte>(h.stack, kSignalStack), deliver, &d);
  if (interrupted != nullptr) {
    flexcap::cc::install_hybrid_state(*interrupted);
  } else {
    flexcap::cc::uninstall_hybrid_state();
  }
  if (started) Runtime::set_current(current);
}

bool runs_code(const struct sigaction& a) {
  if ((a.sa_flags & SA_SIGINFO) != 0) return a.sa_sigaction != nullptr;
  return a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN;
}

// Whether plain code installing a handler on this backend needs the trampoline: a page
// backend's compartment may be closed when its signal arrives.
bool page_backend_compartment() {
  if (!Runtime::started()) return false;
  const flexcap::rt::Backend b = Runtime::get().spec().backend;
  return b == flexcap::rt::Backend::Mprotect || b == flexcap::rt::Backend::IntelPku;
}

// What the kernel's previous action means to the program: `program`, its own handler,
// where the trampoline stood for it.
struct sigaction as_the_program_sees(const struct sigaction& kernel, const struct sigaction& program) {
  const bool ours = (kernel.sa_flags & SA_SIGINFO) != 0 && kernel.sa_sigaction == trampoline;
  return ours ? program : kernel;
}

}  // namespace

extern "C" {

int flexcap_hybrid_sigaction(int signal, const struct sigaction* action, struct sigaction* previous) {
  if (action != nullptr) check_read(action, sizeof(*action));
  if (previous != nullptr) check_write(previous, sizeof(*previous));
  if (flexcap::rt::application_sigaction(signal, action, previous)) return 0;
  const flexcap::cc::HybridState* state = flexcap::cc::installed_hybrid_state();
  if ((state == nullptr && !page_backend_compartment()) || signal <= 0 || signal >= NSIG) {
    return sigaction(signal, action, previous);
  }
  Handler& h = g_handlers[signal];
  struct sigaction kernel {};
  if (action == nullptr || !runs_code(*action)) {  // asking, SIG_DFL or SIG_IGN: nothing to run as hybrid code
    const int r = sigaction(signal, action, &kernel);
    if (r == 0 && previous != nullptr) *previous = as_the_program_sees(kernel, h.action);
    return r;
  }
  if (state != nullptr) {
    check(reinterpret_cast<const void*>(action->sa_handler), 1, FLEXCAP_HYBRID_EXECUTE);  // its code, as the PCC allows
  }
  sigset_t only{};
  sigset_t mask{};
  sigemptyset(&only);
  sigaddset(&only, signal);
  pthread_sigmask(SIG_BLOCK, &only, &mask);
  const int compartment = Runtime::started() ? Runtime::current() : 0;
  if (state != nullptr && (h.stack == nullptr || h.compartment != compartment)) {
    // (A stack taken from another compartment's heap stays there: that compartment
    // installed a handler for this signal before, which is rare.)
    h.stack = static_cast<std::byte*>(allocate(kSignalStack, 64));
  }
  if (state != nullptr && h.stack == nullptr) {
    pthread_sigmask(SIG_SETMASK, &mask, nullptr);
    errno = ENOMEM;
    return -1;
  }
  const struct sigaction before = h.action;
  h.action = *action;
  h.compartment = compartment;
  h.state = state;
  struct sigaction ours = *action;
  ours.sa_flags |= SA_SIGINFO;
  ours.sa_sigaction = trampoline;
  const int r = sigaction(signal, &ours, &kernel);
  if (r != 0) h.action = before;
  pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  if (r == 0 && previous != nullptr) *previous = as_the_program_sees(kernel, before);
  return r;
}

// signal(), as the C library defines it (BSD semantics: SA_RESTART), through sigaction.
sighandler_t flexcap_hybrid_signal(int signal, sighandler_t handler) {
  struct sigaction action {};
  action.sa_handler = handler;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  if (flexcap_hybrid_sigaction(signal, &action, &previous) != 0) return SIG_ERR;
  return previous.sa_handler;
}

}  // extern "C"
