// Cap<T>: typed checked references, as capability-aware code uses them.
#include "flexcap/cap/cap_ref.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <vector>

namespace flexcap::cap {
namespace {

class CapRef : public ::testing::Test {
 protected:
  TaggedMemory memory{64 * 1024};
  Capability words_cap() const { return memory.root().set_value(memory.base() + 1024).set_bounds_exact(64); }
  Cap<std::uint32_t> words() { return Cap<std::uint32_t>(words_cap(), &memory); }  // 16 words
};

template <class R>
constexpr bool can_store = requires(R r) {
  r.store(0, 0);
};
static_assert(can_store<Cap<int>>);
static_assert(!can_store<Cap<const int>>, "Cap<const T> must have no store operations");

TEST_F(CapRef, LoadsAndStoresInBounds) {
  Cap<std::uint32_t> w = words();
  EXPECT_EQ(w.size(), 16u);
  for (std::uint32_t i = 0; i < 16; ++i) ASSERT_TRUE(w.store(i, i * 3));
  for (std::uint32_t i = 0; i < 16; ++i) EXPECT_EQ(*w.load(i), i * 3);
}

TEST_F(CapRef, TheFirstElementPastTheEndFaultsWithItsAddress) {
  auto r = words().load(16);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Bounds);
  EXPECT_EQ(r.error().address, memory.base() + 1024 + 64);
  EXPECT_EQ(r.error().size, 4u);
  EXPECT_EQ(words().store(16, 1).error().check, FaultCheck::Bounds);
}

TEST_F(CapRef, ReadOnlyReferencesHaveNoStorePermissions) {
  Cap<const std::uint32_t> ro = words().read_only();
  EXPECT_FALSE(ro.capability().permissions().has(Permission::Store));
  EXPECT_TRUE(ro.load(0));
  // The same capability used as a mutable reference is refused by the check.
  Cap<std::uint32_t> sneaky(ro.capability(), &memory);
  auto r = sneaky.store(0, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Permission);
}

TEST_F(CapRef, UntaggedAndSealedReferencesNameTheirCheck) {
  EXPECT_EQ(Cap<std::uint32_t>(words_cap().clear_tag(), &memory).load(0).error().check, FaultCheck::Tag);
  const Capability key = Capability::root().restrict_permissions(Permission::Seal).set_value(77).set_bounds_exact(1);
  EXPECT_EQ(Cap<const std::uint32_t>(words_cap().seal(key), &memory).load(0).error().check, FaultCheck::Seal);
  EXPECT_EQ(Cap<int>().load(0).error().check, FaultCheck::Tag);
}

TEST_F(CapRef, RangeOperationsCheckTheWholeRangeFirst) {
  Cap<std::uint32_t> w = words();
  std::vector<std::uint32_t> in(10);
  std::iota(in.begin(), in.end(), 100u);
  ASSERT_TRUE(w.copy_in(6, in));
  std::vector<std::uint32_t> out(10);
  ASSERT_TRUE(w.copy_out(6, out));
  EXPECT_EQ(out, in);
  // 10 elements from index 7 run one past the end: nothing at all is written.
  std::vector<std::uint32_t> other(10, 7);
  auto r = w.copy_in(7, other);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Bounds);
  EXPECT_EQ(r.error().size, 40u);
  EXPECT_EQ(*w.load(7), 101u);
  EXPECT_FALSE(w.fill(0, 17, 0));
  EXPECT_EQ(*w.load(0), 0u);
  ASSERT_TRUE(w.fill(0, 16, 9));
  EXPECT_EQ(*w.load(15), 9u);
}

TEST_F(CapRef, RangeArithmeticCannotWrapAround) {
  auto r = words().read_span(1, static_cast<std::size_t>(-1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Bounds);
}

TEST_F(CapRef, WritesClearTheTagsOfTheMemoryTheyTouch) {
  const std::uint64_t slot = memory.base() + 1024 + 16;
  ASSERT_TRUE(memory.store_capability(memory.root(), slot, memory.root()));
  ASSERT_TRUE(words().store(5, 1));  // bytes 20..23, granule 16..31
  EXPECT_FALSE(memory.tag(slot));
  ASSERT_TRUE(memory.store_capability(memory.root(), slot, memory.root()));
  ASSERT_TRUE(words().write_span(0, 16));
  EXPECT_FALSE(memory.tag(slot));
}

TEST_F(CapRef, SlicesAreExactOrRefused) {
  auto four = words().slice(2, 4);
  ASSERT_TRUE(four);
  EXPECT_EQ(four->size(), 4u);
  EXPECT_EQ(four->capability().base(), memory.base() + 1024 + 8);
  EXPECT_FALSE(four->load(4));
  EXPECT_FALSE(words().slice(10, 7)) << "beyond the parent";
  Cap<std::byte> bytes(memory.root(), &memory);
  EXPECT_FALSE(bytes.slice(1, 100001)) << "not representable exactly at an odd base";
  EXPECT_TRUE(bytes.slice(0, 4096));
}

TEST_F(CapRef, ASpanIsCheckedOnceAndThenPlainMemory) {
  Cap<std::uint32_t> w = words();
  ASSERT_TRUE(w.fill(0, 16, 2));
  auto span = w.read_span(0, 16);
  ASSERT_TRUE(span);
  EXPECT_EQ(std::accumulate(span->begin(), span->end(), 0u), 32u);
}

TEST_F(CapRef, AValueOutsideItsBoundsReachesNothing) {
  Cap<std::uint32_t> before(words_cap().set_value(memory.base() + 1000), &memory);
  EXPECT_EQ(before.size(), 0u);
  EXPECT_EQ(before.load(0).error().check, FaultCheck::Bounds);
}

TEST_F(CapRef, AdvancedIsPointerArithmeticKeepingTheBounds) {
  Cap<std::uint32_t> w = words();
  for (std::uint32_t i = 0; i < 16; ++i) ASSERT_TRUE(w.store(i, 100 + i));
  Cap<std::uint32_t> third = w.advanced(3);
  EXPECT_EQ(third.size(), 13u);
  EXPECT_EQ(third.capability().value(), memory.base() + 1024 + 12);
  EXPECT_EQ(third.capability().base(), memory.base() + 1024) << "the bounds do not move";
  EXPECT_EQ(*third.load(0), 103u);
  EXPECT_EQ(*third.load(12), 115u);
  EXPECT_EQ(third.load(13).error().check, FaultCheck::Bounds);
  ASSERT_TRUE(third.store(1, 7));
  EXPECT_EQ(*w.load(4), 7u);
  EXPECT_EQ(w.advanced(1).advanced(2).capability(), third.capability());
  EXPECT_EQ(w.advanced(0).capability(), w.capability());
}

TEST_F(CapRef, AdvancedToTheEndReachesNothing) {
  Cap<std::uint32_t> last = words().advanced(15);
  EXPECT_EQ(last.size(), 1u);
  EXPECT_TRUE(last.load(0));
  EXPECT_EQ(last.load(1).error().check, FaultCheck::Bounds);
  Cap<std::uint32_t> end = words().advanced(16);
  EXPECT_TRUE(end.capability().tag()) << "one past the end is representable";
  EXPECT_EQ(end.size(), 0u);
  EXPECT_EQ(end.load(0).error().check, FaultCheck::Bounds);
  EXPECT_EQ(end.store(0, 1).error().check, FaultCheck::Bounds);
  EXPECT_FALSE(end.write_span(0, 1));
  EXPECT_TRUE(end.read_span(0, 0)) << "an empty range at the end is in bounds";
}

TEST_F(CapRef, AdvancedPastTheEndFaultsOrLosesItsTag) {
  Cap<std::uint32_t> past = words().advanced(20);
  EXPECT_EQ(past.size(), 0u);
  EXPECT_EQ(past.load(0).error().check, FaultCheck::Bounds);
  EXPECT_EQ(past.store(0, 1).error().check, FaultCheck::Bounds);
  // Far enough away the value is not representable: the model clears the tag.
  Cap<std::uint32_t> far = words().advanced(std::size_t{1} << 30);
  EXPECT_FALSE(far.capability().tag());
  EXPECT_EQ(far.load(0).error().check, FaultCheck::Tag);
}

TEST_F(CapRef, AdvancedReadOnlyStaysReadOnly) {
  Cap<const std::uint32_t> ro = words().read_only().advanced(2);
  EXPECT_FALSE(ro.capability().permissions().has(Permission::Store));
  EXPECT_EQ(ro.size(), 14u);
  EXPECT_TRUE(ro.load(0));
  Cap<std::uint32_t> sneaky(ro.capability(), &memory);
  EXPECT_EQ(sneaky.store(0, 1).error().check, FaultCheck::Permission);
}

TEST_F(CapRef, AdvancedOfAnUnusableReferenceStaysUnusable) {
  Cap<std::uint32_t> untagged(words_cap().clear_tag(), &memory);
  EXPECT_FALSE(untagged.advanced(1).capability().tag());
  EXPECT_EQ(untagged.advanced(1).load(0).error().check, FaultCheck::Tag);
  const Capability key = Capability::root().restrict_permissions(Permission::Seal).set_value(77).set_bounds_exact(1);
  Cap<const std::uint32_t> sealed(words_cap().seal(key), &memory);
  EXPECT_FALSE(sealed.advanced(1).capability().tag()) << "SCVALUE on a sealed capability clears the tag";
}

// The fast path of advanced() builds the capability itself: it must be exactly the
// model's SCVALUE, for every kind of bounds (exact and rounded, small and large).
TEST_F(CapRef, AdvancedIsExactlyScvalue) {
  std::vector<Capability> caps;
  for (std::uint64_t length : {1, 3, 16, 64, 4095, 4097, 40001, 65000}) {
    for (std::uint64_t offset : {0, 1, 16, 333}) {
      caps.push_back(memory.root().set_value(memory.base() + offset).set_bounds(length).capability);
    }
  }
  caps.push_back(memory.root());
  caps.push_back(Capability::root().set_value(0x1234));
  caps.push_back(Capability::root().set_value(0x00ff'ffff'ffff'fff0ull).set_bounds(0x100).capability);
  caps.push_back(Capability::root().set_value(0x007f'ffff'ffff'fff0ull));  // bit 55 is near
  for (const Capability& c : caps) {
    const Cap<std::byte> bytes(c, &memory);
    const std::uint64_t length = static_cast<std::uint64_t>(std::min<Uint128>(c.length(), 1u << 20));
    const std::uint64_t increments[] = {
        0, 1, 7, 16, length / 2, length - 1, length, length + 1, length + 4096, 0x10ull << 32, 0x80ull << 48};
    for (std::uint64_t k : increments) {
      const Cap<std::byte> moved = bytes.advanced(k);
      const Cap<std::byte> expected(c.set_value(c.value() + k), &memory);
      ASSERT_EQ(moved.capability(), expected.capability()) << c.to_string() << " + " << k;
      ASSERT_EQ(moved.size(), expected.size()) << c.to_string() << " + " << k;
      ASSERT_EQ(moved.read_span(0, moved.size()).has_value(), expected.read_span(0, expected.size()).has_value());
    }
  }
}

}  // namespace
}  // namespace flexcap::cap
