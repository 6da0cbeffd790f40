// conformance_a — the calling side of the backend conformance suite (compartment `app`).
#pragma once

#include <cstdint>

#include "flexcap/rt/export.hh"

namespace flexcap::lib::conformance_a {
FLEXCAP_LIBRARY(conformance_a);

class Exports {
  static std::int64_t twice_impl(std::int64_t x);
  static std::uint64_t secret_address_impl();

 public:
  // B calls this back while A's call into B is still running.
  FLEXCAP_EXPORT(twice, twice_impl);
  // Where A keeps a private secret (for the isolation checks).
  FLEXCAP_EXPORT(secret_address, secret_address_impl);
};

}  // namespace flexcap::lib::conformance_a
