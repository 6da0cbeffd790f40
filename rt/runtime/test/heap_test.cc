// The compartment heap and the bounded blocks that shared_alloc / private_alloc hand out.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {
namespace {

// Where a heap over `region` starts: its first 16-byte-aligned byte (a heap's region is
// granule-aligned; a vector's data need not be).
std::byte* granule_aligned(std::vector<std::byte>& region) {
  return reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(region.data()) + 15) & ~std::uintptr_t{15});
}

TEST(Heap, AlignsWhenAskedAndKeepsTheGapUsable) {
  std::vector<std::byte> region(1 << 20);
  std::byte* const begin = granule_aligned(region);
  Heap heap(begin, (1 << 20) - 16);
  const std::size_t before = heap.bytes_in_use();
  void* small = heap.allocate(40);
  void* aligned = heap.allocate(70000, 4096);
  ASSERT_NE(aligned, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 4096, 0u);
  // The gap in front of the aligned block went back to the free list: a small block fits in it.
  void* gap = heap.allocate(32);
  EXPECT_LT(gap, aligned);
  heap.free(small);
  heap.free(aligned);
  heap.free(gap);
  EXPECT_EQ(heap.bytes_in_use(), before) << "every block merged back";
  EXPECT_EQ(heap.allocate(2 << 20), nullptr) << "larger than the heap";
}

TEST(Heap, SmallFreedBlocksAreReusedAndMergedBackWhenSpaceRunsOut) {
  std::vector<std::byte> region(64 * 1024 + 16);
  std::byte* const begin = granule_aligned(region);
  Heap heap(begin, 64 * 1024);
  void* a = heap.allocate(100);
  heap.free(a);
  EXPECT_EQ(heap.allocate(100), a) << "the freed block of that size comes back first";
  EXPECT_GE(Heap::size_of(a), 100u);
  // Fill the heap with small blocks, free them all: a request as large as the whole heap
  // then succeeds, because the small free blocks are merged back.
  std::vector<void*> small;
  for (void* p = heap.allocate(512); p != nullptr; p = heap.allocate(512)) small.push_back(p);
  ASSERT_GT(small.size(), 50u);
  heap.free(a);
  for (void* p : small) heap.free(p);
  EXPECT_NE(heap.allocate(48 * 1024), nullptr);
}

TEST(Heap, LargerFreedBlocksAreReusedBySizeAndMergedBackWhenSpaceRunsOut) {
  std::vector<std::byte> region(256 * 1024 + 16);
  std::byte* const begin = granule_aligned(region);
  Heap heap(begin, 256 * 1024);
  // A page buffer as SQLite's cache asks for it: freed, the next one of its size is it.
  void* page = heap.allocate(4368);
  void* other = heap.allocate(6000);
  heap.free(page);
  EXPECT_EQ(heap.allocate(4368), page) << "the freed block of that size comes back first";
  heap.free(page);
  heap.free(other);
  // Fill the heap with blocks of many sizes above the quick lists', free them all: a
  // request for nearly the whole heap then succeeds, every freed block merged back.
  std::vector<void*> blocks;
  for (std::size_t n = 0;; ++n) {
    void* p = heap.allocate(1040 + 16 * (n % 40));
    if (p == nullptr) break;
    blocks.push_back(p);
  }
  ASSERT_GT(blocks.size(), 40u);
  for (void* p : blocks) heap.free(p);
  EXPECT_NE(heap.allocate(240 * 1024), nullptr);
}

TEST(Heap, AFragmentARequestPassesOverIsHandedOutOnceForItsOwnSize) {
  std::vector<std::byte> region((1 << 20) + 16);
  std::byte* const begin = granule_aligned(region);
  Heap heap(begin, 1 << 20);
  // A block past the size lists' largest, freed to the address-ordered list, then split:
  // what is left of it, 976 bytes, is a fragment at the list's front.
  auto* big = static_cast<std::byte*>(heap.allocate(100000));
  void* separator = heap.allocate(16);
  heap.free(big);
  ASSERT_EQ(heap.allocate(99008), big);
  // A request it cannot meet passes it over (and moves it to the list of its size); a
  // request of its size gets it, once.
  void* larger = heap.allocate(2000);
  EXPECT_GT(larger, separator);
  void* fragment = heap.allocate(976);
  EXPECT_EQ(fragment, big + 99008 + 16);
  EXPECT_NE(heap.allocate(976), fragment) << "handed out once";
}

// One compartment and the shared region, as an image's start-up makes them.
Runtime& runtime() {
  static const CompartmentSpec compartments[] = {{"only", 8ull << 20, Sharing::Capability, RestartPolicy::Never}};
  static const LibrarySpec libraries[] = {{"test", 0}};
  static Runtime& rt = Runtime::start(ImageSpec{"heap_test", Backend::Fcall, compartments, libraries, 0});
  return rt;
}

TEST(BoundedBlocks, AreExactForEveryLengthAndNeverOverlap) {
  runtime();
  std::vector<cap::Cap<std::byte>> blocks;
  for (std::size_t bytes : {std::size_t{1}, std::size_t{4104}, std::size_t{16385}, std::size_t{36936},
                            std::size_t{65536}, std::size_t{100001}, std::size_t{1234567}}) {
    for (const cap::Cap<std::byte>& block : {shared_alloc(bytes), private_alloc(bytes)}) {
      const cap::Capability c = block.capability();
      ASSERT_TRUE(c.tag()) << bytes;
      EXPECT_EQ(c.base(), c.address()) << bytes;
      EXPECT_EQ(c.length(), cap::representable_length(bytes)) << bytes << ": padded exactly as RRLEN says";
      EXPECT_GE(block.size(), bytes);
      for (const cap::Cap<std::byte>& other : blocks) {
        const cap::Capability o = other.capability();
        EXPECT_TRUE(c.top() <= o.base() || o.top() <= c.base()) << c.to_string() << " overlaps " << o.to_string();
      }
      blocks.push_back(block);
    }
  }
  for (std::size_t i = 0; i < blocks.size(); i += 2) shared_free(blocks[i]);
}

TEST(BoundedBlocks, AnExhaustedHeapFaultsWithTheFix) {
  runtime();
  try {
    (void)private_alloc(64ull << 20);
    FAIL() << "a block larger than the heap was handed out";
  } catch (const CompartmentFault& fault) {
    EXPECT_NE(fault.cause.find("raise its heap"), std::string::npos) << fault.cause;
  }
}

}  // namespace
}  // namespace flexcap::rt
