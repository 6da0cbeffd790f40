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
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/call_support.hh"
#include "flexcap/support/descriptor_message.hh"

namespace flexcap::rt {
namespace {

enum MessageKind : std::uint32_t { kRequest = 1, kReply = 2 };

// A call's message moves between CPUs one cache line at a time: the header fits one
// line, the payload follows it and only its used bytes are written, and the fault's
// description comes last and is written only when there is a fault.
struct Mailbox {
  alignas(64) std::atomic<std::uint32_t> full;  // the futex word: 1 while a message waits here
  std::atomic<std::uint32_t> sleeping;          // 1 while the owner sleeps (or is about to) on `full`
  std::uint32_t kind;
  std::int32_t from;
  std::uint32_t entry;
  std::uint32_t bytes;  // of the payload in use
  std::uint32_t faulted;
  std::uint32_t error_kind;
  std::uint64_t fault_address;
  std::atomic<std::int32_t> owner_cpu;  // the CPU the owner was on when it last began to wait
  alignas(64) std::byte payload[internal::kRemotePayloadBytes];
  char cause[400];
};

struct Control {
  std::vector<Mailbox*> mailboxes;
  std::vector<pid_t> pids;  // pids[i]: the process running compartment i
  // Descriptors sent to compartment i go in at send[i] and come out at receive[i]
  // (a datagram socket pair each; every process holds both ends, only i reads).
  std::vector<int> send, receive;
};

Control* g_control = nullptr;

// A descriptor sent in an image whose compartments share one process (send_descriptor).
std::atomic<int> g_pending_descriptor{-1};

// Whether `pid` (a compartment's process) has ended: gone, or a zombie that no one has
// reaped yet (the image's process reaps only what it waits for: an application that
// forks, such as Redis, waits for its own children).
bool process_gone(pid_t pid) {
  if (kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const std::size_t name_end = text.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= text.size()) return false;
  const char state = text[name_end + 2];
  if (state != 'Z' && state != 'X') return false;
  waitpid(pid, nullptr, WNOHANG);  // reaped, if it is this process's child
  return true;
}

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout) {
  // Not FUTEX_PRIVATE: the word is in memory shared between processes.
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, timeout, nullptr, 0);
}

// A wake-up is a system call; a receiver that is still spinning does not need one.
// Both sides store then load with sequential consistency (the receiver `sleeping` then
// `full`, the sender `full` then `sleeping`), so at least one of them sees the other's
// store: either the receiver sees the message and does not sleep, or the sender sees
// the sleeper and wakes it.
void post(Mailbox& box) {
  box.full.store(1, std::memory_order_seq_cst);
  if (box.sleeping.load(std::memory_order_seq_cst) != 0) futex(&box.full, FUTEX_WAKE, 1, nullptr);
}

// Waits until `box` holds a message from `peer` (a compartment). Spins first (a round
// trip takes well under a microsecond), unless the peer's process last ran on this
// CPU: then spinning only delays it, so the waiter yields at once. Then it sleeps on
// the futex. While waiting for a peer's answer (peer_pid > 0) it wakes every 20 ms to
// see whether the peer's process still exists; an idle compartment sleeps until called.
bool wait_for_message(Mailbox& box, int peer, pid_t peer_pid) {
  // Spinning only helps when the peer runs on another CPU at the same time.
  static const bool alone = [] {
    cpu_set_t cpus;
    return sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) < 2;
  }();
  const int cpu = sched_getcpu();
  box.owner_cpu.store(cpu, std::memory_order_relaxed);
  const bool beside_peer = g_control->mailboxes[static_cast<std::size_t>(peer)]->owner_cpu.load(
                               std::memory_order_relaxed) == cpu;
  const int spins = alone || beside_peer ? 0 : 2000;
  for (int spin = 0; spin < spins; ++spin) {
    if (box.full.load(std::memory_order_acquire) == 1) return true;
    __builtin_ia32_pause();
  }
  for (int round = 0; round < 50; ++round) {
    if (box.full.load(std::memory_order_acquire) == 1) return true;
    sched_yield();
  }
  const timespec tick{0, 20'000'000};
  for (;;) {
    box.sleeping.store(1, std::memory_order_seq_cst);
    if (box.full.load(std::memory_order_seq_cst) == 1) break;
    futex(&box.full, FUTEX_WAIT, 0, peer_pid > 0 ? &tick : nullptr);
    if (box.full.load(std::memory_order_acquire) == 1) break;
    if (peer_pid > 0 && process_gone(peer_pid)) {
      box.sleeping.store(0, std::memory_order_relaxed);
      return false;  // the peer's process is gone and will never answer
    }
  }
  box.sleeping.store(0, std::memory_order_relaxed);
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
  // Shared pages that other processes freed (or an epoch gave back) while this one
  // waited change here too before the callee runs (revocation: pages).
  rt.shared_heap().catch_up_page_protections();
  // Copy the request out first: serving it may make calls whose replies reuse the box.
  const std::int32_t from = box.from;
  const std::uint32_t entry_id = box.entry;
  std::byte in[internal::kRemotePayloadBytes];
  std::memcpy(in, box.payload, box.bytes);
  box.full.store(0, std::memory_order_release);

  const internal::RemoteEntryInfo& entry = internal::remote_entry(entry_id);
  Compartment& me = rt.compartment(self);
  GateFrame frame;
  frame.caller = from;
  frame.callee = self;
  frame.library = entry.library;
  frame.function = entry.function;
  std::byte out[internal::kRemotePayloadBytes];
  std::size_t out_bytes = 0;
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
    out_bytes = entry.serve(rt, frame, in, out);
    if (frame.faulted) me.mark_failed(frame.error);
  }

  Mailbox& reply = *g_control->mailboxes[static_cast<std::size_t>(from)];
  reply.kind = kReply;
  reply.from = self;
  reply.faulted = frame.faulted ? 1 : 0;
  if (frame.faulted) {
    reply.error_kind = static_cast<std::uint32_t>(frame.error.kind);
    reply.fault_address = frame.error.address;
    copy_cause(reply, frame.error.cause);
  }
  reply.bytes = static_cast<std::uint32_t>(out_bytes);
  std::memcpy(reply.payload, out, out_bytes);
  post(reply);
}

[[noreturn]] void serve_forever(Runtime& rt) {
  Mailbox& box = *g_control->mailboxes[static_cast<std::size_t>(Runtime::current())];
  for (;;) {
    if (wait_for_message(box, box.from, 0) && box.kind == kRequest) serve_request(rt);  // peer: the last caller
  }
}

void protect_all_but(Runtime& rt, int keep) {
  for (int i = 0; i < rt.compartment_count(); ++i) {
    if (i == keep) continue;
    auto bytes = rt.compartment(i).memory().unsafe_bytes();
    mprotect(bytes.data(), bytes.size(), PROT_NONE);
  }
}

// A forked child starts on its parent's CPU, and the scheduler may leave it there: then
// every message is two context switches instead of a store seen by a spinning peer.
// So the child moves itself to another CPU once, and then lets the scheduler place it
// as it likes (a hint, not a pinning).
void move_off_cpu(int parent_cpu) {
  cpu_set_t allowed;
  if (parent_cpu < 0 || sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2) return;
  cpu_set_t elsewhere = allowed;
  CPU_CLR(parent_cpu, &elsewhere);
  if (CPU_COUNT(&elsewhere) == 0) return;
  sched_setaffinity(0, sizeof(elsewhere), &elsewhere);  // migrates now
  sched_setaffinity(0, sizeof(allowed), &allowed);
}

}  // namespace

void ProcessBackend::start(Runtime& rt) {
  g_control = new Control();  // lives as long as the image
  const auto n = static_cast<std::size_t>(rt.compartment_count());
  void* boxes = mmap(nullptr, n * sizeof(Mailbox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (boxes == MAP_FAILED) throw std::runtime_error("flexcap process backend: cannot map the mailboxes");
  // The image's crossing counter, shared by all its processes (after the mailboxes).
  void* counter = mmap(nullptr, sizeof(std::uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (counter == MAP_FAILED) throw std::runtime_error("flexcap process backend: cannot map the crossing counter");
  *static_cast<std::uint64_t*>(counter) = *internal::g_gate_crossings;
  internal::g_gate_crossings = static_cast<std::uint64_t*>(counter);
  for (std::size_t i = 0; i < n; ++i) {
    g_control->mailboxes.push_back(static_cast<Mailbox*>(boxes) + i);
    g_control->mailboxes.back()->owner_cpu.store(-1, std::memory_order_relaxed);  // not waited yet
  }
  g_control->pids.assign(n, getpid());
  for (std::size_t i = 0; i < n; ++i) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0) {
      throw std::runtime_error("flexcap process backend: cannot make a descriptor channel: " +
                               std::string(strerror(errno)));
    }
    g_control->send.push_back(pair[0]);
    g_control->receive.push_back(pair[1]);
  }
  // (A dead compartment's process is seen by process_gone, zombie or not: the image's
  // process does not reap its children automatically, which would take from an
  // application that forks, such as Redis's BGSAVE, the exit status it waits for.)

  const pid_t image = getpid();
  const int image_cpu = sched_getcpu();
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
      move_off_cpu(image_cpu);
      protect_all_but(rt, i);
      install_fault_handler();
      serve_forever(rt);
    }
    g_control->pids[static_cast<std::size_t>(i)] = pid;
  }
  protect_all_but(rt, self);
  install_fault_handler();
}

bool send_descriptor(int to, int fd) {
  if (g_control == nullptr) {  // one process: the receiver duplicates it
    g_pending_descriptor.store(fd, std::memory_order_release);
    return true;
  }
  const char byte = 0;
  return send_with_descriptor(g_control->send[static_cast<std::size_t>(to)], std::span(&byte, 1), fd) == 1;
}

int receive_descriptor() {
  if (g_control == nullptr) {
    const int fd = g_pending_descriptor.exchange(-1, std::memory_order_acq_rel);
    if (fd < 0) {
      errno = ENOENT;
      return -1;
    }
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
  }
  char byte = 0;
  int fd = -1;
  const int receiving = g_control->receive[static_cast<std::size_t>(Runtime::current())];
  if (receive_with_descriptor(receiving, std::span(&byte, 1), &fd, MSG_DONTWAIT) != 1) return -1;
  if (fd < 0) errno = EBADMSG;
  return fd;
}

void ProcessBackend::remote_call(Runtime& rt, GateFrame& frame, std::uint32_t entry, const std::byte* in,
                                 std::size_t in_bytes, std::byte* out) {
  const int self = Runtime::current();
  Mailbox& target = *g_control->mailboxes[static_cast<std::size_t>(frame.callee)];
  target.kind = kRequest;
  target.from = self;
  target.entry = entry;
  target.bytes = static_cast<std::uint32_t>(in_bytes);
  std::memcpy(target.payload, in, in_bytes);
  post(target);

  Mailbox& mine = *g_control->mailboxes[static_cast<std::size_t>(self)];
  const pid_t callee_pid = g_control->pids[static_cast<std::size_t>(frame.callee)];
  for (;;) {
    if (!wait_for_message(mine, frame.callee, callee_pid)) {
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
    std::memcpy(out, mine.payload, mine.bytes);
    mine.full.store(0, std::memory_order_release);
    rt.shared_heap().catch_up_page_protections();  // what the callee freed is gone here too
    return;
  }
}

}  // namespace flexcap::rt
