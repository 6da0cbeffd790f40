// flexcap/rt/memory_access.hh — a plain memory access, as unported code makes it.
//
// On Morello, hybrid code's ordinary loads and stores are checked against the default
// data capability (DDC). These helpers model exactly that: on the cheri backend the
// access is checked against the running compartment's DDC (and faults the compartment
// if refused); on the other backends DDC covers everything, so the access is a plain
// one, confined only by the page protections of the backend (if any).
#pragma once

#include <cstdint>
#include <cstring>

#include "flexcap/cap/access.hh"
#include "flexcap/rt/backends.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {

template <class T>
T hybrid_load(std::uint64_t address) {
  check(cap::check_access(ddc(), cap::Access::Load, address, sizeof(T)));
  T value;
  std::memcpy(&value, reinterpret_cast<const void*>(address), sizeof(T));
  return value;
}

template <class T>
void hybrid_store(std::uint64_t address, const T& value) {
  check(cap::check_access(ddc(), cap::Access::Store, address, sizeof(T)));
  std::memcpy(reinterpret_cast<void*>(address), &value, sizeof(T));
}

}  // namespace flexcap::rt
