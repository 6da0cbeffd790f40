#include "flexcap/lib/sodium_store64_be.hh"

#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::sodium_store64_be {

void Exports::store64_be_impl(cap::Cap<std::uint8_t> dst, std::uint64_t w) {
  const std::span<std::uint8_t> out = rt::check(dst.write_span(0, 8));
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(w >> (56 - 8 * i));
}

}  // namespace flexcap::lib::sodium_store64_be
