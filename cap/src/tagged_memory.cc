#include "flexcap/cap/tagged_memory.hh"

#include <sys/mman.h>

#include <bit>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace flexcap::cap {
namespace {
constexpr std::uint64_t kPageBytes = 4096;
}

TaggedMemory::TaggedMemory(std::size_t bytes, Mapping mapping) {
  const int flags = (mapping == Mapping::Private ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS;
  // Round the region so that a single capability describes it exactly.
  const std::uint64_t length = representable_length(std::max<std::uint64_t>(bytes, kGranuleBytes));
  const std::uint64_t alignment = std::max<std::uint64_t>(~representable_alignment_mask(length) + 1, kPageBytes);
  // One bit per granule, then one word: whether a tag was ever set (see clear_tags).
  const std::uint64_t tag_bytes = (length / kGranuleBytes + 63) / 64 * 8 + 8;
  // The tag bitmap follows the memory, page-aligned, in the same mapping.
  const std::uint64_t tag_offset = (alignment + length + kPageBytes - 1) / kPageBytes * kPageBytes;
  const std::uint64_t mapped = tag_offset + (tag_bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  mapping_ = p;
  mapping_size_ = mapped;
  const auto start = reinterpret_cast<std::uint64_t>(p);
  base_ = (start + alignment - 1) & ~(alignment - 1);
  size_ = length;
  tags_ = reinterpret_cast<std::uint64_t*>(static_cast<std::byte*>(p) + tag_offset);
  tag_words_ = static_cast<std::size_t>(tag_bytes / 8) - 1;
}

TaggedMemory::TaggedMemory(std::span<std::byte> existing) {
  base_ = reinterpret_cast<std::uint64_t>(existing.data());
  size_ = existing.size();
  if (base_ % kGranuleBytes != 0 || size_ == 0 || !Capability::root().set_value(base_).set_bounds(size_).exact) {
    throw std::invalid_argument("TaggedMemory: " + std::to_string(size_) + " bytes at 0x" + to_hex(base_) +
                                " cannot be bounded exactly by one capability: align the base to the length's "
                                "representable alignment (representable_alignment_mask) and pad the length "
                                "(representable_length)");
  }
  const std::uint64_t tag_bytes = (size_ / kGranuleBytes + 63) / 64 * 8 + 8;
  const std::uint64_t mapped = (tag_bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  mapping_ = p;  // only the tags: the memory itself is not ours to unmap
  mapping_size_ = mapped;
  tags_ = static_cast<std::uint64_t*>(p);
  tag_words_ = static_cast<std::size_t>(tag_bytes / 8) - 1;
}

TaggedMemory::~TaggedMemory() { release(); }

void TaggedMemory::release() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_size_);
  mapping_ = nullptr;
}

TaggedMemory::TaggedMemory(TaggedMemory&& other) noexcept
    : base_(std::exchange(other.base_, 0)),
      size_(std::exchange(other.size_, 0)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_size_(std::exchange(other.mapping_size_, 0)),
      tags_(std::exchange(other.tags_, nullptr)),
      tag_words_(std::exchange(other.tag_words_, 0)) {}

TaggedMemory& TaggedMemory::operator=(TaggedMemory&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, 0);
    size_ = std::exchange(other.size_, 0);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_size_ = std::exchange(other.mapping_size_, 0);
    tags_ = std::exchange(other.tags_, nullptr);
    tag_words_ = std::exchange(other.tag_words_, 0);
  }
  return *this;
}

Capability TaggedMemory::root() const { return Capability::root().set_value(base_).set_bounds_exact(size_); }

bool TaggedMemory::tag(std::uint64_t address) const {
  if (!contains(address, 1)) return false;
  const std::uint64_t granule = (address - base_) / kGranuleBytes;
  return (tags_[granule / 64] >> (granule % 64)) & 1;
}

std::size_t TaggedMemory::tagged_granules() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < tag_words_; ++i) n += static_cast<std::size_t>(std::popcount(tags_[i]));
  return n;
}

void TaggedMemory::clear_tags_slow(std::uint64_t address, std::uint64_t size) {
  if (size == 0) return;
  const std::uint64_t begin = std::max(address, base_);
  const std::uint64_t end = std::min(address + size, base_ + size_);
  if (begin >= end) return;
  std::uint64_t first = (begin - base_) / kGranuleBytes;
  const std::uint64_t last = (end - 1 - base_) / kGranuleBytes;
  // Whole words at a time where possible: bulk writes are common and tags are rare.
  while (first <= last) {
    const std::uint64_t bit = first % 64;
    const std::uint64_t span = std::min<std::uint64_t>(64 - bit, last - first + 1);
    const std::uint64_t mask = span == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << span) - 1) << bit;
    tags_[first / 64] &= ~mask;
    first += span;
  }
}

Expected<void, CapabilityFault> TaggedMemory::check_mapped(const Capability& authority, Access access,
                                                           std::uint64_t address, std::uint64_t size) const {
  if (auto ok = check_access(authority, access, address, size); !ok) return ok;
  const std::uint64_t host = Capability::bounds_address(address);
  if (!contains(host, size))
    return Unexpected(CapabilityFault{FaultCheck::Unmapped, access, address, size, authority, {}});
  return {};
}

Expected<Capability, CapabilityFault> TaggedMemory::load_capability(const Capability& authority,
                                                                    std::uint64_t address) const {
  if (auto ok = check_mapped(authority, Access::LoadCapability, address, kGranuleBytes); !ok) {
    return Unexpected(ok.error());
  }
  const std::uint64_t host = Capability::bounds_address(address);
  std::uint64_t words[2];  // little-endian: the value first, then the metadata
  std::memcpy(words, reinterpret_cast<const void*>(host), sizeof(words));
  return apply_load_rules(authority, Capability::unsafe_from_bits(words[1], words[0], tag(host)));
}

Expected<void, CapabilityFault> TaggedMemory::store_capability(const Capability& authority, std::uint64_t address,
                                                               const Capability& value) {
  if (auto ok = check_capability_store(authority, address, value); !ok) return ok;
  const std::uint64_t host = Capability::bounds_address(address);
  if (!contains(host, kGranuleBytes)) {
    return Unexpected(
        CapabilityFault{FaultCheck::Unmapped, Access::StoreCapability, address, kGranuleBytes, authority, {}});
  }
  const std::uint64_t words[2] = {value.cursor(), value.pesbt()};
  std::memcpy(reinterpret_cast<void*>(host), words, sizeof(words));
  const std::uint64_t granule = (host - base_) / kGranuleBytes;
  const std::uint64_t bit = std::uint64_t{1} << (granule % 64);
  tags_[granule / 64] = value.tag() ? (tags_[granule / 64] | bit) : (tags_[granule / 64] & ~bit);
  if (value.tag()) tags_[tag_words_] = 1;  // in the mapping: shared regions share it
  return {};
}

Expected<void, CapabilityFault> TaggedMemory::load_bytes(const Capability& authority, std::uint64_t address,
                                                         std::span<std::byte> out) const {
  if (auto ok = check_mapped(authority, Access::Load, address, out.size()); !ok) return ok;
  if (!out.empty())
    std::memcpy(out.data(), reinterpret_cast<const void*>(Capability::bounds_address(address)), out.size());
  return {};
}

Expected<void, CapabilityFault> TaggedMemory::store_bytes(const Capability& authority, std::uint64_t address,
                                                          std::span<const std::byte> in) {
  if (auto ok = check_mapped(authority, Access::Store, address, in.size()); !ok) return ok;
  const std::uint64_t host = Capability::bounds_address(address);
  if (!in.empty()) std::memcpy(reinterpret_cast<void*>(host), in.data(), in.size());
  clear_tags(host, in.size());
  return {};
}

}  // namespace flexcap::cap
