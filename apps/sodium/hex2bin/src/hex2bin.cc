#include "flexcap/lib/sodium_hex2bin.hh"

#include <array>
#include <cstddef>
#include <string_view>

#include "flexcap/rt/runtime.hh"
#include "flexcap/sodium/core.hh"

namespace flexcap::lib::sodium_hex2bin {
namespace {

using ::flexcap::sodium::core::digit_value;


// libsodium tests strchr(ignore, c) != NULL, which also holds for c == '\0': strchr
// finds the terminator. So with any `ignore` at all, a NUL in the input is skipped.
bool ignored(std::string_view ignore, unsigned char c) {
  return c == 0 || ignore.find(static_cast<char>(c)) != std::string_view::npos;
}

}  // namespace

std::int32_t Exports::hex2bin_impl(cap::Cap<std::uint8_t> bin, cap::Cap<const char> hex, cap::Cap<const char> ignore,
                                   std::int32_t want_hex_end, cap::Cap<Hex2BinResult> result) {
  static_assert(offsetof(Hex2BinResult, bin_len) == 0 && offsetof(Hex2BinResult, hex_end) == 8);
  const std::span<const char> in = rt::check(hex.read_span(0, hex.size()));
  // A zero-length `ignore` is libsodium's NULL; otherwise its characters up to its
  // first NUL, or all of them when it has none.
  const bool may_ignore = ignore.size() > 0;
  std::string_view ignore_set;
  if (may_ignore) {
    const std::span<const char> chars = rt::check(ignore.read_span(0, ignore.size()));
    ignore_set = std::string_view(chars.data(), chars.size());
    ignore_set = ignore_set.substr(0, ignore_set.find('\0'));
  }

  std::int32_t status = 0;
  std::size_t position = 0;
  std::size_t written = 0;
  // Decoded bytes gather here and go to `bin` a block at a time (one check per block;
  // every byte still lands inside bin's bounds or the block's copy faults).
  std::array<std::uint8_t, 256> pending;
  std::size_t pending_from = 0;  // bin index of pending[0]
  const auto flush = [&] {
    rt::check(bin.copy_in(pending_from, std::span<const std::uint8_t>(pending.data(), written - pending_from)));
    pending_from = written;
  };
  bool between_bytes = true;  // the next digit starts a byte: only here are characters ignored
  unsigned high_nibble = 0;
  while (position < in.size()) {
    const auto c = static_cast<unsigned char>(in[position]);
    const int value = digit_value(c);
    if (value < 0) {
      if (may_ignore && between_bytes && ignored(ignore_set, c)) {
        ++position;
        continue;
      }
      break;  // the first character that is neither: parsing stops here
    }
    if (written >= bin.size()) {  // checked on every digit, the first of a byte too
      status = -1;
      break;
    }
    if (between_bytes) {
      high_nibble = static_cast<unsigned>(value) << 4;
    } else {
      pending[written++ - pending_from] = static_cast<std::uint8_t>(high_nibble | static_cast<unsigned>(value));
      if (written - pending_from == pending.size()) flush();
    }
    between_bytes = !between_bytes;
    ++position;
  }
  flush();
  if (!between_bytes) {  // an odd number of digits: the end is the digit left alone
    --position;
    status = -1;
  }
  if (status != 0) written = 0;

  cap::Cap<std::uint64_t> fields(result.capability(), result.memory());
  if (want_hex_end != 0) {
    rt::check(fields.store(1, position));
  } else if (position != in.size()) {
    // libsodium: the input was not all parsed and the caller cannot be told where it
    // stopped. The bytes parsed so far are still reported in bin_len.
    status = -1;
  }
  rt::check(fields.store(0, written));
  return status;
}

}  // namespace flexcap::lib::sodium_hex2bin
