#include "flexcap/lib/gate_bench_caller.hh"

#include "flexcap/lib/gate_bench_callee.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::gate_bench_caller {
namespace {
struct State {
  std::int64_t checksum = 0;
};
State& state() { return rt::library_state<Library, State>(); }
}  // namespace

void Exports::consume_impl(std::int64_t checksum) { state().checksum += checksum; }

std::int64_t Exports::consumed_impl() { return state().checksum; }

namespace direct {
void empty() {}

std::int64_t args4(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
  return gate_bench_callee::work::args4(a, b, c, d);
}

std::int64_t touch(cap::Cap<std::uint8_t> buffer) { return gate_bench_callee::work::touch(buffer); }
}  // namespace direct

}  // namespace flexcap::lib::gate_bench_caller
