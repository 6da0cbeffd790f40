#include "flexcap/sodium/raw.hh"

#include "flexcap/sodium/core.hh"

#include <cstring>

namespace flexcap::sodium::raw {

// Ordinary C: the compiler may inline it into the cipher, as libsodium's STORE32_LE is.
// The ported images are built with link-time optimisation, so a co-located call to the
// store32_le library may be inlined there too; across a gate it cannot.
void store32_le(unsigned char* dst, std::uint32_t w) {
  dst[0] = static_cast<unsigned char>(w);
  dst[1] = static_cast<unsigned char>(w >> 8);
  dst[2] = static_cast<unsigned char>(w >> 16);
  dst[3] = static_cast<unsigned char>(w >> 24);
}

namespace {

using core::digit_value;
using core::hex_digit;
using core::initial_words;
using core::key_stream;
using core::load32_le;
using core::Words;

// The same steps as the ported xor_stream (apps/sodium/chacha20), on raw pointers:
// every output word goes through store32_le.
void xor_stream(unsigned char* c, const unsigned char* m, unsigned long long mlen, Words input, bool wide_counter) {
  Words in_words;
  for (; mlen >= 64; mlen -= 64, m += 64, c += 64) {
    for (std::size_t i = 0; i < 16; ++i) in_words[i] = load32_le(m + 4 * i);
    const Words stream = key_stream(input);
    for (std::size_t i = 0; i < 16; ++i) store32_le(c + 4 * i, stream[i] ^ in_words[i]);
    if (++input[12] == 0 && wide_counter) ++input[13];
  }
  if (mlen == 0) return;
  unsigned char padded[64] = {0};
  unsigned char block[64];
  std::memcpy(padded, m, mlen);
  for (std::size_t i = 0; i < 16; ++i) in_words[i] = load32_le(padded + 4 * i);
  const Words stream = key_stream(input);
  for (std::size_t i = 0; i < 16; ++i) store32_le(block + 4 * i, stream[i] ^ in_words[i]);
  std::memcpy(c, block, mlen);
}

}  // namespace

char* bin2hex(char* hex, std::size_t hex_maxlen, const unsigned char* bin, std::size_t bin_len) {
  if (hex_maxlen == 0 || bin_len > (hex_maxlen - 1) / 2) return nullptr;
  for (std::size_t i = 0; i < bin_len; ++i) {
    hex[2 * i] = hex_digit(bin[i] >> 4);
    hex[2 * i + 1] = hex_digit(bin[i] & 0xfu);
  }
  hex[2 * bin_len] = '\0';
  return hex;
}

char* bin2hex_off_by_one(char* hex, std::size_t hex_maxlen, const unsigned char* bin, std::size_t bin_len) {
  if (hex_maxlen == 0 || bin_len > (hex_maxlen - 1) / 2) return nullptr;
  for (std::size_t i = 0; i < bin_len; ++i) {
    hex[2 * i] = hex_digit(bin[i] >> 4);
    hex[2 * i + 1] = hex_digit(bin[i] & 0xfu);
  }
  hex[2 * bin_len + 1] = '\0';  // the injected bug: one past the terminator's place
  return hex;
}

int hex2bin(unsigned char* bin, std::size_t bin_maxlen, const char* hex, std::size_t hex_len, const char* ignore,
            std::size_t* bin_len, const char** hex_end) {
  int status = 0;
  std::size_t position = 0;
  std::size_t written = 0;
  bool between_bytes = true;
  unsigned high_nibble = 0;
  while (position < hex_len) {
    const auto c = static_cast<unsigned char>(hex[position]);
    const int value = digit_value(c);
    if (value < 0) {
      if (ignore != nullptr && between_bytes && std::strchr(ignore, c) != nullptr) {
        ++position;
        continue;
      }
      break;
    }
    if (written >= bin_maxlen) {
      status = -1;
      break;
    }
    if (between_bytes) {
      high_nibble = static_cast<unsigned>(value) << 4;
    } else {
      bin[written++] = static_cast<unsigned char>(high_nibble | static_cast<unsigned>(value));
    }
    between_bytes = !between_bytes;
    ++position;
  }
  if (!between_bytes) {
    --position;
    status = -1;
  }
  if (status != 0) written = 0;
  if (hex_end != nullptr) {
    *hex_end = hex + position;
  } else if (position != hex_len) {
    status = -1;
  }
  if (bin_len != nullptr) *bin_len = written;
  return status;
}

int chacha20_xor_ic(unsigned char* c, const unsigned char* m, unsigned long long mlen, const unsigned char* n,
                    std::uint64_t ic, const unsigned char* k) {
  if (mlen == 0) return 0;
  Words input = initial_words(k);
  input[12] = static_cast<std::uint32_t>(ic);
  input[13] = static_cast<std::uint32_t>(ic >> 32);
  input[14] = load32_le(n);
  input[15] = load32_le(n + 4);
  xor_stream(c, m, mlen, input, true);
  return 0;
}

int chacha20_ietf_xor_ic(unsigned char* c, const unsigned char* m, unsigned long long mlen, const unsigned char* n,
                         std::uint32_t ic, const unsigned char* k) {
  const unsigned long long blocks = mlen / 64 + (mlen % 64 != 0 ? 1 : 0);
  if (blocks > (1ull << 32) - ic) return -1;
  if (mlen == 0) return 0;
  Words input = initial_words(k);
  input[12] = ic;
  for (int i = 0; i < 3; ++i) input[13 + i] = load32_le(n + 4 * i);
  xor_stream(c, m, mlen, input, false);
  return 0;
}

void store64_be(unsigned char* dst, std::uint64_t w) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<unsigned char>(w >> (56 - 8 * i));
}

}  // namespace flexcap::sodium::raw
