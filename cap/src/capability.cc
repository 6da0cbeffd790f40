// The Morello capability encoding and its derivations. Each function names the routine
// of Arm's Morello pseudocode (as translated to Sail in sail-morello) that it follows;
// the conformance vectors in cap/test/data check every line of it.
#include "flexcap/cap/capability.hh"

#include <bit>
#include <cstdio>

namespace flexcap::cap {
namespace {

constexpr Uint128 kMask65 = (Uint128(1) << 65) - 1;
constexpr Uint128 kMask66 = (Uint128(1) << 66) - 1;
constexpr Uint128 low_mask(int bits) { return (Uint128(1) << bits) - 1; }

// Field positions inside the upper 64 bits (pesbt), i.e. capability bit - 64.
constexpr int kBoundsBit = 0;  // bounds: capability bits 94..64
constexpr int kInternalExponentBit = 30;
constexpr int kTopFieldShift = 16;  // T: capability bits 93..80
constexpr int kObjectTypeShift = 31;
constexpr int kPermissionsShift = 46;
constexpr std::uint64_t kBoundsMask = (std::uint64_t(1) << 31) - 1;

// The 31-bit bounds field for bottom B, top T (already shifted into place for an
// internal exponent) and exponent e. The exponent is stored inverted, split over the low
// three bits of T and B (CapGetExponent reads it back as NOT(T<2:0>:B<2:0>)).
std::uint64_t encode_bounds(bool internal_exponent, std::uint32_t bottom, std::uint32_t top, int exponent) {
  if (!internal_exponent) {
    return (std::uint64_t(1) << kInternalExponentBit) | (std::uint64_t(top & 0x3fff) << kTopFieldShift) |
           (bottom & 0xffff);
  }
  const std::uint32_t stored = ~static_cast<std::uint32_t>(exponent) & 0x3f;
  return (std::uint64_t((top & 0x3ff8) | (stored >> 3)) << kTopFieldShift) | ((bottom & 0xfff8) | (stored & 7));
}

constexpr std::uint64_t with_bounds(std::uint64_t pesbt, std::uint64_t bounds) {
  return (pesbt & ~(kBoundsMask << kBoundsBit)) | (bounds << kBoundsBit);
}

}  // namespace

Bounds Capability::bounds_large_exponent(int e) const { return internal::decode_bounds_66bit(*this, e); }

// CapGetBounds as the pseudocode writes it, in 66-bit arithmetic, for any exponent. The
// inline decoder uses it for exponents 48..63, where the mantissa reaches bit 63 or
// beyond (63 and the invalid 51..62 decode as the whole address space).
Bounds internal::decode_bounds_66bit(const Capability& c, int e) {
  if (e > kMaxExponent) return {0, kBoundMax, e == kMaxEncodableExponent};
  const std::uint32_t bottom = c.bottom_field();
  const std::uint32_t top = c.top_field();
  const Uint128 a = c.address();
  const auto a3 = static_cast<std::uint32_t>(a >> (e + kMantissaWidth - 3)) & 7;
  const std::uint32_t b3 = (bottom >> (kMantissaWidth - 3)) & 7;
  const std::uint32_t t3 = (top >> (kMantissaWidth - 3)) & 7;
  const std::uint32_t r3 = (b3 - 1) & 7;
  const int a_hi = a3 < r3 ? 1 : 0;
  Uint128 base = Uint128(bottom) << e;
  Uint128 limit = Uint128(top) << e;
  const int shift = e + kMantissaWidth;
  if (shift < kMaxExponent + kMantissaWidth) {
    const Uint128 a_top = a >> shift;
    base = (base & low_mask(shift)) | (((a_top + static_cast<Uint128>((b3 < r3 ? 1 : 0) - a_hi)) << shift) & kMask66);
    limit = (limit & low_mask(shift)) | (((a_top + static_cast<Uint128>((t3 < r3 ? 1 : 0) - a_hi)) << shift) & kMask66);
  }
  const auto l2 = static_cast<std::uint32_t>(limit >> 63) & 3;
  const auto b2 = static_cast<std::uint32_t>(base >> 63) & 1;
  if (e < kMaxExponent - 1 && ((l2 - b2) & 3) > 1) limit ^= Uint128(1) << 64;
  return {static_cast<std::uint64_t>(base), limit & kMask65, true};
}

Uint128 Capability::length() const {
  const Bounds b = bounds();
  return b.top > b.base ? b.top - b.base : 0;
}

// CapIsRangeInBounds.
bool Capability::range_in_bounds(std::uint64_t address, Uint128 size) const {
  const Bounds b = bounds();
  const Uint128 begin = bounds_address(address);
  return b.valid && begin >= b.base && begin + size <= b.top;
}

namespace {

// The outcome of CapSetBounds' rounding: the encoded fields and whether bits were lost.
struct RoundedBounds {
  bool internal_exponent = false;
  int exponent = 0;
  std::uint32_t bottom = 0;
  std::uint32_t top = 0;
  bool lost_base = false;
  bool lost_top = false;
};

// The rounding of CapSetBounds for [base, limit) with `length` = limit - base. Number
// is std::uint64_t when limit < 2^64 (the common case) and Uint128 otherwise.
template <class Number>
RoundedBounds round_bounds(Number base, Number limit, Uint128 length) {
  RoundedBounds r;
  // The exponent is the position of the length's most significant bit above the
  // mantissa; lengths below 2^14 need no exponent and are always exact.
  int e = static_cast<int>(std::bit_width(static_cast<std::uint64_t>(length >> (kMantissaWidth - 1))));
  r.internal_exponent = e != 0 || ((length >> (kMantissaWidth - 2)) & 1) != 0;
  if (!r.internal_exponent) {
    r.bottom = static_cast<std::uint32_t>(base & 0xffff);
    r.top = static_cast<std::uint32_t>(limit & 0x3fff);
    return r;
  }
  // With the exponent stored inside, B keeps 13 bits and T 11: the bounds are rounded
  // to 2^(e+3), base down and limit up.
  const Number lost_mask = (Number{1} << (e + 3)) - 1;
  r.lost_base = (base & lost_mask) != 0;
  r.lost_top = (limit & lost_mask) != 0;
  auto b_ie = static_cast<std::uint32_t>(base >> (e + 3)) & 0x1fff;
  auto t_ie = static_cast<std::uint32_t>(limit >> (e + 3)) & 0x1fff;
  if (r.lost_top) t_ie = (t_ie + 1) & 0x1fff;
  // Rounding up can overflow the mantissa: then one more exponent step is needed.
  if (((t_ie - b_ie) & 0x1fff) & 0x1000) {
    ++e;
    r.lost_base = r.lost_base || (b_ie & 1) != 0;
    r.lost_top = r.lost_top || (t_ie & 1) != 0;
    b_ie = static_cast<std::uint32_t>(base >> (e + 3)) & 0x1fff;
    t_ie = (static_cast<std::uint32_t>(limit >> (e + 3)) + (r.lost_top ? 1 : 0)) & 0x1fff;
  }
  r.exponent = e;
  r.bottom = b_ie << 3;
  r.top = t_ie << 3;
  return r;
}

}  // namespace

// CapSetBounds(c, length, exact = false) in general (set_bounds takes the common case
// to set_bounds_small).
SetBoundsResult Capability::set_bounds_general(Uint128 length) const {
  if (length > kBoundMax) length = kBoundMax;
  // A capability whose exponent is large (>= 48) has bounds that do not depend on its
  // value, so its whole value, flags included, is the new base. Otherwise the flags are
  // not part of the address: the base is the bounds address (bit 55 sign-extended).
  const bool from_large = uses_whole_value_for_bounds();
  const std::uint64_t base = from_large ? cursor_ : address();
  const Uint128 limit = Uint128(base) + length;
  const RoundedBounds r = limit < kBoundMax
                              ? round_bounds<std::uint64_t>(base, static_cast<std::uint64_t>(limit), length)
                              : round_bounds<Uint128>(base, limit, length);
  Capability result(with_bounds(pesbt_, encode_bounds(r.internal_exponent, r.bottom, r.top, r.exponent)), cursor_,
                    tag_);
  // Monotonicity: a sealed capability is immutable, and the requested range and the
  // new bounds (as decoded) must lie inside the old bounds.
  const Bounds old_bounds = bounds();
  const Bounds new_bounds = result.bounds();
  bool allowed = !is_sealed() && old_bounds.valid && base >= old_bounds.base && limit <= old_bounds.top &&
                 new_bounds.base >= old_bounds.base && new_bounds.top <= old_bounds.top;
  // Leaving large bounds (which span the flags byte) for small ones (which never do)
  // keeps the tag only if the value's top byte is the sign extension of bit 55:
  // otherwise the requested base would silently lose its top byte.
  if (from_large && !result.uses_whole_value_for_bounds() && address() != cursor_) allowed = false;
  if (!allowed) result.tag_ = false;
  return {result, !r.lost_base && !r.lost_top};
}

// set_bounds for a small capability and a limit below 2^64. Here the new bounds are
// exactly the request rounded outwards: the new value is the new base, so decoding
// applies no region correction. SetBoundsShortcut (monotonicity_test.cc) checks this
// against the decoder.
SetBoundsResult Capability::set_bounds_small(std::uint64_t base, std::uint64_t length) const {
  const std::uint64_t limit = base + length;
  const RoundedBounds r = round_bounds<std::uint64_t>(base, limit, length);
  Capability result(with_bounds(pesbt_, encode_bounds(r.internal_exponent, r.bottom, r.top, r.exponent)), cursor_,
                    tag_);
  const SetBoundsResult out{result, !r.lost_base && !r.lost_top};
  if (!tag_) return out;  // nothing to check: the result is untagged anyway
  const Bounds old_bounds = bounds();
  const int lost_bits = r.internal_exponent ? r.exponent + 3 : 0;
  const std::uint64_t new_base = base >> lost_bits << lost_bits;
  const Uint128 new_top = Uint128((limit >> lost_bits) + (r.lost_top ? 1 : 0)) << lost_bits;
  // The rounded range contains the requested one, so checking it checks both.
  if (is_sealed() || !old_bounds.valid || new_base < old_bounds.base || new_top > old_bounds.top) {
    result.tag_ = false;
  }
  return {result, out.exact};
}

Capability Capability::set_bounds_exact(Uint128 length) const {
  SetBoundsResult r = set_bounds(length);
  return r.exact ? r.capability : r.capability.clear_tag();
}

// CapIsRepresentable.
bool Capability::is_representable(std::uint64_t new_value) const {
  Capability moved = *this;
  moved.cursor_ = new_value;
  return moved.bounds() == bounds();
}

// CapIsRepresentableFast: compares the middle bits of the address and the increment
// against the representable region [R, R + 2^(e+16)) without decoding the bounds.
bool Capability::is_representable_fast(std::uint64_t increment) const {
  const int e = exponent();
  if (e >= kMaxExponent - 2) return true;
  // The top byte of the value holds flags, not address bits: only bits 55..0 of the
  // increment count, sign-extended (Morello's bit-55 rule).
  increment = bounds_address(increment);
  const auto i_top = static_cast<std::int64_t>(increment) >> (e + kMantissaWidth);
  const auto i_mid = static_cast<std::uint32_t>(increment >> e) & 0xffff;
  const auto a_mid = static_cast<std::uint32_t>(address() >> e) & 0xffff;
  const std::uint32_t b3 = (bottom_field() >> (kMantissaWidth - 3)) & 7;
  const std::uint32_t r = ((b3 - 1) & 7) << (kMantissaWidth - 3);
  const std::uint32_t diff = (r - a_mid) & 0xffff;
  const std::uint32_t diff1 = (diff - 1) & 0xffff;
  if (i_top == 0) return i_mid < diff1;
  if (i_top == -1) return i_mid >= diff && r != a_mid;
  return false;
}

namespace {
// Morello's bit-55 rule: bounds are decoded from the address sign-extended from bit
// 55, so when the bounds depend on the value (exponent < 48), a change of bit 55 moves
// them to the other half of the address space. The representability checks do not
// see that (they work on the 56-bit address), so SCVALUE and ADD clear the tag.
constexpr bool bit55_changes(std::uint64_t before, std::uint64_t after) { return ((before ^ after) >> 55) & 1; }
}  // namespace

Capability Capability::set_value(std::uint64_t value) const {
  Capability result = *this;
  result.cursor_ = value;
  const bool moved_half = bit55_changes(cursor_, value) && !uses_whole_value_for_bounds();
  if (is_sealed() || moved_half || !is_representable(value)) result.tag_ = false;
  return result;
}

Capability Capability::add(std::uint64_t increment) const {
  Capability result = *this;
  result.cursor_ = cursor_ + increment;
  const bool moved_half = bit55_changes(cursor_, result.cursor_) && !uses_whole_value_for_bounds();
  if (is_sealed() || moved_half || !is_representable_fast(increment)) result.tag_ = false;
  return result;
}

Capability Capability::clear_permissions(Permissions remove) const {
  Capability result = *this;
  result.pesbt_ &= ~(std::uint64_t(remove.bits()) << kPermissionsShift);
  if (is_sealed()) result.tag_ = false;
  return result;
}

Capability Capability::set_flags(std::uint8_t flags) const {
  Capability result = *this;
  result.cursor_ = (cursor_ & 0x00ffffffffffffffULL) | (std::uint64_t(flags) << 56);
  if (is_sealed()) result.tag_ = false;
  return result;
}

namespace {
std::uint64_t with_object_type(std::uint64_t pesbt, std::uint32_t object_type) {
  return (pesbt & ~(std::uint64_t(kMaxObjectType) << kObjectTypeShift)) |
         (std::uint64_t(object_type & kMaxObjectType) << kObjectTypeShift);
}
}  // namespace

Capability Capability::seal(const Capability& key) const {
  const std::uint64_t object_type = key.value();
  const bool allowed = key.tag() && !key.is_sealed() && key.permissions().has(Permission::Seal) &&
                       key.range_in_bounds(key.value(), 1) && object_type > kMaxFixedObjectType &&
                       object_type <= kMaxObjectType && !is_sealed();
  Capability result(with_object_type(pesbt_, static_cast<std::uint32_t>(object_type)), cursor_, tag_ && allowed);
  return result;
}

Capability Capability::unseal(const Capability& key) const {
  const bool allowed = key.tag() && !key.is_sealed() && key.permissions().has(Permission::Unseal) &&
                       key.range_in_bounds(key.value(), 1) && is_sealed() && !is_sentry() &&
                       key.value() == object_type();
  Capability result(with_object_type(pesbt_, 0), cursor_, tag_ && allowed);
  if (!key.permissions().has(Permission::Global)) {
    result.pesbt_ &= ~(std::uint64_t(static_cast<std::uint32_t>(Permission::Global)) << kPermissionsShift);
  }
  return result;
}

Capability Capability::seal_entry(SentryKind kind) const {
  return Capability(with_object_type(pesbt_, static_cast<std::uint32_t>(kind)), cursor_, tag_ && !is_sealed());
}

Capability Capability::unseal_entry() const {
  if (object_type() != static_cast<std::uint32_t>(SentryKind::RestrictedBranch)) return *this;
  return Capability(with_object_type(pesbt_, 0), cursor_, tag_);
}

std::string to_hex(Uint128 value) {
  char digits[40];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[static_cast<unsigned>(value & 0xf)];
    value >>= 4;
  } while (value != 0);
  std::string out;
  out.reserve(static_cast<std::size_t>(n));
  while (n > 0) out.push_back(digits[--n]);
  return out;
}

std::string Capability::to_string() const {
  const Bounds b = bounds();
  std::string s = "tag=" + std::string(tag_ ? "1" : "0") + " value=0x" + to_hex(cursor_) + " [0x" + to_hex(b.base) +
                  ",0x" + to_hex(b.top) + ")";
  if (!b.valid) s += " (invalid exponent)";
  s += " perms=" + permissions().to_string() + " otype=" + std::to_string(object_type());
  if (flags() != 0) s += " flags=0x" + to_hex(flags());
  return s;
}

// CapGetRepresentableMask: the exponent that CapSetBounds picks for the worst-case
// base (all ones below the length) decides how far a base must be aligned.
std::uint64_t representable_alignment_mask(std::uint64_t length) {
  const Capability probe = Capability::root().set_value(~std::uint64_t{0} - length);
  const Capability bounded = probe.set_bounds(length).capability;
  if (!bounded.has_internal_exponent()) return ~std::uint64_t{0};
  const int shift = bounded.exponent() + 3;
  return shift >= 64 ? 0 : ~std::uint64_t{0} << shift;
}

std::uint64_t representable_length(std::uint64_t length) {
  const std::uint64_t mask = representable_alignment_mask(length);
  return (length + ~mask) & mask;
}

std::uint64_t representable_prefix(std::uint64_t base, std::uint64_t length) {
  std::uint64_t n = length;
  for (;;) {
    const std::uint64_t mask = representable_alignment_mask(n);
    if ((base & ~mask) != 0) {
      n >>= 1;  // the base is not aligned enough for this length: a shorter one needs less
    } else if ((n & ~mask) != 0) {
      n &= mask;  // aligned base: round the length down to the alignment (then recheck)
    } else {
      return n;
    }
  }
}

}  // namespace flexcap::cap
