#include "flexcap/cap/tagged_memory.hh"

#include "flexcap/cap/revocation.hh"

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
  // The bitmaps (tags, revocation shadow, allocation starts) follow the memory,
  // page-aligned, in the same mapping: processes that share the memory share them.
  const std::uint64_t tag_offset = (alignment + length + kPageBytes - 1) / kPageBytes * kPageBytes;
  const std::uint64_t mapped = tag_offset + (bitmap_bytes(length) + kPageBytes - 1) / kPageBytes * kPageBytes;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  mapping_ = p;
  mapping_size_ = mapped;
  const auto start = reinterpret_cast<std::uint64_t>(p);
  base_ = (start + alignment - 1) & ~(alignment - 1);
  size_ = length;
  place_bitmaps(static_cast<std::byte*>(p) + tag_offset);
}

// Three bitmaps of one bit per granule, each followed by one word: for the tags, whether a
// tag was ever set (see clear_tags); for the others, unused.
std::uint64_t TaggedMemory::bitmap_bytes(std::uint64_t size) { return 3 * ((size / kGranuleBytes + 63) / 64 * 8 + 8); }

void TaggedMemory::place_bitmaps(std::byte* at) {
  tag_words_ = static_cast<std::size_t>((size_ / kGranuleBytes + 63) / 64);
  tags_ = reinterpret_cast<std::uint64_t*>(at);
  shadow_ = tags_ + tag_words_ + 1;
  starts_ = shadow_ + tag_words_ + 1;
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
  const std::uint64_t mapped = (bitmap_bytes(size_) + kPageBytes - 1) / kPageBytes * kPageBytes;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  mapping_ = p;  // only the bitmaps: the memory itself is not ours to unmap
  mapping_size_ = mapped;
  place_bitmaps(static_cast<std::byte*>(p));
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
      tag_words_(std::exchange(other.tag_words_, 0)),
      shadow_(std::exchange(other.shadow_, nullptr)),
      starts_(std::exchange(other.starts_, nullptr)),
      filter_(std::exchange(other.filter_, nullptr)) {}

TaggedMemory& TaggedMemory::operator=(TaggedMemory&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, 0);
    size_ = std::exchange(other.size_, 0);
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_size_ = std::exchange(other.mapping_size_, 0);
    tags_ = std::exchange(other.tags_, nullptr);
    tag_words_ = std::exchange(other.tag_words_, 0);
    shadow_ = std::exchange(other.shadow_, nullptr);
    starts_ = std::exchange(other.starts_, nullptr);
    filter_ = std::exchange(other.filter_, nullptr);
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

std::size_t TaggedMemory::painted_granules() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < tag_words_; ++i) n += static_cast<std::size_t>(std::popcount(shadow_[i]));
  return n;
}

bool TaggedMemory::bit(const std::uint64_t* bitmap, std::uint64_t address) const {
  if (bitmap == nullptr || !contains(address, 1)) return false;
  const std::uint64_t granule = (address - base_) / kGranuleBytes;
  return (bitmap[granule / 64] >> (granule % 64)) & 1;
}

std::optional<std::uint64_t> TaggedMemory::allocation_start_at_or_below(std::uint64_t address) const {
  if (starts_ == nullptr || !contains(address, 1)) return std::nullopt;
  std::uint64_t granule = (address - base_) / kGranuleBytes;
  std::uint64_t word = starts_[granule / 64] & (~std::uint64_t{0} >> (63 - granule % 64));
  for (std::uint64_t w = granule / 64;; --w) {
    if (w != granule / 64) word = starts_[w];
    if (word != 0) return base_ + (w * 64 + 63 - static_cast<std::uint64_t>(std::countl_zero(word))) * kGranuleBytes;
    if (w == 0) return std::nullopt;
  }
}

void TaggedMemory::set_bits(std::uint64_t* bitmap, std::uint64_t address, std::uint64_t size, bool value) {
  if (bitmap == nullptr) return;
  const std::uint64_t begin = std::max(address, base_);
  const std::uint64_t end = std::min(address + std::max<std::uint64_t>(size, 1), base_ + size_);
  if (begin >= end) return;
  std::uint64_t first = (begin - base_) / kGranuleBytes;
  const std::uint64_t last = (end - 1 - base_) / kGranuleBytes;
  while (first <= last) {
    const std::uint64_t bit = first % 64;
    const std::uint64_t span = std::min<std::uint64_t>(64 - bit, last - first + 1);
    const std::uint64_t mask = span == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << span) - 1) << bit;
    bitmap[first / 64] = value ? (bitmap[first / 64] | mask) : (bitmap[first / 64] & ~mask);
    first += span;
  }
}

// Whole words at a time where possible (set_bits): bulk writes are common and tags are rare.
void TaggedMemory::clear_tags_slow(std::uint64_t address, std::uint64_t size) {
  if (size != 0) set_bits(tags_, address, size, false);
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
  const Capability loaded = apply_load_rules(authority, Capability::unsafe_from_bits(words[1], words[0], tag(host)));
  // CHERIoT's load filter: a capability to memory in quarantine arrives untagged.
  if (filter_ != nullptr && loaded.tag() && filter_->revokes(loaded)) return loaded.clear_tag();
  return loaded;
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
