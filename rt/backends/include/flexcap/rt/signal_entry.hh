// Signal handlers run as the compartment that installed them. A signal arrives wherever
// its thread is, often inside a gate in another compartment (Redis's main thread waits in
// the net compartment's epoll_wait), and the handler is the installer's code: it must run
// with the installer's rights, as it would after a gate into it.
#pragma once

#include <signal.h>

namespace flexcap::rt {

// On mprotect the page protections are the process's, and they follow the thread that
// crosses gates (Redis's main thread); a signal sent to the process may land on another
// one (Redis's background threads), and a handler run there would see its region closed
// under it whenever that thread switches (its system calls fail with EFAULT). So such a
// signal is sent on, with its siginfo, to the thread that switched last, where
// run_signal_handler_in holds the mapping for the handler's whole run; true when it was.
// It is not for a signal sent to this thread (pthread_kill, raise), a handler that
// SA_RESETHAND removes at delivery, or where that thread blocks the signal: those run
// here. Elsewhere (intel-pku's PKRU is per thread) every signal runs where it lands.
bool pass_to_switching_thread(int signal, const siginfo_t* info, bool resets_handler);

// On the thread it was passed to: puts back in `info` the siginfo the signal arrived with
// (the kernel carries it as SI_QUEUE from the passing thread), so the handler sees its
// sender as sent. Any other signal is left as it is.
void take_passed_signal(int signal, siginfo_t* info);

// Runs body(argument) in `compartment` and returns to what the signal interrupted. On
// mprotect, the switch a gate makes (its region mapped, the interrupted one's closed),
// undone afterwards; switches block signals, so a handler never finds one half made. On
// intel-pku, that compartment's PKRU (the kernel restores the interrupted one when the
// handler returns). Elsewhere only the runtime's current compartment changes: the hybrid
// runtime installs DDC and PCC itself (cc/runtime/src/hybrid_signals.cc).
void run_signal_handler_in(int compartment, void (*body)(void*), void* argument);

}  // namespace flexcap::rt
