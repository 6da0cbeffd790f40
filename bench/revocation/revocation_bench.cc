// What temporal safety costs (flexcap bench revocation; docs/revocation.md). One JSON
// object per line, each a row {"case","value","unit","baseline","ratio"} whose baseline
// is measured in this process:
// - the sweep's throughput over tag-sparse and tag-dense memory, against memcpy of the
//   same bytes, and its pause per MiB;
// - a shared-buffer churn (allocate, hand capabilities around, free), with each
//   revocation policy, against the same churn without revocation;
// - the memory revocation costs: the shadow bitmaps and the quarantine's peak, against
//   the heap.
//
//   revocation_bench [--rounds N] [--quick]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "flexcap/cap/revocation.hh"
#include "flexcap/rt/runtime.hh"

namespace {

using flexcap::cap::Capability;
using flexcap::cap::Revoker;
using flexcap::cap::TaggedMemory;
using flexcap::rt::Heap;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void row(const std::string& name, double value, const char* unit, double baseline, double ratio) {
  std::printf("{\"case\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"baseline\": %.6g, \"ratio\": %.6g}\n",
              name.c_str(), value, unit, baseline, ratio);
  std::fflush(stdout);
}

// --- The sweep --------------------------------------------------------------------------

// `every` granules, one holds a capability; a tenth of those point at a freed (painted)
// block, which the sweep revokes. Each round stores them again.
struct SweepCase {
  const char* name;
  std::uint64_t every;
};

void sweep_rows(std::uint64_t bytes, int rounds) {
  TaggedMemory memory(bytes);
  Revoker revoker;
  revoker.add_memory(memory);
  std::vector<std::byte> copy(memory.size());
  const Capability root = memory.root();
  const Capability freed = root.set_value(memory.base()).set_bounds_exact(4096);
  const Capability live = root.set_value(memory.base() + 4096).set_bounds_exact(4096);
  memory.paint(freed.base(), 4096);
  const double mib = static_cast<double>(memory.size()) / (1 << 20);

  // Both buffers touched first: the baseline is the copy, not the first-touch faults.
  std::memset(copy.data(), 1, copy.size());
  std::memcpy(copy.data(), reinterpret_cast<const void*>(memory.base()), memory.size());
  std::vector<double> memcpy_times;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    std::memcpy(copy.data(), reinterpret_cast<const void*>(memory.base()), memory.size());
    memcpy_times.push_back(seconds_since(start));
  }
  const double memcpy_seconds = median(memcpy_times);
  const double memcpy_gbs = static_cast<double>(memory.size()) / memcpy_seconds / 1e9;

  for (const SweepCase& c : {SweepCase{"sparse", 256}, SweepCase{"dense", 1}}) {
    std::vector<double> times;
    std::uint64_t revoked = 0;
    for (int r = 0; r < rounds; ++r) {
      for (std::uint64_t g = 0, n = 0; g < memory.size() / 16; g += c.every, ++n) {
        (void)memory.store_capability(root, memory.base() + g * 16, n % 10 == 0 ? freed : live);
      }
      const flexcap::cap::SweepStats stats = revoker.sweep();
      times.push_back(stats.seconds);
      revoked = stats.revoked_in_memory;
    }
    if (revoked == 0) std::fprintf(stderr, "revocation_bench: the %s sweep revoked nothing\n", c.name);
    const double seconds = median(times);
    const double gbs = static_cast<double>(memory.size()) / seconds / 1e9;
    row(std::string("sweep-") + c.name, gbs, "GB/s", memcpy_gbs, gbs / memcpy_gbs);
    row(std::string("pause-per-mib-") + c.name, seconds * 1e3 / mib, "ms/MiB", memcpy_seconds * 1e3 / mib,
        seconds / memcpy_seconds);
  }
}

// --- The churn --------------------------------------------------------------------------

// A program that keeps `live` shared buffers, each holding capabilities to others in its
// first granules (as a list or a tree would), and replaces one at random per step: a
// free, an allocation, and capability stores. Returns its seconds, the sweeps it caused,
// and the quarantine's peak.
struct Churn {
  double seconds = 0;
  std::uint64_t sweeps = 0;
  std::uint64_t peak_quarantine = 0;
  std::uint64_t heap_bytes = 0;
  std::uint64_t epochs = 0;  // revocation: pages
};

enum class Policy { Off, Sweep, LoadFilter, Pages };

// A second process that shares the heap's region, as a compartment of the process
// backend does: each step the churn crosses to it (a pipe there and back, two context
// switches as a gate's are), and it catches up with the page protections the churn
// changed and reads the buffer just allocated, as a callee handed it would.
class Peer {
 public:
  explicit Peer(Heap& heap) {
    if (pipe(to_peer_) != 0 || pipe(from_peer_) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      close(to_peer_[1]);
      close(from_peer_[0]);
      std::uint64_t address = 0;
      while (read(to_peer_[0], &address, sizeof(address)) == sizeof(address)) {
        heap.catch_up_page_protections();
        volatile std::uint64_t word = *reinterpret_cast<const volatile std::uint64_t*>(address);
        (void)word;
        const char done = 1;
        if (write(from_peer_[1], &done, 1) != 1) break;
      }
      _exit(0);
    }
    close(to_peer_[0]);
    close(from_peer_[1]);
  }
  ~Peer() {
    close(to_peer_[1]);  // the peer reads the end and exits
    waitpid(pid_, nullptr, 0);
    close(from_peer_[0]);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  void cross(std::uint64_t address) {
    char done = 0;
    if (write(to_peer_[1], &address, sizeof(address)) != sizeof(address) || read(from_peer_[0], &done, 1) != 1) {
      std::fprintf(stderr, "revocation_bench: the peer process died reading a live buffer at 0x%llx\n",
                   static_cast<unsigned long long>(address));
      std::exit(1);
    }
  }

 private:
  int to_peer_[2] = {-1, -1}, from_peer_[2] = {-1, -1};
  pid_t pid_ = -1;
};

// Buffers of `smallest` to `smallest + spread` bytes: 64 B to 4 KiB for the capability
// cases; 4 to 64 KiB for `revocation: pages`, which protects whole pages only. With
// `with_peer`, a second process shares the heap (Peer).
Churn churn(Policy policy, std::uint64_t heap_bytes, int steps, double fraction, std::uint64_t smallest = 64,
            std::uint64_t spread = 4032, bool with_peer = false) {
  TaggedMemory memory(heap_bytes,
                      with_peer ? TaggedMemory::Mapping::SharedBetweenProcesses : TaggedMemory::Mapping::Private);
  Revoker revoker;
  Heap heap(reinterpret_cast<std::byte*>(memory.base()), memory.size(), &memory);
  if (policy == Policy::Pages) {
    heap.set_page_revocation(fraction);
  } else if (policy != Policy::Off) {
    revoker.add_memory(memory, policy == Policy::LoadFilter);
    heap.set_revocation(&revoker, fraction);
  }
  std::optional<Peer> peer;
  if (with_peer) peer.emplace(heap);
  std::mt19937_64 random(42);
  const Capability root = memory.root();
  const auto allocate = [&]() -> Capability {
    const std::uint64_t bytes = smallest + random() % spread;
    const std::uint64_t length = flexcap::cap::representable_length(bytes);
    void* p = heap.allocate(length, 16);
    if (p == nullptr) return Capability();
    return root.set_value(reinterpret_cast<std::uint64_t>(p)).set_bounds_exact(length);
  };
  std::vector<Capability> live;
  for (int i = 0; i < 1024; ++i) live.push_back(allocate());
  Churn result;
  result.heap_bytes = memory.size();
  const auto start = Clock::now();
  for (int step = 0; step < steps; ++step) {
    Capability& victim = live[random() % live.size()];
    if (victim.tag()) (void)heap.free_capability(victim);
    victim = allocate();
    if (!victim.tag()) continue;
    for (std::uint64_t slot = 0; slot < 4; ++slot) {  // pointers to other live buffers
      const Capability& other = live[random() % live.size()];
      (void)memory.store_capability(victim, victim.base() + slot * 16, other);
    }
    // ... and reads some back, through the load filter where there is one.
    (void)memory.load_capability(victim, victim.base());
    if (peer) peer->cross(victim.base());
    if (step % 64 == 0) result.peak_quarantine = std::max<std::uint64_t>(result.peak_quarantine, heap.quarantined_bytes());
  }
  result.seconds = seconds_since(start);
  result.sweeps = heap.sweeps();
  result.epochs = heap.page_epochs();
  return result;
}

void churn_rows(std::uint64_t heap_bytes, int steps, int rounds) {
  std::vector<double> off, sweep, filter;
  Churn last_sweep, last_filter;
  for (int r = 0; r < rounds; ++r) {  // interleaved
    off.push_back(churn(Policy::Off, heap_bytes, steps, 0.25).seconds);
    last_sweep = churn(Policy::Sweep, heap_bytes, steps, 0.25);
    sweep.push_back(last_sweep.seconds);
    last_filter = churn(Policy::LoadFilter, heap_bytes, steps, 0.25);
    filter.push_back(last_filter.seconds);
  }
  const double base = median(off);
  const double per_step = 1e9 / steps;
  row("churn-sweep", median(sweep) * per_step, "ns/step", base * per_step, median(sweep) / base);
  row("churn-load-filter", median(filter) * per_step, "ns/step", base * per_step, median(filter) / base);
  row("churn-sweeps", static_cast<double>(last_sweep.sweeps), "sweeps", static_cast<double>(steps), 0);
  // What revocation adds to memory: the shadow (one bit per granule, as the tags) and the
  // quarantine at its peak, against the heap.
  const double heap_mib = static_cast<double>(last_sweep.heap_bytes) / (1 << 20);
  const double shadow_mib = heap_mib / 128;
  row("memory-shadow", shadow_mib, "MiB", heap_mib, shadow_mib / heap_mib);
  const double quarantine_mib = static_cast<double>(last_sweep.peak_quarantine) / (1 << 20);
  row("memory-quarantine-peak", quarantine_mib, "MiB", heap_mib, quarantine_mib / heap_mib);
}

// The page backends' form (`revocation: pages`): buffers of 4 to 64 KiB, whose whole
// pages each free makes inaccessible (an mprotect) until the epoch ends (another per
// block), against the same program with revocation off.
//
// On the process backend each process has page tables of its own: the one that frees
// protects the pages in its own, and the others replay the change at their next gate
// crossing. churn-pages-process is the same churn crossing to a second process at every
// step, against the same crossings with revocation off.
void page_rows(std::uint64_t heap_bytes, int steps, int rounds) {
  std::vector<double> off, pages, off_peer, pages_peer;
  Churn last;
  for (int r = 0; r < rounds; ++r) {
    off.push_back(churn(Policy::Off, heap_bytes, steps, 0.25, 4096, 61440).seconds);
    last = churn(Policy::Pages, heap_bytes, steps, 0.25, 4096, 61440);
    pages.push_back(last.seconds);
    off_peer.push_back(churn(Policy::Off, heap_bytes, steps, 0.25, 4096, 61440, true).seconds);
    pages_peer.push_back(churn(Policy::Pages, heap_bytes, steps, 0.25, 4096, 61440, true).seconds);
  }
  const double base = median(off);
  const double per_step = 1e9 / steps;
  row("churn-pages", median(pages) * per_step, "ns/step", base * per_step, median(pages) / base);
  row("churn-pages-epochs", static_cast<double>(last.epochs), "epochs", static_cast<double>(steps), 0);
  const double base_peer = median(off_peer);
  row("churn-pages-process", median(pages_peer) * per_step, "ns/step", base_peer * per_step,
      median(pages_peer) / base_peer);
  const double heap_mib = static_cast<double>(last.heap_bytes) / (1 << 20);
  const double quarantine_mib = static_cast<double>(last.peak_quarantine) / (1 << 20);
  row("memory-pages-quarantine-peak", quarantine_mib, "MiB", heap_mib, quarantine_mib / heap_mib);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: revocation_bench [--rounds N] [--quick]\n");
      return 2;
    }
  }
  if (quick) rounds = 1;
  sweep_rows(quick ? (8ull << 20) : (256ull << 20), rounds);
  churn_rows(16ull << 20, quick ? 2000 : 200000, rounds);
  page_rows(256ull << 20, quick ? 2000 : 50000, rounds);
  return 0;
}
