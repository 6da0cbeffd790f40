// conformance_c — the innermost callee of the conformance suite (compartment `c`).
#pragma once

#include <cstdint>

#include "flexcap/rt/export.hh"

namespace flexcap::lib::conformance_c {
FLEXCAP_LIBRARY(conformance_c);

class Exports {
  static std::int64_t square_impl(std::int64_t x);

 public:
  FLEXCAP_EXPORT(square, square_impl);
};

}  // namespace flexcap::lib::conformance_c
