// gate_bench_callee — the far side of the gate benchmark (compartment `callee`, or the
// caller's own compartment in the co-located image). Each export is as cheap as it can
// be while still doing what its case names, so that what is measured is the gate.
#pragma once

#include <cstddef>
#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::gate_bench_callee {
FLEXCAP_LIBRARY(gate_bench_callee);

// The buffer cases hand over one page.
inline constexpr std::size_t kBufferBytes = 4096;

// The work of each export, shared with the benchmark's direct-call floors
// (gate_bench_caller::direct) so that a floor does exactly what the callee does.
namespace work {
inline std::int64_t args4(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d) { return a + b + c + d; }

// One checked read at each end and one checked write: the access really happens, through
// the reference the callee was handed (a bounce buffer where the gate copies).
inline std::int64_t touch(const cap::Cap<std::uint8_t>& buffer) {
  const std::uint8_t first = rt::check(buffer.load(0));
  const std::uint8_t last = rt::check(buffer.load(buffer.size() - 1));
  rt::check(buffer.store(0, static_cast<std::uint8_t>(first + 1)));
  return std::int64_t{first} + std::int64_t{last};
}
}  // namespace work

class Exports {
  static void empty_impl();
  static std::int64_t args4_impl(std::int64_t a, std::int64_t b, std::int64_t c, std::int64_t d);
  static std::int64_t touch_impl(cap::Cap<std::uint8_t> buffer);

 public:
  FLEXCAP_EXPORT(empty, empty_impl);  // nothing at all: the gate alone
  FLEXCAP_EXPORT(args4, args4_impl);  // four scalars in, one out
  FLEXCAP_EXPORT(touch, touch_impl);  // a 4 KiB buffer, read at both ends and written once
};

}  // namespace flexcap::lib::gate_bench_callee
