// Redis's sockets and readiness calls, sent to the net micro-library; and its fault
// signal handlers, kept behind FlexCap's (flexcap_redis_sigaction).
//
// Redis is linked unmodified: its object's calls to socket, read, epoll_wait, ... are
// renamed at link time to the flexcap_redis_* functions here (apps/redis/source/
// redis-objects.sh lists them). A descriptor the net library opened is known here by a
// number of Redis's own, reserved in this process (a duplicate of /dev/null holds it),
// so that no file Redis opens can ever get the same number, even where the net library
// runs in another process. Every other descriptor (files, pipes, standard streams) is
// the host's and goes straight to the C library, through the hybrid wrappers where those
// exist (which check Redis's buffers against its DDC in cheri images); one that Redis
// asks the net library's epoll to watch (its modules' pipe) is handed to the net library
// (rt::send_descriptor: SCM_RIGHTS on the process backend).
//
// Data crosses through one transfer buffer in the shared region, as capabilities bounded
// to the bytes concerned: read-only for what Redis sends, store-only for what it
// receives. Only Redis's main thread does network I/O (its background threads close and
// sync files); the descriptor table is locked for them anyway.
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <vector>

#include "flexcap/cc/hybrid_runtime.hh"
#include "flexcap/lib/net.hh"
#include "flexcap/rt/backends.hh"
#include "flexcap/rt/call.hh"
#include "flexcap/rt/runtime.hh"
#include "redis_shim.hh"

namespace net = flexcap::lib::net;
namespace cap = flexcap::cap;
namespace rt = flexcap::rt;
using flexcap::redis::forked_from_image;
using flexcap::redis::kTransfer;
using flexcap::redis::transfer_buffer;
using flexcap::redis::window;

extern "C" {
// The hybrid runtime's C library wrappers (cc/runtime/src/hybrid_libc.cc).
ssize_t flexcap_hybrid_read(int fd, void* buffer, std::size_t n);
ssize_t flexcap_hybrid_write(int fd, const void* buffer, std::size_t n);
int flexcap_hybrid_fcntl(int fd, int command, ...);
int flexcap_hybrid_sigaction(int signal, const struct sigaction* action, struct sigaction* previous);
}

namespace {

constexpr int kMaxDescriptors = 1 << 16;

// Redis's number → the net library's descriptor (-1: not the net library's).
class Descriptors {
 public:
  Descriptors() {
    std::fill(std::begin(net_), std::end(net_), -1);
    std::fill(std::begin(watched_), std::end(watched_), -1);
  }

  int net_of(int fd) const {
    return fd >= 0 && fd < kMaxDescriptors ? net_[fd].load(std::memory_order_acquire) : -1;
  }
  // A number of Redis's own for the net library's descriptor `theirs`; -1 (errno set)
  // when this process has none left.
  int adopt(int theirs) {
    const int ours = flexcap::redis::reserve_number();
    if (ours >= 0) net_[ours].store(theirs, std::memory_order_release);
    return ours;
  }
  void forget(int ours) {
    net_[ours].store(-1, std::memory_order_release);
    ::close(ours);
  }
  // The net library's descriptor behind Redis's number `ours`, now `theirs` (after the
  // net compartment restarted).
  void replace(int ours, int theirs) { net_[ours].store(theirs, std::memory_order_release); }

  // One of Redis's own descriptors (a pipe) that the net library's epoll watches: its
  // copy there (-1: none).
  int watched(int fd) const {
    return fd >= 0 && fd < kMaxDescriptors ? watched_[fd].load(std::memory_order_acquire) : -1;
  }
  void set_watched(int fd, int theirs) {
    if (fd >= 0 && fd < kMaxDescriptors) watched_[fd].store(theirs, std::memory_order_release);
  }

 private:
  std::atomic<int> net_[kMaxDescriptors];
  std::atomic<int> watched_[kMaxDescriptors];
};

Descriptors& descriptors() {
  static Descriptors* table = new Descriptors();  // never destroyed: Redis exits from anywhere
  return *table;
}

const pid_t g_image_pid = getpid();

// When the net compartment restarts. A fault there ends its incarnation: the runtime
// closes every descriptor it held (rt/descriptors.hh) and, with `restart: on-fault`, the
// next call starts it afresh, holding none. Redis is not told: its listening sockets and
// its epoll instance keep their numbers here. So this glue remembers how each was made,
// and after a fault makes them again in the new incarnation under the same numbers of
// Redis's (socket, its options and status flags, bind, listen; epoll_create and every
// watch Redis asked for). A connection cannot be made again: it ends. Redis hears of it
// as readiness on its next epoll_wait, then EBADF from the net library, and frees the
// client as after any connection error. Its keyspace is in its own compartment and
// stays.
constexpr int kEnded = 1 << 24;  // a number the net library never gives: its answer is EBADF

struct SocketRecipe {
  int domain = 0, type = 0, protocol = 0;
  std::vector<std::tuple<int, int, std::vector<std::byte>>> options;  // level, name, value
  long status_flags = -1;                                             // F_SETFL's argument
  std::optional<net::SocketAddress> bound;
  int backlog = -1;  // listening: made again after a restart
};

struct Recovery {
  std::mutex mutex;
  std::map<int, SocketRecipe> sockets;                // by Redis's number
  std::map<int, std::map<int, epoll_event>> watches;  // Redis's epoll → its descriptor → the event asked for
  std::map<int, std::vector<epoll_event>> ended;      // readiness made up for ended connections, by epoll
  std::atomic<bool> net_faulted{false};
};
Recovery& recovery() {
  static auto* r = new Recovery();  // never destroyed, as descriptors()
  return *r;
}

template <class T>
cap::Cap<T> window_of_one() {
  std::size_t one = 1;
  return window<T>(one);
}

// The net library's answer as the C library gives it: the value, or -1 with errno. A
// refused gate (the net compartment faulted) is an I/O error on this descriptor; Redis
// closes the connection and goes on.
long answer(const rt::GateResult<std::int64_t>& r) {
  if (!r) {
    if (r.error().kind == rt::GateErrorKind::Fault) recovery().net_faulted.store(true);
    if (!forked_from_image()) std::fprintf(stderr, "flexcap: net: %s\n", r.error().describe().c_str());
    errno = EIO;
    return -1;
  }
  const std::int64_t v = r->unsafe_unverified();  // a count, a descriptor or -errno: checked by each caller
  if (v < 0) {
    errno = static_cast<int>(-v);
    return -1;
  }
  return static_cast<long>(v);
}

// What a forked child gets from the net library's descriptors (see above), before it
// touches the transfer buffer, which it shares with its parent there.
int refused_in_child() {
  errno = EIO;
  return -1;
}

// rt::call into the net library, except from a forked child (an I/O error there).
template <const auto& E, class... Args>
auto call_net(Args&&... args) -> decltype(rt::call<E>(std::forward<Args>(args)...)) {
  if (forked_from_image()) {
    return flexcap::Unexpected(rt::GateError{rt::GateErrorKind::NotExported, "net", std::string(E.name), 0,
                                             "a child that Redis forked cannot call the net compartment, which "
                                             "its parent uses"});
  }
  return rt::call<E>(std::forward<Args>(args)...);
}

// The net library's descriptor, adopted under a number of Redis's own.
int adopt(long theirs) {
  if (theirs < 0) return -1;
  const int ours = descriptors().adopt(static_cast<int>(theirs));
  if (ours < 0) {
    const int saved = errno;
    (void)call_net<net::Exports::close>(static_cast<std::int32_t>(theirs));
    errno = saved;
  }
  return ours;
}

cap::Cap<net::SocketAddress> address_in(const sockaddr* address, socklen_t length) {
  net::SocketAddress a{};
  a.length = std::min<socklen_t>(length, sizeof(a.bytes));
  flexcap::cc::check_range(address, a.length, FLEXCAP_HYBRID_LOAD);
  std::memcpy(a.bytes, address, a.length);
  cap::Cap<net::SocketAddress> w = window_of_one<net::SocketAddress>();
  rt::check(w.store(0, a));
  return w;
}

// Copies an address the net library wrote into Redis's (sockaddr, length) pair, truncated
// to the room Redis gave, as the kernel does.
void address_out(const cap::Cap<net::SocketAddress>& w, sockaddr* address, socklen_t* length) {
  if (address == nullptr || length == nullptr) return;
  const net::SocketAddress a = rt::check(w.load(0));
  flexcap::cc::check_range(length, sizeof(*length), FLEXCAP_HYBRID_LOAD_STORE);
  const socklen_t n = std::min<socklen_t>({*length, a.length, sizeof(a.bytes)});
  flexcap::cc::check_range(address, n, FLEXCAP_HYBRID_STORE);
  std::memcpy(address, a.bytes, n);
  *length = a.length;
}

long receive_from_net(int theirs, void* into, std::size_t n, int flags) {
  const cap::Cap<std::byte> exact = window<std::byte>(n);
  flexcap::cc::check_range(into, n, FLEXCAP_HYBRID_STORE);
  const cap::Cap<std::byte> w(
      exact.capability().restrict_permissions(cap::Permission::Store | cap::Permission::Global), exact.memory());
  const long got = answer(call_net<net::Exports::receive>(theirs, w, flags));
  if (got <= 0) return got;
  if (static_cast<std::size_t>(got) > n) {  // more than the window: the net compartment lies
    errno = EIO;
    return -1;
  }
  rt::check(exact.copy_out(0, std::span<std::byte>(static_cast<std::byte*>(into), got)));
  return got;
}

long send_to_net(int theirs, const void* from, std::size_t n, int flags) {
  const cap::Cap<std::byte> w = window<std::byte>(n);
  flexcap::cc::check_range(from, n, FLEXCAP_HYBRID_LOAD);
  rt::check(w.copy_in(0, std::span<const std::byte>(static_cast<const std::byte*>(from), n)));
  const long sent = answer(call_net<net::Exports::send>(theirs, w.read_only(), flags));
  if (sent > static_cast<long>(n)) {
    errno = EIO;
    return -1;
  }
  return sent;
}

// A listening socket as it was made: socket, options, status flags, bind, listen. The
// new descriptor, or -1 (said on standard error).
int remake_listener(const SocketRecipe& r) {
  const long fd = answer(rt::call<net::Exports::socket>(r.domain, r.type, r.protocol));
  if (fd < 0) return -1;
  const int theirs = static_cast<int>(fd);
  bool ok = true;
  for (const auto& [level, name, value] : r.options) {
    std::size_t n = value.size();
    const cap::Cap<std::byte> w = window<std::byte>(n);
    rt::check(w.copy_in(0, std::span<const std::byte>(value.data(), n)));
    ok = ok && answer(rt::call<net::Exports::set_option>(theirs, level, name, w.read_only())) == 0;
  }
  if (r.status_flags >= 0) ok = ok && answer(rt::call<net::Exports::control>(theirs, F_SETFL, r.status_flags)) >= 0;
  if (r.bound) {
    const cap::Cap<net::SocketAddress> w = window_of_one<net::SocketAddress>();
    rt::check(w.store(0, *r.bound));
    ok = ok && answer(rt::call<net::Exports::bind>(theirs, w.read_only())) == 0;
  }
  ok = ok && answer(rt::call<net::Exports::listen>(theirs, r.backlog)) == 0;
  if (!ok) {
    std::fprintf(stderr, "flexcap: net: a listening socket could not be made again after the restart (%s): "
                         "Redis no longer accepts connections on it\n", std::strerror(errno));
    (void)rt::call<net::Exports::close>(theirs);
    return -1;
  }
  return theirs;
}

// One of Redis's own descriptors (a pipe), handed to the net library for its epoll to
// watch: its copy there, or -1.
int hand_over(int fd) {
  const int net_compartment = flexcap::image::compartment_index(net::Library::name);
  if (!flexcap::rt::send_descriptor(net_compartment, fd)) return -1;
  const long theirs = answer(rt::call<net::Exports::adopt>());
  if (theirs < 0) return -1;
  descriptors().set_watched(fd, static_cast<int>(theirs));
  return static_cast<int>(theirs);
}

// After a fault in the net compartment (see Recovery): its listening sockets and epoll
// instances made again, its connections ended.
void recover_net() {
  Recovery& rec = recovery();
  const std::lock_guard lock(rec.mutex);
  std::fprintf(stderr, "flexcap: net: the net compartment faulted: Redis's listening sockets and epoll are made "
                       "again in it, its connections end\n");
  Descriptors& d = descriptors();
  for (int ours = 0; ours < kMaxDescriptors; ++ours) {
    const int old = d.net_of(ours);
    if (old < 0 || old == kEnded) continue;
    int fresh = -1;
    if (rec.watches.contains(ours)) {
      const long e = answer(rt::call<net::Exports::epoll_create>());
      fresh = static_cast<int>(e);
    } else if (const auto it = rec.sockets.find(ours); it != rec.sockets.end() && it->second.backlog >= 0) {
      fresh = remake_listener(it->second);
    }
    d.replace(ours, fresh >= 0 ? fresh : kEnded);
    if (fresh < 0) rec.sockets.erase(ours);
  }
  for (int fd = 0; fd < kMaxDescriptors; ++fd) {
    if (d.watched(fd) >= 0) d.set_watched(fd, -1);  // its copy went with the old incarnation
  }
  for (auto& [epoll, watched] : rec.watches) {
    const int e = d.net_of(epoll);
    std::vector<epoll_event>& ended = rec.ended[epoll];
    for (const auto& [fd, event] : watched) {
      int target = d.net_of(fd);
      if (target == kEnded || e == kEnded) {
        ended.push_back(epoll_event{EPOLLIN | EPOLLERR | EPOLLHUP, event.data});
        continue;
      }
      if (target < 0) target = hand_over(fd);
      if (target < 0) continue;
      const cap::Cap<net::ReadyEvent> w = window_of_one<net::ReadyEvent>();
      rt::check(w.store(0, net::ReadyEvent{event.events, event.data.u64}));
      (void)answer(rt::call<net::Exports::epoll_control>(e, EPOLL_CTL_ADD, target, w.read_only()));
    }
  }
}

// Called first by the glue's calls on the main thread: after a fault in the net
// compartment, the new incarnation gets what Redis had in the old one before any call
// names a descriptor.
void recover_net_if_it_faulted() {
  // (Every glue call passes here: a plain load first, the rest only after a fault.)
  if (!recovery().net_faulted.load(std::memory_order_relaxed)) return;
  if (!flexcap::redis::on_main_thread() || forked_from_image()) return;
  if (recovery().net_faulted.exchange(false)) recover_net();
}

}  // namespace

namespace flexcap::redis {

cap::Cap<std::byte>& transfer_buffer() {
  thread_local cap::Cap<std::byte> buffer = rt::shared_alloc(kTransfer);
  return buffer;
}

int reserve_number() {
  static std::mutex mutex;
  static int source = -1;
  std::lock_guard lock(mutex);
  if (source < 0) source = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int ours = source < 0 ? -1 : ::fcntl(source, F_DUPFD_CLOEXEC, 0);
  if (ours >= kMaxDescriptors) {
    ::close(ours);
    errno = EMFILE;
    return -1;
  }
  return ours;
}

bool forked_child() { return getpid() != g_image_pid; }

// Static initialisers run on the image's main thread.
const pthread_t g_main_thread = pthread_self();
bool on_main_thread() { return pthread_equal(pthread_self(), g_main_thread) != 0; }

// Such a child only closes what it inherited from the net library (its placeholders
// here) and writes its own pipes, which are the host's.
bool forked_from_image() {
  if constexpr (flexcap::image::Backend::kInProcess) {
    return false;
  } else {
    return forked_child();
  }
}

}  // namespace flexcap::redis

extern "C" {

int flexcap_redis_socket(int domain, int type, int protocol) {
  recover_net_if_it_faulted();
  const int ours = adopt(answer(call_net<net::Exports::socket>(domain, type, protocol)));
  if (ours >= 0) {
    const std::lock_guard lock(recovery().mutex);
    recovery().sockets[ours] = SocketRecipe{domain, type, protocol, {}, -1, std::nullopt, -1};
  }
  return ours;
}

int flexcap_redis_bind(int fd, const sockaddr* address, socklen_t length) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::bind(fd, address, length);
  if (forked_from_image()) return refused_in_child();
  const cap::Cap<net::SocketAddress> w = address_in(address, length);
  const int r = static_cast<int>(answer(call_net<net::Exports::bind>(theirs, w.read_only())));
  if (r == 0) {
    const std::lock_guard lock(recovery().mutex);
    if (const auto it = recovery().sockets.find(fd); it != recovery().sockets.end()) it->second.bound = rt::check(w.load(0));
  }
  return r;
}

int flexcap_redis_connect(int fd, const sockaddr* address, socklen_t length) {
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::connect(fd, address, length);
  if (forked_from_image()) return refused_in_child();
  return static_cast<int>(answer(call_net<net::Exports::connect>(theirs, address_in(address, length).read_only())));
}

int flexcap_redis_listen(int fd, int backlog) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::listen(fd, backlog);
  const int r = static_cast<int>(answer(call_net<net::Exports::listen>(theirs, backlog)));
  if (r == 0) {
    const std::lock_guard lock(recovery().mutex);
    if (const auto it = recovery().sockets.find(fd); it != recovery().sockets.end()) it->second.backlog = backlog;
  }
  return r;
}

int flexcap_redis_accept4(int fd, sockaddr* address, socklen_t* length, int flags) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::accept4(fd, address, length, flags);
  const cap::Cap<net::SocketAddress> w = window_of_one<net::SocketAddress>();
  const int client = adopt(answer(call_net<net::Exports::accept>(theirs, w, flags)));
  if (client >= 0) address_out(w, address, length);
  return client;
}

int flexcap_redis_accept(int fd, sockaddr* address, socklen_t* length) {
  return flexcap_redis_accept4(fd, address, length, 0);
}

static int socket_name(int fd, sockaddr* address, socklen_t* length, bool peer) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return peer ? ::getpeername(fd, address, length) : ::getsockname(fd, address, length);
  const cap::Cap<net::SocketAddress> w = window_of_one<net::SocketAddress>();
  const long r = answer(call_net<net::Exports::socket_name>(theirs, w, peer ? 1 : 0));
  if (r == 0) address_out(w, address, length);
  return static_cast<int>(r);
}

int flexcap_redis_getsockname(int fd, sockaddr* address, socklen_t* length) {
  return socket_name(fd, address, length, false);
}

int flexcap_redis_getpeername(int fd, sockaddr* address, socklen_t* length) {
  return socket_name(fd, address, length, true);
}

int flexcap_redis_setsockopt(int fd, int level, int name, const void* value, socklen_t length) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::setsockopt(fd, level, name, value, length);
  if (forked_from_image()) return refused_in_child();
  std::size_t n = length;
  const cap::Cap<std::byte> w = window<std::byte>(n);
  if (n != length) {  // options are a few bytes: one this long is not one
    errno = EINVAL;
    return -1;
  }
  flexcap::cc::check_range(value, n, FLEXCAP_HYBRID_LOAD);
  rt::check(w.copy_in(0, std::span<const std::byte>(static_cast<const std::byte*>(value), n)));
  const int r = static_cast<int>(answer(call_net<net::Exports::set_option>(theirs, level, name, w.read_only())));
  if (r == 0) {
    const std::lock_guard lock(recovery().mutex);
    if (const auto it = recovery().sockets.find(fd); it != recovery().sockets.end()) {
      const auto* bytes = static_cast<const std::byte*>(value);
      it->second.options.emplace_back(level, name, std::vector<std::byte>(bytes, bytes + n));
    }
  }
  return r;
}

int flexcap_redis_getsockopt(int fd, int level, int name, void* value, socklen_t* length) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::getsockopt(fd, level, name, value, length);
  flexcap::cc::check_range(length, sizeof(*length), FLEXCAP_HYBRID_LOAD_STORE);
  std::size_t room = *length;
  const cap::Cap<std::byte> w = window<std::byte>(room);
  flexcap::cc::check_range(value, room, FLEXCAP_HYBRID_STORE);
  const long n = answer(call_net<net::Exports::get_option>(theirs, level, name, w));
  if (n < 0) return -1;
  if (static_cast<std::size_t>(n) > room) {
    errno = EIO;
    return -1;
  }
  rt::check(w.copy_out(0, std::span<std::byte>(static_cast<std::byte*>(value), n)));
  *length = static_cast<socklen_t>(n);
  return 0;
}

ssize_t flexcap_redis_read(int fd, void* into, std::size_t n) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0 && flexcap::redis::is_file(fd)) return flexcap::redis::file_read(fd, into, n);
  if (theirs < 0) return flexcap_hybrid_read(fd, into, n);
  return receive_from_net(theirs, into, n, 0);
}

ssize_t flexcap_redis_recv(int fd, void* into, std::size_t n, int flags) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::recv(fd, into, n, flags);
  return receive_from_net(theirs, into, n, flags);
}

ssize_t flexcap_redis_write(int fd, const void* from, std::size_t n) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0 && flexcap::redis::is_file(fd)) return flexcap::redis::file_write(fd, from, n);
  if (theirs < 0) return flexcap_hybrid_write(fd, from, n);
  if (forked_from_image()) return refused_in_child();
  return send_to_net(theirs, from, n, 0);
}

ssize_t flexcap_redis_send(int fd, const void* from, std::size_t n, int flags) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return ::send(fd, from, n, flags);
  if (forked_from_image()) return refused_in_child();
  return send_to_net(theirs, from, n, flags);
}

// Gathered into the transfer buffer and sent as one write: what writev does on a
// socket (a short count when the socket's buffer is full).
ssize_t flexcap_redis_writev(int fd, const iovec* vectors, int count) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  flexcap::cc::check_range(vectors, sizeof(iovec) * static_cast<std::size_t>(std::max(count, 0)), FLEXCAP_HYBRID_LOAD);
  if (theirs < 0 && flexcap::redis::is_file(fd)) return flexcap::redis::file_writev(fd, vectors, count);
  if (theirs < 0) {
    for (int i = 0; i < count; ++i) flexcap::cc::check_range(vectors[i].iov_base, vectors[i].iov_len, FLEXCAP_HYBRID_LOAD);
    return ::writev(fd, vectors, count);
  }
  if (forked_from_image()) return refused_in_child();
  std::size_t gathered = 0;
  for (int i = 0; i < count && gathered < kTransfer; ++i) {
    const std::size_t n = std::min(vectors[i].iov_len, kTransfer - gathered);
    flexcap::cc::check_range(vectors[i].iov_base, n, FLEXCAP_HYBRID_LOAD);
    rt::check(transfer_buffer().copy_in(
        gathered, std::span<const std::byte>(static_cast<const std::byte*>(vectors[i].iov_base), n)));
    gathered += n;
  }
  const cap::Cap<std::byte> w = window<std::byte>(gathered);  // (a short write if not exact)
  const long sent = answer(call_net<net::Exports::send>(theirs, w.read_only(), 0));
  if (sent > static_cast<long>(gathered)) {
    errno = EIO;
    return -1;
  }
  return sent;
}

int flexcap_redis_close(int fd) {
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs >= 0 || descriptors().watched(fd) >= 0) {
    // (Only for what the net library has: Redis's background threads close files, and
    // take no lock here.)
    Recovery& rec = recovery();
    const std::lock_guard lock(rec.mutex);
    rec.sockets.erase(fd);
    rec.watches.erase(fd);
    rec.ended.erase(fd);
    for (auto& [epoll, watched] : rec.watches) watched.erase(fd);  // (as the kernel's epoll forgets it)
  }
  if (theirs < 0 && flexcap::redis::is_file(fd)) return flexcap::redis::file_close(fd);
  if (theirs < 0) {
    // A pipe the net library's epoll watched: its copy there goes too (which ends the watch).
    if (const int copy = descriptors().watched(fd); copy >= 0) {
      descriptors().set_watched(fd, -1);
      if (!forked_from_image()) (void)call_net<net::Exports::close>(copy);
    }
    return ::close(fd);
  }
  descriptors().forget(fd);
  if (forked_from_image()) return 0;  // the parent's still: only the placeholder goes
  return static_cast<int>(answer(call_net<net::Exports::close>(theirs)));
}

// fcntl's third argument is an int or a pointer: taken as pointer-sized, as the C
// library's own fcntl does.
int flexcap_redis_fcntl(int fd, int command, ...) {
  va_list arguments;
  va_start(arguments, command);
  void* argument = va_arg(arguments, void*);
  va_end(arguments);
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(fd);
  if (theirs < 0) return flexcap_hybrid_fcntl(fd, command, argument);
  const auto value = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(argument));
  const int r = static_cast<int>(answer(call_net<net::Exports::control>(theirs, command, value)));
  if (r >= 0 && command == F_SETFL) {
    const std::lock_guard lock(recovery().mutex);
    if (const auto it = recovery().sockets.find(fd); it != recovery().sockets.end()) it->second.status_flags = value;
  }
  return r;
}

int flexcap_redis_fcntl64(int fd, int command, ...) __attribute__((alias("flexcap_redis_fcntl")));

// Pipes are Redis's own (a forked child inherits them); one that Redis asks the net
// library's epoll to watch is handed to it then (flexcap_redis_epoll_ctl).
int flexcap_redis_pipe2(int ends[2], int flags) {
  flexcap::cc::check_range(ends, 2 * sizeof(int), FLEXCAP_HYBRID_STORE);
  return ::pipe2(ends, flags);
}

int flexcap_redis_pipe(int ends[2]) { return flexcap_redis_pipe2(ends, 0); }

int flexcap_redis_epoll_create1(int) {
  recover_net_if_it_faulted();
  const int ours = adopt(answer(call_net<net::Exports::epoll_create>()));
  if (ours >= 0) {
    const std::lock_guard lock(recovery().mutex);
    recovery().watches[ours];  // an epoll instance, watching nothing yet
  }
  return ours;
}

int flexcap_redis_epoll_create(int size) {
  if (size <= 0) {
    errno = EINVAL;
    return -1;
  }
  return flexcap_redis_epoll_create1(0);
}

int flexcap_redis_epoll_ctl(int epoll, int op, int fd, epoll_event* event) {
  recover_net_if_it_faulted();
  const int their_epoll = descriptors().net_of(epoll);
  int theirs = descriptors().net_of(fd);
  if (their_epoll < 0) return ::epoll_ctl(epoll, op, fd, event);
  if (forked_from_image()) return refused_in_child();
  if (theirs < 0) {
    // One of Redis's own descriptors: handed to the net library, whose epoll watches its
    // copy (the event's data stays Redis's number).
    theirs = descriptors().watched(fd);
    if (theirs < 0 && op == EPOLL_CTL_ADD) {
      theirs = hand_over(fd);
      if (theirs < 0) return -1;
    }
    if (theirs < 0) {
      errno = ENOENT;
      return -1;
    }
  }
  cap::Cap<net::ReadyEvent> w = window_of_one<net::ReadyEvent>();
  if (op != EPOLL_CTL_DEL) {
    flexcap::cc::check_range(event, sizeof(*event), FLEXCAP_HYBRID_LOAD);
    rt::check(w.store(0, net::ReadyEvent{event->events, event->data.u64}));
  }
  const int r = static_cast<int>(answer(call_net<net::Exports::epoll_control>(their_epoll, op, theirs, w.read_only())));
  if (r == 0) {
    const std::lock_guard lock(recovery().mutex);
    if (op == EPOLL_CTL_DEL) {
      recovery().watches[epoll].erase(fd);
    } else {
      recovery().watches[epoll][fd] = *event;
    }
  }
  return r;
}

int flexcap_redis_epoll_wait(int epoll, epoll_event* events, int most, int timeout_ms) {
  flexcap::redis::files_between_events();
  recover_net_if_it_faulted();
  const int theirs = descriptors().net_of(epoll);
  if (theirs < 0) return ::epoll_wait(epoll, events, most, timeout_ms);
  if (most <= 0) {
    errno = EINVAL;
    return -1;
  }
  {
    // Connections a restart of the net compartment ended: ready, so that Redis reads
    // them, hears EBADF and frees their clients.
    const std::lock_guard lock(recovery().mutex);
    std::vector<epoll_event>& ended = recovery().ended[epoll];
    if (!ended.empty()) {
      const std::size_t n = std::min(ended.size(), static_cast<std::size_t>(most));
      flexcap::cc::check_range(events, n * sizeof(epoll_event), FLEXCAP_HYBRID_STORE);
      std::copy_n(ended.end() - static_cast<std::ptrdiff_t>(n), n, events);
      ended.resize(ended.size() - n);
      return static_cast<int>(n);
    }
  }
  std::size_t room = static_cast<std::size_t>(most);
  const cap::Cap<net::ReadyEvent> w = window<net::ReadyEvent>(room);
  flexcap::cc::check_range(events, room * sizeof(epoll_event), FLEXCAP_HYBRID_STORE);
  const long n = answer(call_net<net::Exports::epoll_wait>(theirs, w, timeout_ms));
  if (n <= 0) return static_cast<int>(n);
  if (static_cast<std::size_t>(n) > room) {
    errno = EIO;
    return -1;
  }
  rt::check(w.copy_out(0, std::span<net::ReadyEvent>(reinterpret_cast<net::ReadyEvent*>(events), n)));
  return static_cast<int>(n);
}

// Only the net library's descriptors, as epoll: Redis polls one socket at a time (aeWait).
int flexcap_redis_poll(pollfd* entries, nfds_t count, int timeout_ms) {
  recover_net_if_it_faulted();
  if (count == 0) return ::poll(entries, count, timeout_ms);
  std::size_t room = count;
  cap::Cap<net::PollEntry> w = window<net::PollEntry>(room);
  if (room != count) {
    errno = EINVAL;
    return -1;
  }
  flexcap::cc::check_range(entries, count * sizeof(pollfd), FLEXCAP_HYBRID_LOAD_STORE);
  for (nfds_t i = 0; i < count; ++i) {
    const int theirs = descriptors().net_of(entries[i].fd);
    if (theirs < 0) {
      if (count == 1) return ::poll(entries, count, timeout_ms);
      errno = EPERM;
      return -1;
    }
    if (forked_from_image()) return refused_in_child();
    rt::check(w.store(i, net::PollEntry{theirs, entries[i].events, 0}));
  }
  const long n = answer(call_net<net::Exports::poll>(w, timeout_ms));
  if (n < 0) return -1;
  for (nfds_t i = 0; i < count; ++i) entries[i].revents = rt::check(w.load(i)).revents;
  return static_cast<int>(n);
}

// BGSAVE, BGREWRITEAOF: the child is a copy of Redis's process. Where the net
// compartment is another process (the process backend), the child shares it with its
// parent and never calls it (forked_from_image); elsewhere the child has its own copy of
// every compartment. Either way the files it writes reach its parent's ramfs through a
// channel (redis_files.cc).
pid_t flexcap_redis_fork() {
  flexcap::redis::files_before_fork();
  const pid_t child = ::fork();
  flexcap::redis::files_after_fork(child);
  return child;
}

// Redis installs its crash report for SIGSEGV, SIGBUS, SIGFPE and SIGILL. Where FlexCap
// handles those signals (the backends that contain faults in gates), its handler stays,
// and runs Redis's for the faults outside every gate. Its other handlers (SIGTERM's
// shutdown) run in its compartment, under its DDC, on cheri (the hybrid runtime's
// sigaction, cc/runtime/src/hybrid_signals.cc); elsewhere that is the C library's.
int flexcap_redis_sigaction(int signal, const struct sigaction* action, struct sigaction* previous) {
  return flexcap_hybrid_sigaction(signal, action, previous);
}

}  // extern "C"
