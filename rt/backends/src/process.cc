// The process backend: one process per compartment.
//
// The image forks one child per compartment other than the default one, after the
// runtime mapped every region: a child keeps its own region private (copy-on-write)
// and sees the others' as inaccessible, and all processes share the shared region and
// the mailboxes. There is one thread of control in the image at any time, so each
// compartment needs a single mailbox: a message in it is either a request (someone
// calls one of its exports) or the reply to the call it is waiting on. While waiting
// for a reply a process serves requests, which is how callbacks (B calls A during A's
// call into B) work.
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/call_support.hh"

namespace flexcap::rt {
namespace {

enum MessageKind : std::uint32_t { kRequest = 1, kReply = 2 };

struct Mailbox {
  std::atomic<std::uint32_t> full;  // the futex word: 1 while a message waits here
  std::uint32_t kind;
  std::int32_t from;
  std::uint32_t entry;
  std::uint32_t faulted;
  std::uint32_t error_kind;
  std::uint64_t fault_address;
  char cause[400];
  alignas(16) std::byte payload[internal::kRemotePayloadBytes];
};

struct Control {
  std::vector<Mailbox*> mailboxes;
  std::vector<pid_t> pids;  // pids[i]: the process running compartment i
};

Control* g_control = nullptr;

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout) {
  // Not FUTEX_PRIVATE: the word is in memory shared between processes.
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, timeout, nullptr, 0);
}

void post(Mailbox& box) {
  box.full.store(1, std::memory_order_release);
  futex(&box.full, FUTEX_WAKE, 1, nullptr);
}

// Waits until `box` holds a message. Spins first (a round trip takes microseconds),
// then yields the CPU (the peer may need this one), then sleeps on the futex. While
// waiting for a peer's answer it wakes every 20 ms to see whether the peer's process
// still exists; an idle compartment (peer 0) sleeps until it is called.
bool wait_for_message(Mailbox& box, pid_t peer) {
  for (int spin = 0; spin < 2000; ++spin) {
    if (box.full.load(std::memory_order_acquire) == 1) return true;
    __builtin_ia32_pause();
  }
  for (int round = 0; round < 50; ++round) {
    if (box.full.load(std::memory_order_acquire) == 1) return true;
    sched_yield();
  }
  const timespec tick{0, 20'000'000};
  while (box.full.load(std::memory_order_acquire) == 0) {
    futex(&box.full, FUTEX_WAIT, 0, peer > 0 ? &tick : nullptr);
    if (box.full.load(std::memory_order_acquire) == 0 && peer > 0 && kill(peer, 0) != 0 && errno == ESRCH) {
      return false;  // the peer's process is gone and will never answer
    }
  }
  return true;
}

void copy_cause(Mailbox& box, const std::string& cause) {
  const std::size_t n = std::min(cause.size(), sizeof(box.cause) - 1);
  std::memcpy(box.cause, cause.data(), n);
  box.cause[n] = '\0';
}

// Serves the request waiting in this process's mailbox, and replies to its sender.
void serve_request(Runtime& rt) {
  const int self = Runtime::current();
  Mailbox& box = *g_control->mailboxes[static_cast<std::size_t>(self)];
  // Copy the request out first: serving it may make calls whose replies reuse the box.
  const std::int32_t from = box.from;
  const std::uint32_t entry_id = box.entry;
  std::byte in[internal::kRemotePayloadBytes];
  std::memcpy(in, box.payload, sizeof(in));
  box.full.store(0, std::memory_order_release);

  const internal::RemoteEntryInfo& entry = internal::remote_entry(entry_id);
  Compartment& me = rt.compartment(self);
  GateFrame frame;
  frame.caller = from;
  frame.callee = self;
  frame.library = entry.library;
  frame.function = entry.function;
  std::byte out[internal::kRemotePayloadBytes] = {};
  bool refused = false;
  if (me.failed()) {
    if (me.spec().restart == RestartPolicy::Never) {
      refused = true;
      frame.faulted = true;
      frame.error = me.failure();
      frame.error.kind = GateErrorKind::CompartmentFailed;
      frame.error.cause = "it faulted before and its restart policy is `never` (" + me.failure().cause + ")";
    } else {
      me.reset();
    }
  }
  if (!refused) {
    entry.serve(rt, frame, in, out);
    if (frame.faulted) me.mark_failed(frame.error);
  }

  Mailbox& reply = *g_control->mailboxes[static_cast<std::size_t>(from)];
  reply.kind = kReply;
  reply.from = self;
  reply.faulted = frame.faulted ? 1 : 0;
  reply.error_kind = static_cast<std::uint32_t>(frame.error.kind);
  reply.fault_address = frame.error.address;
  copy_cause(reply, frame.error.cause);
  std::memcpy(reply.payload, out, sizeof(out));
  post(reply);
}

[[noreturn]] void serve_forever(Runtime& rt) {
  Mailbox& box = *g_control->mailboxes[static_cast<std::size_t>(Runtime::current())];
  for (;;) {
    if (wait_for_message(box, 0) && box.kind == kRequest) serve_request(rt);
  }
}

void protect_all_but(Runtime& rt, int keep) {
  for (int i = 0; i < rt.compartment_count(); ++i) {
    if (i == keep) continue;
    auto bytes = rt.compartment(i).memory().unsafe_bytes();
    mprotect(bytes.data(), bytes.size(), PROT_NONE);
  }
}

}  // namespace

void ProcessBackend::start(Runtime& rt) {
  g_control = new Control();  // lives as long as the image
  const auto n = static_cast<std::size_t>(rt.compartment_count());
  void* boxes = mmap(nullptr, n * sizeof(Mailbox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (boxes == MAP_FAILED) throw std::runtime_error("flexcap process backend: cannot map the mailboxes");
  for (std::size_t i = 0; i < n; ++i) g_control->mailboxes.push_back(static_cast<Mailbox*>(boxes) + i);
  g_control->pids.assign(n, getpid());
  // Children are reaped automatically, so a dead one disappears at once (kill(pid, 0)
  // fails with ESRCH) and no zombie lingers.
  struct sigaction reap {};
  reap.sa_handler = SIG_DFL;
  reap.sa_flags = SA_NOCLDWAIT;
  sigaction(SIGCHLD, &reap, nullptr);

  const pid_t image = getpid();
  const int self = Runtime::current();
  for (int i = 0; i < rt.compartment_count(); ++i) {
    if (i == self) continue;
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("flexcap process backend: fork failed: " + std::string(strerror(errno)));
    if (pid == 0) {
      // The compartment's process: it dies with the image, and runs only its exports.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != image) _exit(0);
      Runtime::set_current(i);
      protect_all_but(rt, i);
      install_fault_handler();
      serve_forever(rt);
    }
    g_control->pids[static_cast<std::size_t>(i)] = pid;
  }
  protect_all_but(rt, self);
  install_fault_handler();
}

void ProcessBackend::remote_call(Runtime& rt, GateFrame& frame, std::uint32_t entry, const std::byte* in,
                                 std::byte* out) {
  const int self = Runtime::current();
  Mailbox& target = *g_control->mailboxes[static_cast<std::size_t>(frame.callee)];
  target.kind = kRequest;
  target.from = self;
  target.entry = entry;
  std::memcpy(target.payload, in, sizeof(target.payload));
  post(target);

  Mailbox& mine = *g_control->mailboxes[static_cast<std::size_t>(self)];
  const pid_t callee_pid = g_control->pids[static_cast<std::size_t>(frame.callee)];
  for (;;) {
    if (!wait_for_message(mine, callee_pid)) {
      frame.faulted = true;
      frame.error =
          GateError{GateErrorKind::Fault, std::string(rt.compartment(frame.callee).name()),
                    std::string(frame.library) + "." + std::string(frame.function), 0,
                    "the compartment's process (pid " + std::to_string(callee_pid) + ") died during the call"};
      return;
    }
    if (mine.kind == kRequest) {
      serve_request(rt);  // a callback while we wait
      continue;
    }
    frame.faulted = mine.faulted != 0;
    if (frame.faulted) {
      frame.error =
          GateError{static_cast<GateErrorKind>(mine.error_kind), std::string(rt.compartment(frame.callee).name()),
                    std::string(frame.library) + "." + std::string(frame.function), mine.fault_address, mine.cause};
    }
    std::memcpy(out, mine.payload, internal::kRemotePayloadBytes);
    mine.full.store(0, std::memory_order_release);
    return;
  }
}

}  // namespace flexcap::rt
