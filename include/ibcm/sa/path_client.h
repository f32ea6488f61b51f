/// @file
/// PathRecord queries through the kernel's MAD layer: an SA client agent (class 0x03, version 2,
/// no request methods: answers are routed to it by TID) on one port's umad device, driving
/// PathQueries. The caller owns the loop: it waits on fd() and timer_fd() (Runtime::watch takes
/// both), calls on_readable and on_timer, and takes the answers. See docs/transports.md, "SA path
/// queries".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/sa/path_query.h"
#include "ibcm/umad/port_info.h"
#include "ibcm/umad/umad_error.h"
#include "ibcm/umad/umad_port.h"

IBCM_API_BEGIN

namespace ibcm::sa {

/// How one port reaches the SA: at the SM's LID, QP1, with the GSI Q_Key, in a partition every
/// port shares (15.2.5.1).
struct SaAddress {
  uint16_t sm_lid = 0;
  uint8_t sm_sl = 0;
  uint16_t pkey_index = 0;
  bool operator==(const SaAddress&) const = default;
};

/// From an InfiniBand port as sysfs shows it: the SM's LID and SL (ports/N/sm_lid, sm_sl), and
/// the index of the full default P_Key 0xFFFF, else of the limited 0x7FFF, else 0 (as ibacm picks
/// it). An error line when the port is not InfiniBand (RoCE has no SA) or knows no SM.
Expected<SaAddress, std::string> sa_address_of(const umad::PortInfo& port,
                                               const std::string& sysfs_root);

class PathClient {
 public:
  /// Registers the agent on the port.
  static Expected<std::unique_ptr<PathClient>, umad::UmadError> open(
      std::unique_ptr<umad::UmadPort> port, const SaAddress& sa, QueryOptions options = {});
  ~PathClient();
  PathClient(const PathClient&) = delete;
  PathClient& operator=(const PathClient&) = delete;

  /// Readable when the port has MADs: call on_readable.
  int fd() const { return port_->fd(); }
  /// A timerfd, readable when a try's time is up: call on_timer. Set after every call that takes
  /// the time, to next_timeout() less that time, so the caller's clock needs no relation to the
  /// monotonic one; disarmed while no query runs.
  int timer_fd() const { return timer_fd_; }
  /// Starts a query and sends its first request.
  QueryId resolve(Time now, const PathRequest& request);
  bool cancel(QueryId id);
  /// Reads every MAD that is ready, then sends what they caused (call when fd() is readable).
  void on_readable(Time now);
  /// Retries or ends the queries whose try timed out (call at next_timeout(), or when timer_fd()
  /// is readable: it reads the timer's expiry).
  void on_timer(Time now);
  std::optional<Time> next_timeout() const { return queries_.next_timeout(); }
  std::vector<PathAnswer> take_answers() { return queries_.take_answers(); }
  const SaCounters& counters() const { return queries_.counters(); }
  uint32_t agent_id() const { return agent_; }

 private:
  PathClient(std::unique_ptr<umad::UmadPort> port, const SaAddress& sa, QueryOptions options)
      : port_(std::move(port)), sa_(sa), queries_(options) {}
  /// Sends what the queries queued, then sets the timer for the next timeout.
  void flush(Time now);
  /// Arms timer_fd() to expire after delay; disarms it without one.
  void set_timer(std::optional<Time> delay);

  std::unique_ptr<umad::UmadPort> port_;
  SaAddress sa_;
  PathQueries queries_;
  uint32_t agent_ = 0;
  int timer_fd_ = -1;
  umad::UmadMad rx_;
  umad::UmadMad tx_;
};

}  // namespace ibcm::sa

IBCM_API_END
