#include "flexcap/lib/sodium_bin2hex.hh"

#include "flexcap/rt/runtime.hh"
#include "flexcap/sodium/core.hh"

namespace flexcap::lib::sodium_bin2hex {
using ::flexcap::sodium::core::hex_digit;

std::int32_t Exports::bin2hex_impl(cap::Cap<char> hex, cap::Cap<const std::uint8_t> bin) {
  const std::size_t bin_len = bin.size();
  // libsodium calls sodium_misuse() (abort) here; a compartment returns an error.
  if (hex.size() == 0 || bin_len > (hex.size() - 1) / 2) return -1;
  const std::span<const std::uint8_t> in = rt::check(bin.read_span(0, bin_len));
  const std::span<char> out = rt::check(hex.write_span(0, 2 * bin_len + 1));
  for (std::size_t i = 0; i < bin_len; ++i) {
    out[2 * i] = hex_digit(in[i] >> 4);
    out[2 * i + 1] = hex_digit(in[i] & 0xfu);
  }
  out[2 * bin_len] = '\0';
  return 0;
}

std::int32_t Exports::bin2hex_off_by_one_impl(cap::Cap<char> hex, cap::Cap<const std::uint8_t> bin) {
  const std::size_t bin_len = bin.size();
  if (hex.size() == 0 || bin_len > (hex.size() - 1) / 2) return -1;
  const std::span<const std::uint8_t> in = rt::check(bin.read_span(0, bin_len));
  const std::span<char> out = rt::check(hex.write_span(0, 2 * bin_len));
  for (std::size_t i = 0; i < bin_len; ++i) {
    out[2 * i] = hex_digit(in[i] >> 4);
    out[2 * i + 1] = hex_digit(in[i] & 0xfu);
  }
  rt::check(hex.store(2 * bin_len + 1, '\0'));  // the injected bug: one past the terminator's place
  return 0;
}

}  // namespace flexcap::lib::sodium_bin2hex
