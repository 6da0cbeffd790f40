// Tagged memory: tags are set only by capability stores and cleared by data writes.
#include "flexcap/cap/tagged_memory.hh"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace flexcap::cap {
namespace {

std::array<std::byte, 1> one_byte() { return {std::byte{0x5a}}; }

TEST(TaggedMemory, RootCoversExactlyTheRegion) {
  TaggedMemory memory(10000);
  const Capability root = memory.root();
  EXPECT_TRUE(root.tag());
  EXPECT_EQ(root.bounds(), (Bounds{memory.base(), Uint128(memory.base()) + memory.size(), true}));
  EXPECT_GE(memory.size(), 10000u);
  EXPECT_EQ(memory.tagged_granules(), 0u);
}

TEST(TaggedMemory, HoldsACapabilityOnlyIfAllItsBoundsAreInside) {
  TaggedMemory memory(4096);
  const Capability root = memory.root();
  EXPECT_TRUE(memory.holds(root));
  EXPECT_TRUE(memory.holds(root.set_value(memory.base() + 4080).set_bounds_exact(16)));
  EXPECT_FALSE(memory.holds(Capability::root()));
  EXPECT_FALSE(memory.holds(Capability::root().set_value(memory.base() + 4080).set_bounds_exact(32)));
}

TEST(TaggedMemory, LargeRegionsAreAlignedSoTheirRootIsExact) {
  TaggedMemory memory(123456789);
  EXPECT_EQ(memory.size(), representable_length(123456789));
  EXPECT_EQ(memory.base() & ~representable_alignment_mask(memory.size()), 0u);
  EXPECT_TRUE(memory.root().tag());
}

TEST(TaggedMemory, ACapabilityStoreSetsTheTagAndLoadsBackIdentical) {
  TaggedMemory memory(4096);
  const Capability root = memory.root();
  const Capability value = root.set_value(memory.base() + 64).set_bounds_exact(32);
  ASSERT_TRUE(memory.store_capability(root, memory.base() + 16, value));
  EXPECT_TRUE(memory.tag(memory.base() + 16));
  EXPECT_TRUE(memory.tag(memory.base() + 31)) << "the tag covers the whole granule";
  EXPECT_FALSE(memory.tag(memory.base() + 32));
  auto loaded = memory.load_capability(root, memory.base() + 16);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, value);
}

TEST(TaggedMemory, ADataWriteClearsTheTagOfEveryGranuleItTouches) {
  TaggedMemory memory(4096);
  const Capability root = memory.root();
  for (std::uint64_t slot : {16u, 32u, 48u}) ASSERT_TRUE(memory.store_capability(root, memory.base() + slot, root));
  const std::array<std::byte, 2> two{};
  ASSERT_TRUE(memory.store_bytes(root, memory.base() + 31, two));  // bytes 31 and 32
  EXPECT_FALSE(memory.tag(memory.base() + 16));
  EXPECT_FALSE(memory.tag(memory.base() + 32));
  EXPECT_TRUE(memory.tag(memory.base() + 48)) << "a neighbouring granule keeps its tag";
  auto forged = memory.load_capability(root, memory.base() + 16);
  ASSERT_TRUE(forged);
  EXPECT_FALSE(forged->tag()) << "the bytes are still a capability's, but no longer a capability";
}

TEST(TaggedMemory, CopyingCapabilityBytesAsDataForgesNothing) {
  TaggedMemory memory(4096);
  const Capability root = memory.root();
  ASSERT_TRUE(memory.store_capability(root, memory.base(), root));
  std::array<std::byte, 16> bytes{};
  ASSERT_TRUE(memory.load_bytes(root, memory.base(), bytes));
  ASSERT_TRUE(memory.store_bytes(root, memory.base() + 16, bytes));
  auto copy = memory.load_capability(root, memory.base() + 16);
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->pesbt(), root.pesbt());
  EXPECT_FALSE(copy->tag());
}

TEST(TaggedMemory, StoringAnUntaggedCapabilityClearsTheTag) {
  TaggedMemory memory(4096);
  const Capability root = memory.root();
  ASSERT_TRUE(memory.store_capability(root, memory.base(), root));
  ASSERT_TRUE(memory.store_capability(root, memory.base(), root.clear_tag()));
  EXPECT_FALSE(memory.tag(memory.base()));
}

TEST(TaggedMemory, ClearingTagsAcrossBitmapWordsClearsExactlyTheRange) {
  TaggedMemory memory(64 * 1024);
  const Capability root = memory.root();
  for (std::uint64_t g = 60; g < 70; ++g) ASSERT_TRUE(memory.store_capability(root, memory.base() + g * 16, root));
  memory.clear_tags(memory.base() + 62 * 16 + 1, 4 * 16);  // touches granules 62..66
  for (std::uint64_t g = 60; g < 70; ++g) {
    EXPECT_EQ(memory.tag(memory.base() + g * 16), g < 62 || g > 66) << "granule " << g;
  }
  EXPECT_EQ(memory.tagged_granules(), 5u);
}

TEST(TaggedMemory, RefusedAccessesChangeNothing) {
  TaggedMemory memory(4096);
  const Capability root = memory.root();
  const Capability small = root.set_value(memory.base() + 256).set_bounds_exact(16);
  const std::array<std::byte, 32> data{};
  auto r = memory.store_bytes(small, memory.base() + 256, data);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Bounds);
  EXPECT_EQ(memory.unsafe_bytes()[256], std::byte{0});
  ASSERT_TRUE(memory.store_capability(root, memory.base() + 256, root));
  auto ro = memory.store_bytes(small.clear_permissions(Permission::Store), memory.base() + 256, one_byte());
  EXPECT_EQ(ro.error().check, FaultCheck::Permission);
  EXPECT_TRUE(memory.tag(memory.base() + 256)) << "a refused write clears no tag";
}

TEST(TaggedMemory, LoadingThroughAnAuthorityWithoutLoadCapGivesData) {
  TaggedMemory memory(4096);
  const Capability root = memory.root();
  ASSERT_TRUE(memory.store_capability(root, memory.base(), root));
  auto loaded = memory.load_capability(root.clear_permissions(Permission::LoadCap), memory.base());
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->tag());
}

TEST(TaggedMemory, InBoundsButOutsideTheRegionIsUnmapped) {
  TaggedMemory memory(4096);
  auto r = memory.store_bytes(Capability::root(), memory.base() + memory.size(), one_byte());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Unmapped);
  auto l = memory.load_capability(Capability::root(), memory.base() - 16);
  EXPECT_EQ(l.error().check, FaultCheck::Unmapped);
}

TEST(TaggedMemory, MovesKeepContentsAndTags) {
  TaggedMemory memory(4096);
  ASSERT_TRUE(memory.store_capability(memory.root(), memory.base(), memory.root()));
  const std::uint64_t base = memory.base();
  TaggedMemory moved(std::move(memory));
  EXPECT_EQ(moved.base(), base);
  EXPECT_TRUE(moved.tag(base));
  EXPECT_EQ(memory.size(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
}

}  // namespace
}  // namespace flexcap::cap
