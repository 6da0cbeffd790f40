// sodium_chacha20 — libsodium's ChaCha20 stream XOR, ported to capabilities.
//
// Each 64-byte block's output words are written by store32_le, through its export: in
// a configuration that puts store32_le in a compartment of its own, every word crosses
// a gate (the published Morello experiment); co-located, it is a plain call.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::sodium_chacha20 {
FLEXCAP_LIBRARY(sodium_chacha20);

inline constexpr std::size_t kKeyBytes = 32;        // crypto_stream_chacha20_KEYBYTES
inline constexpr std::size_t kNonceBytes = 8;       // crypto_stream_chacha20_NONCEBYTES
inline constexpr std::size_t kIetfNonceBytes = 12;  // crypto_stream_chacha20_ietf_NONCEBYTES

class Exports {
  static std::int32_t xor_ic_impl(cap::Cap<std::uint8_t> c, cap::Cap<const std::uint8_t> m,
                                  cap::Cap<const std::uint8_t> n, std::uint64_t ic, cap::Cap<const std::uint8_t> k);
  static std::int32_t ietf_xor_ic_impl(cap::Cap<std::uint8_t> c, cap::Cap<const std::uint8_t> m,
                                       cap::Cap<const std::uint8_t> n, std::uint32_t ic,
                                       cap::Cap<const std::uint8_t> k);

 public:
  // crypto_stream_chacha20_xor_ic(c, m, m.size(), n, ic, k): 64-bit nonce and counter.
  // Returns 0, or -1 (nothing written) when c.size() < m.size(), n.size() != 8 or
  // k.size() != 32. c and m may be the same memory (in-place encryption).
  FLEXCAP_EXPORT(xor_ic, xor_ic_impl);
  // crypto_stream_chacha20_ietf_xor_ic(c, m, m.size(), n, ic, k): 96-bit nonce, 32-bit
  // counter. The same errors, with n.size() != 12; and -1 when the message would run
  // the 32-bit block counter past 2^32 blocks (libsodium aborts there).
  FLEXCAP_EXPORT(ietf_xor_ic, ietf_xor_ic_impl);
};

}  // namespace flexcap::lib::sodium_chacha20
