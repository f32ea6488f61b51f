// What ibcm's librdmacm does not offer: multicast, ECE, rsockets. Each fails with the errno
// librdmacm gives where the feature is missing (ENOSYS) and says so once on stderr, so that a
// program linked against librdmacm.so.1 loads and fails cleanly instead of crashing on a
// missing symbol.
#include <rdma/rsocket.h>

#include <cerrno>

#include "rdmacm/cma_state.h"
#include "rdmacm/daemon_link.h"

using ibcm::rdmacm::say_once;

namespace {

int unsupported(const char* what) {
  say_once(what);
  errno = ENOSYS;
  return -1;
}

constexpr const char* kMulticast = "multicast (rdma_join_multicast) is not supported";
constexpr const char* kEce = "ECE (rdma_set_local_ece, rdma_get_remote_ece) is not supported";
constexpr const char* kRsockets = "rsockets (rsocket, rconnect, ...) are not supported";

}  // namespace

extern "C" {

int rdma_join_multicast(rdma_cm_id*, sockaddr*, void*) {
  return unsupported(kMulticast);
}
int rdma_join_multicast_ex(rdma_cm_id*, rdma_cm_join_mc_attr_ex*, void*) {
  return unsupported(kMulticast);
}
int rdma_leave_multicast(rdma_cm_id*, sockaddr*) {
  return unsupported(kMulticast);
}
int rdma_set_local_ece(rdma_cm_id*, ibv_ece*) {
  return unsupported(kEce);
}
int rdma_get_remote_ece(rdma_cm_id*, ibv_ece*) {
  return unsupported(kEce);
}
int rdma_reject_ece(rdma_cm_id* id, const void* private_data, uint8_t private_data_len) {
  return rdma_reject(id, private_data, private_data_len);
}

int rsocket(int, int, int) {
  return unsupported(kRsockets);
}
int rbind(int, const sockaddr*, socklen_t) {
  return unsupported(kRsockets);
}
int rlisten(int, int) {
  return unsupported(kRsockets);
}
int raccept(int, sockaddr*, socklen_t*) {
  return unsupported(kRsockets);
}
int rconnect(int, const sockaddr*, socklen_t) {
  return unsupported(kRsockets);
}
int rshutdown(int, int) {
  return unsupported(kRsockets);
}
int rclose(int) {
  return unsupported(kRsockets);
}
ssize_t rrecv(int, void*, size_t, int) {
  return unsupported(kRsockets);
}
ssize_t rrecvfrom(int, void*, size_t, int, sockaddr*, socklen_t*) {
  return unsupported(kRsockets);
}
ssize_t rrecvmsg(int, msghdr*, int) {
  return unsupported(kRsockets);
}
ssize_t rsend(int, const void*, size_t, int) {
  return unsupported(kRsockets);
}
ssize_t rsendto(int, const void*, size_t, int, const sockaddr*, socklen_t) {
  return unsupported(kRsockets);
}
ssize_t rsendmsg(int, const msghdr*, int) {
  return unsupported(kRsockets);
}
ssize_t rread(int, void*, size_t) {
  return unsupported(kRsockets);
}
ssize_t rreadv(int, const iovec*, int) {
  return unsupported(kRsockets);
}
ssize_t rwrite(int, const void*, size_t) {
  return unsupported(kRsockets);
}
ssize_t rwritev(int, const iovec*, int) {
  return unsupported(kRsockets);
}
int rpoll(pollfd*, nfds_t, int) {
  return unsupported(kRsockets);
}
int rselect(int, fd_set*, fd_set*, fd_set*, timeval*) {
  return unsupported(kRsockets);
}
int rgetpeername(int, sockaddr*, socklen_t*) {
  return unsupported(kRsockets);
}
int rgetsockname(int, sockaddr*, socklen_t*) {
  return unsupported(kRsockets);
}
int rsetsockopt(int, int, int, const void*, socklen_t) {
  return unsupported(kRsockets);
}
int rgetsockopt(int, int, int, void*, socklen_t*) {
  return unsupported(kRsockets);
}
int rfcntl(int, int, ...) {
  return unsupported(kRsockets);
}
off_t riomap(int, void*, size_t, int, int, off_t) {
  return unsupported(kRsockets);
}
int riounmap(int, void*, size_t) {
  return unsupported(kRsockets);
}
size_t riowrite(int, const void*, size_t, off_t, int) {
  say_once(kRsockets);
  errno = ENOSYS;
  return 0;
}

}  // extern "C"
