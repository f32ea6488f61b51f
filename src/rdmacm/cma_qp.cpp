// rdma_create_qp and friends: the program's QP on the ID's device, in INIT with the port and
// P_Key of the ID's route (no remote access until a connection agrees on it, as rdma_cm's INIT);
// a UD ID's QP in RTS.
// CQs the program does not give are made here, each with its own completion channel, as
// librdmacm does, and go with the QP.
#include <rdma/rdma_verbs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ibcm/wire/rdma_cm.h"
#include "rdmacm/cma_state.h"
#include "rdmacm/daemon_link.h"

using namespace ibcm::rdmacm;

namespace {

void destroy_cqs(rdma_cm_id* id) {
  if (id->recv_cq && id->recv_cq != id->send_cq) ibv_destroy_cq(id->recv_cq);
  if (id->send_cq) ibv_destroy_cq(id->send_cq);
  if (id->recv_cq_channel && id->recv_cq_channel != id->send_cq_channel)
    ibv_destroy_comp_channel(id->recv_cq_channel);
  if (id->send_cq_channel) ibv_destroy_comp_channel(id->send_cq_channel);
  id->send_cq = id->recv_cq = nullptr;
  id->send_cq_channel = id->recv_cq_channel = nullptr;
}

// CQs for the QP where the program gave none.
int make_cqs(rdma_cm_id* id, ibv_qp_init_attr_ex& attr) {
  IdPriv& p = *priv(id);
  if (!attr.send_cq) {
    id->send_cq_channel = ibv_create_comp_channel(id->verbs);
    id->send_cq = id->send_cq_channel
                      ? ibv_create_cq(id->verbs, std::max<int>(attr.cap.max_send_wr, 1), id,
                                      id->send_cq_channel, 0)
                      : nullptr;
    if (!id->send_cq) return errno ? errno : ENOMEM;
    attr.send_cq = id->send_cq;
    p.own_cqs = true;
  }
  if (!attr.recv_cq) {
    id->recv_cq_channel = ibv_create_comp_channel(id->verbs);
    id->recv_cq = id->recv_cq_channel
                      ? ibv_create_cq(id->verbs, std::max<int>(attr.cap.max_recv_wr, 1), id,
                                      id->recv_cq_channel, 0)
                      : nullptr;
    if (!id->recv_cq) return errno ? errno : ENOMEM;
    attr.recv_cq = id->recv_cq;
    p.own_cqs = true;
  }
  return 0;
}

// INIT, as rdma_cm's. A UD QP goes on to RTR and RTS at once, with the port space's Q_Key and
// starting PSN 0, as librdmacm's ucma_init_ud_qp: it has no connection to wait for.
int init_qp(IdPriv& p) {
  ibcm::QpAttr a = init_attr();
  if (p.id.qp_type != IBV_QPT_UD) return move_qp(p, a);
  a.qkey = ibcm::wire::rdma_cm::kUdpQkey;
  for (ibcm::QpState s : {ibcm::QpState::Init, ibcm::QpState::Rtr, ibcm::QpState::Rts}) {
    a.state = s;
    if (int e = move_qp(p, a); e != 0) return e;
  }
  return 0;
}

}  // namespace

extern "C" {

int rdma_create_qp_ex(rdma_cm_id* id, ibv_qp_init_attr_ex* attr) {
  if (!id || !attr) return fail(EINVAL);
  if (!id->verbs) return fail(EINVAL);  // no device until the address is resolved
  IdPriv& p = *priv(id);
  if (!(attr->comp_mask & IBV_QP_INIT_ATTR_PD) || !attr->pd) {
    attr->pd = id->pd ? id->pd : default_pd(id->verbs);
    attr->comp_mask |= IBV_QP_INIT_ATTR_PD;
  }
  if (!attr->pd) return fail(ENOMEM);
  if (!attr->srq && id->srq) attr->srq = id->srq;
  if (int e = make_cqs(id, *attr); e != 0) {
    destroy_cqs(id);
    return fail(e);
  }
  ibv_qp* qp = ibv_create_qp_ex(id->verbs, attr);
  if (!qp) {
    int e = errno ? errno : ENOMEM;
    if (p.own_cqs) destroy_cqs(id);
    return fail(e);
  }
  id->qp = qp;
  p.responder_resources = 0;
  if (int e = init_qp(p); e != 0) {
    ibv_destroy_qp(qp);
    id->qp = nullptr;
    if (p.own_cqs) destroy_cqs(id);
    return fail(e);
  }
  id->pd = attr->pd;
  return 0;
}

int rdma_create_qp(rdma_cm_id* id, ibv_pd* pd, ibv_qp_init_attr* qp_init_attr) {
  if (!id || !qp_init_attr) return fail(EINVAL);
  if (pd && id->verbs && pd->context != id->verbs) return fail(EINVAL);
  ibv_qp_init_attr_ex attr{};
  std::memcpy(&attr, qp_init_attr, sizeof *qp_init_attr);
  attr.comp_mask = IBV_QP_INIT_ATTR_PD;
  attr.pd = pd;
  if (rdma_create_qp_ex(id, &attr) != 0) return -1;
  qp_init_attr->send_cq = attr.send_cq;
  qp_init_attr->recv_cq = attr.recv_cq;
  qp_init_attr->srq = attr.srq;
  qp_init_attr->cap = attr.cap;
  return 0;
}

void rdma_destroy_qp(rdma_cm_id* id) {
  if (!id || !id->qp) return;
  ibv_destroy_qp(id->qp);
  id->qp = nullptr;
  if (priv(id)->own_cqs) {
    destroy_cqs(id);
    priv(id)->own_cqs = false;
  }
}

int rdma_create_srq_ex(rdma_cm_id* id, ibv_srq_init_attr_ex* attr) {
  if (!id || !attr || !id->verbs) return fail(EINVAL);
  if (!(attr->comp_mask & IBV_SRQ_INIT_ATTR_PD) || !attr->pd) {
    attr->pd = id->pd ? id->pd : default_pd(id->verbs);
    attr->comp_mask |= IBV_SRQ_INIT_ATTR_PD;
  }
  ibv_srq* srq = ibv_create_srq_ex(id->verbs, attr);
  if (!srq) return -1;
  id->srq = srq;
  id->pd = attr->pd;
  return 0;
}

int rdma_create_srq(rdma_cm_id* id, ibv_pd* pd, ibv_srq_init_attr* attr) {
  if (!id || !attr) return fail(EINVAL);
  ibv_srq_init_attr_ex ex{};
  ex.srq_context = attr->srq_context;
  ex.attr = attr->attr;
  ex.comp_mask = IBV_SRQ_INIT_ATTR_PD | IBV_SRQ_INIT_ATTR_TYPE;
  ex.srq_type = IBV_SRQT_BASIC;
  ex.pd = pd;
  if (rdma_create_srq_ex(id, &ex) != 0) return -1;
  attr->attr = ex.attr;
  return 0;
}

void rdma_destroy_srq(rdma_cm_id* id) {
  if (!id || !id->srq) return;
  ibv_destroy_srq(id->srq);
  id->srq = nullptr;
}

}  // extern "C"
