// Fuzzes the capability model's parsers and invariants. The first byte picks a mode:
//   0  a conformance-vector line: parsing must report bad text as an error, never crash
//   1  arbitrary 129-bit capabilities: decoding and every derivation are defined
//      (UBSan) and a decoded capability re-encodes to itself (round trip)
//   2  set-bounds monotonicity: a tagged result lies inside the old bounds and covers
//      the requested range; an exact result is exactly the requested range
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "flexcap/cap/capability.hh"
#include "flexcap/cap/conformance.hh"

namespace {

using flexcap::cap::Bounds;
using flexcap::cap::Capability;
using flexcap::cap::Uint128;

struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  std::uint64_t u64() {
    std::uint64_t v = 0;
    const std::size_t n = size < 8 ? size : 8;
    std::memcpy(&v, data, n);
    data += n;
    size -= n;
    return v;
  }
};

void require(bool condition) {
  if (!condition) std::abort();
}

void fuzz_raw(Reader& in) {
  const Capability c = Capability::unsafe_from_bits(in.u64(), in.u64(), (in.u64() & 1) != 0);
  const Bounds b = c.bounds();
  (void)c.to_string();
  (void)c.is_representable(in.u64());
  (void)c.is_representable_fast(in.u64());
  (void)c.add(in.u64()).bounds();
  (void)c.set_flags(static_cast<std::uint8_t>(in.u64())).bounds();
  // Round trip: where the decoded bounds are well formed (top <= 2^64), setting exactly those bounds from
  // the root (with the value at the base, flags clear) is exact and decodes the same.
  if (b.valid && b.top >= b.base && b.top <= flexcap::cap::kBoundMax && b.base == Capability::bounds_address(b.base)) {
    const auto r = Capability::root().set_value(b.base).set_bounds(b.top - b.base);
    if (r.capability.tag()) {
      require(r.exact);
      require(r.capability.bounds() == Bounds{b.base, b.top, true});
    }
  }
}

void fuzz_set_bounds(Reader& in) {
  const Capability c = Capability::unsafe_from_bits(in.u64(), in.u64(), true);
  const std::uint64_t length_bits = in.u64();
  const Uint128 length = (in.u64() & 1) ? flexcap::cap::kBoundMax : Uint128(length_bits);
  const auto r = c.set_bounds(length);
  require(r.capability.value() == c.value());
  require(r.capability.permissions() == c.permissions());
  if (!r.capability.tag()) return;
  const Bounds before = c.bounds();
  const Bounds after = r.capability.bounds();
  require(before.valid && after.valid);
  require(after.base >= before.base && after.top <= before.top);
  const Uint128 requested_base = c.address();
  if (after.base == Capability::bounds_address(after.base)) {
    require(after.base <= requested_base && after.top >= requested_base + length);
    if (r.exact) require(after.base == requested_base && after.top == requested_base + length);
  }
  const Capability exact = c.set_bounds_exact(length);
  require(exact.tag() == r.exact);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Reader in{data + 1, size - 1};
  switch (data[0] % 3) {
    case 0: {
      const std::string_view line(reinterpret_cast<const char*>(in.data), in.size);
      (void)flexcap::cap::evaluate_vector_line(line);
      break;
    }
    case 1: fuzz_raw(in); break;
    default: fuzz_set_bounds(in); break;
  }
  return 0;
}
