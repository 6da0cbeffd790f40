// Purecap code faults where purecap Morello faults, and not elsewhere: heap, stack and
// global objects overflowed by one byte, pointers through memory, through an integer and
// through memcpy, and the padding Morello's rounded bounds give a large allocation
// (purecap_fidelity.c, compiled with `flexcap cc --abi purecap`). The bounds are the
// capability model's, and so is the fault's text.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include "flexcap/cap/access.hh"
#include "flexcap/cap/capability.hh"
#include "flexcap/cc/purecap_abi.h"
#include "flexcap/rt/runtime.hh"

extern "C" {
void* allocate(std::size_t);
int read_at(const char*, std::size_t);
int global_at(std::size_t);
int stack_at(std::size_t);
int heap_at(std::size_t, std::size_t);
int through_memory(std::size_t);
int after_data_overwrite();
int through_integer();
int copied_pointer_at(std::size_t);
int returned_at(std::size_t, std::size_t);
std::size_t length_of_unterminated();
int aligned_at(std::size_t);
int name_at(std::size_t, std::size_t);
int variadic_at(std::size_t);
int through_union(std::size_t);
int swapped_at(std::size_t);
int vector_swapped_at(std::size_t);
int call_through(int);
int fields_store();
int vector_fill(std::size_t);
int vector_pointers_at(std::size_t);
int dominated(volatile int*, int);
extern long* g_small;
extern char g_buffer[32];
}

// A faulting access unwinds past the C code's free(), as a real fault ends the program:
// the allocations these tests make are left for the process's end. Under LeakSanitizer
// (the asan preset sets detect_leaks=1, which a default-options hook cannot override),
// they are made with leak checking off.
extern "C" void __lsan_disable() __attribute__((weak));
namespace {
const bool g_leaks_ignored = [] {
  if (__lsan_disable != nullptr) __lsan_disable();
  return true;
}();
}  // namespace

namespace flexcap::cc {
namespace {

// The fault's text, or "" if `body` ran without one.
std::string fault_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const rt::CompartmentFault& f) {
    return f.cause;
  }
  return "";
}

// What Cap<T> says of a one-byte load at `address` through a data capability at `base`
// whose bounds Morello sets for `length` bytes.
std::string expected_load_fault(std::uint64_t base, std::uint64_t length, std::uint64_t address) {
  const cap::Capability c = cap::Capability::root()
                                .restrict_permissions(cap::Permissions::data())
                                .set_value(base)
                                .set_bounds(length)
                                .capability.set_value(address);
  auto r = cap::check_access(c, cap::Access::Load, address, 1);
  return r ? "" : r.error().describe();
}

// An allocation, with the bounds its capability was given (the return slot).
struct Allocation {
  char* p;
  std::uint64_t base, top;
};
Allocation allocation(std::size_t n) {
  auto* p = static_cast<char*>(allocate(n));
  EXPECT_EQ(flexcap_purecap_return.value, reinterpret_cast<std::uint64_t>(p));
  return {p, flexcap_purecap_return.base, flexcap_purecap_return.top};
}

// Calls read_at(p, i) as an instrumented caller would: p's bounds in its argument slot.
int read_through(const Allocation& a, std::size_t i) {
  flexcap_purecap_arguments[0] = {reinterpret_cast<std::uint64_t>(a.p), a.base, a.top};
  return read_at(a.p, i);
}

TEST(PurecapFidelity, MallocBoundsAreTheModelsExactly) {
  for (std::size_t n : {1ul, 15ul, 16ul, 100ul, 4095ul, 4096ul, 5000ul, 65537ul, (1ul << 20) + 1, 3ul << 22}) {
    const Allocation a = allocation(n);
    const cap::Capability model = cap::Capability::root().set_value(a.base).set_bounds(n).capability;
    EXPECT_TRUE(model.tag()) << n;
    EXPECT_EQ(a.base, reinterpret_cast<std::uint64_t>(a.p)) << n;
    EXPECT_EQ(model.bounds().base, a.base) << n << ": the allocator aligns the base as the bounds need";
    EXPECT_EQ(model.bounds().top, cap::Uint128{a.top}) << n;
    EXPECT_EQ(a.top - a.base, cap::representable_length(n)) << n;
    std::free(a.p);
  }
}

TEST(PurecapFidelity, HeapOverflowByOneFaults) {
  EXPECT_EQ(fault_of([] { (void)heap_at(100, 99); }), "");
  const std::string fault = fault_of([] { (void)heap_at(100, 100); });
  EXPECT_NE(fault.find("capability bounds fault: load of 1 byte"), std::string::npos) << fault;
  // The same text as Cap<T> through the same capability.
  const Allocation a = allocation(100);
  EXPECT_EQ(fault_of([&] { (void)read_through(a, 99); }), "");
  EXPECT_EQ(fault_of([&] { (void)read_through(a, 100); }),
            expected_load_fault(a.base, 100, reinterpret_cast<std::uint64_t>(a.p) + 100));
}

TEST(PurecapFidelity, ChecksProvedByEarlierOnesAreDroppedOnlyWhereTheyCouldNotFail) {
  const auto call = [](const Allocation& a, int far) {
    flexcap_purecap_arguments[0] = {reinterpret_cast<std::uint64_t>(a.p), a.base, a.top};
    return dominated(reinterpret_cast<volatile int*>(a.p), far);
  };
  const auto fault_at = [](const Allocation& a, std::uint64_t offset) {
    const cap::Capability c = cap::Capability::root()
                                  .restrict_permissions(cap::Permissions::data())
                                  .set_value(a.base)
                                  .set_bounds(a.top - a.base)
                                  .capability.set_value(a.base + offset);
    auto r = cap::check_access(c, cap::Access::Load, a.base + offset, 4);
    return r ? std::string() : r.error().describe();
  };
  const Allocation all = allocation(52);
  EXPECT_EQ(fault_of([&] { (void)call(all, 1); }), "");
  // 40 bytes: p[10] is the first int past the end, whether or not p[12] was read first.
  const Allocation short_one = allocation(40);
  ASSERT_EQ(short_one.top - short_one.base, 40u);
  EXPECT_EQ(fault_of([&] { (void)call(short_one, 0); }), fault_at(short_one, 40));
  EXPECT_EQ(fault_of([&] { (void)call(short_one, 1); }), fault_at(short_one, 48));
}

TEST(PurecapFidelity, ThePaddingOfALargeAllocationDoesNotFault) {
  // 2^20 + 1 bytes cannot be bounded exactly: Morello rounds the length up, and an access
  // in that padding is inside the capability, so it does not fault there either.
  const std::size_t n = (1ul << 20) + 1;
  const std::uint64_t rounded = cap::representable_length(n);
  ASSERT_GT(rounded, n);
  const Allocation a = allocation(n);
  EXPECT_EQ(fault_of([&] { (void)read_through(a, n); }), "");            // first byte of padding
  EXPECT_EQ(fault_of([&] { (void)read_through(a, rounded - 1); }), "");  // last byte of the bounds
  EXPECT_EQ(fault_of([&] { (void)read_through(a, rounded); }),
            expected_load_fault(a.base, n, reinterpret_cast<std::uint64_t>(a.p) + rounded));
}

TEST(PurecapFidelity, StackOverflowByOneFaults) {
  EXPECT_EQ(fault_of([] { EXPECT_EQ(stack_at(15), 7); }), "");
  const std::string fault = fault_of([] { (void)stack_at(16); });
  EXPECT_NE(fault.find("capability bounds fault: load of 1 byte"), std::string::npos) << fault;
}

TEST(PurecapFidelity, GlobalOverflowByOneFaults) {
  EXPECT_EQ(fault_of([] { (void)global_at(31); }), "");
  const auto base = reinterpret_cast<std::uint64_t>(g_buffer);
  EXPECT_EQ(fault_of([] { (void)global_at(32); }), expected_load_fault(base, 32, base + 32));
}

TEST(PurecapFidelity, BoundsTravelThroughMemoryCallsAndMemcpy) {
  EXPECT_EQ(fault_of([] { (void)through_memory(7); }), "");
  EXPECT_NE(fault_of([] { (void)through_memory(8); }).find("capability bounds fault"), std::string::npos);
  EXPECT_EQ(fault_of([] { (void)copied_pointer_at(7); }), "");
  EXPECT_NE(fault_of([] { (void)copied_pointer_at(8); }).find("capability bounds fault"), std::string::npos);
  EXPECT_EQ(fault_of([] { (void)returned_at(24, 23); }), "");
  EXPECT_NE(fault_of([] { (void)returned_at(24, 24); }).find("capability bounds fault"), std::string::npos);
}

TEST(PurecapFidelity, APointerOverwrittenByDataOrMadeFromAnIntegerIsUntagged) {
  const std::string overwritten = fault_of([] { (void)after_data_overwrite(); });
  EXPECT_NE(overwritten.find("capability tag fault"), std::string::npos) << overwritten;
  const std::string cast = fault_of([] { (void)through_integer(); });
  EXPECT_NE(cast.find("capability tag fault"), std::string::npos) << cast;
}

TEST(PurecapFidelity, IntegerArithmeticOnAPointerKeepsItsCapability) {
  // 64 bytes from malloc are 16-aligned: aligning up changes nothing, and the bounds are
  // the allocation's.
  EXPECT_EQ(fault_of([] { (void)aligned_at(63); }), "");
  EXPECT_NE(fault_of([] { (void)aligned_at(64); }).find("capability bounds fault"), std::string::npos);
}

TEST(PurecapFidelity, PointersInGlobalsInitialValuesAreCapabilities) {
  EXPECT_EQ(fault_of([] { EXPECT_EQ(name_at(1, 2), 'e'); }), "");
  EXPECT_EQ(fault_of([] { (void)name_at(2, 3); }), "");  // "two" and its NUL
  EXPECT_NE(fault_of([] { (void)name_at(2, 4); }).find("capability bounds fault"), std::string::npos);
}

TEST(PurecapFidelity, APointerInAnIntegerSlotKeepsItsCapability) {
  EXPECT_EQ(fault_of([] { (void)through_union(7); }), "");
  EXPECT_NE(fault_of([] { (void)through_union(8); }).find("capability bounds fault"), std::string::npos);
}

TEST(PurecapFidelity, SwappedPointersKeepTheirOwnBounds) {
  EXPECT_EQ(fault_of([] { (void)swapped_at(31); }), "");  // left is the 32-byte one now
  EXPECT_NE(fault_of([] { (void)swapped_at(32); }).find("capability bounds fault"), std::string::npos);
  EXPECT_EQ(fault_of([] { (void)vector_swapped_at(31); }), "");
  EXPECT_NE(fault_of([] { (void)vector_swapped_at(32); }).find("capability bounds fault"), std::string::npos);
}

TEST(PurecapFidelity, PointersThroughVarargsKeepTheirBounds) {
  EXPECT_EQ(fault_of([] { EXPECT_EQ(variadic_at(7), 3); }), "");
  EXPECT_NE(fault_of([] { (void)variadic_at(8); }).find("capability bounds fault"), std::string::npos);
}

// memcpy's tag copy (flexcap_purecap_copy_meta) across the shadow's chunk boundaries
// (every 2^FLEXCAP_PURECAP_SHADOW_CHUNK_SHIFT bytes), on both sides at different places:
// each pointer slot keeps its capability, each data slot over a pointer loses its tag.
TEST(PurecapFidelity, TagsAreCopiedAcrossTheShadowsChunks) {
  constexpr std::uint64_t kChunk = std::uint64_t{1} << FLEXCAP_PURECAP_SHADOW_CHUNK_SHIFT;
  void* area = mmap(nullptr, 4 * kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  const auto start = reinterpret_cast<std::uint64_t>(area);
  const std::uint64_t boundary = (start + kChunk) & ~(kChunk - 1);
  const std::uint64_t from = boundary - 40, to = boundary + kChunk - 24;  // 80 bytes: 10 slots each
  for (std::uint64_t i = 0; i < 10; ++i) {
    if (i % 3 != 2) flexcap_purecap_store_meta(from + 8 * i, 0x1000 + i, 0x1000, 0x2000 + i);  // pointers
    flexcap_purecap_store_meta(to + 8 * i, 0x5000 + i, 0x5000, 0x6000);  // pointers the copy overwrites
  }
  flexcap_purecap_copy_meta(to, from, 80);
  for (std::uint64_t i = 0; i < 10; ++i) {
    const flexcap_purecap_bounds b = flexcap_purecap_load_meta(to + 8 * i, 0x1000 + i);
    if (i % 3 != 2) {
      EXPECT_EQ(b.base, 0x1000u) << i;
      EXPECT_EQ(b.top, 0x2000u + i) << i;
    } else {
      EXPECT_EQ(b.base | b.top, 0u) << i;  // data was copied over a pointer
      const flexcap_purecap_bounds old = flexcap_purecap_load_meta(to + 8 * i, 0x5000 + i);
      EXPECT_EQ(old.base | old.top, 0u) << i;
    }
  }
  munmap(area, 4 * kChunk);
}

TEST(PurecapFidelity, FieldsCheckedTogetherStillFaultAtTheFieldOutside) {
  const std::string fault = fault_of([] { (void)fields_store(); });
  const auto base = reinterpret_cast<std::uint64_t>(g_small);
  char where[64];
  std::snprintf(where, sizeof where, "store of 8 bytes at 0x%llx", static_cast<unsigned long long>(base + 8));
  EXPECT_NE(fault.find(std::string("capability bounds fault: ") + where), std::string::npos) << fault;
  EXPECT_EQ(g_small[0], 1);  // the field inside was stored before the fault
}

TEST(PurecapFidelity, VectorizedLoopsFaultWhereTheScalarOnesWould) {
  EXPECT_EQ(fault_of([] { EXPECT_EQ(vector_fill(64), 63); }), "");
  const std::string past = fault_of([] { (void)vector_fill(65); });
  EXPECT_NE(past.find("capability bounds fault: store of 1 byte"), std::string::npos) << past;
  // objects[5].bytes is 120 bytes into the 192-byte array: its capability reaches 72 more.
  EXPECT_EQ(fault_of([] { (void)vector_pointers_at(71); }), "");
  EXPECT_NE(fault_of([] { (void)vector_pointers_at(72); }).find("capability bounds fault: load of 1 byte"),
            std::string::npos);
}

TEST(PurecapFidelity, IndirectCallsNeedACodeCapability) {
  EXPECT_EQ(fault_of([] { EXPECT_EQ(call_through(0), 7); }), "");
  const std::string forged = fault_of([] { (void)call_through(1); });
  EXPECT_NE(forged.find("capability tag fault: execute"), std::string::npos) << forged;
  const std::string data = fault_of([] { (void)call_through(2); });
  EXPECT_NE(data.find("capability permission fault: execute"), std::string::npos) << data;
}

TEST(PurecapFidelity, TheCLibraryIsCheckedAgainstThePointersBounds) {
  // strlen of 4 bytes with no NUL: faults at the first byte past the allocation's bounds
  // (16 bytes: a 4-byte allocation's capability is exact, the allocator's granule pads it
  // in memory only).
  const std::string fault = fault_of([] { (void)length_of_unterminated(); });
  EXPECT_NE(fault.find("capability bounds fault: load of 1 byte"), std::string::npos) << fault;
}

}  // namespace
}  // namespace flexcap::cc
