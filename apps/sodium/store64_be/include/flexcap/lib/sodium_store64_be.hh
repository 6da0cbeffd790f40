// sodium_store64_be — libsodium's STORE64_BE, ported to capabilities.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::sodium_store64_be {
FLEXCAP_LIBRARY(sodium_store64_be);

class Exports {
  static void store64_be_impl(cap::Cap<std::uint8_t> dst, std::uint64_t w);

 public:
  // Writes w to dst[0..8) most significant byte first. A dst with fewer than 8 bytes is
  // a capability fault (the whole store is refused: nothing is written).
  FLEXCAP_EXPORT(store64_be, store64_be_impl);
};

}  // namespace flexcap::lib::sodium_store64_be
