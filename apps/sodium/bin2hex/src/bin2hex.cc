#include "flexcap/lib/sodium_bin2hex.hh"

#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::sodium_bin2hex {
namespace {

// The lower-case digit of a nibble without a branch or a table lookup, so that the
// time taken does not depend on the bytes (they may be a key): 0..9 -> '0'..'9', and
// for 10..15 the borrow of 9 - nibble sets the mask that adds 'a' - '0' - 10.
char digit(unsigned nibble) { return static_cast<char>(nibble + '0' + (((9u - nibble) >> 8) & ('a' - '0' - 10))); }

}  // namespace

std::int32_t Exports::bin2hex_impl(cap::Cap<char> hex, cap::Cap<const std::uint8_t> bin) {
  const std::size_t bin_len = bin.size();
  // libsodium calls sodium_misuse() (abort) here; a compartment returns an error.
  if (hex.size() == 0 || bin_len > (hex.size() - 1) / 2) return -1;
  const std::span<const std::uint8_t> in = rt::check(bin.read_span(0, bin_len));
  const std::span<char> out = rt::check(hex.write_span(0, 2 * bin_len + 1));
  for (std::size_t i = 0; i < bin_len; ++i) {
    out[2 * i] = digit(in[i] >> 4);
    out[2 * i + 1] = digit(in[i] & 0xfu);
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
    out[2 * i] = digit(in[i] >> 4);
    out[2 * i + 1] = digit(in[i] & 0xfu);
  }
  rt::check(hex.store(2 * bin_len + 1, '\0'));  // the injected bug: one past the terminator's place
  return 0;
}

}  // namespace flexcap::lib::sodium_bin2hex
