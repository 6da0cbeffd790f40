// A standalone program built by `flexcap cc --abi purecap|hybrid -o PROG`: its main runs
// as one compartment. Purecap: argv and envp arrive as capabilities bounded as a CHERI
// kernel bounds them. Hybrid: the DDC and the PCC are the runtime's unconfined
// ones (the whole address space, as CheriBSD starts a hybrid process), so a program runs
// unchanged, and a fault raised in it (a capability its code was handed, a check by the
// C library wrappers) ends it the same way. Linked with -Wl,--wrap=main, so that the C runtime's call to main
// comes here first. A capability fault ends the program as a SIGPROT would on Morello:
// one line, `flexcap: capability fault: ` and the fault's describe() text, and exit
// status 139 (128 + SIGSEGV, what a shell shows for it). Output already written with
// stdio is flushed first.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "flexcap/cc/purecap_abi.h"

#include "flexcap/rt/runtime.hh"

extern "C" int __real_main(int argc, char** argv, char** envp);

namespace {

// The capabilities a CHERI kernel hands a new program: argv and envp, each string bounded
// by its length, each array by its entries and the null after them.
std::uint64_t address(const void* p) { return reinterpret_cast<std::uint64_t>(p); }
void register_strings(char** array, unsigned slot) {
  std::uint64_t n = 0;
  for (; array[n] != nullptr; ++n) {
    flexcap_purecap_store_meta(address(&array[n]), address(array[n]), address(array[n]),
                               address(array[n]) + std::strlen(array[n]) + 1);
  }
  flexcap_purecap_arguments[slot] = {address(array), address(array), address(array + n + 1)};
}

// FLEXCAP_PURECAP_STATS=1: what the run cost, on stderr at exit (flexcap bench purecap
// reads it): the checks executed (counted in builds made with --count-checks, else 0)
// and the shadow's resident memory.
void report_stats() {
  std::fprintf(stderr, "flexcap purecap: checks_executed %llu shadow_resident_kib %llu\n",
               static_cast<unsigned long long>(flexcap_purecap_checks),
               static_cast<unsigned long long>(flexcap_purecap_shadow_resident_bytes() / 1024));
}

}  // namespace

extern "C" int __wrap_main(int argc, char** argv, char** envp) {
  if (const char* stats = std::getenv("FLEXCAP_PURECAP_STATS"); stats != nullptr && *stats != '\0' && *stats != '0') {
    std::atexit(report_stats);
  }
  register_strings(argv, 1);
  register_strings(envp, 2);
  try {
    return __real_main(argc, argv, envp);
  } catch (const flexcap::rt::CompartmentFault& fault) {
    std::fflush(stdout);
    std::fprintf(stderr, "flexcap: capability fault: %s\n", fault.cause.c_str());
    std::fflush(stderr);
    _exit(139);
  }
}
