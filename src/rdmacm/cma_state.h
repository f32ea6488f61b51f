// What the library keeps behind librdmacm's public structs: each rdma_cm_id, event and channel
// the program holds is the first member of one of these, as in rdma-core's librdmacm.
#pragma once

#include <infiniband/sa.h>
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "daemon/protocol.h"
#include "ibcm/verbs/qp_attr.h"

namespace ibcm::rdmacm {

struct ChannelPriv {
  rdma_event_channel channel{};  // first: the program's pointer is ours
  uint32_t handle = 0;
  // Threads in rdma_get_cm_event on it, and whether the program destroyed it meanwhile: the
  // last of those threads to leave closes and frees it then (leave_channel).
  std::mutex mu;
  int readers = 0;
  bool destroyed = false;
};

struct IdPriv {
  rdma_cm_id id{};  // first: the program's pointer is ours
  uint32_t handle = 0;
  bool sync = false;  // created without a channel: calls wait for their event (rdma_create_ep)
  // It has a connection, made by rdma_connect or by a request: rdma_disconnect has something to
  // end (the kernel's cm_id.ib, which stays until the ID goes).
  bool has_conn = false;
  ibv_sa_path_rec path{};
  daemon::proto::Route route;
  // The connection's RDMA read resources, for the INIT access flags and RTR/RTS.
  uint8_t responder_resources = 0;
  uint8_t initiator_depth = 0;
  // A passive ID: what the REQ offered (its CONNECT_REQUEST), which accept may not exceed.
  uint8_t req_responder_resources = 0xFF;
  uint8_t req_initiator_depth = 0xFF;
  // A passive ID: RTR and RTS for its QP as the daemon gave them with the request.
  QpAttr req_rtr;
  QpAttr req_rts;
  // Events handed to the program for this ID and not yet acknowledged: rdma_destroy_id waits for
  // them, as librdmacm's does, so that a thread still handling one is done with it (and back
  // in rdma_get_cm_event) before the ID and its channel go.
  std::mutex mu;
  std::condition_variable acked;
  int unacked = 0;
  bool removal_told = false;  // DEVICE_REMOVAL given (the daemon went away)
  bool own_cqs = false;  // rdma_create_qp made the CQs (and their channels): destroy_qp frees them
  // A passive endpoint (rdma_create_ep with RAI_PASSIVE): the QP each request gets in
  // rdma_get_request, as librdmacm's ucma_passive_ep keeps it.
  bool passive_qp = false;
  ibv_qp_init_attr passive_attr{};
  ibv_pd* passive_pd = nullptr;
};

struct EventPriv {
  rdma_cm_event event{};    // first
  IdPriv* owner = nullptr;  // whose unacked count it is in
  uint8_t private_data[sizeof(daemon::proto::ConnParam::private_data)] = {};
};

// The library's records behind the program's pointers.
inline IdPriv* priv(rdma_cm_id* id) {
  return reinterpret_cast<IdPriv*>(id);
}
inline ChannelPriv* priv(rdma_event_channel* ch) {
  return reinterpret_cast<ChannelPriv*>(ch);
}

// A thread in rdma_get_cm_event on `ch` enters and leaves it. The kernel's channel outlives its
// close while a thread is blocked on it (the read holds the file): that thread stays blocked,
// and what the kernel had queued for IDs destroyed since never reaches it. So a channel the
// program destroys while a thread reads it stays open for that thread, which closes and frees it
// when it leaves (rping's event thread, blocked as the program exits, is never woken by the last
// DISCONNECTED of the ID the program has destroyed).
void enter_channel(ChannelPriv& ch);
void leave_channel(ChannelPriv& ch);
void close_channel(ChannelPriv* ch);  // its fd closed, the record freed

// librdmacm's failure: errno set, -1 returned.
inline int fail(int err) {
  errno = err;
  return -1;
}

// --- the registry of IDs by the daemon's handle (events name IDs by handle) ---
void register_id(IdPriv* p);
void unregister_id(uint32_t handle);
IdPriv* find_id(uint32_t handle);
// An ID on `channel` not yet told that the daemon went away (nullptr: none left); marks it told.
IdPriv* next_untold_id(const rdma_event_channel* channel);

// --- devices: one context for each, shared by every ID on it (rdma_get_devices lists them) ---
ibv_context** device_list(int* count);
ibv_context* device_named(const char* name);
ibv_pd* default_pd(ibv_context* ctx);  // for rdma_create_qp without a PD
// The RDMA read resources the device allows a QP (RDMA_MAX_RESP_RES / RDMA_MAX_INIT_DEPTH).
struct DeviceLimits {
  uint8_t max_responder_resources = 0;
  uint8_t max_initiator_depth = 0;
};
DeviceLimits device_limits(ibv_context* ctx);

// Brings an ID's route, verbs and port to what the daemon says.
void apply_route(IdPriv& p, const daemon::proto::Route& r);
// The verbs mapping's view of the ID's QP.
verbs::QpContext qp_context(const IdPriv& p);
// INIT, RTR (with the connection's access flags) and RTS on the ID's QP; 0 or an errno.
int move_qp(IdPriv& p, const QpAttr& a);
// INIT's attributes (port, P_Key, and the access the connection's responder resources allow).
QpAttr init_attr();
int qp_to_error(IdPriv& p);
// A connection the library cannot complete (its QP would not move): REJ through the daemon, and
// the QP to ERR.
void abandon(IdPriv& p);

}  // namespace ibcm::rdmacm
