// The libsodium differential test: the five ported functions, called through rt::call
// from a driver library, against Debian's libsodium on the same inputs. Every return
// value and every byte written must be identical. The same source is built into one
// image per configuration (examples/sodium/*.yaml: no isolation, the five functions in
// one sandbox, or each in its own compartment, per backend), so the ported code is
// checked wherever it may run. Where libsodium aborts (sodium_misuse), the ported code
// returns -1 and writes nothing: those cases are checked on their own.
#include <endian.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "flexcap/lib/sodium_bin2hex.hh"
#include "flexcap/lib/sodium_chacha20.hh"
#include "flexcap/lib/sodium_hex2bin.hh"
#include "flexcap/lib/sodium_store32_le.hh"
#include "flexcap/lib/sodium_store64_be.hh"
#include "flexcap/rt/call.hh"
#include "sodium_test_support.hh"

namespace flexcap {
namespace {

using namespace sodium_test;
namespace chacha20 = lib::sodium_chacha20;
using lib::sodium_hex2bin::Hex2BinResult;

constexpr rt::Backend kBackend = image::Backend::kKind;
constexpr int kDriver = image::compartment_index("sodium_test_driver");
// A library in the driver's compartment is a plain call: its faults reach the driver
// as the exception itself, not as a GateError.
template <class Lib>
constexpr bool kCoLocated = image::compartment_index(Lib::name) == kDriver;
// On the page-based backends a gate costs microseconds. Where every word of ChaCha20
// crosses one (store32_le apart from chacha20), the messages are kept shorter; they
// still span several blocks and end in partial ones.
constexpr bool kWordsCrossSlowGates =
    image::compartment_index("sodium_store32_le") != image::compartment_index("sodium_chacha20") &&
    (kBackend == rt::Backend::Mprotect || kBackend == rt::Backend::Process);
constexpr std::size_t kLargestMessage = kWordsCrossSlowGates ? 8 * 1024 : 64 * 1024;
constexpr int kRandomMessages = kWordsCrossSlowGates ? 6 : 24;

// `bytes` bytes of the shared region (the memory that crosses a gate on every backend),
// as a capability whose size() is exactly `bytes`: the sizes are the functions' length
// arguments. Exact bounds are not representable for every length, so the bounds are
// the representable length and the value is set `bytes` before their top.
class SharedBuffer {
 public:
  explicit SharedBuffer(std::size_t bytes) : size_(bytes) {
    const std::uint64_t length = cap::representable_length(std::max<std::size_t>(bytes, 1));
    const std::uint64_t alignment = ~cap::representable_alignment_mask(length) + 1;
    block_ = rt::shared_alloc(length + alignment);
    const std::uint64_t start = (block_.capability().address() + alignment - 1) & ~(alignment - 1);
    const cap::Capability exact = block_.capability().set_value(start).set_bounds_exact(length);
    EXPECT_TRUE(exact.tag()) << "no exact capability for " << bytes << " bytes";
    bytes_ = cap::Cap<std::uint8_t>(exact, block_.memory()).advanced(length - bytes);
    EXPECT_EQ(bytes_.size(), bytes);
  }
  SharedBuffer(const SharedBuffer&) = delete;
  SharedBuffer& operator=(const SharedBuffer&) = delete;
  ~SharedBuffer() { rt::shared_free(block_); }

  std::size_t size() const { return size_; }
  // The driver's own view of the bytes (it hands the capabilities below to the callee).
  std::span<std::uint8_t> bytes() const {
    return {reinterpret_cast<std::uint8_t*>(bytes_.capability().address()), size_};
  }
  std::vector<std::uint8_t> contents() const { return {bytes().begin(), bytes().end()}; }
  void assign(std::span<const std::uint8_t> data) const {
    ASSERT_EQ(data.size(), size_);
    if (!data.empty()) std::memcpy(bytes().data(), data.data(), data.size());
  }
  void fill(std::uint8_t value) const { std::fill(bytes().begin(), bytes().end(), value); }

  template <class T = std::uint8_t>
  cap::Cap<T> as() const {
    return cap::Cap<T>(bytes_.capability(), bytes_.memory());
  }

 private:
  std::size_t size_;
  cap::Cap<std::byte> block_;
  cap::Cap<std::uint8_t> bytes_;
};

template <class T>
T value(const Expected<rt::Tainted<T>, rt::GateError>& r) {
  EXPECT_TRUE(r) << (r ? "" : r.error().describe());
  return r ? r->unsafe_unverified() : T{};
}

// The call must fail with a capability fault in library `Lib`'s compartment: a
// GateError of kind Fault, or, where the library runs in the driver's compartment (no
// gate), the fault itself.
template <class Lib, class Call>
void expect_fault(Call&& call) {
  if constexpr (kCoLocated<Lib>) {
    EXPECT_THROW((void)call(), rt::CompartmentFault);
  } else {
    const auto r = call();
    ASSERT_FALSE(r) << "the call should have faulted";
    EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault) << r.error().describe();
  }
}

::testing::AssertionResult same_bytes(std::span<const std::uint8_t> expected, std::span<const std::uint8_t> actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << expected.size() << " vs " << actual.size();
  }
  const auto [e, a] = std::mismatch(expected.begin(), expected.end(), actual.begin());
  if (e == expected.end()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "first difference at byte " << (e - expected.begin()) << " of "
                                       << expected.size() << ": libsodium " << int{*e} << ", ported " << int{*a};
}

// --- ChaCha20 -------------------------------------------------------------------------

std::uint64_t blocks_of(std::size_t length) { return (length + 63) / 64; }

// The largest IETF counter libsodium accepts for a message of `length` bytes.
std::uint64_t last_ietf_counter(std::size_t length) {
  return (std::uint64_t{1} << 32) - std::max<std::uint64_t>(blocks_of(length), 1);
}

struct StreamCall {
  bool ietf = false;
  std::vector<std::uint8_t> message;
  std::vector<std::uint8_t> nonce;
  std::vector<std::uint8_t> key;
  std::uint64_t counter = 0;

  std::string describe() const {
    return std::string(ietf ? "ietf" : "64-bit") + " counter " + std::to_string(counter) + " length " +
           std::to_string(message.size());
  }
};

StreamCall random_call(std::mt19937_64& rng, bool ietf, std::size_t length, std::optional<std::uint64_t> counter) {
  StreamCall call{ietf, random_bytes(rng, length), random_bytes(rng, ietf ? 12 : 8), random_bytes(rng, 32), 0};
  call.counter = counter ? *counter : ietf ? rng() % (last_ietf_counter(length) + 1) : rng();
  return call;
}

std::vector<std::uint8_t> libsodium_stream(const StreamCall& call, int& status) {
  std::vector<std::uint8_t> out(call.message.size(), 0x33);
  const unsigned long long length = call.message.size();
  status = call.ietf ? crypto_stream_chacha20_ietf_xor_ic(pointer_to(out), pointer_to(call.message), length,
                                                          call.nonce.data(), static_cast<std::uint32_t>(call.counter),
                                                          call.key.data())
                     : crypto_stream_chacha20_xor_ic(pointer_to(out), pointer_to(call.message), length,
                                                     call.nonce.data(), call.counter, call.key.data());
  return out;
}

// Runs the ported function on `c` (which may be `m` itself: in place).
std::int32_t ported_stream(const StreamCall& call, const SharedBuffer& c, const SharedBuffer& m) {
  SharedBuffer nonce(call.nonce.size());
  SharedBuffer key(call.key.size());
  nonce.assign(call.nonce);
  key.assign(call.key);
  if (call.ietf) {
    return value(rt::call<chacha20::Exports::ietf_xor_ic>(
        c.as(), m.as<const std::uint8_t>(), nonce.as<const std::uint8_t>(), static_cast<std::uint32_t>(call.counter),
        key.as<const std::uint8_t>()));
  }
  return value(rt::call<chacha20::Exports::xor_ic>(c.as(), m.as<const std::uint8_t>(), nonce.as<const std::uint8_t>(),
                                                   call.counter, key.as<const std::uint8_t>()));
}

void expect_same_stream(const StreamCall& call, bool in_place = false) {
  SCOPED_TRACE(call.describe() + (in_place ? " in place" : ""));
  int expected_status = 0;
  const std::vector<std::uint8_t> expected = libsodium_stream(call, expected_status);
  SharedBuffer m(call.message.size());
  m.assign(call.message);
  if (in_place) {
    EXPECT_EQ(ported_stream(call, m, m), expected_status);
    EXPECT_TRUE(same_bytes(expected, m.contents()));
  } else {
    SharedBuffer c(call.message.size());
    c.fill(0x33);
    EXPECT_EQ(ported_stream(call, c, m), expected_status);
    EXPECT_TRUE(same_bytes(expected, c.contents()));
    EXPECT_TRUE(same_bytes(call.message, m.contents())) << "the message must not change";
  }
}

TEST(ChaCha20, MatchesLibsodiumAroundTheBlockAndPageSizes) {
  auto rng = rng_for_test();
  for (bool ietf : {false, true}) {
    for (std::size_t length : kMessageLengths) expect_same_stream(random_call(rng, ietf, length, std::nullopt));
  }
}

TEST(ChaCha20, MatchesLibsodiumOnRandomLengths) {
  auto rng = rng_for_test();
  for (int i = 0; i < kRandomMessages; ++i) {
    const bool ietf = (i & 1) != 0;
    expect_same_stream(random_call(rng, ietf, rng() % (kLargestMessage + 1), std::nullopt));
  }
  expect_same_stream(random_call(rng, false, kLargestMessage, std::nullopt));
  expect_same_stream(random_call(rng, true, kLargestMessage - 1, std::nullopt));
}

TEST(ChaCha20, TheXorFormsAreCounterZero) {
  auto rng = rng_for_test();
  for (std::size_t length : {std::size_t{1}, std::size_t{100}, std::size_t{4097}}) {
    for (bool ietf : {false, true}) {
      const StreamCall call = random_call(rng, ietf, length, 0);
      std::vector<std::uint8_t> expected(length);
      const int status = ietf ? crypto_stream_chacha20_ietf_xor(expected.data(), call.message.data(), length,
                                                                call.nonce.data(), call.key.data())
                              : crypto_stream_chacha20_xor(expected.data(), call.message.data(), length,
                                                           call.nonce.data(), call.key.data());
      SharedBuffer m(length);
      SharedBuffer c(length);
      m.assign(call.message);
      EXPECT_EQ(ported_stream(call, c, m), status);
      EXPECT_TRUE(same_bytes(expected, c.contents())) << call.describe();
    }
  }
}

TEST(ChaCha20, The64BitCounterCarriesAndWrapsAround) {
  auto rng = rng_for_test();
  const std::uint64_t counters[] = {0xffff'ffffull, 0xffff'fffeull, ~0ull, ~0ull - 1, ~0ull - 60};
  for (std::uint64_t counter : counters) {
    for (std::size_t length : {std::size_t{64}, std::size_t{65}, std::size_t{200}, std::size_t{4097}}) {
      expect_same_stream(random_call(rng, false, length, counter));
    }
  }
}

TEST(ChaCha20, TheIetfCounterRunsToItsLastBlock) {
  auto rng = rng_for_test();
  for (std::size_t length :
       {std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65}, std::size_t{4096}, std::size_t{4097}}) {
    expect_same_stream(random_call(rng, true, length, last_ietf_counter(length)));
    expect_same_stream(random_call(rng, true, length, last_ietf_counter(length) - 1));
  }
  expect_same_stream(random_call(rng, true, 0, 0xffff'ffffull));
}

// libsodium aborts here (sodium_misuse); the port returns -1 and writes nothing.
TEST(ChaCha20, TheIetfCounterCannotRunPastItsLastBlock) {
  auto rng = rng_for_test();
  for (std::size_t length : {std::size_t{1}, std::size_t{64}, std::size_t{65}, std::size_t{4097}}) {
    for (std::uint64_t beyond : {1ull, 7ull}) {
      const std::uint64_t counter = last_ietf_counter(length) + beyond;
      if (counter > 0xffff'ffffull) continue;
      const StreamCall call = random_call(rng, true, length, counter);
      SCOPED_TRACE(call.describe());
      SharedBuffer m(length);
      SharedBuffer c(length);
      m.assign(call.message);
      c.fill(0x33);
      EXPECT_EQ(ported_stream(call, c, m), -1);
      EXPECT_TRUE(std::all_of(c.bytes().begin(), c.bytes().end(), [](std::uint8_t b) { return b == 0x33; }));
    }
  }
}

TEST(ChaCha20, EncryptsInPlace) {
  auto rng = rng_for_test();
  for (bool ietf : {false, true}) {
    for (std::size_t length : {std::size_t{1}, std::size_t{64}, std::size_t{65}, std::size_t{4097}}) {
      expect_same_stream(random_call(rng, ietf, length, std::nullopt), true);
    }
    expect_same_stream(random_call(rng, ietf, rng() % (kLargestMessage + 1), std::nullopt), true);
  }
}

// The sizes libsodium takes on trust are the capabilities' sizes here: a wrong one is
// an error, and nothing is written.
TEST(ChaCha20, RefusesWrongSizes) {
  auto rng = rng_for_test();
  struct Sizes {
    std::size_t nonce, key, c;
  };
  for (bool ietf : {false, true}) {
    const std::size_t nonce = ietf ? 12 : 8;
    for (const Sizes& s : {Sizes{nonce - 1, 32, 100}, Sizes{nonce + 1, 32, 100}, Sizes{nonce, 31, 100},
                           Sizes{nonce, 33, 100}, Sizes{nonce, 32, 99}, Sizes{ietf ? 8u : 12u, 32, 100}}) {
      StreamCall call = random_call(rng, ietf, 100, std::nullopt);
      call.nonce = random_bytes(rng, s.nonce);
      call.key = random_bytes(rng, s.key);
      SCOPED_TRACE(call.describe() + " nonce " + std::to_string(s.nonce) + " key " + std::to_string(s.key) + " c " +
                   std::to_string(s.c));
      SharedBuffer m(100);
      SharedBuffer c(s.c);
      m.assign(call.message);
      c.fill(0x33);
      EXPECT_EQ(ported_stream(call, c, m), -1);
      EXPECT_TRUE(std::all_of(c.bytes().begin(), c.bytes().end(), [](std::uint8_t b) { return b == 0x33; }));
    }
  }
}

// Output through a capability without store permission: store32_le faults on the
// first word, and so does ChaCha20, whichever compartments they are in. The faulted
// compartments restart, and the next call works.
TEST(ChaCha20, AFaultInStore32LeFaultsTheCall) {
  auto rng = rng_for_test();
  const StreamCall call = random_call(rng, false, 128, std::nullopt);
  SharedBuffer m(128);
  SharedBuffer c(128);
  SharedBuffer nonce(8);
  SharedBuffer key(32);
  m.assign(call.message);
  nonce.assign(call.nonce);
  key.assign(call.key);
  c.fill(0x33);
  const cap::Cap<std::uint8_t> unwritable(c.as<const std::uint8_t>().capability(), c.as().memory());
  expect_fault<chacha20::Library>([&] {
    return rt::call<chacha20::Exports::xor_ic>(unwritable, m.as<const std::uint8_t>(), nonce.as<const std::uint8_t>(),
                                               call.counter, key.as<const std::uint8_t>());
  });
  EXPECT_TRUE(std::all_of(c.bytes().begin(), c.bytes().end(), [](std::uint8_t b) { return b == 0x33; }));
  expect_same_stream(call);
}

// --- store32_le, store64_be -------------------------------------------------------------
// libsodium's STORE32_LE and STORE64_BE are internal (private/common.h): its behaviour is
// the byte order, which <endian.h> gives independently.

template <class Export, class Word>
void expect_stores(Word (*to_memory_order)(Word)) {
  auto rng = rng_for_test();
  constexpr std::size_t kBuffer = 24;
  SharedBuffer buffer(kBuffer);
  for (int i = 0; i < 64; ++i) {
    const auto word = static_cast<Word>(rng());
    const std::size_t at = rng() % (kBuffer - sizeof(Word) + 1);
    std::vector<std::uint8_t> expected = random_bytes(rng, kBuffer);
    buffer.assign(expected);
    const Word ordered = to_memory_order(word);
    std::memcpy(expected.data() + at, &ordered, sizeof(Word));
    // The destination keeps the whole buffer's bounds, as a C pointer into it would.
    EXPECT_TRUE(rt::call<Export::value>(buffer.as().advanced(at), word));
    EXPECT_TRUE(same_bytes(expected, buffer.contents())) << "word " << word << " at " << at;
  }
}

// A destination with fewer bytes than the word: the whole store is refused.
template <class Lib, class Export, class Word>
void expect_short_destinations_fault() {
  for (std::size_t bytes = 0; bytes < sizeof(Word); ++bytes) {
    SCOPED_TRACE("destination of " + std::to_string(bytes) + " bytes");
    SharedBuffer exact(bytes);
    exact.fill(0x77);
    expect_fault<Lib>([&] { return rt::call<Export::value>(exact.as(), static_cast<Word>(0x0102030405060708ull)); });
    EXPECT_TRUE(std::all_of(exact.bytes().begin(), exact.bytes().end(), [](std::uint8_t b) { return b == 0x77; }));
    // The same through a reference advanced to `bytes` before the end of a larger buffer.
    SharedBuffer larger(32);
    larger.fill(0x77);
    expect_fault<Lib>([&] { return rt::call<Export::value>(larger.as().advanced(32 - bytes), Word{1}); });
    EXPECT_TRUE(std::all_of(larger.bytes().begin(), larger.bytes().end(), [](std::uint8_t b) { return b == 0x77; }));
  }
  SharedBuffer read_only(sizeof(Word));
  const cap::Cap<std::uint8_t> unwritable(read_only.as<const std::uint8_t>().capability(), read_only.as().memory());
  expect_fault<Lib>([&] { return rt::call<Export::value>(unwritable, Word{1}); });
  // The faulted compartment starts over (restart: on-fault): the next store works.
  SharedBuffer fine(sizeof(Word));
  EXPECT_TRUE(rt::call<Export::value>(fine.as(), Word{1}));
}

struct Store32 {
  static constexpr const auto& value = lib::sodium_store32_le::Exports::store32_le;
};
struct Store64 {
  static constexpr const auto& value = lib::sodium_store64_be::Exports::store64_be;
};

std::uint32_t le32(std::uint32_t w) { return htole32(w); }
std::uint64_t be64(std::uint64_t w) { return htobe64(w); }

TEST(Store32Le, WritesLeastSignificantByteFirst) { expect_stores<Store32, std::uint32_t>(le32); }
TEST(Store32Le, FaultsOnADestinationShorterThanFourBytes) {
  expect_short_destinations_fault<lib::sodium_store32_le::Library, Store32, std::uint32_t>();
}
TEST(Store64Be, WritesMostSignificantByteFirst) { expect_stores<Store64, std::uint64_t>(be64); }
TEST(Store64Be, FaultsOnADestinationShorterThanEightBytes) {
  expect_short_destinations_fault<lib::sodium_store64_be::Library, Store64, std::uint64_t>();
}

// --- bin2hex ------------------------------------------------------------------------------

// `extra` bytes beyond what the output needs: neither libsodium nor the port touches them.
void expect_same_hex(const std::vector<std::uint8_t>& bin, std::size_t extra) {
  SCOPED_TRACE(std::to_string(bin.size()) + " bytes, " + std::to_string(extra) + " spare");
  const std::size_t hex_size = 2 * bin.size() + 1 + extra;
  std::vector<char> expected(hex_size, 'Z');
  EXPECT_EQ(sodium_bin2hex(expected.data(), hex_size, pointer_to(bin), bin.size()), expected.data());
  SharedBuffer in(bin.size());
  SharedBuffer hex(hex_size);
  in.assign(bin);
  hex.fill('Z');
  EXPECT_EQ(value(rt::call<lib::sodium_bin2hex::Exports::bin2hex>(hex.as<char>(), in.as<const std::uint8_t>())), 0);
  const std::span<const std::uint8_t> expected_bytes(reinterpret_cast<const std::uint8_t*>(expected.data()), hex_size);
  EXPECT_TRUE(same_bytes(expected_bytes, hex.contents()));
}

TEST(Bin2Hex, MatchesLibsodium) {
  auto rng = rng_for_test();
  for (std::size_t length : {0, 1, 2, 15, 16, 17, 255, 256, 4095, 4096}) {
    expect_same_hex(random_bytes(rng, length), 0);
  }
  for (int i = 0; i < 20; ++i) expect_same_hex(random_bytes(rng, rng() % 4097), rng() % 3 == 0 ? rng() % 9 : 0);
}

// libsodium aborts here (sodium_misuse); the port returns -1 and writes nothing.
TEST(Bin2Hex, RefusesAHexBufferOneByteTooSmall) {
  auto rng = rng_for_test();
  for (std::size_t length : {0, 1, 100, 4096}) {
    SCOPED_TRACE(std::to_string(length) + " bytes");
    SharedBuffer in(length);
    SharedBuffer hex(2 * length);
    in.assign(random_bytes(rng, length));
    hex.fill('Z');
    EXPECT_EQ(value(rt::call<lib::sodium_bin2hex::Exports::bin2hex>(hex.as<char>(), in.as<const std::uint8_t>())), -1);
    EXPECT_TRUE(std::all_of(hex.bytes().begin(), hex.bytes().end(), [](std::uint8_t b) { return b == 'Z'; }));
  }
}

// --- hex2bin ------------------------------------------------------------------------------

// `ignore_terminated`: the ignore capability holds the NUL too; otherwise it ends where
// the characters do (the port reads up to the first NUL or the end).
Hex2BinOutcome ported_hex2bin(const Hex2BinCase& c, bool ignore_terminated = true) {
  SharedBuffer bin(c.bin_max);
  SharedBuffer hex(c.hex.size());
  const std::size_t ignore_size = c.ignore ? c.ignore->size() + (ignore_terminated ? 1 : 0) : 0;
  SharedBuffer ignore(ignore_size);
  SharedBuffer result(sizeof(Hex2BinResult));
  bin.fill(Hex2BinOutcome::kFill);
  hex.assign({reinterpret_cast<const std::uint8_t*>(c.hex.data()), c.hex.size()});
  if (ignore_size > 0) std::memcpy(ignore.bytes().data(), c.ignore->c_str(), ignore_size);
  const Hex2BinResult unset{Hex2BinOutcome::kUnset, Hex2BinOutcome::kUnset};
  std::memcpy(result.bytes().data(), &unset, sizeof(unset));

  Hex2BinOutcome o;
  o.status =
      value(rt::call<lib::sodium_hex2bin::Exports::hex2bin>(bin.as(), hex.as<const char>(), ignore.as<const char>(),
                                                            std::int32_t{c.want_hex_end}, result.as<Hex2BinResult>()));
  Hex2BinResult out;
  std::memcpy(&out, result.bytes().data(), sizeof(out));
  o.bin_len = out.bin_len;
  o.hex_end = out.hex_end;
  o.bin = bin.contents();
  return o;
}

void expect_same_hex2bin(const Hex2BinCase& c) { EXPECT_EQ(ported_hex2bin(c), libsodium_hex2bin(c)) << c.describe(); }

TEST(Hex2Bin, MatchesLibsodiumOnTheDocumentedAndMalformedCases) {
  for (const Hex2BinCase& c : hex2bin_cases()) expect_same_hex2bin(c);
}

TEST(Hex2Bin, AnIgnoreSetNeedsNoTerminator) {
  for (const Hex2BinCase& c : hex2bin_cases()) {
    if (c.ignore && !c.ignore->empty()) {
      EXPECT_EQ(ported_hex2bin(c, false), libsodium_hex2bin(c)) << c.describe();
    }
  }
}

TEST(Hex2Bin, MatchesLibsodiumOnRandomHex) {
  auto rng = rng_for_test();
  const std::pair<std::string, std::optional<std::string>> styles[] = {
      {"", std::nullopt}, {":", ": "}, {" ", " "}, {" : ", ": "}, {"\n", "\t\n"}};
  for (int i = 0; i < 60; ++i) {
    const auto& [separator, ignore] = styles[rng() % std::size(styles)];
    const std::size_t bytes = rng() % 513;
    const std::size_t bin_max = bytes + 5 - rng() % 7;  // enough, more than enough, one or more short
    expect_same_hex2bin({random_hex(rng, bytes, separator), ignore, bin_max, (rng() & 1) != 0});
  }
}

TEST(Hex2Bin, MatchesLibsodiumOnRandomJunk) {
  auto rng = rng_for_test();
  for (int i = 0; i < 3000; ++i) expect_same_hex2bin(random_hex2bin_case(rng));
}

}  // namespace
}  // namespace flexcap

int main(int argc, char** argv) {
  flexcap::image::start();
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new flexcap::sodium_test::Environment);
  return RUN_ALL_TESTS();
}
