// Signal handlers run as the compartment that installed them. A signal arrives wherever
// its thread is, often inside a gate in another compartment (Redis's main thread waits in
// the net compartment's epoll_wait), and the handler is the installer's code: it must run
// with the installer's rights, as it would after a gate into it.
#pragma once

namespace flexcap::rt {

// Runs body(argument) in `compartment` and returns to what the signal interrupted. On
// mprotect, the switch a gate makes (its region mapped, the interrupted one's closed),
// undone afterwards; switches block signals, so a handler never finds one half made. On
// intel-pku, that compartment's PKRU (the kernel restores the interrupted one when the
// handler returns). Elsewhere only the runtime's current compartment changes: the hybrid
// runtime installs DDC and PCC itself (cc/runtime/src/hybrid_signals.cc).
void run_signal_handler_in(int compartment, void (*body)(void*), void* argument);

}  // namespace flexcap::rt
