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
#include <span>

#include "flexcap/cap/access.hh"
#include "flexcap/cap/capability.hh"
#include "flexcap/cap/fault.hh"
#include "flexcap/support/expected.hh"

namespace flexcap::cap {

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
  std::uint64_t* tags_ = nullptr;  // bit i: granule i; mapped like the memory itself
  std::size_t tag_words_ = 0;
};

}  // namespace flexcap::cap
