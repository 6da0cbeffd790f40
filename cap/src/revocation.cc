#include "flexcap/cap/revocation.hh"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <unordered_set>

namespace flexcap::cap {

std::string_view to_string(RevokedForm form) {
  return form == RevokedForm::ClearTag ? "clear-tag" : "zero-permissions";
}

namespace internal {
namespace {
struct HeldRegistry {
  std::mutex lock;
  std::unordered_set<HeldRoot*> roots;
};
HeldRegistry& held() {
  static HeldRegistry* registry = new HeldRegistry();  // outlives every static Held
  return *registry;
}
}  // namespace

HeldRoot::HeldRoot() {
  const std::lock_guard<std::mutex> guard(held().lock);
  held().roots.insert(this);
}

HeldRoot::HeldRoot(const HeldRoot&) : HeldRoot() {}

HeldRoot::~HeldRoot() {
  const std::lock_guard<std::mutex> guard(held().lock);
  held().roots.erase(this);
}

void HeldRoot::for_each(const std::function<void(HeldRoot&)>& visit) {
  const std::lock_guard<std::mutex> guard(held().lock);
  for (HeldRoot* r : held().roots) visit(*r);
}
}  // namespace internal

// Addresses only: the wiped memory may be closed to the runtime's own thread (a page
// backend's gate), and it is not to be trusted.
void forget_held_in(std::uint64_t address, std::uint64_t size) {
  const std::lock_guard<std::mutex> guard(internal::held().lock);
  std::erase_if(internal::held().roots, [&](internal::HeldRoot* r) {
    const auto at = reinterpret_cast<std::uint64_t>(r);
    return at >= address && at - address < size;
  });
}

Revoker::~Revoker() {
  for (TaggedMemory* m : memories_) {
    if (m->load_filter() == this) m->set_load_filter(nullptr);
  }
  const Revoker* self = this;
  g_filtering.compare_exchange_strong(self, nullptr);
}

void Revoker::add_memory(TaggedMemory& memory, bool load_filter) {
  const std::lock_guard<std::mutex> guard(sweeping_);
  if (std::find(memories_.begin(), memories_.end(), &memory) == memories_.end()) memories_.push_back(&memory);
  memory.set_load_filter(load_filter ? this : nullptr);
  note_filter();
}

void Revoker::remove_memory(TaggedMemory& memory) {
  const std::lock_guard<std::mutex> guard(sweeping_);
  std::erase(memories_, &memory);
  if (memory.load_filter() == this) memory.set_load_filter(nullptr);
  note_filter();
}

// Held<T> asks one process-wide revoker whether its memory filters loads: this one, while
// any of its memories does.
void Revoker::note_filter() {
  const bool any = std::any_of(memories_.begin(), memories_.end(), [&](TaggedMemory* m) { return m->load_filter() == this; });
  const Revoker* self = this;
  if (any) {
    g_filtering.store(this, std::memory_order_release);
  } else {
    g_filtering.compare_exchange_strong(self, nullptr);
  }
}

bool Revoker::filters(std::uint64_t address) const {
  for (const TaggedMemory* m : memories_) {
    if (m->contains(address, 1)) return m->load_filter() == this;
  }
  return false;
}

void Revoker::add_roots(RootSet& roots) {
  const std::lock_guard<std::mutex> guard(sweeping_);
  if (std::find(roots_.begin(), roots_.end(), &roots) == roots_.end()) roots_.push_back(&roots);
}

void Revoker::remove_roots(RootSet& roots) {
  const std::lock_guard<std::mutex> guard(sweeping_);
  std::erase(roots_, &roots);
}

std::vector<std::string_view> Revoker::root_names() const {
  const std::lock_guard<std::mutex> guard(sweeping_);
  std::vector<std::string_view> names;
  for (const RootSet* r : roots_) names.push_back(r->name());
  return names;
}

void Revoker::set_load_filter(bool on) {
  const std::lock_guard<std::mutex> guard(sweeping_);
  for (TaggedMemory* m : memories_) m->set_load_filter(on ? this : nullptr);
  note_filter();
}

bool Revoker::painted(std::uint64_t address) const {
  for (const TaggedMemory* m : memories_) {
    if (m->contains(address, 1)) return m->painted(address);
  }
  return false;
}

Capability Revoker::revoked(const Capability& c) const {
  if (form_ == RevokedForm::ClearTag) return c.clear_tag();
  // Permissions are bits 63..46 of the metadata word. CLRPERM would clear a sealed
  // capability's tag; the revoker is not bound by that.
  constexpr std::uint64_t kPermissionBits = ~std::uint64_t{0} << 46;
  return Capability::unsafe_from_bits(c.pesbt() & ~kPermissionBits, c.cursor(), c.tag());
}

// The tag bitmap a word at a time: a word without tags (most of memory, most of the
// time) costs one load. Each tagged granule is decoded as the load would decode it.
void Revoker::sweep_memory(TaggedMemory& memory, SweepStats& stats) const {
  stats.bytes_swept += memory.size();
  if (!memory.ever_tagged()) return;
  const std::span<std::uint64_t> words = memory.tag_words();
  const std::uint64_t base = memory.base();
  for (std::size_t w = 0; w < words.size(); ++w) {
    std::uint64_t pending = words[w];
    while (pending != 0) {
      const int bit = std::countr_zero(pending);
      pending &= pending - 1;
      const std::uint64_t address = base + (static_cast<std::uint64_t>(w) * 64 + static_cast<std::uint64_t>(bit)) *
                                               kGranuleBytes;
      std::uint64_t granule[2];  // little-endian: the value, then the metadata
      std::memcpy(granule, reinterpret_cast<const void*>(address), sizeof(granule));
      const Capability c = Capability::unsafe_from_bits(granule[1], granule[0], true);
      ++stats.tagged_seen;
      if (!revokes(c)) continue;
      const Capability r = revoked(c);
      if (!r.tag()) {
        words[w] &= ~(std::uint64_t{1} << bit);
      } else {
        granule[1] = r.pesbt();
        std::memcpy(reinterpret_cast<void*>(address), granule, sizeof(granule));
      }
      ++stats.revoked_in_memory;
    }
  }
}

SweepStats Revoker::sweep() {
  const std::lock_guard<std::mutex> guard(sweeping_);
  const auto start = std::chrono::steady_clock::now();
  SweepStats stats;
  epoch_.fetch_add(1, std::memory_order_acq_rel);  // odd: a revocation is under way
  for (TaggedMemory* m : memories_) sweep_memory(*m, stats);
  for (RootSet* roots : roots_) {
    roots->for_each([&](Capability& c) {
      ++stats.roots_seen;
      if (!revokes(c)) return;
      c = revoked(c);
      ++stats.revoked_in_roots;
    });
  }
  internal::HeldRoot::for_each([&](internal::HeldRoot& held) { held.revoke_if(*this, stats); });
  stats.epoch = epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;  // even: done
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace flexcap::cap
