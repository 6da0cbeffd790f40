// Turns a hardware fault inside a gate into an error for the gate's caller: the
// handler records what happened in the innermost gate frame and jumps back to it. A
// fault outside any gate is left to crash the process, as it would without FlexCap.
#include <signal.h>

#include <atomic>
#include <cstring>
#include <iterator>

#include "flexcap/rt/backends.hh"

namespace flexcap::rt {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};

std::atomic<RetryHook> g_retry_hook{nullptr};
std::atomic<bool> g_installed{false};

// The application's own actions for the fault signals (Redis's crash report), which
// FlexCap's handler runs for the faults that are not its own to contain.
struct sigaction g_application[std::size(kSignals)];

int slot_of(int signal) {
  for (std::size_t i = 0; i < std::size(kSignals); ++i) {
    if (kSignals[i] == signal) return static_cast<int>(i);
  }
  return -1;
}

// Outside every gate: the application's handler if it installed one, else the default
// action (restored here; returning re-executes the faulting instruction, which now ends
// the process with the usual signal).
void outside_gates(int signal, siginfo_t* info, void* context) {
  struct sigaction& application = g_application[slot_of(signal)];
  if ((application.sa_flags & SA_SIGINFO) != 0 && application.sa_sigaction != nullptr) {
    const auto handler = application.sa_sigaction;
    if ((application.sa_flags & SA_RESETHAND) != 0) application = {};
    handler(signal, info, context);
    return;
  }
  if ((application.sa_flags & SA_SIGINFO) == 0 && application.sa_handler != SIG_DFL &&
      application.sa_handler != nullptr) {
    if (application.sa_handler == SIG_IGN) return;
    const auto handler = application.sa_handler;
    if ((application.sa_flags & SA_RESETHAND) != 0) application = {};
    handler(signal);
    return;
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(signal, &dfl, nullptr);
}

void on_fault(int signal, siginfo_t* info, void* context) {
  if (signal == SIGSEGV) {
    if (RetryHook hook = g_retry_hook.load(std::memory_order_acquire);
        hook != nullptr && hook(reinterpret_cast<std::uint64_t>(info->si_addr))) {
      return;  // the access is possible now: returning retries it
    }
  }
  GateFrame* frame = Runtime::innermost_frame();
  if (frame == nullptr) {
    outside_gates(signal, info, context);
    return;
  }
  frame->fault_signal = signal;
  frame->fault_address = reinterpret_cast<std::uint64_t>(info->si_addr);
  siglongjmp(frame->recovery, 1);
}

}  // namespace

void set_fault_retry_hook(RetryHook hook) { g_retry_hook.store(hook, std::memory_order_release); }

bool application_sigaction(int signal, const struct sigaction* action, struct sigaction* previous) {
  const int slot = slot_of(signal);
  if (slot < 0 || !g_installed.load(std::memory_order_acquire)) return false;
  if (previous != nullptr) *previous = g_application[slot];
  if (action != nullptr) g_application[slot] = *action;
  return true;
}

void install_fault_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  // SA_NODEFER: the handler leaves by siglongjmp without restoring the signal mask,
  // so the signal must not be blocked while it runs, or the next fault would kill.
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  for (int s : kSignals) sigaction(s, &action, nullptr);
  g_installed.store(true, std::memory_order_release);
}

}  // namespace flexcap::rt
