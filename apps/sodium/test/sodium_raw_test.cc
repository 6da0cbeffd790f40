// The raw-pointer baseline (apps/sodium/raw) against Debian's libsodium, on the same
// vectors as the ported libraries' differential test: the baseline is only a fair one
// if it computes the same thing.
#include "flexcap/sodium/raw.hh"

#include <endian.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "sodium_test_support.hh"

namespace flexcap::sodium_test {
namespace {

namespace raw = flexcap::sodium::raw;

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new Environment);

std::uint64_t last_ietf_counter(std::size_t length) {
  return (std::uint64_t{1} << 32) - std::max<std::uint64_t>((length + 63) / 64, 1);
}

void expect_same_stream(std::mt19937_64& rng, bool ietf, std::size_t length, std::optional<std::uint64_t> counter,
                        bool in_place = false) {
  const std::vector<std::uint8_t> message = random_bytes(rng, length);
  const std::vector<std::uint8_t> nonce = random_bytes(rng, ietf ? 12 : 8);
  const std::vector<std::uint8_t> key = random_bytes(rng, 32);
  const std::uint64_t ic = counter ? *counter : ietf ? rng() % (last_ietf_counter(length) + 1) : rng();
  SCOPED_TRACE(std::string(ietf ? "ietf" : "64-bit") + " counter " + std::to_string(ic) + " length " +
               std::to_string(length) + (in_place ? " in place" : ""));
  std::vector<std::uint8_t> expected(length, 0x33);
  std::vector<std::uint8_t> actual = in_place ? message : std::vector<std::uint8_t>(length, 0x33);
  const unsigned char* m = in_place ? actual.data() : message.data();
  if (ietf) {
    const auto ic32 = static_cast<std::uint32_t>(ic);
    EXPECT_EQ(raw::chacha20_ietf_xor_ic(actual.data(), m, length, nonce.data(), ic32, key.data()),
              crypto_stream_chacha20_ietf_xor_ic(pointer_to(expected), pointer_to(message), length, nonce.data(), ic32,
                                                 key.data()));
  } else {
    EXPECT_EQ(
        raw::chacha20_xor_ic(actual.data(), m, length, nonce.data(), ic, key.data()),
        crypto_stream_chacha20_xor_ic(pointer_to(expected), pointer_to(message), length, nonce.data(), ic, key.data()));
  }
  EXPECT_TRUE(expected == actual);
}

TEST(RawChaCha20, MatchesLibsodium) {
  auto rng = rng_for_test();
  for (bool ietf : {false, true}) {
    for (std::size_t length : kMessageLengths) expect_same_stream(rng, ietf, length, std::nullopt);
    for (int i = 0; i < 16; ++i) expect_same_stream(rng, ietf, rng() % (64 * 1024 + 1), std::nullopt);
    for (std::size_t length : {std::size_t{1}, std::size_t{65}, std::size_t{4097}}) {
      expect_same_stream(rng, ietf, length, std::nullopt, true);
    }
  }
  for (std::uint64_t counter : {0xffff'ffffull, ~0ull, ~0ull - 1}) expect_same_stream(rng, false, 4097, counter);
  for (std::size_t length : {std::size_t{1}, std::size_t{64}, std::size_t{65}, std::size_t{4097}}) {
    expect_same_stream(rng, true, length, last_ietf_counter(length));
  }
}

TEST(RawChaCha20, TheIetfCounterCannotRunPastItsLastBlock) {
  std::vector<std::uint8_t> c(65, 0x33), m(65), n(12), k(32);
  EXPECT_EQ(raw::chacha20_ietf_xor_ic(c.data(), m.data(), 65, n.data(), 0xffff'ffffu, k.data()), -1);
  EXPECT_TRUE(std::all_of(c.begin(), c.end(), [](std::uint8_t b) { return b == 0x33; }));
}

TEST(RawStores, MatchTheByteOrder) {
  auto rng = rng_for_test();
  for (int i = 0; i < 64; ++i) {
    const std::uint64_t w = rng();
    unsigned char out32[4];
    unsigned char out64[8];
    raw::store32_le(out32, static_cast<std::uint32_t>(w));
    raw::store64_be(out64, w);
    const std::uint32_t le = htole32(static_cast<std::uint32_t>(w));
    const std::uint64_t be = htobe64(w);
    EXPECT_EQ(std::memcmp(out32, &le, 4), 0);
    EXPECT_EQ(std::memcmp(out64, &be, 8), 0);
  }
}

TEST(RawBin2Hex, MatchesLibsodium) {
  auto rng = rng_for_test();
  for (int i = 0; i < 40; ++i) {
    const std::vector<std::uint8_t> bin = random_bytes(rng, i < 3 ? static_cast<std::size_t>(i) : rng() % 4097);
    std::vector<char> expected(2 * bin.size() + 1, 'Z'), actual(2 * bin.size() + 1, 'Z');
    sodium_bin2hex(expected.data(), expected.size(), pointer_to(bin), bin.size());
    EXPECT_EQ(raw::bin2hex(actual.data(), actual.size(), bin.data(), bin.size()), actual.data());
    EXPECT_EQ(expected, actual);
  }
  char hex[4];
  const unsigned char two[2] = {1, 2};
  EXPECT_EQ(raw::bin2hex(hex, 4, two, 2), nullptr) << "one byte too small";
}

Hex2BinOutcome raw_hex2bin(const Hex2BinCase& c) {
  Hex2BinOutcome o;
  o.bin.assign(c.bin_max, Hex2BinOutcome::kFill);
  const char* end = nullptr;
  o.status = raw::hex2bin(o.bin.data(), c.bin_max, c.hex.data(), c.hex.size(), c.ignore ? c.ignore->c_str() : nullptr,
                          &o.bin_len, c.want_hex_end ? &end : nullptr);
  if (c.want_hex_end) o.hex_end = static_cast<std::size_t>(end - c.hex.data());
  return o;
}

TEST(RawHex2Bin, MatchesLibsodium) {
  auto rng = rng_for_test();
  for (const Hex2BinCase& c : hex2bin_cases()) EXPECT_EQ(raw_hex2bin(c), libsodium_hex2bin(c)) << c.describe();
  for (int i = 0; i < 5000; ++i) {
    const Hex2BinCase c = random_hex2bin_case(rng);
    EXPECT_EQ(raw_hex2bin(c), libsodium_hex2bin(c)) << c.describe();
  }
  for (int i = 0; i < 60; ++i) {
    const std::size_t bytes = rng() % 513;
    const Hex2BinCase c{random_hex(rng, bytes, i % 2 ? " " : ""),
                        i % 2 ? std::optional<std::string>(" ") : std::nullopt, bytes + 5 - rng() % 7,
                        (rng() & 1) != 0};
    EXPECT_EQ(raw_hex2bin(c), libsodium_hex2bin(c)) << c.describe();
  }
}

}  // namespace
}  // namespace flexcap::sodium_test
