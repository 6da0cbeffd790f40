// flexcap/cap/revocation.hh — revocation: no capability to freed memory outlives its reuse.
//
// Bounds and permissions do not stop a compartment from keeping a capability to memory
// that is freed and handed to someone else. CHERI systems close the gap by revocation,
// and the model does it their way (docs/revocation.md):
// - a free paints the freed granules in the memory's revocation shadow
//   (TaggedMemory::paint) and keeps the memory in quarantine (the allocator's part: rt's
//   heaps);
// - Revoker::sweep() walks the tag bitmap of every memory it knows, a word at a time,
//   skipping words without tags, decodes the base of each tagged capability
//   bit-exactly, and revokes it when that base is painted; then it does the same for the
//   roots, the capabilities kept outside tagged memory (CheriBSD's Cornucopia);
// - the epoch counts sweeps as CheriBSD's cheri_revoke does: odd while one runs, and
//   quarantined memory is reused only once a whole sweep began after its free
//   (epoch_clears());
// - with the load filter on, a capability whose base is painted arrives untagged as it
//   is loaded from memory, before any sweep (CHERIoT's load filter).
//
//   Revoker revoker;
//   revoker.add_memory(memory);                 // swept; its shadow names freed memory
//   memory.paint(block.base(), block_length);   // the allocator frees the block
//   revoker.sweep();                            // every capability based in it is revoked
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/cap/capability.hh"
#include "flexcap/cap/tagged_memory.hh"

namespace flexcap::cap {

// What a revoked capability becomes; CheriBSD can do either.
enum class RevokedForm {
  ClearTag,         // the tag is cleared: the capability is data
  ZeroPermissions,  // the tag is kept and every permission cleared: it still says it was a capability
};

std::string_view to_string(RevokedForm form);  // "clear-tag", "zero-permissions"

// What one sweep did.
struct SweepStats {
  std::uint64_t bytes_swept = 0;        // memory whose tags were walked
  std::uint64_t tagged_seen = 0;        // tagged capabilities decoded
  std::uint64_t revoked_in_memory = 0;  // of them, revoked
  std::uint64_t revoked_in_roots = 0;   // roots revoked
  std::uint64_t roots_seen = 0;
  std::uint64_t epoch = 0;              // the epoch when it ended (even)
  double seconds = 0;                   // its pause
};

class Revoker;

// Capabilities kept outside tagged memory — the model's capability registers and the
// runtime's own tables — that a sweep must reach as well. A set registers with the
// revoker (add_roots) and hands it each capability by reference; the sweep replaces
// those it revokes.
class RootSet {
 public:
  virtual ~RootSet() = default;
  virtual std::string_view name() const = 0;
  virtual void for_each(const std::function<void(Capability&)>& visit) = 0;
};

void forget_held_in(std::uint64_t address, std::uint64_t size);

namespace internal {
// Every Held<T> alive in the process, swept by every sweep (a capability register is
// swept whichever revoker runs). The registry is the runtime's, outside the memory the
// Held objects may lie in: nothing in a compartment's memory links them.
class HeldRoot {
 public:
  virtual void revoke_if(const Revoker& revoker, SweepStats& stats) = 0;

 protected:
  HeldRoot();
  HeldRoot(const HeldRoot&);
  HeldRoot& operator=(const HeldRoot&) { return *this; }  // each is registered once, as itself
  virtual ~HeldRoot();

 private:
  friend class flexcap::cap::Revoker;
  static void for_each(const std::function<void(HeldRoot&)>& visit);
};
}  // namespace internal

// Memory that is wiped without its objects being destroyed (a compartment's region at a
// restart) takes the Held roots in it along: they are no longer roots.
void forget_held_in(std::uint64_t address, std::uint64_t size);

// Sweeps, and knows which capabilities are revoked: those whose base is painted in one
// of its memories. One per image (the runtime's); tests make their own.
class Revoker {
 public:
  explicit Revoker(RevokedForm form = RevokedForm::ClearTag) : form_(form) {}
  ~Revoker();
  Revoker(const Revoker&) = delete;
  Revoker& operator=(const Revoker&) = delete;

  // Memory that may hold capabilities, and whose shadow names freed memory: swept, and
  // consulted for bases. With `load_filter`, capabilities loaded from it pass the filter.
  void add_memory(TaggedMemory& memory, bool load_filter = false);
  void remove_memory(TaggedMemory& memory);
  void add_roots(RootSet& roots);
  void remove_roots(RootSet& roots);
  std::vector<std::string_view> root_names() const;  // the registered sets, for docs and tests

  RevokedForm form() const { return form_; }
  void set_form(RevokedForm form) { form_ = form; }
  // The load filter in every memory it sweeps (add_memory sets it per memory).
  void set_load_filter(bool on);
  // Whether `address` lies in memory whose loads this revoker filters: a Held<T> kept
  // there is filtered at each use, as a register reloaded from a saved context would be.
  bool filters(std::uint64_t address) const;
  // The revoker that filters some memory, if any: one per image (Held<T> asks it).
  static const Revoker* filtering() { return g_filtering.load(std::memory_order_acquire); }

  // Whether `address` lies in memory in quarantine.
  bool painted(std::uint64_t address) const;
  // Whether `c` is to be revoked: tagged, with its base (decoded bit-exactly) painted.
  bool revokes(const Capability& c) const { return c.tag() && painted(c.bounds().base); }
  // `c` in the revoked form. The revoker stands for the kernel: it rewrites the bits of
  // sealed capabilities too, which no instruction could.
  Capability revoked(const Capability& c) const;

  // One whole revocation: every tagged capability in its memories and every root whose
  // base is painted is revoked. The epoch is odd while it runs.
  SweepStats sweep();
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  // Whether memory freed (painted) at epoch `then` may be reused at epoch `now`: a whole
  // sweep must have begun after the free (cheri_revoke_epoch_clears in CheriBSD).
  static bool epoch_clears(std::uint64_t now, std::uint64_t then) { return now >= ((then + 3) & ~std::uint64_t{1}); }

 private:
  void sweep_memory(TaggedMemory& memory, SweepStats& stats) const;
  std::vector<TaggedMemory*> memories_;
  std::vector<RootSet*> roots_;
  void note_filter();
  RevokedForm form_;
  inline static std::atomic<const Revoker*> g_filtering{nullptr};
  std::atomic<std::uint64_t> epoch_{0};
  mutable std::mutex sweeping_;  // one sweep at a time
};

// A Cap<T> kept beyond the call that handed it over, outside tagged memory (a member of a
// library's state, a local that lives across calls). It is a root while it lives: every
// sweep reaches it as Morello's revoker reaches the capability registers, and a revoked
// one faults at its next use. A Cap<T> that lives only for a call needs none: a sweep
// happens between calls (when a free fills the quarantine), or the capability came from
// tagged memory, where the sweep finds it.
//
//   Held<std::uint8_t> kept(buffer);      // the victim keeps the buffer it was handed
//   kept->store(0, 1);                    // after the owner frees it and a sweep: a tag fault
template <class T>
class Held final : public internal::HeldRoot {
 public:
  Held() = default;
  explicit Held(const Cap<T>& cap) : cap_(cap) {}
  Held& operator=(const Cap<T>& cap) {
    cap_ = cap;
    return *this;
  }
  // Where the Held itself lies in memory with the load filter on (a library's state in its
  // compartment's heap), a capability to freed memory is revoked at its first use.
  const Cap<T>& get() const {
    if (const Revoker* r = Revoker::filtering(); r != nullptr && r->revokes(cap_.capability()) &&
                                                   r->filters(reinterpret_cast<std::uint64_t>(this))) [[unlikely]] {
      cap_ = Cap<T>(r->revoked(cap_.capability()), cap_.memory());
    }
    return cap_;
  }
  const Cap<T>* operator->() const { return &get(); }

  void revoke_if(const Revoker& revoker, SweepStats& stats) override {
    ++stats.roots_seen;
    if (!revoker.revokes(cap_.capability())) return;
    cap_ = Cap<T>(revoker.revoked(cap_.capability()), cap_.memory());
    ++stats.revoked_in_roots;
  }

 private:
  mutable Cap<T> cap_;
};

}  // namespace flexcap::cap
