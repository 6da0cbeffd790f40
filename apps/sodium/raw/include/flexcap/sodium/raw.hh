// The same five functions as apps/sodium's ported libraries, written the ordinary way
// on raw pointers: the baseline the ported code is measured against (and the one whose
// injected bug corrupts a neighbour, see flexcap attack). Signatures as libsodium's.
#pragma once

#include <cstddef>
#include <cstdint>

namespace flexcap::sodium::raw {

// Returns hex, or nullptr (nothing written) where libsodium would abort (hex_maxlen < 2 * bin_len + 1).
char* bin2hex(char* hex, std::size_t hex_maxlen, const unsigned char* bin, std::size_t bin_len);
// The test switch of flexcap attack's demonstration: bin2hex with an injected
// off-by-one, writing the terminating NUL at hex[2 * bin_len + 1].
char* bin2hex_off_by_one(char* hex, std::size_t hex_maxlen, const unsigned char* bin, std::size_t bin_len);
int hex2bin(unsigned char* bin, std::size_t bin_maxlen, const char* hex, std::size_t hex_len, const char* ignore,
            std::size_t* bin_len, const char** hex_end);
int chacha20_xor_ic(unsigned char* c, const unsigned char* m, unsigned long long mlen, const unsigned char* n,
                    std::uint64_t ic, const unsigned char* k);
// Returns -1 where libsodium would abort: the message runs the 32-bit block counter past
// 2^32 blocks (ic + ceil(mlen / 64) > 2^32).
int chacha20_ietf_xor_ic(unsigned char* c, const unsigned char* m, unsigned long long mlen, const unsigned char* n,
                         std::uint32_t ic, const unsigned char* k);
void store32_le(unsigned char* dst, std::uint32_t w);
void store64_be(unsigned char* dst, std::uint64_t w);

}  // namespace flexcap::sodium::raw
