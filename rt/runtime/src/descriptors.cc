#include "flexcap/rt/descriptors.hh"

#include <unistd.h>

#include <map>
#include <mutex>
#include <set>

#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {
namespace {

// Kept by the runtime, outside every compartment's memory: a restart wipes that.
struct Ledger {
  std::mutex mutex;
  std::map<int, std::set<int>> held;  // compartment → its descriptors
};
Ledger& ledger() {
  static auto* l = new Ledger();  // never destroyed: descriptors are closed up to the end
  return *l;
}

}  // namespace

void own_descriptor(int fd) {
  if (fd < 0 || !Runtime::started()) return;
  Ledger& l = ledger();
  const std::lock_guard lock(l.mutex);
  // (A number the kernel reuses was released by whoever closed it before.)
  for (auto& [compartment, fds] : l.held) fds.erase(fd);
  l.held[Runtime::current()].insert(fd);
}

void release_descriptor(int fd) {
  Ledger& l = ledger();
  const std::lock_guard lock(l.mutex);
  for (auto& [compartment, fds] : l.held) fds.erase(fd);
}

std::size_t owned_descriptors(int compartment) {
  Ledger& l = ledger();
  const std::lock_guard lock(l.mutex);
  const auto it = l.held.find(compartment);
  return it == l.held.end() ? 0 : it->second.size();
}

void internal::close_descriptors_of(int index) {
  std::set<int> fds;
  {
    Ledger& l = ledger();
    const std::lock_guard lock(l.mutex);
    const auto it = l.held.find(index);
    if (it == l.held.end()) return;
    fds.swap(it->second);
  }
  for (const int fd : fds) ::close(fd);
}

}  // namespace flexcap::rt
