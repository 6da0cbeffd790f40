#include "flexcap/lib/sodium_store32_le.hh"

#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::sodium_store32_le {

// ChaCha20 calls this once per output word: one check for the four bytes (write_span),
// then plain stores.
void Exports::store32_le_impl(cap::Cap<std::uint8_t> dst, std::uint32_t w) {
  const std::span<std::uint8_t> out = rt::check(dst.write_span(0, 4));
  out[0] = static_cast<std::uint8_t>(w);
  out[1] = static_cast<std::uint8_t>(w >> 8);
  out[2] = static_cast<std::uint8_t>(w >> 16);
  out[3] = static_cast<std::uint8_t>(w >> 24);
}

}  // namespace flexcap::lib::sodium_store32_le
