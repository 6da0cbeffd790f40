// The arithmetic the ported libraries and the raw baseline share: ChaCha20's block
// function and the hex digit conversions. None of it touches memory, so sharing it makes
// the benchmark compare exactly what differs: how each version reaches its buffers.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace flexcap::sodium::core {

// ChaCha20 as D. J. Bernstein defines it ("ChaCha, a variant of Salsa20", 2008; RFC 8439
// for the IETF layout): a 4x4 matrix of 32-bit words, 20 rounds, each 64-byte block of
// key stream the rounds' output added to their input.
inline constexpr std::size_t kBlockBytes = 64;
inline constexpr std::size_t kWords = 16;
using Words = std::array<std::uint32_t, kWords>;

inline std::uint32_t load32_le(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

inline void quarter_round(Words& x, std::size_t a, std::size_t b, std::size_t c, std::size_t d) {
  x[a] += x[b];
  x[d] = std::rotl(x[d] ^ x[a], 16);
  x[c] += x[d];
  x[b] = std::rotl(x[b] ^ x[c], 12);
  x[a] += x[b];
  x[d] = std::rotl(x[d] ^ x[a], 8);
  x[c] += x[d];
  x[b] = std::rotl(x[b] ^ x[c], 7);
}

inline Words key_stream(const Words& input) {
  Words x = input;
  for (int i = 0; i < 10; ++i) {  // 10 double rounds: columns, then diagonals
    quarter_round(x, 0, 4, 8, 12);
    quarter_round(x, 1, 5, 9, 13);
    quarter_round(x, 2, 6, 10, 14);
    quarter_round(x, 3, 7, 11, 15);
    quarter_round(x, 0, 5, 10, 15);
    quarter_round(x, 1, 6, 11, 12);
    quarter_round(x, 2, 7, 8, 13);
    quarter_round(x, 3, 4, 9, 14);
  }
  for (std::size_t i = 0; i < kWords; ++i) x[i] += input[i];
  return x;
}

// Words 0..11: "expand 32-byte k" and the 32-byte key, little-endian.
inline Words initial_words(const std::uint8_t* key) {
  Words input{0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (std::size_t i = 0; i < 8; ++i) input[4 + i] = load32_le(key + 4 * i);
  return input;
}

// The lower-case digit of a nibble without a branch or a table lookup, so that the
// time taken does not depend on the bytes (they may be a key): 0..9 -> '0'..'9', and
// for 10..15 the borrow of 9 - nibble sets the mask that adds 'a' - '0' - 10.
inline char hex_digit(unsigned nibble) {
  return static_cast<char>(nibble + '0' + (((9u - nibble) >> 8) & ('a' - '0' - 10)));
}

// The value of hex digit `c` (either case), or -1. No branch on the character either.
inline int digit_value(unsigned char c) {
  const unsigned decimal = c - unsigned{'0'};
  const unsigned letter = (c | 0x20u) - unsigned{'a'};
  const unsigned is_decimal = 0u - unsigned{decimal < 10};
  const unsigned is_letter = 0u - unsigned{letter < 6};
  return static_cast<int>((decimal & is_decimal) | ((letter + 10) & is_letter) | ~(is_decimal | is_letter));
}

}  // namespace flexcap::sodium::core
