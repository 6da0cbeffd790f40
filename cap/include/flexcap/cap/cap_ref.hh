// flexcap/cap/cap_ref.hh — Cap<T>: a typed, checked reference through a capability.
//
// Cap<T> is how capability-aware code reads and writes memory. It holds a capability
// and treats it as a pointer to T: element i is at value + i * sizeof(T). Every access
// makes the architecture's checks (tag, seal, permission, bounds) and a refused access
// returns the CapabilityFault instead of touching memory. Range operations (copy_in,
// copy_out, fill, read_span, write_span) check the whole range once, not every element.
// Cap<const T> is the read-only form: it has no store operations and its capability
// has no store permissions.
//
//   TaggedMemory memory(4096);
//   Cap<std::uint32_t> words(memory.root(), &memory);
//   Cap<std::uint32_t> four = *words.slice(0, 4);      // exactly 16 bytes
//   four.store(3, 7);                                   // ok
//   auto r = four.store(4, 7);                          // r.error(): bounds fault
//   Cap<const std::uint32_t> ro = four.read_only();     // ro.store(...) does not compile
//
// Writes through Cap<T> clear the tags of the granules they touch, when the reference
// knows the TaggedMemory it points into (a reference without one points at memory that
// never holds capabilities).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "flexcap/cap/access.hh"
#include "flexcap/cap/capability.hh"
#include "flexcap/cap/fault.hh"
#include "flexcap/cap/tagged_memory.hh"
#include "flexcap/support/expected.hh"

namespace flexcap::cap {

template <class T>
class Cap {
 public:
  using Element = std::remove_const_t<T>;
  static constexpr bool kReadOnly = std::is_const_v<T>;
  static_assert(std::is_trivially_copyable_v<Element>, "Cap<T> moves T as bytes: T must be trivially copyable");

  // The null reference: every access fails the tag check.
  Cap() = default;
  explicit Cap(const Capability& capability, TaggedMemory* memory = nullptr)
      // A sealed capability is left as it is: CLRPERM would clear its tag, and the seal
      // already refuses every access (with a fault that says so).
      : capability_(kReadOnly && !capability.is_sealed() ? capability.clear_permissions(kStorePermissions)
                                                         : capability),
        memory_(memory) {
    cache_reach();
  }

  const Capability& capability() const { return capability_; }
  TaggedMemory* memory() const { return memory_; }
  // Whole elements between the value and the top of the bounds (0 when the value is
  // outside them).
  std::size_t size() const { return in_bounds_count_; }

  Expected<Element, CapabilityFault> load(std::size_t index) const {
    if (index < readable_count_) [[likely]] {
      Element out;
      std::memcpy(&out, data_ + index, sizeof(Element));
      return out;
    }
    return Unexpected(fault_at(Access::Load, index, 1));
  }

  Expected<void, CapabilityFault> store(std::size_t index, const Element& value) const requires(!kReadOnly) {
    if (index < writable_count_) [[likely]] {
      std::memcpy(data_ + index, &value, sizeof(Element));
      if (memory_ != nullptr) memory_->clear_tags(address_of(index), sizeof(Element));
      return {};
    }
    return Unexpected(fault_at(Access::Store, index, 1));
  }

  // Copies elements [first, first + out.size()) out of the referenced memory.
  Expected<void, CapabilityFault> copy_out(std::size_t first, std::span<Element> out) const {
    auto span = read_span(first, out.size());
    if (!span) return Unexpected(span.error());
    if (!out.empty()) std::memcpy(out.data(), span->data(), out.size_bytes());
    return {};
  }

  // Copies `in` into elements [first, first + in.size()).
  Expected<void, CapabilityFault> copy_in(std::size_t first, std::span<const Element> in) const requires(!kReadOnly) {
    auto span = write_span(first, in.size());
    if (!span) return Unexpected(span.error());
    if (!in.empty()) std::memcpy(span->data(), in.data(), in.size_bytes());
    return {};
  }

  Expected<void, CapabilityFault> fill(std::size_t first, std::size_t count, const Element& value) const
      requires(!kReadOnly) {
    auto span = write_span(first, count);
    if (!span) return Unexpected(span.error());
    for (Element& e : *span) std::memcpy(&e, &value, sizeof(Element));
    return {};
  }

  // Checks [first, first + count) once for reading and returns it as a span. Reading
  // through the span is in bounds by construction; it is how hot loops (a checksum,
  // a cipher) run at raw speed over a buffer they were handed.
  Expected<std::span<const Element>, CapabilityFault> read_span(std::size_t first, std::size_t count) const {
    if (range_ok(first, count, readable_count_)) [[likely]] {
      return std::span<const Element>(data_ + first, count);
    }
    return Unexpected(fault_at(Access::Load, first, count));
  }

  // Checks [first, first + count) once for writing and clears the tags of the range up
  // front: anything written through the span is data, never a capability.
  Expected<std::span<Element>, CapabilityFault> write_span(std::size_t first, std::size_t count) const
      requires(!kReadOnly) {
    if (range_ok(first, count, writable_count_)) [[likely]] {
      if (memory_ != nullptr) memory_->clear_tags(address_of(first), count * sizeof(Element));
      return std::span<Element>(data_ + first, count);
    }
    return Unexpected(fault_at(Access::Store, first, count));
  }

  // A reference to exactly elements [first, first + count): SCVALUE then SCBNDSE. Fails
  // with a bounds fault if the range is not inside this reference or cannot be
  // represented exactly (see representable_length()).
  Expected<Cap, CapabilityFault> slice(std::size_t first, std::size_t count) const {
    const std::uint64_t bytes = count * sizeof(Element);
    const Capability narrowed =
        capability_.set_value(capability_.value() + first * sizeof(Element)).set_bounds_exact(bytes);
    if (!narrowed.tag() || !capability_.tag()) {
      return Unexpected(CapabilityFault{capability_.tag() ? FaultCheck::Bounds : FaultCheck::Tag,
                                        Access::Load,
                                        address_of(first),
                                        bytes,
                                        capability_,
                                        {}});
    }
    return Cap(narrowed, memory_);
  }

  // How many elements, at most `count`, from element `first` slice() can bound exactly:
  // `count` when that range is representable, fewer when it is long and unaligned. A
  // transfer of any length goes as a loop of such slices, never as one padded capability.
  std::size_t exact_count(std::size_t first, std::size_t count) const {
    std::uint64_t bytes = count * sizeof(Element);
    // Rounding down to whole elements can leave a length that needs checking again.
    while (representable_prefix(address_of(first), bytes) != bytes) {
      bytes = representable_prefix(address_of(first), bytes) / sizeof(Element) * sizeof(Element);
    }
    return static_cast<std::size_t>(bytes / sizeof(Element));
  }

  // The same memory without store permissions.
  Cap<const Element> read_only() const { return Cap<const Element>(capability_, memory_); }

  // Pointer arithmetic: the reference `elements` elements further on, with the same
  // bounds and permissions (SCVALUE to value + elements * sizeof(T)). As on Morello, the
  // result may point outside its bounds (every access then faults), and the model
  // clears its tag if the new value is not representable.
  //
  //   Cap<std::uint8_t> word3 = block.advanced(12);   // block + 12, still block's bounds
  //
  // Cheap where it matters (a cipher handing out a pointer per word): a tagged,
  // unsealed reference moving to an address inside its bounds, without touching bits
  // 63..55 of its value, keeps its bounds by construction (CHERI's invariant: bounds lie
  // inside the representable region of every address between them), so SCVALUE would
  // keep the tag and the cached reach just shrinks by `elements`: no bounds decoding.
  // Anything else takes the model's own SCVALUE.
  [[gnu::always_inline]] Cap advanced(std::size_t elements) const {
    const std::uint64_t value = capability_.value() + static_cast<std::uint64_t>(elements) * sizeof(Element);
    if (elements < in_bounds_count_ && capability_.tag() && !capability_.is_sealed() &&
        ((capability_.value() ^ value) >> 55) == 0) [[likely]] {
      // The capability is exactly what set_value(value) returns here (cap_ref_test.cc
      // checks it). Each count is either 0 or in_bounds_count_ (see cache_reach()).
      const std::size_t remaining = in_bounds_count_ - elements;
      return Cap(Capability::unsafe_from_bits(capability_.pesbt(), value, true), memory_, data_ + elements, remaining,
                 readable_count_ == 0 ? 0 : remaining, writable_count_ == 0 ? 0 : remaining);
    }
    return Cap(capability_.set_value(value), memory_);
  }

 private:
  static constexpr Permissions kStorePermissions =
      Permission::Store | Permission::StoreCap | Permission::StoreLocalCap | Permission::MutableLoad;

  // The host address of element `index` (flags stripped: they are not address bits).
  std::uint64_t address_of(std::size_t index) const {
    return reinterpret_cast<std::uint64_t>(data_) + index * sizeof(Element);  // data_: the address, decoded once
  }

  // A reference whose reach is already known (advanced()).
  Cap(const Capability& capability, TaggedMemory* memory, Element* data, std::size_t in_bounds_count,
      std::size_t readable_count, std::size_t writable_count)
      : capability_(capability),
        memory_(memory),
        data_(data),
        in_bounds_count_(in_bounds_count),
        readable_count_(readable_count),
        writable_count_(writable_count) {}

  static bool range_ok(std::size_t first, std::size_t count, std::size_t limit) {
    return first <= limit && count <= limit - first;
  }

  // Decodes the bounds once so that each access is a single comparison. The counts are
  // zero unless tag, seal and permission checks all pass, so the fast path is exactly
  // the full check.
  void cache_reach() {
    data_ = reinterpret_cast<Element*>(capability_.address());
    const Bounds b = capability_.bounds();
    const std::uint64_t address = capability_.address();
    if (!b.valid || address < b.base || Uint128(address) >= b.top) return;
    in_bounds_count_ = static_cast<std::size_t>((b.top - address) / sizeof(Element));
    const bool usable = capability_.tag() && !capability_.is_sealed();
    const Permissions perms = capability_.permissions();
    if (usable && perms.has(Permission::Load)) readable_count_ = in_bounds_count_;
    if (usable && perms.has(Permission::Store)) writable_count_ = in_bounds_count_;
  }

  CapabilityFault fault_at(Access access, std::size_t first, std::size_t count) const {
    const std::uint64_t bytes = count * sizeof(Element);
    auto checked = check_access(capability_, access, address_of(first), bytes);
    if (!checked) return checked.error();
    // The checks passed on the capability itself, so what failed is the size arithmetic:
    // report the range as out of bounds.
    return CapabilityFault{FaultCheck::Bounds, access, address_of(first), bytes, capability_, {}};
  }

  Capability capability_;
  TaggedMemory* memory_ = nullptr;
  Element* data_ = nullptr;
  std::size_t in_bounds_count_ = 0;
  std::size_t readable_count_ = 0;
  std::size_t writable_count_ = 0;
};

}  // namespace flexcap::cap
