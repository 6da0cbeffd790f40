#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <utility>

#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {

// Each block starts with this header; free blocks form a list in address order so that
// neighbours can be merged. 16 bytes, so payloads stay granule-aligned.
struct Heap::Block {
  std::size_t size;  // payload bytes
  Block* next_free;  // only meaningful while free; a used block has next_free == this
};
static_assert(sizeof(void*) == 8 && 2 * sizeof(std::size_t) == 16);

namespace {
constexpr std::size_t kAlign = 16;
constexpr std::size_t round_up(std::size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
// Small blocks (up to 1 KiB) are kept, when freed, on one list per size (a multiple of
// 16) and handed out again from it: the common case of a program that allocates and
// frees many small objects (SQLite, compiled hybrid) costs O(1), not a walk of the
// address-ordered list. They are merged back only when a large request cannot be met.
constexpr std::size_t kQuickSizes = 64;
constexpr std::size_t kQuickLargest = kQuickSizes * kAlign;
// The region starts with the allocator's state: the head of the free list, its lock,
// then the heads of the quick lists.
constexpr std::size_t kStateBytes = 2 * sizeof(void*) + kQuickSizes * sizeof(void*);
static_assert(kStateBytes % kAlign == 0);
}  // namespace

// All of the allocator's state is inside the region, so processes that share the region
// (the process backend's shared region) share one allocator.
Heap::Heap(std::byte* begin, std::size_t bytes) : begin_(begin), size_(bytes) {
  std::memset(begin, 0, kStateBytes);
  auto* first = reinterpret_cast<Block*>(begin + kStateBytes);
  first->size = bytes - kStateBytes - sizeof(Block);
  first->next_free = nullptr;
  head() = first;
}

Heap::Block*& Heap::head() const { return *reinterpret_cast<Block**>(begin_); }

// A compartment's threads share its heap (Redis's background threads free what its main
// thread allocated), and processes share the shared region's: a spin lock in the region,
// held for a few list operations, uncontended almost always.
class Heap::Lock {
 public:
  explicit Lock(const Heap& heap) : word_(*reinterpret_cast<std::uint64_t*>(heap.begin_ + sizeof(void*))) {
    while (word_.exchange(1, std::memory_order_acquire) != 0) {
      while (word_.load(std::memory_order_relaxed) != 0) __builtin_ia32_pause();
    }
  }
  ~Lock() { word_.store(0, std::memory_order_release); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  std::atomic_ref<std::uint64_t> word_;
};
Heap::Block*& Heap::quick(std::size_t size) const {
  return reinterpret_cast<Block**>(begin_ + 2 * sizeof(void*))[size / kAlign - 1];
}

void* Heap::allocate(std::size_t bytes, std::size_t alignment) {
  const std::size_t need = round_up(bytes == 0 ? 1 : bytes);
  const Lock lock(*this);
  if (alignment <= kAlign && need <= kQuickLargest) {
    if (Block*& list = quick(need); list != nullptr) {
      Block* b = list;
      list = b->next_free;
      b->next_free = b;  // marks it used
      return b + 1;
    }
  }
  if (void* p = allocate_from_list(need, alignment)) return p;
  // Small freed blocks may add up to what is asked: merge them back and look again.
  bool merged = false;
  for (std::size_t size = kAlign; size <= kQuickLargest; size += kAlign) {
    for (Block* b = std::exchange(quick(size), nullptr); b != nullptr;) {
      Block* next = b->next_free;
      b->next_free = b;
      release_to_list(b);
      b = next;
      merged = true;
    }
  }
  return merged ? allocate_from_list(need, alignment) : nullptr;
}

void* Heap::allocate_from_list(std::size_t need, std::size_t alignment) {
  alignment = std::max(alignment, kAlign);
  const auto align_up = [alignment](std::byte* p) {
    return reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(p) + alignment - 1) & ~(alignment - 1));
  };
  Block** link = &head();
  for (Block* b = head(); b != nullptr; link = &b->next_free, b = b->next_free) {
    auto* payload = reinterpret_cast<std::byte*>(b + 1);
    std::byte* const end = payload + b->size;
    std::byte* start = align_up(payload);
    // A payload moved up for alignment leaves the front as a free block of its own, so
    // the gap must hold a header and a minimal payload.
    if (start != payload && static_cast<std::size_t>(start - payload) < sizeof(Block) + kAlign) {
      start = align_up(payload + sizeof(Block) + kAlign);
    }
    if (start > end || static_cast<std::size_t>(end - start) < need) continue;
    if (start != payload) {
      auto* aligned = reinterpret_cast<Block*>(start) - 1;
      aligned->size = static_cast<std::size_t>(end - start);
      aligned->next_free = b->next_free;
      b->size = static_cast<std::size_t>(reinterpret_cast<std::byte*>(aligned) - payload);
      b->next_free = aligned;
      link = &b->next_free;
      b = aligned;
    }
    if (b->size >= need + sizeof(Block) + kAlign) {  // split: the rest stays free
      auto* rest = reinterpret_cast<Block*>(reinterpret_cast<std::byte*>(b + 1) + need);
      rest->size = b->size - need - sizeof(Block);
      rest->next_free = b->next_free;
      b->size = need;
      *link = rest;
    } else {
      *link = b->next_free;
    }
    b->next_free = b;  // marks it used
    return b + 1;
  }
  return nullptr;
}

void Heap::free(void* p) {
  if (p == nullptr) return;
  Block* b = static_cast<Block*>(p) - 1;
  const Lock lock(*this);
  if (b->next_free != b) return;  // not a live block of this heap: ignore rather than corrupt
  if (b->size <= kQuickLargest) {
    Block*& list = quick(b->size);
    b->next_free = list;
    list = b;
    return;
  }
  release_to_list(b);
}

// Inserts a used block in the address-ordered free list and merges it with its free
// neighbours.
void Heap::release_to_list(Block* b) {
  Block** link = &head();
  Block* prev = nullptr;
  while (*link != nullptr && *link < b) {
    prev = *link;
    link = &(*link)->next_free;
  }
  b->next_free = *link;
  *link = b;
  auto end_of = [](Block* x) { return reinterpret_cast<std::byte*>(x + 1) + x->size; };
  if (b->next_free != nullptr && end_of(b) == reinterpret_cast<std::byte*>(b->next_free)) {
    b->size += sizeof(Block) + b->next_free->size;
    b->next_free = b->next_free->next_free;
  }
  if (prev != nullptr && end_of(prev) == reinterpret_cast<std::byte*>(b)) {
    prev->size += sizeof(Block) + b->size;
    prev->next_free = b->next_free;
  }
}

std::size_t Heap::size_of(const void* p) { return (static_cast<const Block*>(p) - 1)->size; }

std::size_t Heap::bytes_in_use() const {
  const Lock lock(*this);
  std::size_t free_bytes = 0;
  for (Block* b = head(); b != nullptr; b = b->next_free) free_bytes += b->size + sizeof(Block);
  for (std::size_t size = kAlign; size <= kQuickLargest; size += kAlign) {
    for (Block* b = quick(size); b != nullptr; b = b->next_free) free_bytes += b->size + sizeof(Block);
  }
  return size_ - kStateBytes - free_bytes;
}

}  // namespace flexcap::rt
