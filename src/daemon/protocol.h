// What `ibcm daemon` and the librdmacm-compatible library (src/rdmacm) say to each other over the
// daemon's Unix socket (SOCK_SEQPACKET: one message a record). Both ends are built from this one
// header, so the records are plain structs sent as bytes; Hello checks that both ends agree.
//
// A program has one command socket to the daemon: it sends a Request and reads its Reply (one at a
// time, in order). Each rdma_event_channel is a second socket, which the daemon makes and hands
// over with the CreateChannel reply (SCM_RIGHTS): the daemon writes Event records to it, and the
// program polls and reads it as it would the kernel's rdma_cm channel; the daemon lets it go when
// the program's end is closed. The socket's path:
// include/ibcm/daemon/socket.h.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>

#include "ibcm/engine/params.h"

namespace ibcm::daemon::proto {

inline constexpr char kDefaultSocket[] = "/run/ibcm/cm.sock";
inline constexpr char kSocketEnv[] = "IBCM_SOCKET";  // overrides kDefaultSocket, both ends
inline constexpr uint32_t kVersion = 3;  // 2: Event.qkey (UD IDs); 3: Op::Notify, RequestRead

enum class Op : uint32_t {
  Hello = 1,      // arg: kVersion
  CreateChannel,  // the reply carries the channel's socket (SCM_RIGHTS) and its handle in `id`
  CreateId,       // channel, port_space, qp_type; the reply's `id` is the new ID
  DestroyId,      // id: the connection ends as the spec asks (REJ, DREQ + TIMEWAIT, ...)
  BindAddr,       // id, src
  ResolveAddr,    // id, src (may be unset), dst, arg: timeout ms -> ADDR_RESOLVED / ADDR_ERROR
  ResolveRoute,   // id -> ROUTE_RESOLVED
  Listen,         // id, arg: backlog
  Connect,        // id, conn (qp_num, the program's QP); a UD ID sends SIDR_REQ
  Accept,         // id, conn; a UD ID answers SIDR_REP (its QP and the UDP port space's Q_Key)
  Reject,         // id, conn.private_data, arg: REJ reason (0: rdma_cm's consumer reject, 28)
  Disconnect,     // id (a UD ID: nothing is sent)
  InitQpAttr,     // id, arg: the target QpState -> reply.qp_attr (a UD ID: its Q_Key)
  Establish,      // id: RTU after a CONNECT_RESPONSE (rdma_establish, or the library on a QP)
  MigrateId,      // id, channel
  SetTos,         // id, arg: the IP type of service (rdma_set_option RDMA_OPTION_ID_TOS)
  Notify,         // id, arg: NotifyEvent (rdma_notify: the QP's asynchronous event)
  RequestRead,    // id: the program has read this CONNECT_REQUEST (its listener's backlog)
};

// rdma_notify's events that the CM acts on, as the kernel's ib_cm_notify does.
enum class NotifyEvent : uint32_t {
  CommEst = 1,  // data came before the RTU: REP_SENT/MRA_REP_RCVD -> ESTABLISHED
  PathMig = 2,  // the QP migrated to its alternate path: it becomes the primary
};

// rdma_conn_param, by value.
struct ConnParam {
  uint8_t responder_resources = 0;
  uint8_t initiator_depth = 0;
  uint8_t flow_control = 1;
  uint8_t retry_count = 7;
  uint8_t rnr_retry_count = 7;
  uint8_t srq = 0;
  uint8_t private_data_len = 0;
  uint32_t qp_num = 0;
  uint8_t private_data[196] = {};  // REP's room; a REQ's user part is 56, a REJ's 148
};

// Private data of a CM message (from `offset`: past rdma_cm's header) as ConnParam carries it.
template <size_t N>
void copy_private(ConnParam& c, const std::array<uint8_t, N>& pd, size_t offset = 0) {
  size_t n = std::min(N - offset, sizeof c.private_data);
  std::copy_n(pd.begin() + offset, n, c.private_data);
  c.private_data_len = static_cast<uint8_t>(n);
}

// Where an ID's address and route stand: what rdma_cm_id.route and .verbs show the program.
struct Route {
  sockaddr_storage src{};
  sockaddr_storage dst{};
  char device[64] = {};  // "" until the address is resolved (a listener on any address)
  uint8_t port_num = 0;
  uint8_t link_layer = 0;  // IBV_LINK_LAYER_*
  uint8_t sgid_index = 0;
  uint8_t resolved = 0;  // 0 none, 1 address, 2 route
  uint16_t pkey = 0xFFFF;
  uint16_t pkey_index = 0;
  uint8_t sgid[16] = {};
  uint8_t dgid[16] = {};
  uint8_t mtu = 0;  // wire::Mtu code (= IBV_MTU_*)
  uint8_t hop_limit = 0;
  uint8_t traffic_class = 0;
  uint8_t packet_life_time = 0;
  uint32_t flow_label = 0;
  uint16_t slid = 0;
  uint16_t dlid = 0;
  uint8_t sl = 0;
  uint8_t rate = 0;
};

struct Request {
  Op op = Op::Hello;
  uint32_t seq = 0;
  uint32_t no_reply = 0;  // 1: the program does not wait for the outcome (no Reply is sent)
  uint32_t id = 0;
  uint32_t channel = 0;
  uint32_t port_space = 0;  // RDMA_PS_*
  uint32_t qp_type = 0;     // IBV_QPT_*
  int32_t arg = 0;
  sockaddr_storage src{};
  sockaddr_storage dst{};
  ConnParam conn;
};

struct Reply {
  uint32_t seq = 0;
  int32_t err = 0;  // 0, or the errno the call fails with
  uint32_t id = 0;
  Route route;
  QpAttr qp_attr;
  uint8_t responder_resources = 0;  // InitQpAttr: what the INIT access flags allow
};

// One rdma_cm_event. CONNECT_REQUEST names a new ID the daemon made for the request (`id`), on the
// listener's channel (`listen_id`); its route is `route`. A UD ID's events (SIDR) are
// rdma_ud_param's: conn.private_data, conn.qp_num and qkey (ESTABLISHED: the peer's QP and Q_Key;
// the library makes the address handle's attributes from the ID's route, as the kernel from its
// path).
struct Event {
  uint32_t id = 0;
  uint32_t listen_id = 0;
  int32_t event = 0;   // RDMA_CM_EVENT_*
  int32_t status = 0;  // REJECTED: the REJ reason; UNREACHABLE of a UD ID: the SIDR status; -errno
  Route route;
  ConnParam conn;
  uint32_t qkey = 0;
  // CONNECT_RESPONSE and CONNECT_REQUEST: the attributes for RTR and RTS, so the library moves
  // its QP (then answers with Establish, or accepts) without asking for them.
  QpAttr rtr;
  QpAttr rts;
};

// An event of that type and status, nothing else filled in yet.
inline Event event_of(int type, int status = 0) {
  Event e;
  e.event = type;
  e.status = status;
  return e;
}

static_assert(std::is_trivially_copyable_v<Request>);
static_assert(std::is_trivially_copyable_v<Reply>);
static_assert(std::is_trivially_copyable_v<Event>);

}  // namespace ibcm::daemon::proto
