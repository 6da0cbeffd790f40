// Revocation in a running image: quarantine of the shared heap, sweeps, the load filter
// of a compartment's memory, the roots the runtime holds, restarts, and the frees that
// are refused with their cause.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {
namespace {

// Two compartments: `keeper` filters the capabilities loaded from its memory, `plain`
// only sweeps; the shared region (1 MiB) sweeps when a quarter of it is in quarantine.
Runtime& runtime() {
  static const CompartmentSpec compartments[] = {
      {"keeper", 1ull << 20, Sharing::Capability, RestartPolicy::OnFault, nullptr, nullptr, nullptr, 0, nullptr,
       nullptr, nullptr, nullptr, RevocationPolicy::LoadFilter, 0.25},
      {"plain", 1ull << 20, Sharing::Capability, RestartPolicy::OnFault, nullptr, nullptr, nullptr, 0, nullptr,
       nullptr, nullptr, nullptr, RevocationPolicy::Sweep, 0.25}};
  static const LibrarySpec libraries[] = {{"keeper_lib", 0}, {"plain_lib", 1}};
  static Runtime& rt = [] () -> Runtime& {
    Runtime& r = Runtime::start(ImageSpec{"revocation_test", Backend::Cheri, compartments, libraries, 0, 1ull << 20,
                                          RevocationPolicy::Sweep, 0.25});
    CheriBackend::start(r);
    return r;
  }();
  return rt;
}

// A slot in compartment `index`'s memory where a capability is kept, as a library keeps
// a pointer in its state.
struct Slot {
  explicit Slot(int index) : memory(&runtime().compartment(index).memory()) {
    Runtime::set_current(index);
    block = private_alloc(16);
    Runtime::set_current(0);
  }
  void keep(const cap::Capability& c) { ASSERT_TRUE(memory->store_capability(block.capability(), address(), c)); }
  cap::Capability load() const { return *memory->load_capability(block.capability(), address()); }
  bool tagged() const { return memory->tag(address()); }
  std::uint64_t address() const { return block.capability().base(); }
  cap::TaggedMemory* memory;
  cap::Cap<std::byte> block;
};

std::string refusal(const cap::Cap<std::byte>& block) {
  try {
    shared_free(block);
  } catch (const CompartmentFault& fault) {
    return fault.cause;
  }
  return "";
}

TEST(Revocation, AFreedBlockWaitsInQuarantineUntilASweepRevokedEveryCapabilityToIt) {
  runtime();
  const cap::Cap<std::byte> buffer = shared_alloc(64);
  const std::uint64_t address = buffer.capability().base();
  Slot in_plain(1);
  in_plain.keep(buffer.capability());
  cap::Held<std::byte> local(buffer);
  shared_free(buffer);

  const cap::Cap<std::byte> next = shared_alloc(64);
  EXPECT_NE(next.capability().base(), address) << "reused before any sweep";
  EXPECT_TRUE(in_plain.tagged()) << "no sweep yet, and `plain` has no load filter";

  const cap::SweepStats stats = revoke();
  EXPECT_GE(stats.revoked_in_memory, 1u);
  EXPECT_FALSE(in_plain.tagged());
  EXPECT_FALSE(local->capability().tag());
  EXPECT_FALSE(local->store(0, std::byte{1})) << "the kept local faults at its next use";
  const cap::Cap<std::byte> again = shared_alloc(64);
  EXPECT_EQ(again.capability().base(), address) << "reissued once the sweep cleared it";
  shared_free(next);
  shared_free(again);
}

TEST(Revocation, TheLoadFilterStripsACapabilityToFreedMemoryAtOnce) {
  runtime();
  const cap::Cap<std::byte> buffer = shared_alloc(64);
  Slot in_keeper(0);
  in_keeper.keep(buffer.capability());
  EXPECT_TRUE(in_keeper.load().tag());
  shared_free(buffer);
  EXPECT_FALSE(in_keeper.load().tag()) << "keeper's memory filters: no sweep needed";
  EXPECT_TRUE(in_keeper.tagged()) << "memory keeps the tag until a sweep";
  // A Held kept in keeper's memory (a library's state lives in its heap) is filtered too.
  Runtime::set_current(0);
  const cap::Cap<std::byte> holder = private_alloc(sizeof(cap::Held<std::byte>));
  Runtime::set_current(0);
  const cap::Cap<std::byte> other = shared_alloc(64);
  auto* held = new (reinterpret_cast<void*>(holder.capability().base())) cap::Held<std::byte>(other);
  shared_free(other);
  EXPECT_FALSE(held->get().capability().tag());
  held->~Held();
  revoke();
}

TEST(Revocation, FreesOfAnythingButABlockAsHandedOutAreRefusedWithTheCause) {
  runtime();
  const cap::Cap<std::byte> block = shared_alloc(256);
  const cap::Capability c = block.capability();
  const std::size_t in_use = runtime().shared_heap().bytes_in_use();

  EXPECT_NE(refusal(cap::Cap<std::byte>(c.clear_tag())).find("untagged"), std::string::npos);
  const cap::Capability key =
      cap::Capability::root().restrict_permissions(cap::Permission::Seal).set_value(99).set_bounds_exact(1);
  EXPECT_NE(refusal(cap::Cap<std::byte>(c.seal(key))).find("sealed"), std::string::npos);
  EXPECT_NE(refusal(cap::Cap<std::byte>(c.restrict_permissions(cap::Permissions{}))).find("revoked"),
            std::string::npos);
  EXPECT_NE(refusal(cap::Cap<std::byte>(c.set_value(c.base() + 32).set_bounds_exact(32))).find("interior pointer"),
            std::string::npos);
  EXPECT_NE(refusal(cap::Cap<std::byte>(c.set_bounds_exact(128))).find("bounds were changed"), std::string::npos);
  Runtime::set_current(1);
  const cap::Cap<std::byte> private_block = private_alloc(64);
  Runtime::set_current(0);
  EXPECT_NE(refusal(private_block).find("not in this heap"), std::string::npos);
  EXPECT_EQ(runtime().shared_heap().bytes_in_use(), in_use) << "a refused free frees nothing";

  EXPECT_EQ(refusal(block), "");
  EXPECT_NE(refusal(block).find("double free"), std::string::npos);
  revoke();
  EXPECT_NE(refusal(block).find("no live block"), std::string::npos) << "freed and no longer in quarantine";
}

// A free starts a sweep exactly when the quarantine it makes reaches a quarter of the
// bytes still in use, or 64 KiB where that is less (docs/revocation.md).
TEST(Revocation, AQuarterOfTheHeapInQuarantineStartsASweep) {
  runtime();
  Heap& heap = runtime().shared_heap();
  std::vector<cap::Cap<std::byte>> blocks;
  for (int i = 0; i < 40; ++i) blocks.push_back(shared_alloc(8192));  // 320 KiB: more than a quarter of 1 MiB
  const std::uint64_t first_sweeps = heap.sweeps();
  constexpr std::uint64_t kBlock = 8192 + 16;  // the payload and its header
  for (int i = 0; i < 40; ++i) {
    const std::uint64_t quarantined = heap.quarantined_bytes();
    const std::uint64_t live = heap.bytes_in_use() - quarantined - kBlock;  // after this free
    const std::uint64_t sweeps = heap.sweeps();
    shared_free(blocks[static_cast<std::size_t>(i)]);
    const bool due = quarantined + kBlock >= std::max<std::uint64_t>(live / 4, 64 << 10);
    EXPECT_EQ(heap.sweeps(), sweeps + (due ? 1 : 0)) << "free " << i << ": " << quarantined + kBlock
                                                   << " bytes in quarantine, " << live << " in use";
    if (due) {
      EXPECT_EQ(heap.quarantined_bytes(), 0u) << "the sweep reuses every block freed before it";
    }
  }
  EXPECT_GE(heap.sweeps(), first_sweeps + 4) << "320 KiB freed: a sweep at every 64 KiB";
  EXPECT_LT(heap.quarantined_bytes(), (1u << 20) / 4);
}

TEST(Revocation, TheGatesGrantsAreRoots) {
  runtime();
  const cap::Cap<std::byte> buffer = shared_alloc(64);
  GateFrame frame;
  frame.grants.item[0] = buffer.capability();
  frame.grant_count = 1;
  Runtime::push_frame(frame);
  shared_free(buffer);
  revoke();
  EXPECT_FALSE(frame.grants.item[0].tag());
  Runtime::pop_frame(frame);
}

TEST(Revocation, TheSwitchersTablesAndRegistersAreRootsToo) {
  runtime();
  const std::vector<std::string_view> names = runtime().revoker().root_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "gate frames"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "cheri switcher"), names.end());
  // The sealing authority, two keys, and three registers for each compartment (no
  // exports: no sealed entries). This thread's live registers are its compartment's.
  EXPECT_GE(revoke().roots_seen, 1u + 2u + 3u * 2u);
  EXPECT_TRUE(ddc().tag()) << "nothing of the switcher's is based in a heap";
}

TEST(Revocation, ARestartRevokesEveryCapabilityToTheCompartmentsOldHeap) {
  runtime();
  Runtime::set_current(1);
  const cap::Cap<std::byte> old = private_alloc(64);
  Runtime::set_current(0);
  Slot elsewhere(0);
  elsewhere.keep(old.capability());
  runtime().restart(1);
  EXPECT_FALSE(elsewhere.tagged()) << "the restarted heap is reissued: nothing may reach it from before";
  EXPECT_TRUE(runtime().compartment(1).data_capability().tag());
}

}  // namespace
}  // namespace flexcap::rt
