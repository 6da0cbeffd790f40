// The gate benchmark's image program, compiled as part of gate_bench_caller into every
// gate-benchmark image (bench/gates/CMakeLists.txt). What it measures follows from the
// image's generated header: the backend, how many compartments, whether the callee
// shares by copy, and whether caller and callee are co-located.
//
// For each case it prints one JSON line
//   {"backend","case","compartments","ns_per_call","floor_ns","ratio"}
// where the floor is measured in this process, interleaved with the gate: a direct call
// of a function doing the same work, plus what the backend's gate cannot avoid: on
// mprotect the same mprotect system calls, on process the same message round trip. `flexcap bench gates` runs the
// images and tabulates the lines.
//
//   gate_bench_mprotect_2 [--quick | --min-time SECONDS]
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flexcap/lib/gate_bench_callee.hh"
#include "flexcap/lib/gate_bench_caller.hh"
#include "flexcap/rt/call.hh"

namespace flexcap {
namespace {

namespace callee = lib::gate_bench_callee;
namespace caller = lib::gate_bench_caller;
namespace direct = lib::gate_bench_caller::direct;
using Clock = std::chrono::steady_clock;

constexpr rt::Backend kBackend = image::Backend::kKind;
constexpr int kCompartments = static_cast<int>(std::size(image::kCompartments));
constexpr int kCallerIndex = image::compartment_index(caller::Library::name);
constexpr int kCalleeIndex = image::compartment_index(callee::Library::name);
constexpr bool kColocated = kCallerIndex == kCalleeIndex;
constexpr bool kCopySharing = image::kCompartments[kCalleeIndex].sharing == rt::Sharing::Copy;
constexpr int kRuns = 5;  // the median of five, as every FlexCap benchmark reports

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "gate benchmark (%s): %s\n", std::string(image::kConfigPath).c_str(), why.c_str());
  std::exit(2);
}

// Nanoseconds per call of `op` over `iterations` back-to-back calls. `op` is a lambda,
// inlined here, so the loop adds the same few cycles to a floor and to a gate.
template <class Op>
double ns_per_call(Op& op, std::uint64_t iterations) {
  op();  // untimed: wakes a peer process that fell asleep while the other side was measured
  const Clock::time_point start = Clock::now();
  for (std::uint64_t i = 0; i < iterations; ++i) op();
  const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start;
  return elapsed.count() / static_cast<double>(iterations);
}

// Warm-up and calibration in one: doubles the batch until it runs for a twentieth of
// the budget (by then caches, branch predictors and page tables are warm), then returns
// the count that makes one run last at least `min_seconds`.
template <class Op>
std::uint64_t calibrate(Op& op, double min_seconds) {
  std::uint64_t n = 1;
  double ns = 0;
  for (;;) {
    ns = ns_per_call(op, n);
    if (ns * static_cast<double>(n) >= min_seconds * 1e9 / 20 || n >= (std::uint64_t{1} << 40)) break;
    n *= 2;
  }
  // 10% over the estimate, so that a run is not cut short by a lucky calibration batch.
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(min_seconds * 1e9 / ns * 1.1)));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Measurement {
  double gate_ns;
  double floor_ns;
};

template <class Floor, class Gate>
Measurement measure(Floor floor, Gate gate, double min_seconds) {
  const std::uint64_t floor_iterations = calibrate(floor, min_seconds);
  const std::uint64_t gate_iterations = calibrate(gate, min_seconds);
  std::vector<double> floors;
  std::vector<double> gates;
  for (int run = 0; run < kRuns; ++run) {
    // Each gate run right after its floor run: a change of clock frequency or a noisy
    // neighbour during the measurement affects both alike.
    floors.push_back(ns_per_call(floor, floor_iterations));
    gates.push_back(ns_per_call(gate, gate_iterations));
  }
  return {median(gates), median(floors)};
}

void report(std::string_view name, const Measurement& m) {
  std::printf(
      "{\"backend\":\"%s\",\"case\":\"%s\",\"compartments\":%d,\"ns_per_call\":%.3f,\"floor_ns\":%.3f,"
      "\"ratio\":%.4g}\n",
      std::string(rt::to_string(kBackend)).c_str(), std::string(name).c_str(), kCompartments, m.gate_ns, m.floor_ns,
      m.gate_ns / m.floor_ns);
  std::fflush(stdout);
}

// The page-protection changes an mprotect gate makes (rt/backends/src/mprotect.cc,
// MprotectBackend::switch_to): in, the callee's region becomes read-write and then the
// caller's inaccessible; out, the reverse. The floor makes the same four system calls on
// the same two regions, so what remains of the gate's cost is FlexCap's own.
class ProtectionSwitch {
 public:
  ProtectionSwitch(std::span<std::byte> from, std::span<std::byte> to) : from_(from), to_(to) {}
  void enter() const {
    protect(to_, PROT_READ | PROT_WRITE);
    protect(from_, PROT_NONE);
  }
  void leave() const {
    protect(from_, PROT_READ | PROT_WRITE);
    protect(to_, PROT_NONE);
  }

 private:
  static void protect(std::span<std::byte> region, int protection) {
    if (mprotect(region.data(), region.size(), protection) != 0) [[unlikely]] {
      fail(std::string("mprotect failed in the floor: ") + std::strerror(errno));
    }
  }
  std::span<std::byte> from_;
  std::span<std::byte> to_;
};

// The message round trip a process gate makes (rt/backends/src/process.cc): the caller
// posts to the callee's mailbox in shared memory (a store, and FUTEX_WAKE only if the
// callee sleeps) and waits for the reply, spinning 2,000 pauses, then yielding, then
// sleeping on the futex; the callee's process waits and replies the same way. The floor
// runs that protocol between this process and a forked echo process, with no runtime
// around it and no message but the flag.
class RoundTrip {
 public:
  static RoundTrip& get() {
    static RoundTrip* round_trip = new RoundTrip();  // the echo process lives as long as the image
    return *round_trip;
  }
  void operator()() const {
    post(boxes_->request);
    wait(boxes_->reply);
  }

 private:
  struct Box {
    alignas(64) std::atomic<std::uint32_t> full{0};
    std::atomic<std::uint32_t> sleeping{0};
  };
  struct Boxes {
    Box request;
    Box reply;
  };
  RoundTrip() {
    void* p = mmap(nullptr, sizeof(Boxes), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail(std::string("mmap failed in the floor: ") + std::strerror(errno));
    boxes_ = new (p) Boxes();
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) fail(std::string("fork failed in the floor: ") + std::strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the image, like a compartment's process
      if (getppid() != parent) _exit(0);
      for (;;) {
        wait(boxes_->request);
        post(boxes_->reply);
      }
    }
  }
  static long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t value, const timespec* timeout) {
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, value, timeout, nullptr, 0);
  }
  static void post(Box& box) {
    box.full.store(1, std::memory_order_seq_cst);
    if (box.sleeping.load(std::memory_order_seq_cst) != 0) futex(box.full, FUTEX_WAKE, 1, nullptr);
  }
  static void wait(Box& box) {
    bool full = false;
    for (int spin = 0; spin < 2000 && !full; ++spin) {
      full = box.full.load(std::memory_order_acquire) == 1;
      if (!full) __builtin_ia32_pause();
    }
    for (int round = 0; round < 50 && !full; ++round) {
      full = box.full.load(std::memory_order_acquire) == 1;
      if (!full) sched_yield();
    }
    const timespec tick{0, 20'000'000};
    while (!full) {
      box.sleeping.store(1, std::memory_order_seq_cst);
      full = box.full.load(std::memory_order_seq_cst) == 1;
      if (!full) futex(box.full, FUTEX_WAIT, 0, &tick);
      full = box.full.load(std::memory_order_acquire) == 1;
    }
    box.sleeping.store(0, std::memory_order_relaxed);
    box.full.store(0, std::memory_order_release);
  }
  Boxes* boxes_ = nullptr;
};

// The floor of a case: its direct call, and around it what the backend's gate must do
// at the least (mprotect: its system calls; process: its message round trip).
template <class Work>
auto floor_of(Work work) {
  if constexpr (kColocated) {
    return work;
  } else if constexpr (kBackend == rt::Backend::Mprotect) {
    rt::Runtime& runtime = rt::Runtime::get();
    const ProtectionSwitch protection(runtime.compartment(kCallerIndex).memory().unsafe_bytes(),
                                      runtime.compartment(kCalleeIndex).memory().unsafe_bytes());
    return [work, protection] {
      protection.enter();
      work();
      protection.leave();
    };
  } else if constexpr (kBackend == rt::Backend::Process) {
    const RoundTrip* round_trip = &RoundTrip::get();
    return [work, round_trip] {
      work();
      (*round_trip)();
    };
  } else {
    // fcall, cheri, and any backend without a floor of its own yet.
    return work;
  }
}

[[noreturn, gnu::noinline]] void fail(const rt::GateError& error) { fail(error.describe()); }

// What any call site does with a gate's result. Forced inline with the error path out
// of line, so that the harness adds no call of its own to what is timed.
template <class R>
[[gnu::always_inline]] inline void check(const R& result) {
  if (!result) [[unlikely]]
    fail(result.error());
}

template <class T>
[[gnu::always_inline]] inline T value(const Expected<rt::Tainted<T>, rt::GateError>& result) {
  check(result);
  return result->unsafe_unverified();
}

cap::Cap<std::uint8_t> as_bytes(const cap::Cap<std::byte>& block) {
  return cap::Cap<std::uint8_t>(block.capability(), block.memory());
}

int run(double min_seconds) {
  std::int64_t sum = 0;  // every result, handed to gate_bench_caller at the end

  if constexpr (kColocated) {
    // Both libraries in one compartment: rt::call must be the plain call.
    const auto floor = floor_of([] { direct::empty(); });
    const auto gate = [] { check(rt::call<callee::Exports::empty>()); };
    report("colocated", measure(floor, gate, min_seconds));
  } else if constexpr (kCopySharing) {
    // A buffer in the caller's private heap, which the gate copies through the shared
    // region on backends that cannot hand it over by reference.
    const cap::Cap<std::uint8_t> buffer = as_bytes(rt::private_alloc(callee::kBufferBytes));
    // Once, untimed: the callee must see the caller's bytes, and its write must come back.
    const std::uint8_t first = *buffer.load(0);
    const std::int64_t last = *buffer.load(callee::kBufferBytes - 1);
    if (value(rt::call<callee::Exports::touch>(buffer)) != first + last) fail("the callee saw other bytes");
    if (*buffer.load(0) != static_cast<std::uint8_t>(first + 1)) fail("the callee's write did not come back");
    // The floor does the same work on a shared buffer, which needs no copy: what the
    // callee would touch had the caller allocated it there. (On mprotect it could not
    // touch the private one: the floor makes the caller's region inaccessible.)
    const cap::Cap<std::uint8_t> shared = as_bytes(rt::shared_alloc(callee::kBufferBytes));
    const auto floor = floor_of([&sum, shared] { sum += direct::touch(shared); });
    const auto gate = [&sum, buffer] { sum += value(rt::call<callee::Exports::touch>(buffer)); };
    report("buffer4k-copy", measure(floor, gate, min_seconds));
  } else {
    if (value(rt::call<callee::Exports::args4>(1, 2, 3, 4)) != 10) fail("args4 through the gate is wrong");
    const auto empty_floor = floor_of([] { direct::empty(); });
    const auto empty_gate = [] { check(rt::call<callee::Exports::empty>()); };
    report("empty", measure(empty_floor, empty_gate, min_seconds));

    const auto args4_floor = floor_of([&sum] { sum += direct::args4(1, 2, 3, 4); });
    const auto args4_gate = [&sum] { sum += value(rt::call<callee::Exports::args4>(1, 2, 3, 4)); };
    report("args4", measure(args4_floor, args4_gate, min_seconds));

    // A buffer in the shared region, handed over as a capability (zero copy).
    const cap::Cap<std::uint8_t> buffer = as_bytes(rt::shared_alloc(callee::kBufferBytes));
    const auto touch_floor = floor_of([&sum, buffer] { sum += direct::touch(buffer); });
    const auto touch_gate = [&sum, buffer] { sum += value(rt::call<callee::Exports::touch>(buffer)); };
    report("buffer4k-cap", measure(touch_floor, touch_gate, min_seconds));
  }
  check(rt::call<caller::Exports::consume>(sum));
  return 0;
}

}  // namespace
}  // namespace flexcap

int main(int argc, char** argv) {
  // A run of at least 0.2 s per measurement; --quick is for the smoke test, which checks
  // that every case runs, not what it costs.
  double min_seconds = 0.2;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      min_seconds = 0.002;
    } else if (arg == "--min-time" && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--quick | --min-time SECONDS]\n", argv[0]);
      return 1;
    }
  }
  if (!(min_seconds > 0)) {
    std::fprintf(stderr, "%s: --min-time must be a positive number of seconds\n", argv[0]);
    return 1;
  }
  flexcap::image::start();
  return flexcap::run(min_seconds);
}
