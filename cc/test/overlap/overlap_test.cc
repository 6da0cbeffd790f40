// The two ways PLOS'23 shares data between hybrid C compartments on Morello, built into
// one image each (examples/overlap/): `sharing: overlap` (neighbouring DDCs overlap a
// shared region) and `sharing: capabilities` (only capabilities cross). The main program
// runs in `main`; the writer's C in `a`, its neighbour's in `b`, a stranger's in `c`:
//
//   overlap:       [ main ][ S ][ a ][ S(a,b) ][ b ][ S ][ c ]
//   capabilities:  [ main ][ a ][ b ][ c ]
//
// Every access below is a plain C load or store, checked by the hybrid pass against the
// DDC of the compartment it runs in.
#include <gtest/gtest.h>

#include <string>

#include "flexcap/cap/access.hh"
#include "flexcap/lib/overlap_neighbour.hh"
#include "flexcap/lib/overlap_stranger.hh"
#include "flexcap/lib/overlap_writer.hh"
#include "flexcap/rt/call.hh"

namespace flexcap {
namespace {

namespace writer = lib::overlap_writer;
namespace neighbour = lib::overlap_neighbour;
namespace stranger = lib::overlap_stranger;

static_assert(image::Backend::kKind == rt::Backend::Cheri, "the overlap images are cheri images");
constexpr bool kOverlap = image::kCompartments[0].sharing == rt::Sharing::Overlap;
constexpr int kMain = 0, kA = 1, kB = 2, kC = 3;

template <class T>
T value(const Expected<rt::Tainted<T>, rt::GateError>& r) {
  EXPECT_TRUE(r) << (r ? "" : r.error().describe());
  return r ? r->unsafe_unverified() : T{};
}

rt::Compartment& compartment(int index) { return rt::Runtime::get().compartment(index); }

bool ddc_reaches(int index, std::uint64_t address, std::uint64_t bytes) {
  return compartment(index).data_capability().range_in_bounds(address, bytes);
}

// The fault a plain 8-byte load at `address` raises in compartment `index`: the same
// text the hybrid checks give (cap::CapabilityFault::describe()).
std::string load_fault(int index, std::uint64_t address) {
  auto allowed = cap::check_access(compartment(index).data_capability(), cap::Access::Load, address, 8);
  EXPECT_FALSE(allowed) << "compartment " << index << " may load 0x" << cap::to_hex(address);
  return allowed ? std::string() : allowed.error().describe();
}

// A raw read by another compartment's C must fail as a capability fault of that
// compartment, with the fault's own text.
template <const auto& Export>
void expect_raw_read_faults(int index, std::uint64_t address) {
  const std::string expected = load_fault(index, address);
  auto r = rt::call<Export>(address);
  ASSERT_FALSE(r) << "compartment " << compartment(index).name() << " read 0x" << cap::to_hex(address);
  EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault) << r.error().describe();
  EXPECT_EQ(r.error().compartment, compartment(index).name()) << r.error().describe();
  EXPECT_EQ(r.error().address, address) << r.error().describe();
  EXPECT_EQ(r.error().cause, expected) << r.error().describe();
  EXPECT_NE(r.error().cause.find("capability bounds fault"), std::string::npos) << r.error().describe();
}

TEST(Layout, EveryDdcIsOneExactRangeHoldingItsRegion) {
  for (int i = 0; i < rt::Runtime::get().compartment_count(); ++i) {
    const cap::Capability ddc = compartment(i).data_capability();
    const cap::TaggedMemory& own = compartment(i).memory();
    ASSERT_TRUE(ddc.tag()) << i;
    EXPECT_TRUE(ddc.range_in_bounds(own.base(), own.size())) << i;
    // Exact: the bounds are the window the image placed, not rounded outwards.
    const cap::Bounds b = ddc.bounds();
    const auto& spec = image::kCompartments[i];
    const auto* begin = kOverlap ? spec.window_begin : spec.region_begin;
    const auto* end = kOverlap ? spec.window_end : spec.region_end;
    EXPECT_EQ(b.base, reinterpret_cast<std::uint64_t>(begin)) << i;
    EXPECT_EQ(static_cast<std::uint64_t>(b.top), reinterpret_cast<std::uint64_t>(end)) << i;
  }
}

TEST(Layout, NeighboursDdcsOverlapOnlyUnderOverlap) {
  for (int i = 0; i + 1 < rt::Runtime::get().compartment_count(); ++i) {
    const cap::Bounds low = compartment(i).data_capability().bounds();
    const cap::Bounds high = compartment(i + 1).data_capability().bounds();
    const bool overlapping = high.base < low.top;
    EXPECT_EQ(overlapping, kOverlap) << i;
    if (kOverlap) {
      EXPECT_GE(static_cast<std::uint64_t>(low.top - high.base), rt::kDefaultOverlapBytes) << i;
      // Only neighbours: i and i + 2 share nothing.
      if (i + 2 < rt::Runtime::get().compartment_count()) {
        EXPECT_LE(low.top, compartment(i + 2).data_capability().bounds().base) << i;
      }
    }
  }
}

TEST(Layout, AnnotatedDataLivesWhereTheModeSays) {
  const std::uint64_t shared = value(rt::call<writer::Exports::publish>(1));
  ASSERT_NE(shared, 0u);
  rt::Runtime& rt = rt::Runtime::get();
  if (kOverlap) {
    EXPECT_EQ(rt.owner_of(shared, 16), -3);
    EXPECT_EQ(rt.describe_owner(shared), "the overlap region of compartments 'a' and 'b'");
    EXPECT_TRUE(ddc_reaches(kA, shared, 16));
    EXPECT_TRUE(ddc_reaches(kB, shared, 16));
  } else {
    EXPECT_EQ(rt.owner_of(shared, 16), kA);
    EXPECT_TRUE(ddc_reaches(kA, shared, 16));
    EXPECT_FALSE(ddc_reaches(kB, shared, 1));
  }
  EXPECT_FALSE(ddc_reaches(kMain, shared, 1));
  EXPECT_FALSE(ddc_reaches(kC, shared, 1));
  // Its ordinary globals are a's own in both modes.
  EXPECT_EQ(rt.owner_of(value(rt::call<writer::Exports::private_address>()), 16), kA);
}

TEST(Overlap, TheNeighbourReadsAndWritesAnnotatedDataThroughPlainPointers) {
  const std::uint64_t shared = value(rt::call<writer::Exports::publish>(0x5ea1ed));
  if (!kOverlap) {
    expect_raw_read_faults<neighbour::Exports::raw_read>(kB, shared);
    return;
  }
  EXPECT_EQ(value(rt::call<neighbour::Exports::raw_read>(shared)), 0x5ea1edu);
  EXPECT_EQ(value(rt::call<neighbour::Exports::raw_write>(shared, 0xb0b)), 0);
  EXPECT_EQ(value(rt::call<writer::Exports::read_shared>()), 0xb0bu) << "a sees what b wrote";
}

TEST(Overlap, ACompartmentThatIsNotANeighbourFaults) {
  const std::uint64_t shared = value(rt::call<writer::Exports::publish>(0x5ea1ed));
  expect_raw_read_faults<stranger::Exports::raw_read>(kC, shared);
  EXPECT_EQ(value(rt::call<writer::Exports::read_shared>()), 0x5ea1edu) << "the data is intact";
}

TEST(Overlap, OrdinaryGlobalsStayPrivateEvenToTheNeighbour) {
  value(rt::call<writer::Exports::publish>(7));
  const std::uint64_t own = value(rt::call<writer::Exports::private_address>());
  expect_raw_read_faults<neighbour::Exports::raw_read>(kB, own);
}

TEST(Overlap, NoDdcReachesBeyondItsNeighbours) {
  // b's neighbours are a and c: its DDC ends inside the region it shares with c, so one
  // byte past it is outside, as before.
  const cap::Bounds b = compartment(kB).data_capability().bounds();
  const std::uint64_t past = static_cast<std::uint64_t>(b.top);
  expect_raw_read_faults<neighbour::Exports::raw_read>(kB, past);
  expect_raw_read_faults<neighbour::Exports::raw_read>(kB, b.base - 8);
}

}  // namespace
}  // namespace flexcap

int main(int argc, char** argv) {
  flexcap::image::start();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
