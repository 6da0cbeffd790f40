// flexcap/cap/tagged_memory.hh — memory with one capability tag per 16-byte granule.
//
// On Morello every 16-byte granule of memory carries a hidden tag bit: it is set only
// by storing a tagged capability through a capability, and cleared by any data write
// to the granule. That is what makes capabilities unforgeable: bytes written as data
// never come back as a valid capability. TaggedMemory is a region of host memory with
// such a tag bitmap beside it; every access through it is checked against an
// authorising capability.
//
//   TaggedMemory memory(64 * 1024);
//   Capability all = memory.root();                       // the region, all permissions
//   memory.store_capability(all, memory.base(), all);     // sets the granule's tag
//   memory.store_bytes(all, memory.base() + 4, bytes);    // clears it again
//   memory.load_capability(all, memory.base())->tag();    // false: no forging
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "flexcap/cap/access.hh"
#include "flexcap/cap/capability.hh"
#include "flexcap/cap/fault.hh"
#include "flexcap/support/expected.hh"

namespace flexcap::cap {

class Revoker;

class TaggedMemory {
 public:
  // Private: a fork gets its own copy. Shared: forks of the process see one memory and
  // one set of tags (the process backend's shared region).
  enum class Mapping { Private, SharedBetweenProcesses };

  // Maps `bytes` of zeroed memory (rounded up to a representable length) at a base
  // aligned so that root() covers exactly the region. All tags start clear.
  explicit TaggedMemory(std::size_t bytes, Mapping mapping = Mapping::Private);
  // Tags for memory that already exists (a compartment's region, placed by the linker):
  // it must be granule-aligned and bounded exactly by one capability. Its contents are
  // kept; all tags start clear. The memory stays its owner's: it is never unmapped here.
  explicit TaggedMemory(std::span<std::byte> existing);
  ~TaggedMemory();
  TaggedMemory(const TaggedMemory&) = delete;
  TaggedMemory& operator=(const TaggedMemory&) = delete;
  TaggedMemory(TaggedMemory&& other) noexcept;
  TaggedMemory& operator=(TaggedMemory&& other) noexcept;

  std::uint64_t base() const { return base_; }
  std::size_t size() const { return size_; }
  bool contains(std::uint64_t address, std::uint64_t size) const {
    return address >= base_ && size <= size_ && address - base_ <= size_ - size;
  }
  // Whether all of `c`'s (valid) bounds lie inside this region.
  bool holds(const Capability& c) const { return holds(c.bounds()); }
  // The same for bounds already decoded (a check against several regions decodes once).
  bool holds(const Bounds& b) const { return b.valid && b.base >= base_ && b.top <= Uint128(base_) + size_; }

  // A capability for exactly this region with every permission, derived from
  // Capability::root(): the authority from which everything in the region descends.
  Capability root() const;

  // The tag of the granule that holds `address` (false outside the region).
  bool tag(std::uint64_t address) const;
  std::size_t tagged_granules() const;
  // What every data write does: clears the tags of every granule that [address,
  // address + size) touches. Addresses outside the region are ignored.
  // Inline for the common cases, since ported code writes word by word: memory in
  // which no tag was ever set (most data: one load), and a small write whose granules
  // share one word of the tag bitmap (a load, and a store only if a tag was set).
  [[gnu::always_inline]] void clear_tags(std::uint64_t address, std::uint64_t size) {
    if (tags_ == nullptr || tags_[tag_words_] == 0) return;
    if (size > 0 && contains(address, size)) {
      const std::uint64_t offset = address - base_;
      const std::uint64_t first = offset / kGranuleBytes;
      const std::uint64_t last = (offset + size - 1) / kGranuleBytes;
      if (first / 64 == last / 64) {
        const std::uint64_t span = last - first + 1;
        const std::uint64_t mask = (span == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << span) - 1) << (first % 64);
        std::uint64_t& word = tags_[first / 64];
        if ((word & mask) != 0) word &= ~mask;
        return;
      }
    }
    clear_tags_slow(address, size);
  }

  // --- checked accesses through an authorising capability ---------------------------
  Expected<Capability, CapabilityFault> load_capability(const Capability& authority, std::uint64_t address) const;
  Expected<void, CapabilityFault> store_capability(const Capability& authority, std::uint64_t address,
                                                   const Capability& value);
  Expected<void, CapabilityFault> load_bytes(const Capability& authority, std::uint64_t address,
                                             std::span<std::byte> out) const;
  Expected<void, CapabilityFault> store_bytes(const Capability& authority, std::uint64_t address,
                                              std::span<const std::byte> in);

  // --- Shadow bits for revocation (flexcap/cap/revocation.hh) ---------------------------
  // Beside the tags, two more bitmaps of one bit per granule, which no capability reaches
  // (CheriBSD's kernel keeps its revocation bitmap where user code cannot write it):
  // - the revocation shadow: set while the granule's memory is in quarantine, freed and
  //   not yet reusable; the revoker revokes every capability whose base is painted;
  // - allocation starts: set where a live allocation of the region's heap begins, so
  //   that a free of anything else (an interior pointer, a forged header) is refused.
  // Inline for a block whose granules share one word of the shadow (every free and every
  // reuse of a small block: SQLite compiled hybrid makes some 100,000 of each).
  [[gnu::always_inline]] void paint(std::uint64_t address, std::uint64_t size) {
    if (!set_bits_in_one_word(shadow_, address, size, true)) set_bits(shadow_, address, size, true);
  }
  [[gnu::always_inline]] void unpaint(std::uint64_t address, std::uint64_t size) {
    if (!set_bits_in_one_word(shadow_, address, size, false)) set_bits(shadow_, address, size, false);
  }
  bool painted(std::uint64_t address) const { return bit(shadow_, address); }
  std::size_t painted_granules() const;
  // Inline: the heap marks every allocation and free (SQLite compiled hybrid: millions).
  void mark_allocation_start(std::uint64_t address, bool live) {
    if (starts_ == nullptr || !contains(address, 1)) return;
    const std::uint64_t granule = (address - base_) / kGranuleBytes;
    const std::uint64_t bit = std::uint64_t{1} << (granule % 64);
    std::uint64_t& word = starts_[granule / 64];
    word = live ? (word | bit) : (word & ~bit);
  }
  bool allocation_starts(std::uint64_t address) const {
    if (starts_ == nullptr || !contains(address, 1)) return false;
    const std::uint64_t granule = (address - base_) / kGranuleBytes;
    return (starts_[granule / 64] >> (granule % 64)) & 1;
  }
  // The nearest allocation start at or below `address`, if any (what a refused free of an
  // interior pointer names).
  std::optional<std::uint64_t> allocation_start_at_or_below(std::uint64_t address) const;
  // Forgets both shadows over a range (a heap made afresh over it).
  void clear_shadows(std::uint64_t address, std::uint64_t size) {
    set_bits(shadow_, address, size, false);
    set_bits(starts_, address, size, false);
  }
  // The load filter (CHERIoT's): while set, a capability loaded from this memory whose
  // base is painted in a region `filter` sweeps arrives untagged.
  void set_load_filter(const Revoker* filter) { filter_ = filter; }
  const Revoker* load_filter() const { return filter_; }
  // The tag bitmap, for the sweep: bit i of word w is granule 64 * w + i.
  std::span<std::uint64_t> tag_words() { return {tags_, tag_words_}; }
  // Whether a tag was ever set in this memory (a sweep skips memory that never held one).
  bool ever_tagged() const { return tags_ != nullptr && tags_[tag_words_] != 0; }

  // The region's bytes with no check at all: what unported C code sees. Writing here
  // does NOT clear tags, which is exactly why raw code must be confined by another
  // mechanism (docs/capability-model.md).
  std::span<std::byte> unsafe_bytes() { return {reinterpret_cast<std::byte*>(base_), size_}; }

 private:
  Expected<void, CapabilityFault> check_mapped(const Capability& authority, Access access, std::uint64_t address,
                                               std::uint64_t size) const;
  void release();

  std::uint64_t base_ = 0;
  std::size_t size_ = 0;
  void* mapping_ = nullptr;
  std::size_t mapping_size_ = 0;
  void clear_tags_slow(std::uint64_t address, std::uint64_t size);  // any range, clipped to the region
  // Sets or clears the bits of every granule [address, address + size) touches (clipped
  // to the region; a size of 0 touches the granule at address).
  void set_bits(std::uint64_t* bitmap, std::uint64_t address, std::uint64_t size, bool value);
  // set_bits' common case, in line: false (nothing done) unless the range lies in the
  // region and its granules share one word of the bitmap.
  [[gnu::always_inline]] bool set_bits_in_one_word(std::uint64_t* bitmap, std::uint64_t address, std::uint64_t size,
                                                   bool value) {
    if (bitmap == nullptr || size == 0 || !contains(address, size)) return false;
    const std::uint64_t first = (address - base_) / kGranuleBytes;
    const std::uint64_t last = (address - base_ + size - 1) / kGranuleBytes;
    if (first / 64 != last / 64) return false;
    const std::uint64_t span = last - first + 1;
    const std::uint64_t mask = (span == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << span) - 1) << (first % 64);
    std::uint64_t& word = bitmap[first / 64];
    word = value ? (word | mask) : (word & ~mask);
    return true;
  }
  bool bit(const std::uint64_t* bitmap, std::uint64_t address) const;
  void place_bitmaps(std::byte* at);
  static std::uint64_t bitmap_bytes(std::uint64_t size);
  std::uint64_t* tags_ = nullptr;  // bit i: granule i; mapped like the memory itself
  std::size_t tag_words_ = 0;
  std::uint64_t* shadow_ = nullptr;  // the revocation shadow, same layout, same mapping
  std::uint64_t* starts_ = nullptr;  // allocation starts, same layout, same mapping
  const Revoker* filter_ = nullptr;
};

}  // namespace flexcap::cap
