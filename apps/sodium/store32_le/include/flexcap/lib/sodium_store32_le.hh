// sodium_store32_le — libsodium's STORE32_LE, ported to capabilities.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::sodium_store32_le {
FLEXCAP_LIBRARY(sodium_store32_le);

class Exports {
  static void store32_le_impl(cap::Cap<std::uint8_t> dst, std::uint32_t w);

 public:
  // Writes w to dst[0..4) least significant byte first. A dst with fewer than 4 bytes
  // is a capability fault (the whole store is refused: nothing is written).
  FLEXCAP_EXPORT(store32_le, store32_le_impl);
};

}  // namespace flexcap::lib::sodium_store32_le
