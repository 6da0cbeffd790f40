// Properties that must hold for every sequence of derivations, checked on random
// sequences: no tagged capability ever has more bounds or permissions than the one it
// came from, nothing sets a tag, and set-bounds' shortcut agrees with a full decode.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "flexcap/cap/capability.hh"

namespace flexcap::cap {
namespace {

bool bounds_within(const Bounds& inner, const Bounds& outer) {
  return inner.valid && outer.valid && inner.base >= outer.base && inner.top <= outer.top;
}

// One random derivation. Sealing uses keys from a separate object-type authority so
// that the capability under test never gains authority from the key.
Capability random_step(const Capability& c, std::mt19937_64& rng) {
  // Half of the moves stay near the capability (likely to be allowed), half are wild.
  const std::uint64_t reach = static_cast<std::uint64_t>(std::min<Uint128>(c.length(), Uint128(1) << 62)) + 1;
  const auto offset = [&]() -> std::uint64_t {
    if (rng() % 2) return rng() % (2 * reach) - reach;
    return (rng() >> (rng() % 64)) - (rng() >> (rng() % 64));
  };
  const auto length = [&]() -> std::uint64_t { return rng() % 2 ? rng() % reach : rng() >> (rng() % 64); };
  const Capability keys =
      Capability::root().restrict_permissions(Permission::Seal | Permission::Unseal | Permission::Global);
  switch (rng() % 9) {
    case 0: return c.set_bounds(length()).capability;
    case 1: return c.set_bounds_exact(length());
    case 2: return c.set_value(c.value() + offset());
    case 3: return c.add(offset());
    case 4: return c.clear_permissions(Permissions::from_bits(static_cast<std::uint32_t>(rng())) - Permission::Load);
    case 5: return c.set_flags(static_cast<std::uint8_t>(rng()));
    case 6: return c.seal(keys.set_value(4 + rng() % 100).set_bounds_exact(1));
    case 7:
      if (!c.is_sealed()) return c.set_value(c.value());
      return c.unseal(keys.set_value(c.object_type()).set_bounds_exact(1));
    default: return c.seal_entry(static_cast<SentryKind>(1 + rng() % 3)).unseal_entry();
  }
}

TEST(Monotonicity, NoSequenceOfDerivationsWidensBoundsOrAddsPermissions) {
  std::mt19937_64 rng(20261125);
  int tagged_steps = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const std::uint64_t base = (rng() >> (rng() % 64)) & 0x00ffffffffffffffULL;
    Capability c = Capability::root().set_value(base).set_bounds(rng() >> (rng() % 64)).capability;
    c = c.clear_permissions(Permissions::from_bits(static_cast<std::uint32_t>(rng() & rng())));
    for (int step = 0; step < 40 && c.tag(); ++step) {
      const Capability next = random_step(c, rng);
      if (next.tag()) {
        ++tagged_steps;
        ASSERT_TRUE(bounds_within(next.bounds(), c.bounds()))
            << "from " << c.to_string() << "\n  to " << next.to_string();
        // Unsealing with a key without Global may drop Global; nothing may add any.
        ASSERT_TRUE(c.permissions().has(next.permissions()))
            << "from " << c.to_string() << "\n  to " << next.to_string();
      }
      c = next;
    }
  }
  EXPECT_GT(tagged_steps, 20000) << "the random walk should mostly stay tagged, or it tests little";
}

TEST(Monotonicity, NothingSetsATagOnAnUntaggedCapability) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20000; ++trial) {
    const Capability forged = Capability::unsafe_from_bits(rng(), rng(), false);
    ASSERT_FALSE(random_step(forged, rng).tag()) << forged.to_string();
  }
}

TEST(Monotonicity, SealedCapabilitiesChangeOnlyByUnsealing) {
  std::mt19937_64 rng(11);
  const Capability keys = Capability::root().restrict_permissions(Permission::Seal | Permission::Unseal);
  for (int trial = 0; trial < 5000; ++trial) {
    const std::uint64_t type = 4 + rng() % 1000;
    const Capability sealed = Capability::root()
                                  .set_value(rng() >> 16)
                                  .set_bounds(rng() >> 20)
                                  .capability.seal(keys.set_value(type).set_bounds_exact(1));
    if (!sealed.tag()) continue;
    ASSERT_FALSE(sealed.set_bounds(rng() >> 30).capability.tag());
    ASSERT_FALSE(sealed.set_value(rng()).tag());
    ASSERT_FALSE(sealed.add(rng() % 64).tag());
    ASSERT_FALSE(sealed.clear_permissions(Permission::User1).tag());
    ASSERT_FALSE(sealed.set_flags(static_cast<std::uint8_t>(rng())).tag());
  }
}

// set_bounds skips decoding the result where the rounded request is, by construction,
// what the encoding decodes to. Check that claim against the decoder itself.
TEST(SetBoundsShortcut, DecodingTheResultGivesTheRequestRoundedOutwards) {
  std::mt19937_64 rng(3);
  int checked = 0;
  for (int trial = 0; trial < 300000; ++trial) {
    std::uint64_t base = rng() >> (rng() % 64);
    if (rng() % 4 == 0) base |= 0xff00000000000000ULL;
    if (rng() % 8 == 0) base = (base & ~0xffffULL) | (rng() % 2 ? 0xffff : 0);
    std::uint64_t length = rng() >> (rng() % 64);
    if (rng() % 8 == 0) length = (std::uint64_t{1} << (rng() % 63)) - (rng() % 3);
    const std::uint64_t address = Capability::bounds_address(base);
    const Uint128 limit = Uint128(address) + length;
    if (limit >= kBoundMax) continue;
    // A parent with small bounds (exponent < 48), so the base is the bounds address.
    const Capability parent = Capability::root().set_value(base).set_bounds(std::uint64_t{1} << 40).capability;
    const SetBoundsResult r = parent.set_bounds(length);
    const Capability& c = r.capability;
    if (c.exponent() >= 48) continue;
    const int lost = c.has_internal_exponent() ? c.exponent() + 3 : 0;
    const Uint128 mask = (Uint128(1) << lost) - 1;
    const Bounds expected{address >> lost << lost, ((limit >> lost) + ((limit & mask) != 0 ? 1 : 0)) << lost, true};
    ASSERT_EQ(c.bounds(), expected) << std::hex << "base 0x" << base << " length 0x" << length;
    ASSERT_EQ(r.exact, expected.base == address && expected.top == limit);
    ++checked;
  }
  EXPECT_GT(checked, 100000);
}

}  // namespace
}  // namespace flexcap::cap
