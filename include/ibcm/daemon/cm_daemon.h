/// @file
/// `ibcm daemon`: the one CM of a node, for every rdma_cm program on it. Only one agent can own the
/// CM class on a port, and the umad device is root's, so as with the kernel CM the engine runs once
/// per node: the daemon owns the umad transport and the engine, and serves programs (through the
/// librdmacm-compatible library, src/rdmacm) over a Unix socket. Each program creates and moves
/// its own QPs with the attributes the daemon computes, as librdmacm does with the kernel's
/// rdma_init_qp_attr. When a program exits or crashes, the daemon ends its connections the way
/// the kernel does when the rdma_cm file closes (REJ, or DREQ and TIMEWAIT).
///
/// Everything runs on the runtime's loop thread: the program sockets are watched descriptors of
/// the runtime, and on_event() must be given every engine event.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/daemon/ipoib.h"
#include "ibcm/daemon/socket.h"
#include "ibcm/result.h"
#include "ibcm/sa/path_client.h"
#include "ibcm/transport/runtime.h"
#include "ibcm/umad/gid_table.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm::daemon {

/// The port the daemon serves: what programs' IDs resolve to.
struct ServedPort {
  std::string device;  ///< "rxe0"
  uint8_t port_num = 1;
  uint8_t link_layer = 2;  ///< IBV_LINK_LAYER_ETHERNET; IBV_LINK_LAYER_INFINIBAND (1) asks the SA
  wire::Mtu active_mtu = wire::Mtu::Mtu1024;
  uint16_t pkey_index = 0;
  std::vector<umad::GidEntry> gids;  ///< the port's GID table
  std::vector<uint16_t> pkeys;       ///< the port's P_Key table, by index (InfiniBand)
};

/// Opens the SA client an InfiniBand port's route queries go through.
using PathClientFactory =
    std::function<Expected<std::unique_ptr<sa::PathClient>, std::string>(const ServedPort&)>;
/// The default: libibumad on the served port, the SA where sysfs says the SM is.
Expected<std::unique_ptr<sa::PathClient>, std::string> libibumad_path_client(
    const ServedPort& port);

/// The CM timing of the connections programs open, as rdma_cm's CMA_CM_RESPONSE_TIMEOUT and
/// CMA_MAX_CM_RETRIES (20: 4.3 s per try, 15 retries); shorter settings end a connection whose
/// peer is gone sooner.
struct DaemonConfig {
  uint8_t cm_response_timeout = 20;
  uint8_t max_cm_retries = 15;
  /// How long a REQ to an rdma_cm port nobody listens on waits for a program to listen there
  /// before its REJ 8 (0: at once, as the kernel CM).
  std::chrono::milliseconds listen_grace{200};
  /// InfiniBand only: where IPoIB addresses are looked up, and the SA client, opened at the first
  /// rdma_resolve_route (again at the next while it cannot open). Tests give fakes.
  IpoibLookup ipoib = kernel_ipoib();
  PathClientFactory open_path_client = libibumad_path_client;
};

struct DaemonCounters {
  uint64_t programs = 0;          ///< connected now
  uint64_t programs_seen = 0;     ///< ever
  uint64_t ids_live = 0;          ///< the programs' rdma_cm IDs, now
  uint64_t connections_live = 0;  ///< of those, IDs holding a connection (until its TIMEWAIT ends)
  uint64_t listeners_live = 0;    ///< of those, IDs listening
  uint64_t requests = 0;
  uint64_t bad_requests = 0;       ///< malformed, or for an ID of another program (dropped, logged)
  uint64_t connects_refused = 0;   ///< an rdma_connect the daemon could not send (UNREACHABLE)
  uint64_t reqs_held = 0;          ///< REQs to a port nobody listened on yet, held
  uint64_t reqs_held_taken = 0;    ///< of those, taken by a listen within the grace
  uint64_t reqs_held_refused = 0;  ///< REJ 8 at once: kMaxHeld REQs were held already
  uint64_t reqs_over_backlog =
      0;  ///< refused: its listener's backlog of requests was unread (REJ 28)
  uint64_t events = 0;
  uint64_t events_dropped = 0;  ///< a channel whose program does not read: past its bound
  uint64_t ended_by_exit = 0;   ///< connections a program left when it exited
};

class CmDaemon {
 public:
  /// Listens on socket_path (mode 0666: programs need no privilege; the daemon checks each
  /// program's credentials and acts only on its own IDs). Fails with one line saying why.
  static Expected<std::unique_ptr<CmDaemon>, std::string> open(Runtime& rt, ServedPort port,
                                                               const std::string& socket_path,
                                                               DaemonConfig config = {});
  ~CmDaemon();  ///< every program's connections end; the socket is removed
  CmDaemon(const CmDaemon&) = delete;
  CmDaemon& operator=(const CmDaemon&) = delete;

  /// Ends every program's connections as their exit would (REJ, DREQ and TIMEWAIT) and closes
  /// their sockets; what it queued leaves with the runtime's next round. The destructor does it
  /// too, but a daemon that stops should do it while its loop still runs once more.
  void end_programs();
  /// Every engine event of the runtime (from Runtime::on_event).
  void on_event(Cm& cm, Time now, const Event& e);
  const DaemonCounters& counters() const;
  /// Log lines (bad requests, programs that left, dropped events): stderr by default.
  void set_log(std::function<void(const std::string&)> log);

  struct IBCM_PRIVATE State;

 private:
  explicit CmDaemon(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace ibcm::daemon

IBCM_API_END
