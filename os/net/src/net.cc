#include "flexcap/lib/net.hh"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bitset>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/descriptors.hh"
#include "flexcap/rt/kernel_wait.hh"
#include "flexcap/rt/memory_access.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::net {
namespace {

static_assert(sizeof(ReadyEvent) == sizeof(epoll_event), "ReadyEvent must be laid out as the kernel's epoll_event");
static_assert(sizeof(PollEntry) == sizeof(pollfd), "PollEntry must be laid out as struct pollfd");
static_assert(sizeof(SocketAddress::bytes) >= sizeof(sockaddr_storage), "SocketAddress must hold any address");

// The descriptors this library opened, in its compartment's heap: what it lets callers
// use, and what open_sockets counts. Each is also its compartment's in the runtime's
// ledger (rt/descriptors.hh), which closes them if the compartment restarts: this table
// goes with the heap, the kernel's descriptors would stay open.
constexpr std::size_t kMaxDescriptors = 1 << 16;
struct Descriptors {
  std::bitset<kMaxDescriptors> open;
  void add(long fd) {
    if (fd >= 0 && static_cast<std::size_t>(fd) < kMaxDescriptors) {
      open.set(static_cast<std::size_t>(fd));
      rt::own_descriptor(static_cast<int>(fd));
    }
  }
};
Descriptors& descriptors() { return rt::library_state<Library, Descriptors>(); }

// A descriptor this library did not open is not the caller's to use through it.
bool mine(std::int32_t fd) {
  return fd >= 0 && static_cast<std::size_t>(fd) < kMaxDescriptors && descriptors().open.test(static_cast<std::size_t>(fd));
}

std::int64_t result(long r) { return r < 0 ? -errno : r; }

}  // namespace

std::int64_t Exports::socket_impl(std::int32_t domain, std::int32_t type, std::int32_t protocol) {
  const long fd = ::socket(domain, type, protocol);
  descriptors().add(fd);
  return result(fd);
}

std::int64_t Exports::bind_impl(std::int32_t fd, cap::Cap<const SocketAddress> address) {
  if (!mine(fd)) return -EBADF;
  const SocketAddress a = rt::check(address.load(0));
  if (a.length > sizeof(a.bytes)) return -EINVAL;
  return result(::bind(fd, reinterpret_cast<const sockaddr*>(a.bytes), a.length));
}

std::int64_t Exports::connect_impl(std::int32_t fd, cap::Cap<const SocketAddress> address) {
  if (!mine(fd)) return -EBADF;
  const SocketAddress a = rt::check(address.load(0));
  if (a.length > sizeof(a.bytes)) return -EINVAL;
  return result(::connect(fd, reinterpret_cast<const sockaddr*>(a.bytes), a.length));
}

std::int64_t Exports::listen_impl(std::int32_t fd, std::int32_t backlog) {
  if (!mine(fd)) return -EBADF;
  return result(::listen(fd, backlog));
}

std::int64_t Exports::accept_impl(std::int32_t fd, cap::Cap<SocketAddress> peer, std::int32_t flags) {
  if (!mine(fd)) return -EBADF;
  SocketAddress a{};
  socklen_t length = sizeof(a.bytes);
  const long client = ::accept4(fd, reinterpret_cast<sockaddr*>(a.bytes), &length, flags);
  if (client < 0) return -errno;
  descriptors().add(client);
  if (peer.size() > 0) {
    a.length = length;
    rt::check(peer.store(0, a));
  }
  return client;
}

std::int64_t Exports::socket_name_impl(std::int32_t fd, cap::Cap<SocketAddress> out, std::int32_t peer) {
  if (!mine(fd)) return -EBADF;
  SocketAddress a{};
  socklen_t length = sizeof(a.bytes);
  auto* at = reinterpret_cast<sockaddr*>(a.bytes);
  if ((peer != 0 ? ::getpeername(fd, at, &length) : ::getsockname(fd, at, &length)) < 0) return -errno;
  a.length = length;
  rt::check(out.store(0, a));
  return 0;
}

std::int64_t Exports::set_option_impl(std::int32_t fd, std::int32_t level, std::int32_t name,
                                      cap::Cap<const std::byte> value) {
  if (!mine(fd)) return -EBADF;
  const auto bytes = rt::check(value.read_span(0, value.size()));
  return result(::setsockopt(fd, level, name, bytes.data(), static_cast<socklen_t>(bytes.size())));
}

std::int64_t Exports::get_option_impl(std::int32_t fd, std::int32_t level, std::int32_t name,
                                      cap::Cap<std::byte> value) {
  if (!mine(fd)) return -EBADF;
  const auto bytes = rt::check(value.write_span(0, value.size()));
  socklen_t length = static_cast<socklen_t>(bytes.size());
  if (::getsockopt(fd, level, name, bytes.data(), &length) < 0) return -errno;
  return length;
}

// Straight into the caller's buffer, through the capability's checked window.
// The fault test's hook (apps/redis/test/net_fault_test.sh): with FLEXCAP_TEST_NET_FAULT
// set in the image's environment, receiving the bytes FLEXCAP-NET-FAULT makes this
// library read through a wild pointer, as a bug in a network stack would: a page fault,
// or a capability fault under cheri. Without the variable, the bytes are data.
namespace {
void fault_if_asked(std::span<const std::byte> received) {
  static const bool armed = std::getenv("FLEXCAP_TEST_NET_FAULT") != nullptr;
  constexpr std::string_view kMarker = "FLEXCAP-NET-FAULT";
  if (!armed) return;
  const std::string_view text(reinterpret_cast<const char*>(received.data()), received.size());
  if (text.find(kMarker) == std::string_view::npos) return;
  volatile std::uint64_t wild = 8;  // a near-null pointer
  volatile std::uint64_t sink = rt::hybrid_load<std::uint64_t>(wild);  // volatile: the read must happen
  (void)sink;
}
}  // namespace

std::int64_t Exports::receive_impl(std::int32_t fd, cap::Cap<std::byte> into, std::int32_t flags) {
  if (!mine(fd)) return -EBADF;
  const auto bytes = rt::check(into.write_span(0, into.size()));
  const long got = flags == 0 ? ::read(fd, bytes.data(), bytes.size()) : ::recv(fd, bytes.data(), bytes.size(), flags);
  if (got > 0) fault_if_asked(bytes.first(static_cast<std::size_t>(got)));
  return result(got);
}

std::int64_t Exports::send_impl(std::int32_t fd, cap::Cap<const std::byte> from, std::int32_t flags) {
  if (!mine(fd)) return -EBADF;
  const auto bytes = rt::check(from.read_span(0, from.size()));
  return result(flags == 0 ? ::write(fd, bytes.data(), bytes.size()) : ::send(fd, bytes.data(), bytes.size(), flags));
}

std::int64_t Exports::close_impl(std::int32_t fd) {
  if (!mine(fd)) return -EBADF;
  descriptors().open.reset(static_cast<std::size_t>(fd));
  rt::release_descriptor(fd);
  return result(::close(fd));
}

std::int64_t Exports::control_impl(std::int32_t fd, std::int32_t command, std::int64_t argument) {
  if (!mine(fd)) return -EBADF;
  switch (command) {
    case F_GETFL:
    case F_GETFD:
      return result(::fcntl(fd, command));
    case F_SETFL:
    case F_SETFD:
      return result(::fcntl(fd, command, static_cast<int>(argument)));
    default:
      return -EINVAL;
  }
}

std::int64_t Exports::epoll_create_impl() {
  const long fd = ::epoll_create1(EPOLL_CLOEXEC);
  descriptors().add(fd);
  return result(fd);
}

std::int64_t Exports::epoll_control_impl(std::int32_t epoll, std::int32_t op, std::int32_t fd,
                                         cap::Cap<const ReadyEvent> event) {
  if (!mine(epoll) || !mine(fd)) return -EBADF;
  epoll_event e{};
  if (op != EPOLL_CTL_DEL) {
    const ReadyEvent r = rt::check(event.load(0));
    e.events = r.events;
    e.data.u64 = r.data;
  }
  return result(::epoll_ctl(epoll, op, fd, &e));
}

// A wait that may block is made with rt::wait_in_kernel: on mprotect the caller's other
// threads (Redis's lazyfree thread) run while this one sleeps here, which an idle Redis
// does almost all the time. One that finds something ready at once (a server under load)
// needs no switch, so it is tried first without waiting. `wait(timeout)` writes `out`.
namespace {
template <class Wait>
std::int64_t ready_or_wait(std::span<const std::byte> out, std::int32_t timeout_ms, Wait wait) {
  int ready = wait(0);
  if (ready == 0 && timeout_ms != 0) ready = rt::wait_in_kernel(out, [&] { return wait(timeout_ms); });
  return result(ready);
}
}  // namespace

std::int64_t Exports::epoll_wait_impl(std::int32_t epoll, cap::Cap<ReadyEvent> events, std::int32_t timeout_ms) {
  if (!mine(epoll)) return -EBADF;
  if (events.size() == 0) return -EINVAL;
  const auto out = rt::check(events.write_span(0, events.size()));
  return ready_or_wait(std::as_bytes(out), timeout_ms, [&](int timeout) {
    return ::epoll_wait(epoll, reinterpret_cast<epoll_event*>(out.data()), static_cast<int>(out.size()), timeout);
  });
}

std::int64_t Exports::poll_impl(cap::Cap<PollEntry> entries, std::int32_t timeout_ms) {
  const auto all = rt::check(entries.write_span(0, entries.size()));
  for (PollEntry& e : all) {
    if (!mine(e.fd)) return -EBADF;
  }
  return ready_or_wait(std::as_bytes(all), timeout_ms,
                       [&](int timeout) { return ::poll(reinterpret_cast<pollfd*>(all.data()), all.size(), timeout); });
}

std::int64_t Exports::adopt_impl() {
  const long fd = rt::receive_descriptor();
  descriptors().add(fd);
  return result(fd);
}

std::int64_t Exports::open_sockets_impl() { return static_cast<std::int64_t>(descriptors().open.count()); }

}  // namespace flexcap::lib::net
