// `revocation: pages` on a page backend (mprotect): a freed shared block's whole pages
// are inaccessible, to every compartment, until an epoch ends and they are reused;
// what lies below a page is reused at once (docs/revocation.md).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {
namespace {

// Two compartments on mprotect; the shared region (4 MiB) ends an epoch when a quarter
// of what it has in use is in quarantine (at least 256 KiB).
Runtime& runtime() {
  static const CompartmentSpec compartments[] = {
      {"a", 1ull << 20, Sharing::Capability, RestartPolicy::OnFault, nullptr, nullptr, nullptr, 0, nullptr, nullptr,
       nullptr, nullptr, RevocationPolicy::Off, 0.25},
      {"b", 1ull << 20, Sharing::Capability, RestartPolicy::OnFault, nullptr, nullptr, nullptr, 0, nullptr, nullptr,
       nullptr, nullptr, RevocationPolicy::Off, 0.25}};
  static const LibrarySpec libraries[] = {{"a_lib", 0}, {"b_lib", 1}};
  static Runtime& rt = []() -> Runtime& {
    Runtime& r = Runtime::start(ImageSpec{"page_revocation_test", Backend::Mprotect, compartments, libraries, 0,
                                          4ull << 20, RevocationPolicy::Pages, 0.25});
    MprotectBackend::start(r);
    return r;
  }();
  return rt;
}

std::byte* address_of(const cap::Cap<std::byte>& block) {
  return reinterpret_cast<std::byte*>(block.capability().base());
}

TEST(PageRevocation, AFreedBlockOfAPageOrMoreIsInaccessibleUntilItsEpochEnds) {
  runtime();
  cap::Cap<std::byte> block = shared_alloc(3 * 4096 + 100);
  std::byte* p = address_of(block);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 4096, 0u) << "page-aligned, so that its free takes all of it";
  std::memset(p, 7, 3 * 4096 + 100);
  shared_free(block);
  // Any compartment's later use faults (here: outside any gate, so the process dies).
  EXPECT_DEATH({ *reinterpret_cast<volatile std::byte*>(p + 5000) = std::byte{1}; }, "");
  EXPECT_DEATH({ (void)*reinterpret_cast<volatile std::byte*>(p); }, "");
  EXPECT_NE(runtime().describe_owner(reinterpret_cast<std::uint64_t>(p)).find("a use after free"),
            std::string::npos);
  // A second free is refused as a double free, as on cheri.
  try {
    shared_free(block);
    ADD_FAILURE() << "a double free was accepted";
  } catch (const CompartmentFault& fault) {
    EXPECT_NE(fault.cause.find("double free"), std::string::npos) << fault.cause;
  }
  // The epoch ends: the pages are mapped again and handed out again.
  const std::uint64_t epochs = runtime().shared_heap().page_epochs();
  revoke();
  EXPECT_EQ(runtime().shared_heap().page_epochs(), epochs + 1);
  EXPECT_EQ(runtime().shared_heap().quarantined_bytes(), 0u);
  cap::Cap<std::byte> again = shared_alloc(3 * 4096 + 100);
  EXPECT_EQ(address_of(again), p);
  std::memset(address_of(again), 1, 3 * 4096 + 100);
  EXPECT_EQ(runtime().describe_owner(reinterpret_cast<std::uint64_t>(p)), "the shared region");
  shared_free(again);
  revoke();
}

TEST(PageRevocation, BelowAPageABlockIsReusedAtOnce) {
  runtime();
  cap::Cap<std::byte> small = shared_alloc(64);
  std::byte* p = address_of(small);
  shared_free(small);
  *reinterpret_cast<volatile std::byte*>(p) = std::byte{1};  // still mapped: nothing to protect below a page
  EXPECT_EQ(runtime().shared_heap().quarantined_bytes(), 0u);
  EXPECT_EQ(address_of(shared_alloc(64)), p);
}

TEST(PageRevocation, TheQuarantineEndsItsEpochWhenItHoldsAQuarterOfTheHeapInUse) {
  runtime();
  const std::uint64_t epochs = runtime().shared_heap().page_epochs();
  // 80 blocks of 4 KiB freed: 320 KiB, past the 256 KiB floor.
  for (int i = 0; i < 80; ++i) shared_free(shared_alloc(4096));
  EXPECT_EQ(runtime().shared_heap().page_epochs(), epochs + 1);
  EXPECT_LT(runtime().shared_heap().quarantined_bytes(), 256u << 10);
}

TEST(PageRevocation, AnAllocationThatFindsNoRoomEndsTheEpochRatherThanFail) {
  runtime();
  revoke();
  // 3 MiB in use keeps 512 KiB freed in quarantine (under a quarter of it); what is left
  // of the 4 MiB region then holds 768 KiB only once the quarantined pages are back.
  cap::Cap<std::byte> kept = shared_alloc(3ull << 20);
  cap::Cap<std::byte> freed = shared_alloc(512ull << 10);
  shared_free(freed);
  EXPECT_EQ(runtime().shared_heap().quarantined_bytes(), (512ull << 10) + 16);
  const std::uint64_t epochs = runtime().shared_heap().page_epochs();
  cap::Cap<std::byte> bigger = shared_alloc(768ull << 10);
  EXPECT_EQ(runtime().shared_heap().page_epochs(), epochs + 1);
  std::memset(address_of(bigger), 3, 768ull << 10);
  shared_free(bigger);
  shared_free(kept);
  revoke();
}

}  // namespace
}  // namespace flexcap::rt
