/// @file
/// The seam below libibverbs: exactly the ibv_* operations the binding uses, so that the binding
/// can be tested on a fake (tests/verbs/fake_verbs.h) with no device and no privileges.
///
/// Objects are libibverbs' own structs; calls return 0 or an errno (never -1 + errno), creations a
/// pointer or an errno. libverbs() is the implementation over the real library.
#pragma once

#include <infiniband/verbs.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/result.h"

IBCM_API_BEGIN

namespace ibcm::verbs {

template <class T>
using Made = Expected<T*, int>;  ///< the object, or the errno its creation failed with

class Verbs {
 public:
  virtual ~Verbs() = default;

  virtual std::vector<std::string> device_names() = 0;
  virtual Made<ibv_context> open_device(std::string_view name) = 0;
  virtual int close_device(ibv_context* ctx) = 0;
  virtual int query_port(ibv_context* ctx, uint8_t port, ibv_port_attr& out) = 0;
  virtual int query_gid(ibv_context* ctx, uint8_t port, int index, ibv_gid& out) = 0;
  /// The index of `pkey` in the port's P_Key table, or -errno.
  virtual int pkey_index(ibv_context* ctx, uint8_t port, uint16_t pkey) = 0;

  virtual Made<ibv_pd> alloc_pd(ibv_context* ctx) = 0;
  virtual int dealloc_pd(ibv_pd* pd) = 0;

  /// The channel's fd is non-blocking, for epoll: get_cq_event gives EAGAIN when nothing is due.
  virtual Made<ibv_comp_channel> create_comp_channel(ibv_context* ctx) = 0;
  virtual int destroy_comp_channel(ibv_comp_channel* ch) = 0;
  virtual Made<ibv_cq> create_cq(ibv_context* ctx, int cqe, void* cq_context,
                                 ibv_comp_channel* ch) = 0;
  virtual int destroy_cq(ibv_cq* cq) = 0;
  virtual int req_notify_cq(ibv_cq* cq) = 0;
  virtual int get_cq_event(ibv_comp_channel* ch, ibv_cq*& cq, void*& cq_context) = 0;
  virtual void ack_cq_events(ibv_cq* cq, unsigned n) = 0;
  /// Completions taken (0..out.size()), or -errno.
  virtual int poll_cq(ibv_cq* cq, std::span<ibv_wc> out) = 0;

  virtual Made<ibv_qp> create_qp(ibv_pd* pd, ibv_qp_init_attr& attr) = 0;
  virtual int destroy_qp(ibv_qp* qp) = 0;
  virtual int modify_qp(ibv_qp* qp, ibv_qp_attr& attr, int mask) = 0;

  virtual Made<ibv_mr> reg_mr(ibv_pd* pd, void* addr, size_t length, int access) = 0;
  virtual int dereg_mr(ibv_mr* mr) = 0;
  virtual int post_send(ibv_qp* qp, ibv_send_wr& wr, ibv_send_wr*& bad) = 0;
  virtual int post_recv(ibv_qp* qp, ibv_recv_wr& wr, ibv_recv_wr*& bad) = 0;

  virtual Made<ibv_ah> create_ah(ibv_pd* pd, ibv_ah_attr& attr) = 0;
  virtual int destroy_ah(ibv_ah* ah) = 0;
};

/// libibverbs itself.
std::unique_ptr<Verbs> libverbs();

}  // namespace ibcm::verbs

IBCM_API_END
