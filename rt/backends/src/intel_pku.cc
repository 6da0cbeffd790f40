// The intel-pku backend: Linux protection keys. Each compartment's region is tagged
// with its own key; PKRU, the per-thread register that says which keys are
// accessible, holds exactly the running compartment's key (and key 0: the shared
// region, the runtime and the code). A switch is one WRPKRU instruction.
#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "flexcap/rt/backends.hh"

namespace flexcap::rt {
namespace {

std::vector<std::uint32_t>* g_pkru = nullptr;  // g_pkru[i]: PKRU while compartment i runs

// WRPKRU (0f 01 ef): ECX and EDX must be zero.
inline void write_pkru(std::uint32_t value) {
  asm volatile(".byte 0x0f, 0x01, 0xef" : : "a"(value), "c"(0), "d"(0) : "memory");
}

// PKRU has two bits per key: access-disable (2k) and write-disable (2k+1).
std::uint32_t pkru_allowing(int key) {
  std::uint32_t deny_all_but_0 = 0;
  for (int k = 1; k < 16; ++k) deny_all_but_0 |= 1u << (2 * k);
  return deny_all_but_0 & ~(3u << (2 * key));
}

}  // namespace

void IntelPkuBackend::start(Runtime& rt) {
  const BackendSupport support = backend_support(Backend::IntelPku);
  if (!support.available) throw std::runtime_error("flexcap intel-pku backend: " + support.reason);
  if (rt.compartment_count() > 15) {
    throw std::runtime_error("flexcap intel-pku backend: " + std::to_string(rt.compartment_count()) +
                             " compartments, but protection keys allow at most 15; use mprotect, process or cheri");
  }
  g_pkru = new std::vector<std::uint32_t>();
  for (int i = 0; i < rt.compartment_count(); ++i) {
    const int key = pkey_alloc(0, 0);
    if (key < 0) throw std::runtime_error("flexcap intel-pku backend: pkey_alloc: " + std::string(strerror(errno)));
    auto bytes = rt.compartment(i).memory().unsafe_bytes();
    if (pkey_mprotect(bytes.data(), bytes.size(), PROT_READ | PROT_WRITE, key) != 0) {
      throw std::runtime_error("flexcap intel-pku backend: pkey_mprotect: " + std::string(strerror(errno)));
    }
    g_pkru->push_back(pkru_allowing(key));
  }
  install_fault_handler();
  write_pkru((*g_pkru)[static_cast<std::size_t>(Runtime::current())]);
  // At exit every key allows access again (see regions_accessible_at_exit in runtime.cc).
  std::atexit([] { write_pkru(0); });
}

void IntelPkuBackend::switch_to(Runtime&, int, int to) {
  write_pkru((*g_pkru)[static_cast<std::size_t>(to)]);
  Runtime::set_current(to);
}

}  // namespace flexcap::rt
