// Cap<T>: typed checked references, as capability-aware code uses them.
#include "flexcap/cap/cap_ref.hh"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace flexcap::cap
