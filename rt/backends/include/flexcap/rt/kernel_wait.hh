// A system call that may block for long, made by a compartment that a gate entered (the
// net compartment's epoll_wait, in which an idle Redis spends its time).
//
// On mprotect the page protections are the process's: while this thread runs in the
// callee, the caller's region is closed for every thread, and the caller's own threads
// (Redis's lazyfree and AOF threads) wait until it is mapped again. A thread that sits in
// the kernel runs none of the callee's code, so for that time the caller's mapping is
// put back, as if the call had returned, and the callee's comes back before the call
// returns to its code. The bytes the kernel writes meanwhile must then lie outside the
// callee's region (a gate's arguments do: the shared region or a bounce buffer there);
// where they do not, nothing is switched and the caller's threads wait as before.
// Elsewhere nothing is switched either: intel-pku's PKRU and cheri's DDC are per thread,
// fcall isolates nothing, and a process compartment waits in a process of its own.
#pragma once

#include <cerrno>
#include <cstddef>
#include <span>

namespace flexcap::rt {

// Maps the caller's region again if it applies (see above): the compartment to switch
// back to, or -1 where nothing was switched.
int open_kernel_wait(std::span<const std::byte> kernel_writes);
void close_kernel_wait(int compartment);

// Runs `call` (a blocking system call, which writes at most `kernel_writes`) with the
// caller's mapping back where that applies; returns what it returned, errno kept.
template <class Call>
auto wait_in_kernel(std::span<const std::byte> kernel_writes, Call&& call) {
  const int back_to = open_kernel_wait(kernel_writes);
  auto result = call();
  if (back_to >= 0) {
    const int saved = errno;
    close_kernel_wait(back_to);
    errno = saved;
  }
  return result;
}

}  // namespace flexcap::rt
