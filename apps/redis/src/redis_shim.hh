// What the two halves of Redis's redirected calls share: its sockets (redis_posix.cc, to
// the net library) and its data files (redis_files.cc, to vfs and ramfs).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstddef>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/call.hh"

namespace flexcap::redis {

// The transfer buffer: this thread's piece of the shared region, through which data
// crosses to the other compartments as capabilities bounded to the bytes concerned.
inline constexpr std::size_t kTransfer = 64 * 1024;
cap::Cap<std::byte>& transfer_buffer();

// The first `count` elements of T in the transfer buffer, as a capability to exactly
// them; fewer (count is updated) where that length cannot be bounded exactly or does not
// fit: the call then moves less, as a short read or write does.
template <class T>
cap::Cap<T> window(std::size_t& count) {
  const cap::Cap<T> all(transfer_buffer().capability(), transfer_buffer().memory());
  count = all.exact_count(0, std::min(count, all.size()));
  return rt::check(all.slice(0, count));
}

// A descriptor number of Redis's own, reserved in its process (a duplicate of
// /dev/null), for something that lives in another compartment: no file the host opens
// for Redis can get the same number. -1 (errno set) when the process has none left.
int reserve_number();

// Whether this process is a child that Redis forked (BGSAVE, BGREWRITEAOF), on any
// backend; and whether it is one that shares the other compartments' processes with its
// parent (the process backend), so that it must never call into them.
bool forked_child();
bool forked_from_image();
// Whether the caller is the image's main thread (Redis's event loop): the only one that
// crosses gates to the net and file system compartments.
bool on_main_thread();

// Redis's data files (redis_files.cc): whether `fd` is one, and its calls on it.
bool is_file(int fd);
ssize_t file_read(int fd, void* into, std::size_t n);
ssize_t file_write(int fd, const void* from, std::size_t n);
ssize_t file_writev(int fd, const iovec* vectors, int count);
int file_close(int fd);
// On the main thread, between events: what other threads left to do (closing files
// Redis's background threads closed: only the main thread crosses gates to vfs).
void files_between_events();
// Around fork: the child's files reach the parent through a channel (redis_files.cc).
void files_before_fork();
void files_after_fork(pid_t child);

}  // namespace flexcap::redis
