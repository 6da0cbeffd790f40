// Revocation in the model: a sweep revokes exactly the capabilities whose base lies in
// painted (freed) memory, wherever they are kept; the load filter strips them as they are
// loaded; epochs say when freed memory may be reused.
#include "flexcap/cap/revocation.hh"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace flexcap::cap {
namespace {

class Revocation : public ::testing::Test {
 protected:
  Revocation() : memory_(64 * 1024), root_(memory_.root()) { revoker_.add_memory(memory_); }

  // A block as an allocator hands it out: exact bounds over [offset, offset + bytes).
  Capability block(std::uint64_t offset, std::uint64_t bytes) const {
    return root_.set_value(memory_.base() + offset).set_bounds_exact(bytes);
  }
  void keep(std::uint64_t slot, const Capability& c) {
    ASSERT_TRUE(memory_.store_capability(root_, memory_.base() + slot, c));
  }
  Capability kept(std::uint64_t slot) const {
    // Read as the sweep leaves it, without the load filter's view.
    std::uint64_t words[2];
    std::memcpy(words, reinterpret_cast<const void*>(memory_.base() + slot), sizeof(words));
    return Capability::unsafe_from_bits(words[1], words[0], memory_.tag(memory_.base() + slot));
  }

  TaggedMemory memory_;
  Capability root_;
  Revoker revoker_;
};

TEST_F(Revocation, ASweepRevokesCapabilitiesBasedInPaintedMemoryAndNothingElse) {
  const Capability freed = block(4096, 256);
  const Capability live = block(8192, 256);
  keep(16, freed);
  keep(32, freed.set_value(freed.base() + 100));  // pointing inside: same base
  keep(48, block(4096 + 64, 16));  // a narrower one inside
  keep(64, live);
  keep(80, root_);  // reaches the block but is based elsewhere: the DDC, the allocator's own
  memory_.paint(freed.base(), 256);

  const SweepStats stats = revoker_.sweep();
  EXPECT_FALSE(kept(16).tag());
  EXPECT_FALSE(kept(32).tag());
  EXPECT_FALSE(kept(48).tag()) << "a capability to part of the freed block is based in it too";
  EXPECT_TRUE(kept(64).tag());
  EXPECT_TRUE(kept(80).tag()) << "revocation goes by the base, as in CheriBSD";
  EXPECT_EQ(stats.tagged_seen, 5u);
  EXPECT_EQ(stats.revoked_in_memory, 3u);
  EXPECT_EQ(stats.bytes_swept, memory_.size());
}

TEST_F(Revocation, TheBaseIsDecodedBitExactlyNotTakenFromTheValue) {
  // The value has moved past the block (as C's one-past-the-end pointer does) into live
  // memory: the base still names the freed block.
  const Capability freed = block(4096, 64);
  keep(16, freed.set_value(freed.base() + 64));
  // And the reverse: a live block's capability whose value wandered into freed memory.
  const Capability live = block(4096 + 64, 64);
  keep(32, live.set_value(live.base() - 32));
  memory_.paint(freed.base(), 64);
  revoker_.sweep();
  EXPECT_FALSE(kept(16).tag());
  EXPECT_TRUE(kept(32).tag());
}

TEST_F(Revocation, SealedCapabilitiesAreRevokedToo) {
  const Capability key = Capability::root().restrict_permissions(Permission::Seal).set_value(77).set_bounds_exact(1);
  const Capability sealed = block(4096, 64).seal(key);
  ASSERT_TRUE(sealed.tag() && sealed.is_sealed());
  keep(16, sealed);
  memory_.paint(4096 + memory_.base(), 64);
  revoker_.sweep();
  EXPECT_FALSE(kept(16).tag());
}

TEST_F(Revocation, TheZeroPermissionsFormKeepsTheTagAndAllowsNothing) {
  revoker_.set_form(RevokedForm::ZeroPermissions);
  const Capability freed = block(4096, 64);
  keep(16, freed);
  memory_.paint(freed.base(), 64);
  revoker_.sweep();
  const Capability after = kept(16);
  EXPECT_TRUE(after.tag());
  EXPECT_EQ(after.permissions(), Permissions{});
  EXPECT_EQ(after.bounds(), freed.bounds());
  const Cap<std::uint8_t> use(after, &memory_);
  auto r = use.load(0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().check, FaultCheck::Permission) << r.error().describe();
}

TEST_F(Revocation, TheLoadFilterStripsACapabilityToFreedMemoryBeforeAnySweep) {
  const Capability freed = block(4096, 64);
  keep(16, freed);
  memory_.paint(freed.base(), 64);
  auto unfiltered = memory_.load_capability(root_, memory_.base() + 16);
  ASSERT_TRUE(unfiltered);
  EXPECT_TRUE(unfiltered->tag()) << "without the filter, only a sweep revokes";
  revoker_.set_load_filter(true);
  auto filtered = memory_.load_capability(root_, memory_.base() + 16);
  ASSERT_TRUE(filtered);
  EXPECT_FALSE(filtered->tag());
  EXPECT_TRUE(memory_.tag(memory_.base() + 16)) << "the filter changes what is loaded, not memory";
  EXPECT_EQ(revoker_.epoch(), 0u);
}

TEST_F(Revocation, ACapabilityKeptInOneMemoryToAnotherIsRevokedWhenBothAreSwept) {
  TaggedMemory other(4096);
  revoker_.add_memory(other);
  const Capability there = other.root().set_value(other.base() + 256).set_bounds_exact(128);
  keep(16, there);
  other.paint(there.base(), 128);
  revoker_.sweep();
  EXPECT_FALSE(kept(16).tag());
  revoker_.remove_memory(other);
}

TEST_F(Revocation, TagsAnywhereInABitmapWordAreFound) {
  // Granules 0, 63, 64 and the last one: each end of a word, and the end of the bitmap.
  const Capability freed = block(4096, 64);
  const std::uint64_t last = memory_.size() - 16;
  for (std::uint64_t slot : {std::uint64_t{0}, std::uint64_t{63 * 16}, std::uint64_t{64 * 16}, last}) keep(slot, freed);
  memory_.paint(freed.base(), 64);
  const SweepStats stats = revoker_.sweep();
  EXPECT_EQ(stats.revoked_in_memory, 4u);
  EXPECT_EQ(memory_.tagged_granules(), 0u);
}

class TwoRoots : public RootSet {
 public:
  std::string_view name() const override { return "two roots"; }
  void for_each(const std::function<void(Capability&)>& visit) override {
    for (Capability& c : held) visit(c);
  }
  std::vector<Capability> held;
};

TEST_F(Revocation, RootsOutsideTaggedMemoryAreSwept) {
  const Capability freed = block(4096, 64);
  const Capability live = block(8192, 64);
  TwoRoots roots;
  roots.held = {freed, live};
  revoker_.add_roots(roots);
  Held<std::uint8_t> local(Cap<std::uint8_t>(freed, &memory_));
  Held<std::uint8_t> copy = local;  // a copy is a root of its own
  memory_.paint(freed.base(), 64);
  const SweepStats stats = revoker_.sweep();
  EXPECT_FALSE(roots.held[0].tag());
  EXPECT_TRUE(roots.held[1].tag());
  EXPECT_FALSE(local->capability().tag());
  EXPECT_FALSE(copy->capability().tag());
  EXPECT_FALSE(local->store(0, 1)) << "a revoked Held faults at its next use";
  EXPECT_EQ(stats.revoked_in_roots, 3u);
  revoker_.remove_roots(roots);
}

TEST_F(Revocation, EpochsCountSweepsAndSayWhenFreedMemoryMayBeReused) {
  EXPECT_EQ(revoker_.epoch(), 0u);
  EXPECT_EQ(revoker_.sweep().epoch, 2u);
  EXPECT_EQ(revoker_.epoch(), 2u);
  // Freed at an even epoch (no sweep running): one whole sweep later.
  EXPECT_FALSE(Revoker::epoch_clears(2, 2));
  EXPECT_FALSE(Revoker::epoch_clears(3, 2));
  EXPECT_TRUE(Revoker::epoch_clears(4, 2));
  // Freed while a sweep ran (odd): that sweep may have passed the capability already; the
  // next whole one is needed.
  EXPECT_FALSE(Revoker::epoch_clears(4, 3));
  EXPECT_FALSE(Revoker::epoch_clears(5, 3));
  EXPECT_TRUE(Revoker::epoch_clears(6, 3));
}

TEST_F(Revocation, AnUnpaintedBlockIsLeftAlone) {
  const Capability c = block(4096, 64);
  keep(16, c);
  memory_.paint(c.base(), 64);
  memory_.unpaint(c.base(), 64);
  EXPECT_EQ(memory_.painted_granules(), 0u);
  revoker_.sweep();
  EXPECT_TRUE(kept(16).tag());
}

}  // namespace
}  // namespace flexcap::cap
