// The Redis image's program: `flexcap run examples/redis/<config>.yaml -- [redis-server
// arguments]`, e.g. `-- --port 7000 --save ""`. Redis 7.0.15 from Debian's source package,
// unmodified (apps/redis/source/), runs in its compartment, on that compartment's stack,
// with its arguments in its heap; its sockets, pipes and epoll go to the net library
// (redis_posix.cc). With FLEXCAP_GATE_REPORT set, the image says at exit on standard
// error how many gates it crossed (`backend=B compartments=N gate_crossings=C`: flexcap
// bench redis reads it).
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>

#include "flexcap/rt/call.hh"

extern "C" int redis_main(int argc, char** argv);  // Redis's main, renamed at link time

namespace {
void report_crossings() {
  std::fprintf(stderr, "flexcap: backend=%s compartments=%zu gate_crossings=%llu\n",
               std::string(to_string(flexcap::image::Backend::kKind)).c_str(), std::size(flexcap::image::kCompartments),
               static_cast<unsigned long long>(flexcap::rt::gate_crossings()));
}
}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("FLEXCAP_GATE_REPORT") != nullptr) std::atexit(report_crossings);
  return flexcap::image::run_main(argc, argv, redis_main);
}
