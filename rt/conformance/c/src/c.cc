#include "flexcap/lib/conformance_c.hh"

namespace flexcap::lib::conformance_c {
std::int64_t Exports::square_impl(std::int64_t x) { return x * x; }
}  // namespace flexcap::lib::conformance_c
