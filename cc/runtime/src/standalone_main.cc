// A standalone program built by `flexcap cc --abi purecap -o PROG`: its main runs as one
// purecap compartment. Linked with -Wl,--wrap=main, so that the C runtime's call to main
// comes here first. A capability fault ends the program as a SIGPROT would on Morello:
// one line, `flexcap: capability fault: ` and the fault's describe() text, and exit
// status 139 (128 + SIGSEGV, what a shell shows for it). Output already written with
// stdio is flushed first.
#include <unistd.h>

#include <cstdio>

#include "flexcap/rt/runtime.hh"

extern "C" int __real_main(int argc, char** argv, char** envp);

extern "C" int __wrap_main(int argc, char** argv, char** envp) {
  try {
    return __real_main(argc, argv, envp);
  } catch (const flexcap::rt::CompartmentFault& fault) {
    std::fflush(stdout);
    std::fprintf(stderr, "flexcap: capability fault: %s\n", fault.cause.c_str());
    std::fflush(stderr);
    _exit(139);
  }
}
