// flexcap/support/descriptor_message.hh — one message on a Unix socket that carries a
// file descriptor (SCM_RIGHTS) beside its bytes: how the process backend hands a
// descriptor to another compartment's process, and how a child Redis forked hands its
// files to its parent.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstring>
#include <span>

namespace flexcap {

// Sends `bytes` (at least one) on `socket`, with `fd` attached unless it is negative.
// The bytes sent, or -1 with errno.
inline ssize_t send_with_descriptor(int socket, std::span<const char> bytes, int fd) {
  iovec data{const_cast<char*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  }
  return sendmsg(socket, &message, MSG_NOSIGNAL);
}

// Receives one message into `bytes` (recvmsg's `flags`; MSG_CMSG_CLOEXEC is added): the
// bytes received, or -1 with errno; *fd is the descriptor that came with it, or -1.
inline ssize_t receive_with_descriptor(int socket, std::span<char> bytes, int* fd, int flags) {
  iovec data{bytes.data(), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  *fd = -1;
  const ssize_t got = recvmsg(socket, &message, flags | MSG_CMSG_CLOEXEC);
  if (got < 0) return got;
  if (const cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr && header->cmsg_type == SCM_RIGHTS) {
    std::memcpy(fd, CMSG_DATA(header), sizeof(int));
  }
  return got;
}

}  // namespace flexcap
