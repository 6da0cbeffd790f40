// net — the platform's network: sockets and readiness (epoll, poll) over the host
// kernel's, as Unikraft's linuxu platform gives them. What Redis uses (apps/redis); a
// caller's own descriptor (Redis's pipes) joins it only to be watched by its epoll (adopt).
//
// Descriptors are this library's own (the host's, in its compartment); a caller keeps
// its own numbering on top (apps/redis's descriptor table). Memory crosses as Cap<T>
// bounded to exactly the bytes concerned: read-only for what is sent, and for what is
// received a capability that may only be stored through. Every result is the call's
// value, or -errno.
#pragma once

#include <cstdint>

#include "flexcap/cap/cap_ref.hh"
#include "flexcap/rt/export.hh"

namespace flexcap::lib::net {
FLEXCAP_LIBRARY(net);

// A socket address and its length, in and out (struct sockaddr_storage's room).
struct SocketAddress {
  std::uint32_t length;
  std::uint32_t reserved;
  alignas(8) std::byte bytes[128];
};

// One epoll_event as the kernel lays it out (packed on x86-64): `data` is the caller's
// and comes back as it was given.
struct ReadyEvent {
  std::uint32_t events;
  std::uint64_t data;
} __attribute__((packed));

// One struct pollfd.
struct PollEntry {
  std::int32_t fd;
  std::int16_t events;
  std::int16_t revents;
};

class Exports {
  static std::int64_t socket_impl(std::int32_t domain, std::int32_t type, std::int32_t protocol);
  static std::int64_t bind_impl(std::int32_t fd, cap::Cap<const SocketAddress> address);
  static std::int64_t connect_impl(std::int32_t fd, cap::Cap<const SocketAddress> address);
  static std::int64_t listen_impl(std::int32_t fd, std::int32_t backlog);
  static std::int64_t accept_impl(std::int32_t fd, cap::Cap<SocketAddress> peer, std::int32_t flags);
  static std::int64_t socket_name_impl(std::int32_t fd, cap::Cap<SocketAddress> out, std::int32_t peer);
  static std::int64_t set_option_impl(std::int32_t fd, std::int32_t level, std::int32_t name,
                                      cap::Cap<const std::byte> value);
  static std::int64_t get_option_impl(std::int32_t fd, std::int32_t level, std::int32_t name,
                                      cap::Cap<std::byte> value);
  static std::int64_t receive_impl(std::int32_t fd, cap::Cap<std::byte> into, std::int32_t flags);
  static std::int64_t send_impl(std::int32_t fd, cap::Cap<const std::byte> from, std::int32_t flags);
  static std::int64_t close_impl(std::int32_t fd);
  static std::int64_t control_impl(std::int32_t fd, std::int32_t command, std::int64_t argument);
  static std::int64_t epoll_create_impl();
  static std::int64_t epoll_control_impl(std::int32_t epoll, std::int32_t op, std::int32_t fd,
                                         cap::Cap<const ReadyEvent> event);
  static std::int64_t epoll_wait_impl(std::int32_t epoll, cap::Cap<ReadyEvent> events, std::int32_t timeout_ms);
  static std::int64_t poll_impl(cap::Cap<PollEntry> entries, std::int32_t timeout_ms);
  static std::int64_t open_sockets_impl();
  static std::int64_t adopt_impl();

 public:
  FLEXCAP_EXPORT(socket, socket_impl);
  FLEXCAP_EXPORT(bind, bind_impl);
  FLEXCAP_EXPORT(connect, connect_impl);
  FLEXCAP_EXPORT(listen, listen_impl);
  // accept4: the peer's address into `peer` (an empty capability: not wanted).
  FLEXCAP_EXPORT(accept, accept_impl);
  // getsockname (peer 0) or getpeername (peer 1).
  FLEXCAP_EXPORT(socket_name, socket_name_impl);
  FLEXCAP_EXPORT(set_option, set_option_impl);
  // getsockopt: the option's length, its bytes in `value`.
  FLEXCAP_EXPORT(get_option, get_option_impl);
  // read/recv (flags 0 is read) and write/send (flags 0 is write), on its descriptors.
  FLEXCAP_EXPORT(receive, receive_impl);
  FLEXCAP_EXPORT(send, send_impl);
  FLEXCAP_EXPORT(close, close_impl);
  // fcntl with an integer argument (F_GETFL, F_SETFL, F_GETFD, F_SETFD); others: -EINVAL.
  FLEXCAP_EXPORT(control, control_impl);
  FLEXCAP_EXPORT(epoll_create, epoll_create_impl);
  FLEXCAP_EXPORT(epoll_control, epoll_control_impl);  // epoll_ctl (`event` empty for EPOLL_CTL_DEL)
  FLEXCAP_EXPORT(epoll_wait, epoll_wait_impl);        // up to events.size() events
  FLEXCAP_EXPORT(poll, poll_impl);
  // How many descriptors this library has open (a restart closes them all).
  FLEXCAP_EXPORT(open_sockets, open_sockets_impl);
  // Takes as its own the descriptor the caller just sent (rt::send_descriptor): one of
  // the caller's files its epoll must watch. Its number here, or -errno.
  FLEXCAP_EXPORT(adopt, adopt_impl);
};

}  // namespace flexcap::lib::net
