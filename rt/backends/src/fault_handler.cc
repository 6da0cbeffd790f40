// Turns a hardware fault inside a gate into an error for the gate's caller: the
// handler records what happened in the innermost gate frame and jumps back to it. A
// fault outside any gate is left to crash the process, as it would without FlexCap.
#include <signal.h>

#include <cstring>

#include "flexcap/rt/backends.hh"

namespace flexcap::rt {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};

void on_fault(int signal, siginfo_t* info, void*) {
  GateFrame* frame = Runtime::innermost_frame();
  if (frame == nullptr) {
    // Not inside a gate: restore the default action; returning re-executes the faulting
    // instruction, which now ends the process with the usual signal.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(signal, &dfl, nullptr);
    return;
  }
  frame->fault_signal = signal;
  frame->fault_address = reinterpret_cast<std::uint64_t>(info->si_addr);
  siglongjmp(frame->recovery, 1);
}

}  // namespace

void install_fault_handler() {
  struct sigaction action {};
  action.sa_sigaction = on_fault;
  // SA_NODEFER: the handler leaves by siglongjmp without restoring the signal mask,
  // so the signal must not be blocked while it runs, or the next fault would kill.
  action.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  for (int s : kSignals) sigaction(s, &action, nullptr);
}

}  // namespace flexcap::rt
