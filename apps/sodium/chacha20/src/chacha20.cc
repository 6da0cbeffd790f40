#include "flexcap/lib/sodium_chacha20.hh"

#include <array>
#include <cstring>
#include <utility>

#include "flexcap/lib/sodium_store32_le.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/rt/runtime.hh"
#include "flexcap/sodium/core.hh"

namespace flexcap::lib::sodium_chacha20 {
namespace {

using ::flexcap::sodium::core::initial_words;
using ::flexcap::sodium::core::kBlockBytes;
using ::flexcap::sodium::core::key_stream;
using ::flexcap::sodium::core::kWords;
using ::flexcap::sodium::core::load32_le;
using ::flexcap::sodium::core::Words;

// The library's state: one block of shared memory for the last, partial block. Its
// output words go through store32_le like every other, so they need a capability that
// any compartment may be handed; the caller's `c` is too short there.
struct State {
  cap::Cap<std::uint8_t> scratch;
  State() {
    const cap::Cap<std::byte> block = rt::shared_alloc(kBlockBytes);
    scratch = cap::Cap<std::uint8_t>(block.capability(), block.memory());
  }
};

// Every output word crosses to store32_le: a plain call when it is co-located, a gate
// when it is in another compartment. A failed store faults this compartment too.
void store_word(const cap::Cap<std::uint8_t>& at, std::uint32_t word) {
  const auto stored = rt::call<sodium_store32_le::Exports::store32_le>(at, word);
  if (!stored) [[unlikely]] {
    throw rt::CompartmentFault{at.capability().address(), "store32_le failed: " + stored.error().describe()};
  }
}

// The capabilities c + offset + 4i of one block's words, built in place before the
// rounds rather than one by one before each call. Each call copies its Cap argument with
// wide loads; reading a Cap whose fields were stored a few cycles earlier stalls them
// (store forwarding fails), which measured at more than the cipher's own cost. Built
// here, they have long settled in memory when the calls copy them.
template <std::size_t... I>
std::array<cap::Cap<std::uint8_t>, kWords> word_targets(const cap::Cap<std::uint8_t>& c, std::size_t offset,
                                                        std::index_sequence<I...>) {
  return {c.advanced(offset + 4 * I)...};
}
std::array<cap::Cap<std::uint8_t>, kWords> word_targets(const cap::Cap<std::uint8_t>& c, std::size_t offset) {
  return word_targets(c, offset, std::make_index_sequence<kWords>());
}

// Encrypts m into c. `wide_counter`: words 12 and 13 are one 64-bit counter (the
// original ChaCha20); otherwise only word 12 counts (IETF; callers refuse messages that
// would run it past 2^32 blocks).
void xor_stream(const cap::Cap<std::uint8_t>& c, const cap::Cap<const std::uint8_t>& m, Words input,
                bool wide_counter) {
  const std::size_t length = m.size();
  const auto next_block = [&] {
    if (++input[12] == 0 && wide_counter) ++input[13];
  };
  Words in_words;
  std::size_t offset = 0;
  for (; length - offset >= kBlockBytes; offset += kBlockBytes) {
    // All 16 input words are read before the first output word is written, so c and m
    // may be the same memory.
    const std::span<const std::uint8_t> in = rt::check(m.read_span(offset, kBlockBytes));
    for (std::size_t i = 0; i < kWords; ++i) in_words[i] = load32_le(in.data() + 4 * i);
    const std::array<cap::Cap<std::uint8_t>, kWords> targets = word_targets(c, offset);
    const Words stream = key_stream(input);
    for (std::size_t i = 0; i < kWords; ++i) store_word(targets[i], stream[i] ^ in_words[i]);
    next_block();
  }
  if (offset == length) return;

  // The last, partial block: through the scratch block, then its first bytes into c.
  const std::size_t rest = length - offset;
  std::array<std::uint8_t, kBlockBytes> padded{};
  const std::span<const std::uint8_t> in = rt::check(m.read_span(offset, rest));
  std::memcpy(padded.data(), in.data(), rest);
  for (std::size_t i = 0; i < kWords; ++i) in_words[i] = load32_le(padded.data() + 4 * i);
  const Words stream = key_stream(input);
  const cap::Cap<std::uint8_t>& scratch = rt::library_state<Library, State>().scratch;
  const std::array<cap::Cap<std::uint8_t>, kWords> targets = word_targets(scratch, 0);
  for (std::size_t i = 0; i < kWords; ++i) store_word(targets[i], stream[i] ^ in_words[i]);
  const std::span<const std::uint8_t> block = rt::check(scratch.read_span(0, rest));
  const std::span<std::uint8_t> out = rt::check(c.write_span(offset, rest));
  std::memcpy(out.data(), block.data(), rest);
}

}  // namespace

std::int32_t Exports::xor_ic_impl(cap::Cap<std::uint8_t> c, cap::Cap<const std::uint8_t> m,
                                  cap::Cap<const std::uint8_t> n, std::uint64_t ic, cap::Cap<const std::uint8_t> k) {
  if (c.size() < m.size() || n.size() != kNonceBytes || k.size() != kKeyBytes) return -1;
  if (m.size() == 0) return 0;
  Words input = initial_words(rt::check(k.read_span(0, kKeyBytes)).data());
  const std::span<const std::uint8_t> nonce = rt::check(n.read_span(0, kNonceBytes));
  input[12] = static_cast<std::uint32_t>(ic);
  input[13] = static_cast<std::uint32_t>(ic >> 32);
  input[14] = load32_le(nonce.data());
  input[15] = load32_le(nonce.data() + 4);
  xor_stream(c, m, input, true);
  return 0;
}

std::int32_t Exports::ietf_xor_ic_impl(cap::Cap<std::uint8_t> c, cap::Cap<const std::uint8_t> m,
                                       cap::Cap<const std::uint8_t> n, std::uint32_t ic,
                                       cap::Cap<const std::uint8_t> k) {
  if (c.size() < m.size() || n.size() != kIetfNonceBytes || k.size() != kKeyBytes) return -1;
  // Block ic + blocks - 1 must exist: at most 2^32 - ic blocks (libsodium aborts).
  const std::uint64_t blocks = m.size() / kBlockBytes + (m.size() % kBlockBytes != 0 ? 1 : 0);
  if (blocks > (std::uint64_t{1} << 32) - ic) return -1;
  if (m.size() == 0) return 0;
  Words input = initial_words(rt::check(k.read_span(0, kKeyBytes)).data());
  const std::span<const std::uint8_t> nonce = rt::check(n.read_span(0, kIetfNonceBytes));
  input[12] = ic;
  for (std::size_t i = 0; i < 3; ++i) input[13 + i] = load32_le(nonce.data() + 4 * i);
  xor_stream(c, m, input, false);
  return 0;
}

}  // namespace flexcap::lib::sodium_chacha20
