// sodium_hex2bin — libsodium's sodium_hex2bin(), ported to capabilities.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::sodium_hex2bin {
FLEXCAP_LIBRARY(sodium_hex2bin);

// libsodium's two output parameters, as one object the caller hands over.
struct Hex2BinResult {
  std::uint64_t bin_len = 0;  // *bin_len: bytes written to bin
  std::uint64_t hex_end = 0;  // *hex_end, as an index into hex (a pointer does not cross a gate)
};

class Exports {
  static std::int32_t hex2bin_impl(cap::Cap<std::uint8_t> bin, cap::Cap<const char> hex, cap::Cap<const char> ignore,
                                   std::int32_t want_hex_end, cap::Cap<Hex2BinResult> result);

 public:
  // sodium_hex2bin(bin, bin.size(), hex, hex.size(), ignore, &result.bin_len,
  //                want_hex_end ? &hex_end : NULL), with the same return value (0 or -1)
  // and the same outputs, byte for byte. `ignore` holds the characters to skip between
  // pairs of digits, up to its first NUL or its end; a zero-length `ignore` stands for
  // libsodium's NULL (nothing is skipped). hex_end is reported only when want_hex_end.
  FLEXCAP_EXPORT(hex2bin, hex2bin_impl);
};

}  // namespace flexcap::lib::sodium_hex2bin
