// One record with a descriptor riding along (SCM_RIGHTS): how the daemon hands a program its
// event channel's socket.
#pragma once

#include <sys/socket.h>

#include <cstring>

namespace ibcm::daemon {

struct FdMessage {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{};
  msghdr m{};
  FdMessage(void* buf, size_t len) {
    iov = {buf, len};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
  }
};

// Sends len bytes and fd; true when the whole record went.
inline bool send_with_fd(int sock, const void* buf, size_t len, int fd) {
  FdMessage f(const_cast<void*>(buf), len);
  cmsghdr* c = CMSG_FIRSTHDR(&f.m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return ::sendmsg(sock, &f.m, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
}

// Receives one record of at most len bytes; a descriptor it carries goes to *fd (close-on-exec).
// The record's length, or -1 (errno).
inline ssize_t recv_with_fd(int sock, void* buf, size_t len, int* fd) {
  FdMessage f(buf, len);
  ssize_t n = ::recvmsg(sock, &f.m, MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&f.m); c; c = CMSG_NXTHDR(&f.m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && fd)
      std::memcpy(fd, CMSG_DATA(c), sizeof(int));
  return n;
}

}  // namespace ibcm::daemon
