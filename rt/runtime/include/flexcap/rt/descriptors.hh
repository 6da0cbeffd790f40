// The host descriptors a compartment holds go with it when it restarts, as a process's
// descriptors go with it when it dies. A library that opens host descriptors (the net
// library's sockets and epoll instances) records each one as its compartment's; when the
// compartment restarts after a fault (`restart: on-fault`), the runtime closes the ones it
// still holds, so that its next incarnation starts with none: a restarted net library's
// old listening socket does not keep its port, nor its old connections their peers
// waiting. (Where compartments are processes, a restarted process's are closed the same
// way.)
#pragma once

#include <cstddef>

namespace flexcap::rt {

// The running compartment now holds host descriptor `fd` (before the image starts: no
// one does, and nothing is recorded).
void own_descriptor(int fd);
// It no longer does: it closed it, or handed it on.
void release_descriptor(int fd);
// How many it holds now (for tests and the audit).
std::size_t owned_descriptors(int compartment);

namespace internal {
// Closes what compartment `index` holds (Compartment::reset, at its restart).
void close_descriptors_of(int index);
}  // namespace internal

}  // namespace flexcap::rt
