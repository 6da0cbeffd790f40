// What the two differential tests share (the ported libraries in an image,
// sodium_differential_test.cc; the raw baseline, sodium_raw_test.cc): the seed, the
// vectors, and libsodium's answers to compare with.
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace flexcap::sodium_test {

// Every test draws its vectors from this seed (and its own name), so a failure
// reproduces: run the test again with SODIUM_TEST_SEED set to the printed value.
inline std::uint64_t seed() {
  static const std::uint64_t value = [] {
    const char* text = std::getenv("SODIUM_TEST_SEED");
    return text != nullptr ? std::strtoull(text, nullptr, 0) : std::uint64_t{0x50d1'0000'c4a2'0001};
  }();
  return value;
}

// Prints the seed before the tests run, and starts libsodium.
class Environment : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0) << "libsodium failed to start";
    std::cout << "sodium tests: seed " << seed() << " (SODIUM_TEST_SEED=" << seed() << " to reproduce)\n";
  }
};

// The random generator of the running test: the seed mixed with the test's name.
inline std::mt19937_64 rng_for_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name = std::string(info->test_suite_name()) + "." + info->name();
  return std::mt19937_64(seed() ^ std::hash<std::string>{}(name));
}

inline std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

// libsodium declares its pointers nonnull even where the length is 0, and an empty
// vector's data() may be null: this gives a valid pointer either way.
template <class T>
T* pointer_to(std::vector<T>& v) {
  static T empty{};
  return v.empty() ? &empty : v.data();
}
template <class T>
const T* pointer_to(const std::vector<T>& v) {
  static const T empty{};
  return v.empty() ? &empty : v.data();
}

// Message lengths around the block size and the page size.
inline const std::vector<std::size_t> kMessageLengths = {0, 1, 63, 64, 65, 4095, 4096, 4097};

// --- sodium_hex2bin ---------------------------------------------------------------

// One call: the input, the ignore set (nullopt: NULL), bin_maxlen and whether hex_end
// is asked for.
struct Hex2BinCase {
  std::string hex;
  std::optional<std::string> ignore;
  std::size_t bin_max = 0;
  bool want_hex_end = false;

  std::string describe() const {
    std::string out = "hex \"";
    for (char c : hex) out += c == '\0' ? std::string("\\0") : std::string(1, c);
    out += "\" ignore ";
    out += ignore ? "\"" + *ignore + "\"" : std::string("NULL");
    return out + " bin_max " + std::to_string(bin_max) + " want_hex_end " + std::to_string(want_hex_end);
  }
};

// Everything the call tells its caller: the return value, *bin_len, *hex_end (as an
// index), and every byte of bin (which starts filled with kFill).
struct Hex2BinOutcome {
  static constexpr std::uint8_t kFill = 0xa5;
  static constexpr std::size_t kUnset = 0xdead'beef;
  int status = 0;
  std::size_t bin_len = kUnset;
  std::size_t hex_end = kUnset;
  std::vector<std::uint8_t> bin;
  friend bool operator==(const Hex2BinOutcome&, const Hex2BinOutcome&) = default;
};

inline std::ostream& operator<<(std::ostream& out, const Hex2BinOutcome& o) {
  out << "{status " << o.status << ", bin_len " << o.bin_len << ", hex_end " << o.hex_end << ", bin";
  for (std::uint8_t b : o.bin) out << ' ' << int{b};
  return out << "}";
}

inline Hex2BinOutcome libsodium_hex2bin(const Hex2BinCase& c) {
  Hex2BinOutcome o;
  o.bin.assign(c.bin_max, Hex2BinOutcome::kFill);
  const char* end = nullptr;
  o.status = sodium_hex2bin(pointer_to(o.bin), c.bin_max, c.hex.data(), c.hex.size(),
                            c.ignore ? c.ignore->c_str() : nullptr, &o.bin_len, c.want_hex_end ? &end : nullptr);
  if (c.want_hex_end) o.hex_end = static_cast<std::size_t>(end - c.hex.data());
  return o;
}

// The fixed cases: the documentation's examples, the ignore characters in the right and
// the wrong places, malformed input, a bin buffer too small; each with and without
// hex_end.
inline std::vector<Hex2BinCase> hex2bin_cases() {
  struct Input {
    std::string hex;
    std::optional<std::string> ignore;
  };
  using namespace std::string_literals;
  const std::vector<Input> inputs = {
      {"", std::nullopt},
      {"00", std::nullopt},
      {"0123456789abcdef", std::nullopt},
      {"0123456789ABCDEF", std::nullopt},
      {"DeadBeEFcafe", std::nullopt},
      {"69:FC", ": "},
      {"69 FC", ": "},
      {"69 : FC", ": "},
      {"69FC", ": "},
      {":69:FC:", ": "},
      {"6:9FC", ": "},  // between the digits of a byte: not ignored
      {"69F C", ": "},
      {"69-FC", ": "},  // not in the ignore set
      {"69:FC", std::nullopt},
      {"de ad be ef", " "},
      {"  dead  ", " "},
      {"d e", " "},
      {"de\tad\nbe\n", "\t\n"},
      {"d\te", "\t\n"},
      {"de ad", "\t\n"},
      {"dead", ""},  // an empty, non-NULL ignore set
      {"12g4", std::nullopt},
      {"zz", std::nullopt},
      {"12 34", std::nullopt},
      {"123", std::nullopt},  // an odd number of digits
      {"1", std::nullopt},
      {"12:3", ": "},
      {"123:", ": "},
      {"12:3:", ": "},
      {"12\00034"s, ": "},  // strchr finds the terminator: NUL counts as ignored
      {"12\00034"s, std::nullopt},
      {"12\00034"s, ""},
      {"1\0002"s, ": "},  // ... but never between two digits
      {"\000\000ab"s, " "},
      {"0102030405060708", std::nullopt},
      {"01 02 03 04 05 06 07 08", " "},
  };
  std::vector<Hex2BinCase> cases;
  for (const Input& in : inputs) {
    for (std::size_t bin_max : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{4},
                                std::size_t{7}, std::size_t{8}, std::size_t{32}}) {
      for (bool want : {false, true}) cases.push_back({in.hex, in.ignore, bin_max, want});
    }
  }
  return cases;
}

// Random short inputs over an alphabet of digits, ignore characters and junk.
inline Hex2BinCase random_hex2bin_case(std::mt19937_64& rng) {
  static constexpr char kChars[] = "0123456789abcdefABCDEF0123456789: \t\n\0xgG-";
  static constexpr std::string_view kAlphabet(kChars, sizeof(kChars) - 1);
  static const std::optional<std::string> kIgnores[] = {std::nullopt, ": ", " ", "\t\n", "", ":"};
  Hex2BinCase c;
  const std::size_t length = rng() % 24;
  for (std::size_t i = 0; i < length; ++i) c.hex += kAlphabet[rng() % kAlphabet.size()];
  c.ignore = kIgnores[rng() % std::size(kIgnores)];
  c.bin_max = rng() % 14;
  c.want_hex_end = (rng() & 1) != 0;
  return c;
}

// A random byte string written as hex, in lower, upper or mixed case, with or without
// separators.
inline std::string random_hex(std::mt19937_64& rng, std::size_t bytes, std::string_view separator) {
  constexpr std::string_view kLower = "0123456789abcdef";
  constexpr std::string_view kUpper = "0123456789ABCDEF";
  const int style = static_cast<int>(rng() % 3);
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    if (i > 0) out += separator;
    for (int half = 0; half < 2; ++half) {
      const std::size_t nibble = rng() % 16;
      const bool upper = style == 1 || (style == 2 && (rng() & 1) != 0);
      out += upper ? kUpper[nibble] : kLower[nibble];
    }
  }
  return out;
}

}  // namespace flexcap::sodium_test
