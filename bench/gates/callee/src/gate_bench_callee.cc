#include "flexcap/lib/gate_bench_callee.hh"

namespace flexcap::lib::gate_bench_callee {

void Exports::empty_impl() {}

std::int64_t Exports::args4_impl(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) {
  return work::args4(a, b, c, d);
}

std::int64_t Exports::touch_impl(cap::Cap<std::uint8_t> buffer) { return work::touch(buffer); }

}  // namespace flexcap::lib::gate_bench_callee
