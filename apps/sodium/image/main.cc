// The libsodium image: the benchmark (`--bench`, run by flexcap bench sodium, one image
// per configuration) and the safety demonstration (`--attack`, run by flexcap attack).
//
// --bench: each workload runs three ways in this process, interleaved round by round so that a
// drift of the machine affects all three alike:
//   raw        the same algorithms on raw pointers (apps/sodium/raw): the baseline
//   libsodium  Debian's libsodium, for context (its ChaCha20 may use SIMD)
//   ported     the capability-ported libraries through rt::call, in whatever
//              compartments this image's configuration puts them
// and prints one JSON line per workload:
//   {"config", "backend", "compartments", "workload", "mib", "calls",
//    "raw_seconds", "libsodium_seconds", "ported_seconds", "gate_crossings"}
// (medians; gate_crossings made by the ported runs of one round).
//
// Workloads (the Morello experiment's): ChaCha20-encrypt 64 MiB in 4 KiB messages,
// hex-encode 16 MiB and decode it again, in 4 KiB pieces of binary. `--divide N` runs
// 1/N of each (for layouts where every word crosses a slow gate); the ratios do not
// depend on the volume, since all three ways process the same bytes.
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "flexcap/lib/sodium_bin2hex.hh"
#include "flexcap/lib/sodium_chacha20.hh"
#include "flexcap/lib/sodium_hex2bin.hh"
#include "flexcap/rt/backends.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/sodium/raw.hh"

namespace {

namespace rt = flexcap::rt;
namespace cap = flexcap::cap;
namespace lib = flexcap::lib;

constexpr std::size_t kMessage = 4096;  // bytes per call
constexpr std::size_t kHex = 2 * kMessage + 1;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "sodium bench: %s\n", what.c_str());
  std::exit(1);
}

double seconds_of(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The buffers, in the shared region (the only memory every backend lets cross), and
// the capabilities that hand each call exactly its bytes: inputs read-only.
struct Buffers {
  cap::Cap<std::byte> message = rt::shared_alloc(kMessage);
  cap::Cap<std::byte> cipher = rt::shared_alloc(kMessage);
  cap::Cap<std::byte> key = rt::shared_alloc(32);
  cap::Cap<std::byte> nonce = rt::shared_alloc(8);
  cap::Cap<std::byte> hex = rt::shared_alloc(kHex);
  cap::Cap<std::byte> decoded = rt::shared_alloc(kMessage);
  cap::Cap<std::byte> no_ignore = rt::shared_alloc(16);
  cap::Cap<std::byte> result = rt::shared_alloc(sizeof(lib::sodium_hex2bin::Hex2BinResult));

  template <class T>
  static cap::Cap<T> as(const cap::Cap<std::byte>& bytes, std::size_t count) {
    return cap::Cap<T>(bytes.capability().set_bounds_exact(count * sizeof(std::remove_const_t<T>)), bytes.memory());
  }
  template <class T>
  static T* raw(const cap::Cap<std::byte>& bytes) {
    return reinterpret_cast<T*>(bytes.capability().address());
  }
};

template <class R>
void expect_zero(const R& r, const char* what) {
  if (!r) fail(std::string(what) + ": " + r.error().describe());
  if (r->unsafe_unverified() != 0) fail(std::string(what) + " returned an error");
}

int run(std::size_t divide, int rounds) {
  Buffers b;
  randombytes_buf(Buffers::raw<unsigned char>(b.message), kMessage);
  randombytes_buf(Buffers::raw<unsigned char>(b.key), 32);
  randombytes_buf(Buffers::raw<unsigned char>(b.nonce), 8);
  const std::size_t chacha_calls = (64u << 20) / kMessage / divide;
  const std::size_t hex_calls = (16u << 20) / kMessage / divide;

  const auto m = Buffers::as<const std::uint8_t>(b.message, kMessage);
  const auto c = Buffers::as<std::uint8_t>(b.cipher, kMessage);
  const auto k = Buffers::as<const std::uint8_t>(b.key, 32);
  const auto n = Buffers::as<const std::uint8_t>(b.nonce, 8);
  const auto hex_out = Buffers::as<char>(b.hex, kHex);
  const auto hex_in = Buffers::as<const char>(b.hex, 2 * kMessage);
  const auto bin_in = Buffers::as<const std::uint8_t>(b.message, kMessage);
  const auto bin_out = Buffers::as<std::uint8_t>(b.decoded, kMessage);
  const auto ignore = Buffers::as<const char>(b.no_ignore, 0);
  const auto result = Buffers::as<lib::sodium_hex2bin::Hex2BinResult>(b.result, 1);
  auto* raw_m = Buffers::raw<unsigned char>(b.message);
  auto* raw_c = Buffers::raw<unsigned char>(b.cipher);
  auto* raw_k = Buffers::raw<unsigned char>(b.key);
  auto* raw_n = Buffers::raw<unsigned char>(b.nonce);
  auto* raw_hex = Buffers::raw<char>(b.hex);
  auto* raw_out = Buffers::raw<unsigned char>(b.decoded);

  struct Workload {
    const char* name;
    double mib;
    std::size_t calls;
    std::function<void()> raw, libsodium, ported;
  };
  const std::vector<Workload> workloads = {
      {"chacha20", static_cast<double>(chacha_calls * kMessage) / (1 << 20), chacha_calls,
       [&] {
         for (std::size_t i = 0; i < chacha_calls; ++i) flexcap::sodium::raw::chacha20_xor_ic(raw_c, raw_m, kMessage, raw_n, i * 64, raw_k);
       },
       [&] {
         for (std::size_t i = 0; i < chacha_calls; ++i) crypto_stream_chacha20_xor_ic(raw_c, raw_m, kMessage, raw_n, i * 64, raw_k);
       },
       [&] {
         for (std::size_t i = 0; i < chacha_calls; ++i) {
           expect_zero(rt::call<lib::sodium_chacha20::Exports::xor_ic>(c, m, n, std::uint64_t{i * 64}, k), "chacha20");
         }
       }},
      {"bin2hex", static_cast<double>(hex_calls * kMessage) / (1 << 20), hex_calls,
       [&] {
         for (std::size_t i = 0; i < hex_calls; ++i) {
           if (flexcap::sodium::raw::bin2hex(raw_hex, kHex, raw_m, kMessage) == nullptr) fail("raw bin2hex");
         }
       },
       [&] {
         for (std::size_t i = 0; i < hex_calls; ++i) sodium_bin2hex(raw_hex, kHex, raw_m, kMessage);
       },
       [&] {
         for (std::size_t i = 0; i < hex_calls; ++i) {
           expect_zero(rt::call<lib::sodium_bin2hex::Exports::bin2hex>(hex_out, bin_in), "bin2hex");
         }
       }},
      {"hex2bin", static_cast<double>(hex_calls * kMessage) / (1 << 20), hex_calls,
       [&] {
         std::size_t len = 0;
         for (std::size_t i = 0; i < hex_calls; ++i) {
           if (flexcap::sodium::raw::hex2bin(raw_out, kMessage, raw_hex, 2 * kMessage, nullptr, &len, nullptr) != 0) {
             fail("raw hex2bin");
           }
         }
       },
       [&] {
         std::size_t len = 0;
         for (std::size_t i = 0; i < hex_calls; ++i) {
           sodium_hex2bin(raw_out, kMessage, raw_hex, 2 * kMessage, nullptr, &len, nullptr);
         }
       },
       [&] {
         for (std::size_t i = 0; i < hex_calls; ++i) {
           expect_zero(rt::call<lib::sodium_hex2bin::Exports::hex2bin>(bin_out, hex_in, ignore, 0, result), "hex2bin");
         }
       }},
  };

  // In this order: hex2bin decodes the hex that bin2hex left in the buffer.
  for (const Workload& w : workloads) {
    std::vector<double> raw, libsodium, ported;
    std::uint64_t crossings = 0;
    for (int round = 0; round < rounds; ++round) {
      raw.push_back(seconds_of(w.raw));
      libsodium.push_back(seconds_of(w.libsodium));
      const std::uint64_t before = rt::gate_crossings();
      ported.push_back(seconds_of(w.ported));
      crossings = rt::gate_crossings() - before;
    }
    std::printf(
        "{\"config\": \"%s\", \"backend\": \"%s\", \"compartments\": %zu, \"workload\": \"%s\", \"mib\": %.2f, "
        "\"calls\": %zu, \"raw_seconds\": %.6f, \"libsodium_seconds\": %.6f, \"ported_seconds\": %.6f, "
        "\"gate_crossings\": %llu}\n",
        std::string(flexcap::image::kConfigPath).c_str(),
        std::string(to_string(flexcap::image::Backend::kKind)).c_str(), std::size(flexcap::image::kCompartments),
        w.name, w.mib, w.calls, median(raw), median(libsodium), median(ported),
        static_cast<unsigned long long>(crossings));
  }
  // The ported ChaCha20 must have produced what the raw one did (the differential tests
  // check every function thoroughly; this guards the benchmark's own set-up).
  std::vector<unsigned char> expected(kMessage);
  flexcap::sodium::raw::chacha20_xor_ic(expected.data(), raw_m, kMessage, raw_n, 0, raw_k);
  expect_zero(rt::call<lib::sodium_chacha20::Exports::xor_ic>(c, m, n, std::uint64_t{0}, k), "chacha20");
  if (std::memcmp(expected.data(), raw_c, kMessage) != 0) fail("ported and raw ChaCha20 disagree");
  return 0;
}

// --attack: the injected off-by-one. bin2hex_off_by_one (a test switch in both the
// ported and the raw library) writes its terminating NUL one byte past the hex buffer.
// The buffer is followed in memory by an 8-byte canary, as a neighbour's data would be.
// Ported: the capability is bounded to exactly the buffer, so the write faults at the
// first byte past it, the caller gets the fault as an error and the canary is intact.
// Raw: the same bug writes over the canary. One JSON line per case, in flexcap
// attack's format; with --check, exit 1 if a verdict is not the expected one.
int attack(bool check) {
  constexpr std::size_t kBin = 16;
  constexpr std::size_t kHexBytes = 2 * kBin + 1;
  constexpr char kCanary[8] = {'C', 'A', 'N', 'A', 'R', 'Y', '!', '!'};
  const std::string backend(to_string(flexcap::image::Backend::kKind));
  int mismatches = 0;
  const auto report = [&](const char* name, bool blocked, bool expected_blocked, const std::string& detail) {
    std::printf("{\"name\": \"%s\", \"backend\": \"%s\", \"outcome\": \"%s\", \"detail\": \"%s\"}\n", name,
                backend.c_str(), blocked ? "blocked" : "not-blocked", detail.c_str());
    if (blocked != expected_blocked) {
      ++mismatches;
      std::fprintf(stderr, "UNEXPECTED: %s on %s was %s\n", name, backend.c_str(), blocked ? "blocked" : "not-blocked");
    }
  };
  const auto canary_text = [](const std::byte* at) {
    char text[40];
    std::snprintf(text, sizeof(text), "%02x %02x %02x %02x %02x %02x %02x %02x", static_cast<unsigned>(at[0]),
                  static_cast<unsigned>(at[1]), static_cast<unsigned>(at[2]), static_cast<unsigned>(at[3]),
                  static_cast<unsigned>(at[4]), static_cast<unsigned>(at[5]), static_cast<unsigned>(at[6]),
                  static_cast<unsigned>(at[7]));
    return std::string(text);
  };

  {  // Ported, in its sandbox.
    const cap::Cap<std::byte> block = rt::shared_alloc(kHexBytes + sizeof(kCanary));
    const cap::Cap<std::byte> bin = rt::shared_alloc(kBin);
    auto* bytes = reinterpret_cast<std::byte*>(block.capability().address());
    std::memcpy(bytes + kHexBytes, kCanary, sizeof(kCanary));
    const auto hex = Buffers::as<char>(block, kHexBytes);
    const auto r = rt::call<lib::sodium_bin2hex::Exports::bin2hex_off_by_one>(hex, Buffers::as<const std::uint8_t>(bin, kBin));
    const bool intact = std::memcmp(bytes + kHexBytes, kCanary, sizeof(kCanary)) == 0;
    const std::uint64_t first_past = block.capability().address() + kHexBytes;
    const bool at_first_byte_past = !r && r.error().kind == rt::GateErrorKind::Fault && r.error().address == first_past;
    std::string detail = r ? std::string("the call returned normally") : r.error().describe();
    for (char& ch : detail) ch = ch == '"' ? '\'' : ch;
    detail += intact ? "; the 8 bytes after the buffer are intact" : "; the bytes after the buffer changed: " + canary_text(bytes + kHexBytes);
    if (!r && !at_first_byte_past) detail += " (not at the first byte past the buffer)";
    report("sodium-ported-off-by-one", at_first_byte_past && intact, true, detail);
  }
  {  // Raw pointers, the same bug.
    std::vector<std::byte> block(kHexBytes + sizeof(kCanary));
    std::memcpy(block.data() + kHexBytes, kCanary, sizeof(kCanary));
    const unsigned char bin[kBin] = {};
    flexcap::sodium::raw::bin2hex_off_by_one(reinterpret_cast<char*>(block.data()), kHexBytes, bin, kBin);
    const bool intact = std::memcmp(block.data() + kHexBytes, kCanary, sizeof(kCanary)) == 0;
    report("sodium-raw-off-by-one", intact, false,
           intact ? std::string("the canary is intact")
                  : "nothing stops a raw pointer: the write past the buffer changed its neighbour, canary now " +
                        canary_text(block.data() + kHexBytes) + " (was 43 41 4e 41 52 59 21 21)");
  }
  return check && mismatches > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t divide = 1;
  int rounds = 5;
  bool attack_mode = false;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--attack") == 0) {
      attack_mode = true;
    } else if (std::strcmp(argv[i], "--check") == 0) {
      check = true;
    } else if (std::strcmp(argv[i], "--divide") == 0 && i + 1 < argc) {
      divide = static_cast<std::size_t>(std::max(1, std::atoi(argv[++i])));
    } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--bench") != 0) {
      std::fprintf(stderr, "usage: --bench [--divide N] [--rounds N] | --attack [--check]  (unknown option %s)\n",
                   argv[i]);
      return 2;
    }
  }
  if (sodium_init() < 0) fail("libsodium failed to initialise");
  flexcap::image::start();
  return attack_mode ? attack(check) : run(divide, rounds);
}
