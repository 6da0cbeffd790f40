// gate_bench_caller — the calling side of the gate benchmark (compartment `app`). The
// image's main program (gate_bench_main.cc) is compiled as part of it.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::gate_bench_caller {
FLEXCAP_LIBRARY(gate_bench_caller);

class Exports {
  static void consume_impl(std::int64_t checksum);
  static std::int64_t consumed_impl();

 public:
  // The benchmark hands every result of its timed calls here, in its own compartment's
  // state, so that no compiler can prove them unused and drop the work.
  FLEXCAP_EXPORT(consume, consume_impl);
  FLEXCAP_EXPORT(consumed, consumed_impl);
};

// The floors: the callee's work (gate_bench_callee::work) as plain functions of this
// library, which the benchmark calls directly. They are never inlined, and live in
// another translation unit than the timing loops, like the callee's exports, so that a
// floor and a gate differ only by the gate.
namespace direct {
[[gnu::noinline]] void empty();
[[gnu::noinline]] std::int64_t args4(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d);
[[gnu::noinline]] std::int64_t touch(cap::Cap<std::uint8_t> buffer);
}  // namespace direct

}  // namespace flexcap::lib::gate_bench_caller
