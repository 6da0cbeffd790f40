// flexcap bench hybrid's program: SQLite's own benchmark, speedtest1, compiled from
// Debian's source by flexcap cc (plain, hybrid, or hybrid counting its checks) and run
// as its image's one compartment, on that compartment's stack. With
// FLEXCAP_PRINT_CHECKS set, it prints how many checks the hybrid code made.
#include <cstdio>
#include <cstdlib>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap_image.hh"

extern "C" int speedtest1_main(int argc, char** argv);

int main(int argc, char** argv) {
  const int status = flexcap::image::run_main(argc, argv, speedtest1_main);
  if (std::getenv("FLEXCAP_PRINT_CHECKS") != nullptr) {
    std::fprintf(stderr, "checks_executed %llu\n", static_cast<unsigned long long>(flexcap::cc::hybrid_checks_made()));
  }
  return status;
}
