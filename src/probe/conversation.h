// One check's exchange with the remote CM: raw MADs out through the transport, MADs in, each with
// the time it came. The probe is the remote's peer and plays it by hand (a REQ sent twice, an
// RTU never sent, a DREQ never answered), so it keeps no connection state of its own beyond what
// a check holds.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ibcm/probe/probe.h"
#include "ibcm/wire/mad.h"

namespace ibcm::probe {

// What the probe advertises in its REQs: a CM response time of 4.096 us x 2^15 = 134 ms, 3 CM
// retries, and a local ACK timeout of 2^14 (67 ms; the packet lifetime one less), so that the
// remote retries each message about every 0.2 s and its TIMEWAIT for us is short.
inline constexpr uint8_t kOurResponseTimeout = 15;
inline constexpr uint8_t kOurMaxRetries = 3;
inline constexpr uint8_t kOurAckTimeout = 14;

struct Got {
  wire::Mad mad;
  Time at{};  // since the check began
  Address from;
};

using Want = std::function<bool(const wire::Mad&)>;

class Conversation {
 public:
  Conversation(Transport& t, const ProbeOptions& o, uint64_t& rng);

  Time now() const;  // since the check began
  const ProbeOptions& options() const { return o_; }

  // Sends `m` to the remote: Send, or Get for ClassPortInfo.
  void send(const wire::Message& m, uint64_t tid) { send_to(to_, m, tid); }
  void send_to(const Address& to, const wire::Message& m, uint64_t tid);
  // Sends a whole MAD with its header as given (a CM class version of another kind, say).
  void send_mad(const wire::Mad& m);
  // From now on the remote is at `to`: where its REQ came from, when it connects to us (a CM
  // whose MADs come from another address than the one the probe was given, as separate
  // processes on MAD-over-UDP do).
  void talk_to(const Address& to) { to_ = to; }
  // The first MAD from the remote within `limit` that `want` takes; the others stay for later
  // waits, in the order they came.
  std::optional<Got> wait(const Want& want, Time limit);
  // Every MAD `want` takes for `duration` (a remote's retries).
  std::vector<Got> gather(const Want& want, Time duration);
  // What came and no wait took, as "REJ(reason 10) DREQ ..." (for `seen`), and forgets it. A
  // REQ among it (the remote connecting when no check wants it) is refused with REJ 28, so that
  // the remote does not wait on it.
  std::string strays();

  uint32_t new_comm_id();
  uint32_t new_qpn();
  uint64_t new_tid();
  uint32_t new_psn();

  // A REQ to the remote's rdma_cm port, RC, as Linux's rdma_cm fills one on RoCE, but with the
  // short times and few retries below, so that the remote's retries come within a check.
  // `response_timeout`: the CM response time it advertises (exponent), which the remote waits for
  // our answer to its REP before it sends the REP again.
  wire::Req req(uint32_t comm_id, uint32_t qpn, uint8_t response_timeout = kOurResponseTimeout);
  // Our REP, as the passive side, to the remote's `req`: comm ID `comm_id`, our QP `qpn`.
  wire::Rep rep(const wire::Req& req, uint32_t comm_id, uint32_t qpn);

 private:
  bool pump(Time until);  // receives into pending_ until something came or `until`; false: nothing

  Transport& t_;
  ProbeOptions o_;
  Address to_;
  uint64_t& rng_;
  std::chrono::steady_clock::time_point start_;
  std::deque<Got> pending_;
};

// What the remote sends: a message of type M whose RemoteCommunicationID is ours (REP, REJ, MRA,
// DREQ, DREP answering or naming our side of a connection).
template <class M>
Want to_us(uint32_t our_comm_id) {
  return [our_comm_id](const wire::Mad& m) {
    const auto* msg = std::get_if<M>(&m.message);
    return msg && msg->remote_comm_id == our_comm_id;
  };
}
// Any answer to our REQ: REP, REJ or MRA naming our comm ID.
Want answers_req(uint32_t our_comm_id);
// A REQ from the remote (it connects to us), other than the one with comm ID `but`.
Want remote_req(uint32_t but = 0);

// A REJ with reason 28 (consumer defined) from our comm ID `ours` (0: no connection of ours)
// for the remote's message `msg` (its comm ID `theirs`): how the probe ends what it does not want.
wire::Rej consumer_rej(uint32_t ours, uint32_t theirs, wire::MsgRef msg);

// A message's short description: "REP", "REJ(10)", "MRA(REQ)", ...
std::string describe(const wire::Mad& m);

}  // namespace ibcm::probe
