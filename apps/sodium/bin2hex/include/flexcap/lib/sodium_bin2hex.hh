// sodium_bin2hex — libsodium's sodium_bin2hex(), ported to capabilities.
//
// Every buffer is a bounded capability: `bin` is read-only (no store permission), `hex`
// is exactly the output buffer. What libsodium takes as (pointer, length) pairs are the
// capabilities' sizes.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::sodium_bin2hex {
FLEXCAP_LIBRARY(sodium_bin2hex);

class Exports {
  static std::int32_t bin2hex_impl(cap::Cap<char> hex, cap::Cap<const std::uint8_t> bin);
  static std::int32_t bin2hex_off_by_one_impl(cap::Cap<char> hex, cap::Cap<const std::uint8_t> bin);

 public:
  // Writes 2 * bin.size() lower-case hex digits and a NUL to `hex`. Returns 0, or -1
  // (and writes nothing) when hex.size() < 2 * bin.size() + 1, where libsodium aborts
  // the process (sodium_misuse).
  FLEXCAP_EXPORT(bin2hex, bin2hex_impl);
  // The test switch of flexcap attack's demonstration: bin2hex with an injected
  // off-by-one, storing the terminating NUL at hex[2 * bin.size() + 1]. The store is
  // checked like every other, so it faults at the first byte past `hex`.
  FLEXCAP_EXPORT(bin2hex_off_by_one, bin2hex_off_by_one_impl);
};

}  // namespace flexcap::lib::sodium_bin2hex
