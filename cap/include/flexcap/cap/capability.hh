// flexcap/cap/capability.hh — a Morello capability, bit for bit.
//
// A capability is a 129-bit value: a 64-bit value (the address; its top byte holds the
// flags), 64 bits of metadata (permissions 127..110, object type 109..95, compressed
// bounds 94..64) and a tag that says it is a valid capability. This class is the value
// type and the instructions that derive one capability from another, each following the
// function of the same name in Arm's Morello pseudocode (see docs/capability-model.md).
//
// Derivations never fail: like the hardware, a derivation that would break monotonicity
// (widen bounds, touch a sealed capability, leave the representable range) returns a
// capability whose tag is clear, which no access check will ever accept.
//
//   Capability root = Capability::root();
//   Capability buf = root.set_value(addr).set_bounds_exact(4096)
//                        .clear_permissions(Permission::Execute | Permission::Store);
//   assert(buf.tag() && buf.permissions().has(Permission::Load));
#pragma once

#include <cstdint>
#include <string>

#include "flexcap/cap/permissions.hh"

namespace flexcap::cap {

// Bounds can reach 2^64 (65 bits) and intermediate sums 66 bits.
__extension__ using Uint128 = unsigned __int128;

inline constexpr int kMantissaWidth = 16;         // CAP_MW
inline constexpr int kMaxExponent = 50;           // CAP_MAX_EXPONENT
inline constexpr int kMaxEncodableExponent = 63;  // CAP_MAX_ENCODEABLE_EXPONENT
inline constexpr Uint128 kBoundMax = Uint128(1) << 64;
inline constexpr std::uint32_t kMaxObjectType = 0x7fff;  // 15-bit object type
inline constexpr std::uint64_t kGranuleBytes = 16;       // one tag per 16 bytes of memory

// Object types 1..3 are the architecture's sentries (sealed entries).
enum class SentryKind : std::uint32_t {
  RestrictedBranch = 1,  // RB: unsealed by a branch to it
  LoadPairBranch = 2,    // LPB: branch loads a (code, data) pair through it
  LoadBranch = 3,        // LB: branch loads a code capability through it
};
inline constexpr std::uint32_t kMaxFixedObjectType = 3;

// The decoded bounds of a capability: [base, top), top up to 2^64.
struct Bounds {
  std::uint64_t base = 0;
  Uint128 top = 0;
  bool valid = true;  // false when the exponent is outside 0..50 and not 63
  friend bool operator==(const Bounds&, const Bounds&) = default;
};

class Capability;
struct SetBoundsResult;

namespace internal {
// CapGetBounds exactly as the pseudocode computes it (66-bit arithmetic) for exponent
// `e`: the reference the inline decoder is tested against.
Bounds decode_bounds_66bit(const Capability& c, int e);
}  // namespace internal

class Capability {
 public:
  // The null capability: all bits zero, untagged (decodes as [0, 2^64)).
  constexpr Capability() = default;
  // A capability from its raw bits. With tag = true this forges a capability, which
  // only the model's memory (TaggedMemory::load_capability), decoders of reference
  // vectors and tests may do: hence the name.
  static constexpr Capability unsafe_from_bits(std::uint64_t pesbt, std::uint64_t cursor, bool tag) {
    return Capability(pesbt, cursor, tag);
  }
  // The maximal capability: tagged, every permission, bounds [0, 2^64), address 0.
  // Every other tagged capability is derived from it.
  static constexpr Capability root() { return Capability(kRootPesbt, 0, true); }

  // --- the raw fields -------------------------------------------------------------
  constexpr std::uint64_t pesbt() const { return pesbt_; }    // bits 127..64
  constexpr std::uint64_t cursor() const { return cursor_; }  // bits 63..0 (value with flags)
  constexpr bool tag() const { return tag_; }

  // --- decoded fields -------------------------------------------------------------
  constexpr std::uint64_t value() const { return cursor_; }
  constexpr std::uint8_t flags() const { return static_cast<std::uint8_t>(cursor_ >> 56); }
  // The address the bounds are checked against: bits 55..0, sign-extended (the
  // top byte holds flags). CapBoundsAddress in the pseudocode.
  constexpr std::uint64_t address() const { return bounds_address(cursor_); }
  static constexpr std::uint64_t bounds_address(std::uint64_t value) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(value << 8) >> 8);
  }
  constexpr Permissions permissions() const { return Permissions::from_bits(static_cast<std::uint32_t>(pesbt_ >> 46)); }
  constexpr std::uint32_t object_type() const { return static_cast<std::uint32_t>(pesbt_ >> 31) & kMaxObjectType; }
  constexpr bool is_sealed() const { return object_type() != 0; }
  constexpr bool is_sentry() const { return is_sealed() && object_type() <= kMaxFixedObjectType; }
  // CapIsInternalExponent: bit 94 clear means the exponent is stored inside the bounds.
  constexpr bool has_internal_exponent() const { return ((pesbt_ >> 30) & 1) == 0; }
  inline int exponent() const;   // CapGetExponent
  inline Bounds bounds() const;  // CapGetBounds
  std::uint64_t base() const { return bounds().base; }
  Uint128 top() const { return bounds().top; }
  Uint128 length() const;  // top - base
  // CapIsRangeInBounds on the bounds address of `address`.
  bool range_in_bounds(std::uint64_t address, Uint128 size) const;

  // --- derivations (Morello instructions) ------------------------------------------
  // SCBNDS: bounds [address, address + length), rounded outwards to the nearest
  // representable bounds. The tag is cleared if the capability is sealed or the new
  // bounds are not inside the old ones. `length` may be 2^64.
  inline SetBoundsResult set_bounds(Uint128 length) const;
  // SCBNDSE: as set_bounds, but the tag is also cleared unless the bounds are exact.
  Capability set_bounds_exact(Uint128 length) const;
  // SCVALUE: a new value; the tag is cleared if sealed or the bounds would decode
  // differently with it (CapIsRepresentable, precise).
  Capability set_value(std::uint64_t value) const;
  // ADD: value + increment; the tag is cleared if sealed or the increment leaves the
  // representable region (CapIsRepresentableFast, the check the hardware adder makes).
  Capability add(std::uint64_t increment) const;
  // CLRPERM: removes permissions; the tag is cleared if sealed.
  Capability clear_permissions(Permissions remove) const;
  // Keeps only `keep` (a convenience for clear_permissions(all - keep)).
  Capability restrict_permissions(Permissions keep) const { return clear_permissions(Permissions::all() - keep); }
  // SCFLGS: sets the top byte of the value; the tag is cleared if sealed.
  Capability set_flags(std::uint8_t flags) const;
  // SEAL: seals with the object type held in `key`'s value. The tag is cleared unless
  // `key` is tagged, unsealed, has Seal, holds its value inside its bounds, and that
  // value is a non-reserved object type (4..0x7fff), and this capability is unsealed.
  Capability seal(const Capability& key) const;
  // UNSEAL: the inverse. The tag is cleared unless `key` is tagged, unsealed, has
  // Unseal, its value is in bounds and equals this capability's object type. The
  // result loses Global unless `key` has it.
  Capability unseal(const Capability& key) const;
  // SEAL (immediate form): makes a sentry of kind RB, LPB or LB. The tag is cleared if
  // the capability is already sealed.
  Capability seal_entry(SentryKind kind) const;
  // What a branch to a sentry of kind RB does to it: unseals it (tag kept). Any other
  // capability comes back unchanged.
  Capability unseal_entry() const;
  constexpr Capability clear_tag() const { return Capability(pesbt_, cursor_, false); }

  // CapIsRepresentable: would the bounds decode identically with value `new_value`?
  bool is_representable(std::uint64_t new_value) const;
  // CapIsRepresentableFast: the cheaper conservative check that ADD makes.
  bool is_representable_fast(std::uint64_t increment) const;

  // "tag=1 value=0x1000 [0x1000,0x1100) perms=Load|Store otype=0 flags=0x0"
  std::string to_string() const;

  friend constexpr bool operator==(const Capability&, const Capability&) = default;

 private:
  static constexpr std::uint64_t kRootPesbt = 0xffffc00000010005ULL;

  constexpr Capability(std::uint64_t pesbt, std::uint64_t cursor, bool tag)
      : pesbt_(pesbt), cursor_(cursor), tag_(tag) {}
  inline std::uint32_t bottom_field() const;                // CapGetBottom
  inline std::uint32_t top_field() const;                   // CapGetTop
  [[gnu::cold]] Bounds bounds_large_exponent(int e) const;  // CapGetBounds for e >= 48
  friend Bounds internal::decode_bounds_66bit(const Capability& c, int e);
  SetBoundsResult set_bounds_small(std::uint64_t base, std::uint64_t length) const;
  SetBoundsResult set_bounds_general(Uint128 length) const;
  // Exponent >= 48: the mantissa reaches bit 63, so the bounds cover the flags byte too.
  bool uses_whole_value_for_bounds() const { return exponent() >= 64 - kMantissaWidth; }

  std::uint64_t pesbt_ = 0;
  std::uint64_t cursor_ = 0;
  bool tag_ = false;
};

struct SetBoundsResult {
  Capability capability;
  bool exact = true;  // the bounds are the requested ones (compared on bounds addresses)
};

// --- decoding, inline because every access check starts here ------------------------
// Field positions inside pesbt (capability bit - 64): T is bits 93..80, B bits 79..64,
// the internal-exponent flag bit 94.

// These are branch-free: capabilities with and without an internal exponent arrive
// mixed, and a mispredicted branch would cost more than the decode itself.

// CapGetExponent: stored inverted, split over the low three bits of T and B.
inline int Capability::exponent() const {
  const auto internal = static_cast<std::uint32_t>(has_internal_exponent());
  const auto stored = static_cast<std::uint32_t>(((pesbt_ >> 16) & 7) << 3 | (pesbt_ & 7));
  return static_cast<int>(~stored & 0x3f & (0u - internal));
}

// CapGetBottom.
inline std::uint32_t Capability::bottom_field() const {
  const auto internal = static_cast<std::uint32_t>(has_internal_exponent());
  return static_cast<std::uint32_t>(pesbt_ & 0xffff) & ~(7u * internal);
}

// CapGetTop: the two top bits of T are not stored; they are B's plus the implied
// length MSB (internal exponent only) plus a carry when T's low bits are below B's.
inline std::uint32_t Capability::top_field() const {
  const auto internal = static_cast<std::uint32_t>(has_internal_exponent());
  const std::uint32_t b = bottom_field();
  const auto t = static_cast<std::uint32_t>((pesbt_ >> 16) & 0x3fff) & ~(7u * internal);
  const std::uint32_t carry = t < (b & 0x3fff) ? 1 : 0;
  return t | ((((b >> 14) + internal + carry) & 3) << 14);
}

// CapGetBounds. The bits of base and limit above the mantissa come from the address,
// corrected by one where the address and B (or T) lie in different 2^(e+16) regions.
// Measuring all three from R, the bottom of the representable region (one eighth of the
// mantissa space below B), is the same correction without comparisons: a mantissa
// below R counts as the next region up.
inline Bounds Capability::bounds() const {
  const int e = exponent();
  if (e >= 64 - kMantissaWidth) [[unlikely]]
    return bounds_large_exponent(e);
  const std::uint32_t bottom = bottom_field();
  const std::uint32_t top = top_field();
  const std::uint64_t a = address();
  const std::uint32_t r = (((bottom >> (kMantissaWidth - 3)) - 1) & 7) << (kMantissaWidth - 3);
  const auto from_r = [r](std::uint32_t mantissa) { return static_cast<std::int64_t>((mantissa - r) & 0xffff); };
  // e < 48: the mantissa ends below bit 64, and each offset from the address is below
  // 2^63 in magnitude, so 64-bit arithmetic suffices.
  const std::uint64_t a_aligned = a >> e << e;
  const std::int64_t from_r_to_a = from_r(static_cast<std::uint32_t>(a >> e));
  const std::int64_t scale = std::int64_t{1} << e;
  const std::uint64_t base = a_aligned + static_cast<std::uint64_t>((from_r(bottom) - from_r_to_a) * scale);
  const std::int64_t to_top = (from_r(top) - from_r_to_a) * scale;
  const std::uint64_t top_low = a_aligned + static_cast<std::uint64_t>(to_top);
  // Bit 64 of the limit: set when the sum carried past 2^64 or borrowed below 0.
  std::uint32_t bit64 = to_top >= 0 ? top_low < a_aligned : top_low > a_aligned;
  // A limit more than one 2^64 above the base has wrapped: flip its bit 64.
  const std::uint32_t l2 = (bit64 << 1) | static_cast<std::uint32_t>(top_low >> 63);
  if (((l2 - static_cast<std::uint32_t>(base >> 63)) & 3) > 1) bit64 ^= 1;
  return {base, (Uint128(bit64) << 64) | top_low, true};
}

// SCBNDS. The common case, a small capability (bounds below 2^48 granularity) narrowed
// to fewer than 2^61 bytes below 2^64, stays in 64-bit arithmetic.
inline SetBoundsResult Capability::set_bounds(Uint128 length) const {
  const std::uint64_t base = address();
  if (length < (Uint128(1) << 61) && static_cast<std::uint64_t>(length) <= ~base && !uses_whole_value_for_bounds()) {
    return set_bounds_small(base, static_cast<std::uint64_t>(length));
  }
  return set_bounds_general(length);
}

// RRLEN: the smallest representable length that is at least `length`.
std::uint64_t representable_length(std::uint64_t length);
// RRMASK: the mask that aligns a base so that `length` bytes from it are representable.
std::uint64_t representable_alignment_mask(std::uint64_t length);
// How many of the `length` bytes from `base` one capability can bound exactly: all of
// them when [base, base + length) is representable, otherwise a shorter prefix (lengths
// up to 2^12 are exact anywhere; longer ones need an aligned base and length). A large
// transfer goes as a few such windows instead of one capability with padded bounds.
std::uint64_t representable_prefix(std::uint64_t base, std::uint64_t length);

// Hexadecimal of a 65-bit number, lower case, no leading zeros (the vectors' format).
std::string to_hex(Uint128 value);

}  // namespace flexcap::cap
