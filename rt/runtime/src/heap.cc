#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "flexcap/cap/revocation.hh"

#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {

// Each block starts with this header; free blocks form a list in address order so that
// neighbours can be merged. 16 bytes, so payloads stay granule-aligned.
struct Heap::Block {
  std::size_t size;  // payload bytes
  // Free: the next free block (16-aligned, or null). Live: the length asked for, above the
  // mark kLive. In quarantine: the revocation epoch of its free, above the mark
  // kQuarantined (the next quarantined block is then the payload's first word).
  Block* next_free;
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
// Larger blocks (up to 64 KiB) come and go in a few sizes: SQLite's page buffers, its
// journal's chunks, a balance's scratch pages. Freed, such a block goes on a list of its
// exact size, one of kLargeSizes kept at a time, and comes back from it in O(1); else each
// allocation walked the address-ordered list past every fragment too small for it (20 %
// of speedtest1's time, 2026-12-03). Merged back, like the quick lists, when a request
// cannot be met otherwise.
constexpr std::size_t kLargeSizes = 16;
constexpr std::size_t kLargeCached = 64 << 10;
// The region starts with the allocator's state: the head of the free list, its lock,
// the heads of the quick lists, then the quarantine's head and its bytes, the bytes of
// the blocks in use (headers included), where the page log is (revocation: pages), and
// the lists of large sizes.
constexpr std::size_t kQuarantineOffset = 2 * sizeof(void*) + kQuickSizes * sizeof(void*);
constexpr std::size_t kLiveOffset = kQuarantineOffset + 2 * sizeof(void*);
constexpr std::size_t kPageLogOffset = kLiveOffset + sizeof(void*);
constexpr std::size_t kLargeOffset = kLiveOffset + 2 * sizeof(void*);  // kLargeSizes of {size, head}
constexpr std::size_t kStateBytes = kLargeOffset + kLargeSizes * 2 * sizeof(void*);
// The quarantine a sweep waits for, at least: a small heap would otherwise sweep every
// few frees, each sweep walking every region's tags. Not more: memory in quarantine is
// memory the program cannot reuse while it is hot in the cache, and that it must take
// fresh pages for instead (SQLite's 5,000 INSERTs, whose bytes in use are few: 1.11x
// with a floor of 256 KiB, 1.03x with 64 KiB, on one CPU of docs/revocation.md's A/B).
// An epoch of `revocation: pages` waits for more: its end maps the whole heap again.
constexpr std::uint64_t kMinQuarantineBytes = 64 << 10;
constexpr std::uint64_t kMinPageQuarantineBytes = 256 << 10;
static_assert(kStateBytes % kAlign == 0);

// `revocation: pages`: the page the protections work in.
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t page_up(std::uint64_t a) { return (a + kPage - 1) & ~(kPage - 1); }
constexpr std::uint64_t page_down(std::uint64_t a) { return a & ~(kPage - 1); }
// Only an invalid range can make this fail: a bug in the heap, not the program.
void protect_pages(std::uint64_t first, std::uint64_t last, int protection) {
  if (mprotect(reinterpret_cast<void*>(first), last - first, protection) != 0) {
    throw std::runtime_error("flexcap heap: mprotect of quarantined pages failed: " + std::string(std::strerror(errno)));
  }
}

constexpr std::uintptr_t kMarkBits = 0xf;  // links are 16-aligned: marks live in the low bits
constexpr std::uintptr_t kLive = 0x9;
constexpr std::uintptr_t kQuarantined = 0x5;
std::uintptr_t word_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }
template <class B>
bool marked(const B* b, std::uintptr_t mark) {
  return (word_of(b->next_free) & kMarkBits) == mark;
}
template <class B>
void set_mark(B* b, std::uint64_t value, std::uintptr_t mark) {
  b->next_free = reinterpret_cast<B*>((static_cast<std::uintptr_t>(value) << 4) | mark);
}
template <class B>
std::uint64_t marked_value(const B* b) {
  return word_of(b->next_free) >> 4;
}
std::string hex(std::uint64_t v) { return "0x" + cap::to_hex(v); }
// Many blocks past the quick lists at once: inserted one by one, each would walk the
// address-ordered list (quadratic in a cleared quarantine); sorted, they merge with it in
// one pass, joining neighbours. (A template: the block type is the heap's own.)
template <class B>
void merge_into_list(B*& head, std::vector<B*>& large) {
  if (large.empty()) return;
  std::sort(large.begin(), large.end());
  auto end_of = [](B* x) { return reinterpret_cast<std::byte*>(x + 1) + x->size; };
  B* merged = nullptr;
  B** tail = &merged;
  B* last = nullptr;
  const auto append = [&](B* b) {
    if (last != nullptr && end_of(last) == reinterpret_cast<std::byte*>(b)) {
      last->size += sizeof(B) + b->size;
      return;
    }
    b->next_free = nullptr;
    *tail = b;
    tail = &b->next_free;
    last = b;
  };
  B* list = head;
  std::size_t i = 0;
  while (list != nullptr || i < large.size()) {
    if (list != nullptr && (i == large.size() || list < large[i])) {
      B* const next = list->next_free;
      append(list);
      list = next;
    } else {
      append(large[i++]);
    }
  }
  head = merged;
}
}  // namespace

// All of the allocator's state is inside the region, so processes that share the region
// (the process backend's shared region) share one allocator.
Heap::Heap(std::byte* begin, std::size_t bytes, cap::TaggedMemory* memory)
    : begin_(begin), size_(bytes), memory_(memory) {
  std::memset(begin, 0, kStateBytes);
  auto* first = reinterpret_cast<Block*>(begin + kStateBytes);
  first->size = bytes - kStateBytes - sizeof(Block);
  first->next_free = nullptr;
  head() = first;
  // The shadows start clear in fresh memory; Compartment::reset clears them when a heap is
  // made again over used memory.
}

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
void Heap::set_revocation(cap::Revoker* revoker, double quarantine_fraction) {
  revoker_ = memory_ != nullptr ? revoker : nullptr;  // painting needs the shadow
  quarantine_fraction_ = quarantine_fraction;
}

// The page protections each change made, in order, for the processes that share the
// region to replay (catch_up_locked). It lives in a block of the region, where they all
// see it; the ring keeps the last kChanges, and a process further behind remakes its
// protections from the quarantine itself.
struct Heap::PageLog {
  static constexpr std::size_t kChanges = 128;
  struct Change {
    std::uint64_t first, last;  // pages [first, last) made inaccessible; first == 0: an epoch ended, all mapped again
  };
  std::uint64_t changes;  // made since the heap began
  std::uint64_t epochs;
  Change ring[kChanges];
};

Heap::PageLog* Heap::page_log() const { return *reinterpret_cast<PageLog**>(begin_ + kPageLogOffset); }

void Heap::set_page_revocation(double quarantine_fraction) {
  // The region's own alignment: whole pages of it can be protected.
  page_revocation_ = memory_ != nullptr && reinterpret_cast<std::uintptr_t>(begin_) % kPage == 0;
  quarantine_fraction_ = quarantine_fraction;
  if (!page_revocation_ || page_log() != nullptr) return;
  void* log = allocate(sizeof(PageLog), kAlign);
  if (log == nullptr) throw std::runtime_error("flexcap heap: no room for the page log of revocation: pages");
  std::memset(log, 0, sizeof(PageLog));
  const Lock lock(*this);
  *reinterpret_cast<PageLog**>(begin_ + kPageLogOffset) = static_cast<PageLog*>(log);
}

std::uint64_t Heap::page_epochs() const {
  if (!page_revocation_) return 0;
  const Lock lock(*this);
  return page_log()->epochs;
}

// Called with the lock held, after this process changed its own page tables.
void Heap::log_page_change(std::uint64_t first, std::uint64_t last) {
  PageLog& log = *page_log();
  const std::uint64_t n = log.changes;
  log.ring[n % PageLog::kChanges] = {first, last};
  std::atomic_ref(log.changes).store(n + 1, std::memory_order_release);
  if (page_changes_applied_ == n) {
    page_changes_applied_ = n + 1;  // this process's page tables already show it
  } else {
    catch_up_locked();  // behind: replays the others' changes (and this one again: the same protections)
  }
}

void Heap::catch_up_locked() {
  PageLog* log = page_log();
  if (log == nullptr || page_changes_applied_ == log->changes) return;
  const auto begin = reinterpret_cast<std::uint64_t>(begin_);
  const std::uint64_t end = page_down(begin + size_);
  if (log->changes - page_changes_applied_ > PageLog::kChanges) {
    // Too far behind for the ring: what is inaccessible now is exactly the quarantine.
    protect_pages(begin, end, PROT_READ | PROT_WRITE);
    for (Block* b = quarantine(); b != nullptr;) {
      Block* const next = *reinterpret_cast<Block**>(b + 1);  // read before its page goes
      const auto payload = reinterpret_cast<std::uint64_t>(b + 1);
      if (page_up(payload) < page_down(payload + b->size)) {
        protect_pages(page_up(payload), page_down(payload + b->size), PROT_NONE);
      }
      b = next;
    }
  } else {
    for (std::uint64_t i = page_changes_applied_; i < log->changes; ++i) {
      const PageLog::Change& c = log->ring[i % PageLog::kChanges];
      if (c.first == 0) {
        protect_pages(begin, end, PROT_READ | PROT_WRITE);
      } else {
        protect_pages(c.first, c.last, PROT_NONE);
      }
    }
  }
  page_changes_applied_ = log->changes;
}

void Heap::catch_up_page_protections() {
  if (!page_revocation_) return;
  // Set before the processes began, and never moved: readable without the lock.
  PageLog* log = page_log();
  if (log == nullptr || std::atomic_ref(log->changes).load(std::memory_order_acquire) == page_changes_applied_) return;
  const Lock lock(*this);
  catch_up_locked();
}

namespace {
std::uint64_t& live_bytes_at(std::byte* begin) { return *reinterpret_cast<std::uint64_t*>(begin + kLiveOffset); }
}  // namespace

Heap::Block*& Heap::head() const { return *reinterpret_cast<Block**>(begin_); }
Heap::Block*& Heap::quarantine() const { return *reinterpret_cast<Block**>(begin_ + kQuarantineOffset); }
std::uint64_t& Heap::quarantine_bytes() const {
  return *reinterpret_cast<std::uint64_t*>(begin_ + kQuarantineOffset + sizeof(void*));
}

Heap::Block*& Heap::quick(std::size_t size) const {
  return reinterpret_cast<Block**>(begin_ + 2 * sizeof(void*))[size / kAlign - 1];
}

// The list of freed blocks of exactly `size` bytes (above kQuickLargest, up to
// kLargeCached), or null where none is kept; `claim` takes an empty list for the size.
struct Heap::LargeList {
  std::size_t size;
  Block* head;
};
Heap::LargeList* Heap::large_lists() const { return reinterpret_cast<LargeList*>(begin_ + kLargeOffset); }
Heap::Block** Heap::large(std::size_t size, bool claim) const {
  LargeList* const lists = large_lists();
  LargeList* empty = nullptr;
  for (std::size_t i = 0; i < kLargeSizes; ++i) {
    if (lists[i].size == size) return &lists[i].head;
    if (empty == nullptr && lists[i].head == nullptr) empty = &lists[i];
  }
  if (!claim || empty == nullptr) return nullptr;
  empty->size = size;
  return &empty->head;
}

void* Heap::allocate(std::size_t bytes, std::size_t alignment) {
  std::size_t need = round_up(bytes == 0 ? 1 : bytes);
  if (page_revocation_ && need >= kPage) {
    // Whole pages, so that its free can take all of it away.
    need = page_up(need);
    alignment = std::max<std::size_t>(alignment, kPage);
  }
  const Lock lock(*this);
  if (page_revocation_) catch_up_locked();  // a block another process's epoch gave back is mapped here too
  const auto handed_out = [&](Block* b) {
    set_mark(b, bytes, kLive);
    live_bytes_at(begin_) += b->size + sizeof(Block);
    if (memory_ != nullptr) memory_->mark_allocation_start(reinterpret_cast<std::uint64_t>(b + 1), true);
    return static_cast<void*>(b + 1);
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (alignment <= kAlign && need <= kQuickLargest) {
      if (Block*& list = quick(need); list != nullptr) {
        Block* b = list;
        list = b->next_free;
        return handed_out(b);
      }
    } else if (alignment <= kAlign && need <= kLargeCached) {
      if (Block** list = large(need, false); list != nullptr && *list != nullptr) {
        Block* b = *list;
        *list = b->next_free;
        return handed_out(b);
      }
    }
    if (void* p = allocate_from_list(need, alignment, bytes)) return p;
    // Small freed blocks may add up to what is asked: merge them back and look again.
    bool merged = false;
    const auto merge_back = [&](Block* b) {
      while (b != nullptr) {
        Block* next = b->next_free;
        release_to_list(b);
        b = next;
        merged = true;
      }
    };
    for (std::size_t size = kAlign; size <= kQuickLargest; size += kAlign) merge_back(std::exchange(quick(size), nullptr));
    for (std::size_t i = 0; i < kLargeSizes; ++i) merge_back(std::exchange(large_lists()[i].head, nullptr));
    if (merged) {
      if (void* p = allocate_from_list(need, alignment, bytes)) return p;
    }
    // Memory in quarantine comes back after a sweep (or an epoch of page protection):
    // end it rather than fail.
    if (quarantine() == nullptr) break;
    if (page_revocation_) {
      end_page_epoch_locked();
    } else if (revoker_ != nullptr) {
      revoke_locked();
    } else {
      break;
    }
  }
  return nullptr;
}

void* Heap::allocate_from_list(std::size_t need, std::size_t alignment, std::size_t requested) {
  alignment = std::max(alignment, kAlign);
  const auto align_up = [alignment](std::byte* p) {
    return reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(p) + alignment - 1) & ~(alignment - 1));
  };
  Block** link = &head();
  for (Block* b = *link; b != nullptr; b = *link) {
    auto* payload = reinterpret_cast<std::byte*>(b + 1);
    std::byte* const end = payload + b->size;
    std::byte* start = align_up(payload);
    // A payload moved up for alignment leaves the front as a free block of its own, so
    // the gap must hold a header and a minimal payload.
    if (start != payload && static_cast<std::size_t>(start - payload) < sizeof(Block) + kAlign) {
      start = align_up(payload + sizeof(Block) + kAlign);
    }
    if (start > end || static_cast<std::size_t>(end - start) < need) {
      // A fragment too small for this request, that a quick list can hold, leaves the
      // list for it (merged back, like the rest of the quick lists, when a request finds
      // no room): split remainders otherwise gathered at the list's front, and every
      // allocation walked them (speedtest1: 77 blocks a walk, 91 % of them such
      // fragments, 2026-12-03).
      if (b->size <= kQuickLargest) {
        *link = b->next_free;
        Block*& list = quick(b->size);
        b->next_free = list;
        list = b;
      } else {
        link = &b->next_free;
      }
      continue;
    }
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
    set_mark(b, requested, kLive);
    live_bytes_at(begin_) += b->size + sizeof(Block);
    if (memory_ != nullptr) memory_->mark_allocation_start(reinterpret_cast<std::uint64_t>(b + 1), true);
    return b + 1;
  }
  return nullptr;
}

void Heap::free(void* p) {
  if (p == nullptr) return;
  Block* b = static_cast<Block*>(p) - 1;
  const Lock lock(*this);
  // Not a live block of this heap: ignore rather than corrupt. (free_capability() says why.)
  if (!marked(b, kLive)) return;
  if (memory_ != nullptr && !memory_->allocation_starts(reinterpret_cast<std::uint64_t>(p))) return;
  free_locked(b);
}

void Heap::free_locked(Block* b) {
  const auto payload = reinterpret_cast<std::uint64_t>(b + 1);
  live_bytes_at(begin_) -= b->size + sizeof(Block);
  if (memory_ != nullptr) {
    memory_->mark_allocation_start(payload, false);
    memory_->clear_tags(payload, b->size);  // the next owner gets no capability of the last one's
  }
  // With `revocation: pages`, only a block with whole pages of its own can be taken away
  // (docs/revocation.md says what lies below a page leaves open).
  const std::uint64_t first = page_up(payload);
  const std::uint64_t last = page_down(payload + b->size);
  const bool pages = page_revocation_ && first < last;
  if (!pages && revoker_ == nullptr) {
    release(b);
    return;
  }
  // Quarantine: painted (a second free of it is a double free) until a sweep that began
  // after this free has revoked every capability based in it, or, for pages, until the
  // epoch ends. The link is written before the page goes.
  memory_->paint(payload, b->size);
  set_mark(b, pages ? page_log()->epochs : revoker_->epoch(), kQuarantined);
  *reinterpret_cast<Block**>(b + 1) = quarantine();
  quarantine() = b;
  quarantine_bytes() += b->size + sizeof(Block);
  if (pages) {
    protect_pages(first, last, PROT_NONE);
    log_page_change(first, last);
  }
  const auto share = static_cast<std::uint64_t>(quarantine_fraction_ * static_cast<double>(live_bytes_at(begin_)));
  if (quarantine_bytes() < std::max(share, pages ? kMinPageQuarantineBytes : kMinQuarantineBytes)) return;
  if (pages) {
    end_page_epoch_locked();
  } else {
    revoke_locked();
  }
}

void Heap::release(Block* b) {
  if (b->size <= kQuickLargest) {
    Block*& list = quick(b->size);
    b->next_free = list;
    list = b;
    return;
  }
  // (Not with `revocation: pages`, whose large requests are page-aligned and would never
  // take a block back from these lists.)
  if (b->size <= kLargeCached && !page_revocation_) {
    if (Block** list = large(b->size, true)) {
      b->next_free = *list;
      *list = b;
      return;
    }
  }
  release_to_list(b);
}

void Heap::revoke_locked() {
  revoker_->sweep();
  ++sweeps_;
  reuse_cleared_locked();
}

// Every quarantined block that a whole sweep has cleared goes back to the free lists.
void Heap::reuse_cleared_locked() {
  const std::uint64_t now = revoker_->epoch();
  std::vector<Block*> large;
  Block** link = &quarantine();
  while (*link != nullptr) {
    Block* b = *link;
    Block* const next = *reinterpret_cast<Block**>(b + 1);
    if (!cap::Revoker::epoch_clears(now, marked_value(b))) {  // freed while another sweep ran
      link = reinterpret_cast<Block**>(b + 1);
      continue;
    }
    *link = next;
    quarantine_bytes() -= b->size + sizeof(Block);
    memory_->unpaint(reinterpret_cast<std::uint64_t>(b + 1), b->size);
    if (b->size <= kQuickLargest) {
      release(b);
    } else {
      large.push_back(b);
    }
  }
  merge_into_list(head(), large);
}

void Heap::revoke_now() {
  const Lock lock(*this);
  if (revoker_ != nullptr) revoke_locked();
}

// Every quarantined block's pages mapped again, and the blocks back in the free lists.
void Heap::end_page_epoch_locked() {
  std::vector<Block*> large;
  for (Block* b = std::exchange(quarantine(), nullptr); b != nullptr;) {
    const auto payload = reinterpret_cast<std::uint64_t>(b + 1);
    protect_pages(page_up(payload), page_down(payload + b->size), PROT_READ | PROT_WRITE);
    Block* const next = *reinterpret_cast<Block**>(b + 1);
    memory_->unpaint(payload, b->size);
    large.push_back(b);  // (a page or more: none for the quick lists)
    b = next;
  }
  merge_into_list(head(), large);
  quarantine_bytes() = 0;
  ++page_log()->epochs;
  log_page_change(0, 0);
}

void Heap::end_page_epoch() {
  const Lock lock(*this);
  if (page_revocation_) end_page_epoch_locked();
}

void Heap::reuse_cleared() {
  const Lock lock(*this);
  if (revoker_ != nullptr) reuse_cleared_locked();
}

std::size_t Heap::quarantined_bytes() const {
  const Lock lock(*this);
  return quarantine_bytes();
}

std::optional<std::string> Heap::free_capability(const cap::Capability& c) {
  const std::string what = "free of " + c.to_string();
  if (!c.tag()) return what + ": the capability is untagged (revoked, or never a valid capability)";
  if (c.is_sealed()) return what + ": the capability is sealed, and a sealed capability cannot be used to free";
  if (c.permissions() == cap::Permissions{}) return what + ": the capability is revoked (its permissions are cleared)";
  const cap::Bounds bounds = c.bounds();
  const std::uint64_t base = bounds.base;
  const auto begin = reinterpret_cast<std::uint64_t>(begin_);
  if (memory_ == nullptr || base < begin + kStateBytes + sizeof(Block) || base >= begin + size_) {
    return what + ": its base " + hex(base) + " is not in this heap";
  }
  const Lock lock(*this);
  if (!memory_->allocation_starts(base)) {
    if (memory_->painted(base)) return what + ": double free (the block at " + hex(base) + " is already in quarantine)";
    if (const auto start = memory_->allocation_start_at_or_below(base)) {
      const Block* owner = reinterpret_cast<const Block*>(*start) - 1;
      if (base < *start + owner->size) {
        return what + ": an interior pointer (" + hex(base) + " lies inside the block at " + hex(*start) +
               "); free the capability the allocator returned";
      }
    }
    return what + ": no live block starts at " + hex(base) + " (a double free, or not a block of this heap)";
  }
  Block* b = reinterpret_cast<Block*>(base) - 1;
  const std::uint64_t length = marked_value(b);
  if (!marked(b, kLive) || bounds.top != cap::Uint128(base) + length) {
    return what + ": its bounds were changed (the block at " + hex(base) + " is " + std::to_string(length) +
           " bytes); free the capability the allocator returned";
  }
  free_locked(b);
  return std::nullopt;
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

// Blocks handed out and blocks in quarantine, headers included: the heap counts both.
std::size_t Heap::bytes_in_use() const {
  const Lock lock(*this);
  return live_bytes_at(begin_) + quarantine_bytes();
}

}  // namespace flexcap::rt
