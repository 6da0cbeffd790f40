// The backend conformance suite. The same source is built into one image per backend
// (examples/conformance/<driver>.yaml: A in `app`, B in `b`, C in `c`); each test
// states what every backend must do, and where backends differ (isolation), what each
// one does and why.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>

#include "flexcap/lib/conformance_a.hh"
#include "flexcap/lib/conformance_b.hh"
#include "flexcap/lib/conformance_c.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/rt/memory_access.hh"

// The runtime's sigaction (cc/runtime/src/hybrid_signals.cc): what an image's C code
// calls (Redis's, renamed at link time).
extern "C" int flexcap_hybrid_sigaction(int signal, const struct sigaction* action, struct sigaction* previous);

namespace flexcap {
namespace {

namespace a = lib::conformance_a;
namespace b = lib::conformance_b;
namespace c = lib::conformance_c;

constexpr rt::Backend kBackend = image::Backend::kKind;
constexpr bool kIsolates = kBackend != rt::Backend::Fcall;
// Backends that isolate by page protection or address space: only shared memory crosses.
constexpr bool kPageIsolation = kBackend == rt::Backend::Mprotect || kBackend == rt::Backend::Process;

template <class T>
T value(const Expected<rt::Tainted<T>, rt::GateError>& r) {
  EXPECT_TRUE(r) << (r ? "" : r.error().describe());
  return r ? r->unsafe_unverified() : T{};
}

TEST(Gate, PassesScalarsBothWays) { EXPECT_EQ(value(rt::call<b::Exports::add>(1, 2, 3, 4)), 10); }

TEST(Gate, TheSameLibraryIsAPlainCall) {
  // conformance_a calling itself never crosses a gate, whatever the backend.
  EXPECT_EQ(value(rt::call<a::Exports::twice>(21)), 42);
}

TEST(Gate, HandsTheCalleeABufferToRead) {
  cap::Cap<std::byte> block = rt::shared_alloc(8 * sizeof(std::int64_t));
  cap::Cap<std::int64_t> numbers(block.capability(), block.memory());
  for (std::int64_t i = 0; i < 8; ++i) ASSERT_TRUE(numbers.store(static_cast<std::size_t>(i), i + 1));
  EXPECT_EQ(value(rt::call<b::Exports::sum>(numbers.read_only())), 36);
  rt::shared_free(block);
}

TEST(Gate, LetsTheCalleeWriteABuffer) {
  cap::Cap<std::byte> block = rt::shared_alloc(64);
  cap::Cap<std::uint8_t> bytes(block.capability(), block.memory());
  ASSERT_TRUE(rt::call<b::Exports::fill>(bytes, std::uint8_t{0xab}));
  EXPECT_EQ(*bytes.load(0), 0xab);
  EXPECT_EQ(*bytes.load(63), 0xab);
  rt::shared_free(block);
}

TEST(Gate, NestsCallsAToBToC) { EXPECT_EQ(value(rt::call<b::Exports::nested>(5)), 26); }

// Benchmarks report the image's crossings: B's call to C counts too, even where B runs
// in a process of its own.
TEST(Gate, CountsEveryCrossingOfTheImage) {
  const std::uint64_t before = rt::gate_crossings();
  ASSERT_TRUE(rt::call<b::Exports::nested>(5));
  EXPECT_EQ(rt::gate_crossings() - before, 2u);
}

TEST(Gate, LetsTheCalleeCallBackIntoTheCaller) { EXPECT_EQ(value(rt::call<b::Exports::callback>(5)), 11); }

TEST(Gate, CarriesErrorCodesBack) {
  EXPECT_EQ(value(rt::call<b::Exports::divide>(7, 2)), 3);
  EXPECT_EQ(value(rt::call<b::Exports::divide>(7, 0)), -1);
}

TEST(Gate, KeepsTheCalleesStateInItsCompartment) {
  const std::int64_t before = value(rt::call<b::Exports::remembers>());
  ASSERT_TRUE(rt::call<b::Exports::remember>(1234));
  ASSERT_TRUE(rt::call<b::Exports::remember>(1235));
  EXPECT_EQ(value(rt::call<b::Exports::recall>()), 1235);
  // A second state type of the same library is a separate object.
  EXPECT_EQ(value(rt::call<b::Exports::remembers>()), before + 2);
}

TEST(Gate, ResultsAreTaintedUntilVerified) {
  auto r = rt::call<b::Exports::add>(1, 1, 1, 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->verify([](std::int64_t v) { return v == 4; }), 4);
  EXPECT_FALSE(r->verify([](std::int64_t v) { return v < 0; }).has_value());
}

TEST(Gate, AcceptsOnlyMemoryTheCalleeMayBeGiven) {
  // A buffer in A's private heap. Under page protection B cannot see it (and sharing is
  // by capability, not copy); with capabilities A may hand B exactly that buffer.
  cap::Cap<std::byte> mine = rt::private_alloc(32);
  cap::Cap<std::int64_t> numbers(mine.capability(), mine.memory());
  for (std::size_t i = 0; i < 4; ++i) ASSERT_TRUE(numbers.store(i, 10));
  auto r = rt::call<b::Exports::sum>(numbers.read_only());
  if (kPageIsolation) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, rt::GateErrorKind::BadArgument);
    EXPECT_NE(r.error().cause.find("shared_alloc"), std::string::npos) << r.error().describe();
  } else {
    EXPECT_EQ(value(r), 40);
  }
}

TEST(Gate, RefusesForgedCapabilities) {
  cap::Cap<std::byte> block = rt::shared_alloc(16);
  const cap::Capability forged = block.capability().clear_tag();
  auto r = rt::call<b::Exports::sum>(cap::Cap<const std::int64_t>(forged, block.memory()));
  if (kIsolates) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, rt::GateErrorKind::BadArgument);
    EXPECT_NE(r.error().cause.find("not a valid capability"), std::string::npos) << r.error().describe();
  } else {
    // fcall checks nothing: the callee's own access through the forged capability faults.
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault);
  }
  rt::shared_free(block);
}

// --- revocation: pages (examples/conformance/<driver>-pages.yaml) --------------------

bool page_revocation() { return rt::Runtime::get().shared_heap().page_revocation(); }

std::uint64_t base_of(const cap::Cap<std::byte>& block) { return block.capability().base(); }

// Whether this process may read the byte at `address`: a write from it into a pipe
// fails with EFAULT, instead of a signal, where the page is not mapped readable here.
bool readable_here(std::uint64_t address) {
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) return false;
  const ssize_t n = write(pipe_ends[1], reinterpret_cast<const void*>(address), 1);
  const int error = errno;
  close(pipe_ends[0]);
  close(pipe_ends[1]);
  EXPECT_TRUE(n == 1 || error == EFAULT) << "write: " << error;
  return n == 1;
}

void expect_use_after_free(const Expected<rt::Tainted<std::uint64_t>, rt::GateError>& r, std::uint64_t address) {
  ASSERT_FALSE(r) << "b reached a freed shared page at 0x" << std::hex << address;
  EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault);
  EXPECT_EQ(r.error().compartment, "b");
  EXPECT_EQ(r.error().address, address);
  EXPECT_NE(r.error().cause.find("a use after free"), std::string::npos) << r.error().describe();
}

// A free in one compartment takes the block's pages from every other, whichever process
// runs it (on process, at its next gate crossing, before its code runs), until the epoch
// ends; then the same address is handed out again and usable everywhere.
TEST(PageRevocation, AFreedSharedPageIsGoneForEveryCompartmentUntilItsEpochEnds) {
  if (!page_revocation()) GTEST_SKIP() << "this image has no revocation: pages";
  rt::revoke();
  cap::Cap<std::byte> block = rt::shared_alloc(2 * 4096);
  const std::uint64_t address = base_of(block);
  ASSERT_TRUE(rt::call<b::Exports::store>(address + 8, std::uint64_t{5}));
  EXPECT_EQ(value(rt::call<b::Exports::load>(address + 8)), 5u);
  rt::shared_free(block);
  expect_use_after_free(rt::call<b::Exports::load>(address + 8), address + 8);
  EXPECT_FALSE(readable_here(address + 4096));

  rt::revoke();  // the epoch ends here, in the image's compartment
  cap::Cap<std::byte> again = rt::shared_alloc(2 * 4096);
  ASSERT_EQ(base_of(again), address) << "the same pages are handed out again";
  ASSERT_TRUE(rt::call<b::Exports::store>(address + 4096, std::uint64_t{7})) << "and b may use them";
  EXPECT_EQ(rt::hybrid_load<std::uint64_t>(address + 4096), 7u);

  // Freed by b: gone here too once the call returns.
  ASSERT_TRUE(rt::call<b::Exports::release>(cap::Cap<std::uint8_t>(again.capability(), again.memory())));
  EXPECT_FALSE(readable_here(address));
  EXPECT_FALSE(readable_here(address + 4096));
  rt::revoke();
  EXPECT_TRUE(readable_here(address));
}

// More frees than the page log keeps between two of b's crossings: b remakes its
// protections from the quarantine itself.
TEST(PageRevocation, ACompartmentFarBehindStillSeesEveryFreedPageGone) {
  if (!page_revocation()) GTEST_SKIP() << "this image has no revocation: pages";
  rt::revoke();
  ASSERT_TRUE(rt::call<b::Exports::empty>());  // b has seen everything so far
  cap::Cap<std::byte> live = rt::shared_alloc(4096);
  std::uint64_t freed = 0;
  // Several epochs end on the way (at 256 KiB of quarantine). Where they end depends on
  // the bytes in use, which the backend's own buffers move: one more free where the 300th
  // happened to end one, so that the last block freed waits in quarantine.
  const rt::Heap& shared = rt::Runtime::get().shared_heap();
  for (int i = 0; i < 300 || (i < 400 && shared.quarantined_bytes() == 0); ++i) {
    cap::Cap<std::byte> block = rt::shared_alloc(4096);
    freed = base_of(block);
    rt::shared_free(block);
  }
  ASSERT_GT(shared.quarantined_bytes(), 0u) << "the last block freed waits in quarantine";
  expect_use_after_free(rt::call<b::Exports::load>(freed), freed);
  ASSERT_TRUE(rt::call<b::Exports::store>(base_of(live), std::uint64_t{9})) << "a live block stays usable";
  EXPECT_EQ(rt::hybrid_load<std::uint64_t>(base_of(live)), 9u);
  rt::shared_free(live);
  rt::revoke();
}

// --- signals -----------------------------------------------------------------------

std::uint64_t a_secret_address();

struct SignalLog {
  int pipe[2] = {-1, -1};
  std::uint64_t secret = 0;  // in A's private memory
  pid_t main_thread = 0;
  std::atomic<int> handled{0}, on_main_thread{0}, failed_writes{0}, as_sent{0};
};
constexpr pid_t kSender = 4242;  // the siginfo the test sends: the handler must see it
SignalLog g_signals;

// A's handler reads A's memory through the kernel (a write from it, as Redis's SIGTERM
// handler writes its log line): where A's region is closed, the kernel says EFAULT.
void a_handler(int, siginfo_t* info, void*) {
  if (info->si_code == SI_USER && info->si_pid == kSender) ++g_signals.as_sent;
  for (int i = 0; i < 16; ++i) {
    if (write(g_signals.pipe[1], reinterpret_cast<const void*>(g_signals.secret), 8) != 8) ++g_signals.failed_writes;
  }
  if (gettid() == g_signals.main_thread) ++g_signals.on_main_thread;
  ++g_signals.handled;
}

// A signal sent to the process may land on any thread that does not block it: here on
// a second thread (sent there as kill() sends it, SI_USER) while this thread crosses
// gates into b and back. The handler is A's and finds A's memory open for its whole run.
// On mprotect, whose protections are the process's and follow this thread, it runs on
// this thread: anywhere else this thread would close A's region under it.
TEST(Signals, AHandlerHasItsCompartmentsMemoryWhicheverThreadTheSignalLandsOn) {
  if (kBackend == rt::Backend::Cheri) {
    GTEST_SKIP() << "cheri: the image's code runs under its DDC, which does not reach this test's stack; "
                    "hybrid code's handlers are cc/'s HybridMalloc.ASignalHandlerRunsInTheCompartmentThatInstalledIt";
  }
  constexpr int kSignals = 100;
  ASSERT_EQ(pipe2(g_signals.pipe, O_NONBLOCK), 0);
  g_signals.secret = a_secret_address();
  g_signals.main_thread = gettid();
  struct sigaction action {};
  action.sa_sigaction = a_handler;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(flexcap_hybrid_sigaction(SIGUSR1, &action, nullptr), 0);
  std::atomic<bool> done{false};
  std::thread other([&] {
    siginfo_t info{};
    info.si_signo = SIGUSR1;
    info.si_code = SI_USER;
    info.si_pid = kSender;
    info.si_uid = getuid();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int k = 0; k < kSignals && std::chrono::steady_clock::now() < deadline; ++k) {
      syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGUSR1, &info);
      while (g_signals.handled.load() <= k && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    }
    done = true;
  });
  int crossings = 0;
  for (; !done.load(); ++crossings) EXPECT_EQ(value(rt::call<b::Exports::add>(1, 2, 3, 4)), 10);
  other.join();
  struct sigaction none {};
  none.sa_handler = SIG_DFL;
  flexcap_hybrid_sigaction(SIGUSR1, &none, nullptr);

  EXPECT_EQ(g_signals.handled.load(), kSignals);
  EXPECT_EQ(g_signals.as_sent.load(), kSignals) << "the handler sees the siginfo as it was sent";
  EXPECT_EQ(g_signals.failed_writes.load(), 0)
      << "the handler found A's memory closed (EFAULT) after " << crossings << " crossings";
  std::uint64_t word = 0;
  int words = 0;
  while (read(g_signals.pipe[0], &word, sizeof(word)) == sizeof(word)) {
    EXPECT_EQ(word, 0x5ec2e7u);
    ++words;
  }
  EXPECT_EQ(words, 16 * kSignals);
  if (kBackend == rt::Backend::Mprotect) {
    EXPECT_EQ(g_signals.on_main_thread.load(), kSignals) << "sent on to the thread that crosses gates";
  } else {
    EXPECT_EQ(g_signals.on_main_thread.load(), 0) << "run where it landed";
  }
  close(g_signals.pipe[0]);
  close(g_signals.pipe[1]);
}

// --- threads -----------------------------------------------------------------------

// The state letter of one of this process's threads (/proc: 'S' while it sleeps in the
// kernel), or '?'.
char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto end_of_name = line.rfind(") ");
  return end_of_name == std::string::npos || end_of_name + 2 >= line.size() ? '?' : line[end_of_name + 2];
}

// A caller's other threads run while its call waits in the kernel in the callee (Redis's
// lazyfree thread while its main thread sits in the net compartment's epoll_wait). Here a
// second thread of A reads A's private memory once this thread sleeps in B, then wakes B.
// On mprotect, whose protections are the process's, that read would wait until B
// returned, and B's wait would time out, but for rt::wait_in_kernel, which maps A again
// for the wait; elsewhere protections are per thread (or B waits in a process of its own).
TEST(Threads, ACallersOtherThreadsRunWhileTheCalleeWaitsInTheKernel) {
  const std::uint64_t secret = a_secret_address();
  cap::Cap<std::byte> block = rt::shared_alloc(sizeof(std::uint32_t));
  cap::Cap<std::uint32_t> word(block.capability(), block.memory());
  ASSERT_TRUE(word.store(0, 0u));
  auto* shared_word = reinterpret_cast<std::uint32_t*>(block.capability().address());
  const pid_t this_thread = gettid();
  std::atomic<bool> calling{false};
  std::atomic<std::uint64_t> read{0};
  std::thread other([&] {
    while (!calling.load()) std::this_thread::yield();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (thread_state(this_thread) != 'S' && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    read = *reinterpret_cast<const volatile std::uint64_t*>(secret);  // A's memory
    __atomic_store_n(shared_word, 1u, __ATOMIC_RELEASE);
    syscall(SYS_futex, shared_word, FUTEX_WAKE, 1, nullptr, nullptr, 0);
  });
  calling = true;
  const auto r = rt::call<b::Exports::wait_for_wake>(word, 5000);
  other.join();
  EXPECT_EQ(value(r), 0) << "B's wait timed out: A's other thread could not read A's memory meanwhile";
  EXPECT_EQ(read.load(), 0x5ec2e7u);
  // B's memory is B's again, for B alone.
  ASSERT_TRUE(rt::call<b::Exports::remember>(std::int64_t{77}));
  EXPECT_EQ(value(rt::call<b::Exports::recall>()), 77);
  rt::shared_free(block);
}

// Where the kernel would write into the callee's own memory, the caller's mapping is not
// put back for the wait: the write would fail (EFAULT) with that memory closed.
TEST(Threads, AWaitThatWritesTheCalleesMemoryKeepsItMapped) {
  EXPECT_EQ(value(rt::call<b::Exports::sleep_in_kernel>(20, 1)), 0) << "pollfd in B's memory";
  EXPECT_EQ(value(rt::call<b::Exports::sleep_in_kernel>(20, 0)), 0) << "pollfd on the stack";
}

// --- isolation and faults: these run last, since they fail compartment b ------------

std::uint64_t a_secret_address() { return value(rt::call<a::Exports::secret_address>()); }

TEST(Isolation, TheCalleeCannotReadTheCallersPrivateMemory) {
  const std::uint64_t secret = a_secret_address();
  auto r = rt::call<b::Exports::load>(secret);
  if (!kIsolates) {
    EXPECT_EQ(value(r), 0x5ec2e7u) << "fcall isolates nothing: B reads A's secret";
    return;
  }
  ASSERT_FALSE(r) << "B read A's private memory";
  EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault);
  EXPECT_EQ(r.error().compartment, "b");
  EXPECT_EQ(r.error().address, secret);
  if (kPageIsolation) {
    EXPECT_NE(r.error().cause.find("page fault"), std::string::npos) << r.error().describe();
    EXPECT_NE(r.error().cause.find("compartment 'app''s private memory"), std::string::npos) << r.error().describe();
  } else {
    EXPECT_NE(r.error().cause.find("capability bounds fault"), std::string::npos) << r.error().describe();
  }
}

TEST(Isolation, TheCalleeCannotWriteTheCallersPrivateMemory) {
  const std::uint64_t secret = a_secret_address();
  auto r = rt::call<b::Exports::store>(secret, std::uint64_t{666});
  const std::uint64_t now = rt::hybrid_load<std::uint64_t>(secret);
  if (!kIsolates) {
    EXPECT_TRUE(r);
    EXPECT_EQ(now, 666u) << "fcall isolates nothing";
    rt::hybrid_store(secret, std::uint64_t{0x5ec2e7});
    return;
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(now, 0x5ec2e7u) << "A's secret changed";
}

TEST(Faults, ACapabilityFaultInTheCalleeBecomesAnErrorAndRestartsIt) {
  ASSERT_TRUE(rt::call<b::Exports::remember>(99));
  auto r = rt::call<b::Exports::overrun>(4u);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault);
  EXPECT_EQ(r.error().compartment, "b");
  EXPECT_NE(r.error().cause.find("capability bounds fault"), std::string::npos) << r.error().describe();
  // b's restart policy is on-fault: the next call finds it re-initialised.
  EXPECT_EQ(value(rt::call<b::Exports::recall>()), 0) << "b's state should have started over";
  EXPECT_EQ(value(rt::call<b::Exports::remembers>()), 0) << "and every state object of it";
  EXPECT_EQ(value(rt::call<b::Exports::overrun>(3u)), 4);
}

TEST(Faults, APageFaultInTheCalleeBecomesAnError) {
  if (!kIsolates) GTEST_SKIP() << "fcall contains no faults: a wild access would end the process";
  auto r = rt::call<b::Exports::load>(std::uint64_t{8});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault);
  EXPECT_EQ(r.error().address, 8u);
}

TEST(Faults, OtherCompartmentsKeepTheirData) {
  const std::uint64_t secret = a_secret_address();
  (void)rt::call<b::Exports::store>(secret, std::uint64_t{1});  // faults on isolating backends
  if (kIsolates) {
    EXPECT_EQ(rt::hybrid_load<std::uint64_t>(secret), 0x5ec2e7u);
  }
  EXPECT_EQ(value(rt::call<b::Exports::nested>(3)), 10) << "b (restarted) and c still work";
}

// Last: on the process backend this ends b's process for good.
TEST(Faults, ACrashedCompartmentProcessIsReportedAndTheOthersGoOn) {
  if (kBackend != rt::Backend::Process) GTEST_SKIP() << "only the process backend survives a killed compartment";
  auto r = rt::call<b::Exports::die>();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, rt::GateErrorKind::Fault);
  EXPECT_NE(r.error().cause.find("died"), std::string::npos) << r.error().describe();
  EXPECT_EQ(value(rt::call<c::Exports::square>(7)), 49) << "c's process is unaffected";
  EXPECT_EQ(rt::hybrid_load<std::uint64_t>(a_secret_address()), 0x5ec2e7u);
}

}  // namespace
}  // namespace flexcap

int main(int argc, char** argv) {
  flexcap::image::start();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
