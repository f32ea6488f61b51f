// What the daemon holds: programs, their event channels and their rdma_cm IDs, and which engine
// connection or listener belongs to which ID. Shared by the files of src/daemon; one thread.
#pragma once

#include <infiniband/verbs.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "daemon/protocol.h"
#include "ibcm/daemon/cm_daemon.h"
#include "ibcm/sa/path_client.h"
#include "ibcm/transport/ip_address.h"

namespace ibcm::daemon {

struct Program {
  int fd = -1;  // its command socket
  pid_t pid = 0;
  uid_t uid = 0;
  std::set<uint32_t> channels;
  std::set<uint32_t> ids;
};

struct Channel {
  int fd = -1;  // our end; the program holds the other
  int program = -1;
  std::deque<proto::Event> waiting;  // not yet taken by the socket (its buffer was full)
};

// Where an ID stands, as rdma_cm's cma.c names its states.
enum class IdState : uint8_t {
  Idle,
  AddrBound,
  AddrResolved,
  RouteQuery,  // InfiniBand: the SA is asked for the path
  RouteResolved,
  Listening,
  Connecting,       // REQ sent
  ConnectResponse,  // REP received, the program has not established yet
  ConnectRequest,   // a passive ID: REQ received, not yet accepted or rejected
  Accepting,        // REP sent
  Connected,
  Disconnecting,  // the program disconnected (DREQ or DREP sent), DISCONNECTED not yet reported
  Disconnected,   // DISCONNECTED reported
  Failed,         // REJECTED, UNREACHABLE: nothing more will happen
};

// rdma_listen's backlog when it is 0, negative or larger: the kernel's rdma_ucm default
// (net.rdma_ucm.max_backlog).
inline constexpr int kMaxBacklog = 1024;

struct Id {
  uint32_t handle = 0;
  int program = -1;
  uint32_t channel = 0;
  uint16_t port_space = 0;
  uint32_t qp_type = 0;
  IdState state = IdState::Idle;
  bool active = false;
  IpEndpoint src;  // family 0 until bound
  IpEndpoint dst;
  bool bound_port = false;  // src's port is taken in `ports` (released with the ID)
  proto::Route route;
  std::optional<sa::ResolvedPath> path;  // InfiniBand: the SA's, for the REQ's primary path
  sa::QueryId route_query = 0;           // InfiniBand: the SA query running for the route
  uint8_t tos = 0;
  ConnId conn = 0;
  ListenId listen = 0;
  uint32_t psn = 0;  // the starting PSN we advertise (our QP's receive queue expects it)
  // A listener: at most `backlog` CONNECT_REQUESTs sent to its program and not yet read there
  // (or answered, or ended by the peer), as the kernel's rdma_ucm counts them; `pending` now.
  int backlog = kMaxBacklog;
  int pending = 0;
  uint32_t listener = 0;    // a passive ID: the listener its REQ came to
  bool in_backlog = false;  // a passive ID, counted in its listener's `pending`
  // A UD ID (RDMA_PS_UDP): its SIDR_REQ's RequestID (active), or the engine's handle for the
  // SIDR_REQ it answers (passive). 0: none yet.
  SidrId sidr = 0;

  bool ud() const { return qp_type == IBV_QPT_UD; }
};

// The errno a request fails with for an engine error (daemon_requests.cpp).
int errno_of(Error e);

struct CmDaemon::State {
  Runtime* rt = nullptr;
  ServedPort port;
  DaemonConfig config;
  std::string path;
  int listen_fd = -1;
  DaemonCounters counters;
  std::function<void(const std::string&)> log;
  std::unordered_map<int, Program> programs;  // by command socket
  std::unordered_map<uint32_t, Channel> channels;
  std::unordered_map<uint32_t, Id> ids;
  std::unordered_map<ConnId, uint32_t> by_conn;
  std::unordered_map<ListenId, uint32_t> by_listen;
  std::unordered_map<SidrId, uint32_t> by_sidr;   // our SIDR_REQs, by RequestID
  std::set<std::pair<uint16_t, uint16_t>> ports;  // (port space, port) bound by an ID
  uint32_t next_handle = 1;
  uint32_t random_state = 0;
  // REQs to a port nobody listens on yet, in arrival order (held_requests.cpp).
  struct HeldReq {
    ev::ReqReceived req;
    Time deadline;
  };
  static constexpr size_t kMaxHeld = 64;
  ListenId lobby = 0;  // the engine's catch-all listener for rdma_cm services
  std::deque<HeldReq> held;
  int held_timer_fd = -1;
  std::unique_ptr<sa::PathClient> sa;  // InfiniBand: opened at the first route query
  std::unordered_map<sa::QueryId, uint32_t> by_query;

  void say(const std::string& line) const;
  uint32_t random();  // starting PSNs and ephemeral ports
  Id* id_of(int program, uint32_t handle);

  // --- requests (daemon_requests.cpp) ---
  proto::Reply handle(Cm& cm, Time now, int program, const proto::Request& r);
  // A request the program did not wait for (no_reply) failed with err: what the program learns.
  void refused(int program, const proto::Request& r, int err);
  void end_id(Cm& cm, Time now, Id& id);  // as DestroyId, and forgets it
  void program_gone(Cm& cm, Time now, int fd);

  // --- InfiniBand routes (daemon_routes.cpp) ---
  // Asks the SA for the ID's path (ROUTE_RESOLVED or ROUTE_ERROR follow); 0, or the errno the
  // call fails with (EAGAIN: no SA client, as the kernel's with no SM; a refused send's).
  int query_route(Time now, Id& id);
  // The events of the route queries that ended; the errno of `sync`'s when its send was refused.
  int deliver_routes(sa::QueryId sync = 0);
  void cancel_route(Id& id);
  void close_sa();

  // --- REQs held for a listener (held_requests.cpp) ---
  void open_lobby(Cm& cm);
  void close_lobby(Cm& cm);  // the held REQs get their REJ 8
  void hold(Cm& cm, Time now, const ev::ReqReceived& req);
  // A program listens now on service_id: the REQs held for it go to its listener.
  void release_held(Cm& cm, Time now, ListenId listener, uint64_t service_id);
  void expire_held(Cm& cm, Time now);
  void arm_held_timer(Time now);

  // --- events (daemon_events.cpp) ---
  void on_event(Cm& cm, Time now, const Event& e);
  // A passive ID for a request to `listener` from `dst` to `src` (ours), in ConnectRequest with
  // its route: on InfiniBand a REQ's path (`req`), else the GID table's; null when `src` has no
  // route here.
  Id* passive_id(Id& listener, const IpEndpoint& src, const IpEndpoint& dst,
                 const wire::Req* req = nullptr);
  // The listener's program has `backlog` requests not yet read: this one is refused (counted,
  // logged), as the kernel's rdma_ucm refuses a connect event past the backlog.
  bool backlog_full(const Id& listener);
  // A passive ID's request is read, answered or over: its listener's backlog has room again.
  void leave_backlog(Id& id);

  // --- UD IDs: SIDR (daemon_sidr.cpp) ---
  // rdma_connect: the SIDR_REQ. 0 or the errno.
  int sidr_connect(Cm& cm, Time now, Id& id, const proto::ConnParam& c);
  // rdma_accept (Success) and rdma_reject (Rejected): the SIDR_REP. 0 or the errno.
  int sidr_answer(Cm& cm, Time now, Id& id, wire::SidrStatus status, const proto::ConnParam& c);
  // SIDR_REQ, SIDR_REP and SIDR timeouts as the program's events; false for other events.
  bool on_sidr_event(Cm& cm, Time now, const Event& e);
  // The ID goes: its SIDR_REQ is forgotten, a SIDR_REQ it has not answered is rejected.
  void sidr_end(Cm& cm, Time now, Id& id);
  void post(Id& id, proto::Event ev);  // to the ID's channel
  // The ID's address or route is resolved (`state`): its program hears `type` with the route.
  void resolved(Id& id, IdState state, int type);
  void drain(Channel& ch);
};

}  // namespace ibcm::daemon
