// rdma_getaddrinfo, rdma_create_ep and the device list: the convenience layer of librdmacm over
// the calls in cma_ids.cpp. Names resolve through the system's getaddrinfo (IP addresses; an
// InfiniBand name service is not offered).
#include <netdb.h>
#include <rdma/rdma_verbs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "rdmacm/cma_state.h"
#include "rdmacm/daemon_link.h"

using namespace ibcm::rdmacm;

namespace {

sockaddr* copy_sockaddr(const sockaddr* a, socklen_t len) {
  auto* out = static_cast<sockaddr*>(std::malloc(len));
  if (out) std::memcpy(out, a, len);
  return out;
}

}  // namespace

extern "C" {

int rdma_getaddrinfo(const char* node, const char* service, const rdma_addrinfo* hints,
                     rdma_addrinfo** res) {
  if (!res || (!node && !service)) return fail(EINVAL);
  addrinfo h{};
  h.ai_socktype = SOCK_STREAM;
  int flags = hints ? hints->ai_flags : 0;
  if (hints) h.ai_family = hints->ai_family;
  if (flags & RAI_PASSIVE) h.ai_flags |= AI_PASSIVE;
  if (flags & RAI_NUMERICHOST) h.ai_flags |= AI_NUMERICHOST;
  addrinfo* ai = nullptr;
  if (int rc = ::getaddrinfo(node, service, &h, &ai); rc != 0) {
    errno = rc == EAI_SYSTEM ? errno : ENODEV;
    return rc == EAI_NONAME ? fail(ENODEV) : -1;
  }
  auto* r = static_cast<rdma_addrinfo*>(std::calloc(1, sizeof(rdma_addrinfo)));
  if (!r) {
    ::freeaddrinfo(ai);
    return fail(ENOMEM);
  }
  r->ai_flags = flags;
  r->ai_family = ai->ai_family;
  r->ai_port_space = hints && hints->ai_port_space ? hints->ai_port_space : RDMA_PS_TCP;
  // librdmacm asks getaddrinfo for datagrams in the UDP port spaces, and takes UD QPs from that.
  bool datagram = r->ai_port_space == RDMA_PS_UDP || r->ai_port_space == RDMA_PS_IPOIB;
  r->ai_qp_type = hints && hints->ai_qp_type ? hints->ai_qp_type
                  : datagram                 ? IBV_QPT_UD
                                             : IBV_QPT_RC;
  if (flags & RAI_PASSIVE) {
    r->ai_src_addr = copy_sockaddr(ai->ai_addr, ai->ai_addrlen);
    r->ai_src_len = ai->ai_addrlen;
  } else {
    r->ai_dst_addr = copy_sockaddr(ai->ai_addr, ai->ai_addrlen);
    r->ai_dst_len = ai->ai_addrlen;
    if (hints && hints->ai_src_addr) {
      r->ai_src_addr = copy_sockaddr(hints->ai_src_addr, hints->ai_src_len);
      r->ai_src_len = hints->ai_src_len;
    }
  }
  ::freeaddrinfo(ai);
  *res = r;
  return 0;
}

void rdma_freeaddrinfo(rdma_addrinfo* res) {
  while (res) {
    rdma_addrinfo* next = res->ai_next;
    std::free(res->ai_src_addr);
    std::free(res->ai_dst_addr);
    std::free(res->ai_src_canonname);
    std::free(res->ai_dst_canonname);
    std::free(res->ai_route);
    std::free(res->ai_connect);
    std::free(res);
    res = next;
  }
}

int rdma_create_ep(rdma_cm_id** id, rdma_addrinfo* res, ibv_pd* pd,
                   ibv_qp_init_attr* qp_init_attr) {
  if (!id || !res) return fail(EINVAL);
  rdma_cm_id* cm_id = nullptr;
  if (rdma_create_id(nullptr, &cm_id, nullptr, static_cast<rdma_port_space>(res->ai_port_space)))
    return -1;
  int rc;
  if (res->ai_flags & RAI_PASSIVE) {
    rc = rdma_bind_addr(cm_id, res->ai_src_addr);
  } else {
    rc = rdma_resolve_addr(cm_id, res->ai_src_addr, res->ai_dst_addr, 2000);
    if (rc == 0) rc = rdma_resolve_route(cm_id, 2000);
  }
  if (rc == 0 && qp_init_attr) {
    qp_init_attr->qp_type = static_cast<ibv_qp_type>(res->ai_qp_type);  // as librdmacm
    if (res->ai_flags & RAI_PASSIVE) {  // each request gets its QP in rdma_get_request
      IdPriv* p = priv(cm_id);
      p->passive_qp = true;
      p->passive_attr = *qp_init_attr;
      p->passive_pd = pd;
    } else {
      rc = rdma_create_qp(cm_id, pd, qp_init_attr);
    }
  }
  if (rc != 0) {
    int e = errno;
    rdma_destroy_id(cm_id);
    return fail(e);
  }
  if (pd) cm_id->pd = pd;
  *id = cm_id;
  return 0;
}

void rdma_destroy_ep(rdma_cm_id* id) {
  if (!id) return;
  if (id->qp) rdma_destroy_qp(id);
  if (id->srq) rdma_destroy_srq(id);
  rdma_destroy_id(id);
}

ibv_context** rdma_get_devices(int* num_devices) {
  return device_list(num_devices);
}

void rdma_free_devices(ibv_context** list) {
  (void)list;  // the contexts stay open for the IDs, as librdmacm's do
}

}  // extern "C"
