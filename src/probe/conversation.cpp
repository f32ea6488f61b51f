#include "probe/conversation.h"

#include <poll.h>

#include <algorithm>
#include <array>

#include "engine/comm_id.h"
#include "ibcm/transport/rdma_cm_params.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::probe {

namespace {

template <class M>
const M* as(const wire::Mad& m) {
  return std::get_if<M>(&m.message);
}

}  // namespace

Conversation::Conversation(Transport& t, const ProbeOptions& o, uint64_t& rng)
    : t_(t), o_(o), to_(o.remote), rng_(rng), start_(std::chrono::steady_clock::now()) {}

Time Conversation::now() const {
  return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now() - start_);
}

void Conversation::send_to(const Address& to, const wire::Message& m, uint64_t tid) {
  Transmit tx;
  tx.to = to;
  wire::encode(wire::make_mad(m, tid), tx.mad);
  t_.send(std::span<const Transmit>(&tx, 1));
}

void Conversation::send_mad(const wire::Mad& m) {
  Transmit tx;
  tx.to = to_;
  wire::encode(m, tx.mad);
  t_.send(std::span<const Transmit>(&tx, 1));
}

bool Conversation::pump(Time until) {
  std::array<Received, 16> in;
  for (;;) {
    size_t n = t_.receive(in);
    bool any = false;
    for (size_t i = 0; i < n; ++i) {
      auto mad = wire::decode(std::span<const uint8_t>(in[i].mad.data(), in[i].length));
      if (!mad) continue;  // not a CM MAD we can read: the transport counted it
      pending_.push_back(Got{std::move(mad.value()), now(), in[i].from});
      any = true;
    }
    if (any) return true;
    Time left = until - now();
    if (left <= Time{0}) return false;
    pollfd p{t_.fd(), POLLIN, 0};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
    (void)::poll(&p, 1, static_cast<int>(std::max<int64_t>(ms, 1)));
  }
}

std::optional<Got> Conversation::wait(const Want& want, Time limit) {
  Time until = now() + limit;
  size_t looked = 0;  // pending_ entries already refused
  for (;;) {
    for (; looked < pending_.size(); ++looked) {
      if (want(pending_[looked].mad)) {
        Got g = std::move(pending_[looked]);
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(looked));
        return g;
      }
    }
    if (!pump(until)) return std::nullopt;
  }
}

std::vector<Got> Conversation::gather(const Want& want, Time duration) {
  std::vector<Got> all;
  Time until = now() + duration;
  while (auto g = wait(want, std::max(until - now(), Time{0}))) all.push_back(std::move(*g));
  return all;
}

std::string Conversation::strays() {
  // Whatever is still on its way counts too.
  (void)pump(now());
  std::string s;
  for (const Got& g : pending_) {
    if (!s.empty()) s += ' ';  // appended: GCC 12 -O3 misreads "literal" + std::string&&
    s += describe(g.mad);
    if (const auto* req = as<wire::Req>(g.mad)) {
      // No connection of ours behind it: LocalCommID 0.
      send_to(g.from, consumer_rej(0, req->local_comm_id, wire::MsgRef::Req),
              g.mad.header.transaction_id);
    }
  }
  pending_.clear();
  return s;
}

uint32_t Conversation::new_comm_id() {
  uint32_t id;
  do id = static_cast<uint32_t>(engine::splitmix64(rng_));
  while (id == 0);
  return id;
}

uint32_t Conversation::new_qpn() {
  // Away from 0 and 1 (the SMI and GSI QPs) and from where real HCAs start.
  return 0x100000 + static_cast<uint32_t>(engine::splitmix64(rng_) % 0xE00000);
}

uint64_t Conversation::new_tid() {
  return engine::splitmix64(rng_);
}

uint32_t Conversation::new_psn() {
  return static_cast<uint32_t>(engine::splitmix64(rng_)) & 0xFFFFFF;
}

wire::Req Conversation::req(uint32_t comm_id, uint32_t qpn, uint8_t response_timeout) {
  std::array<uint8_t, 92> pd{};
  auto src_port = static_cast<uint16_t>(32768 + engine::splitmix64(rng_) % 28232);
  ConnectParams p =
      rdma_cm_connect_params(o_.local_ip, o_.remote_ip, o_.port, src_port, qpn, new_psn(), {}, pd);
  p.max_cm_retries = kOurMaxRetries;
  p.primary.local_ack_timeout = kOurAckTimeout;
  p.packet_life_time = kOurAckTimeout - 1;
  return req_of(p, comm_id, o_.ca_guid, response_timeout);
}

wire::Rep Conversation::rep(const wire::Req& req, uint32_t comm_id, uint32_t qpn) {
  wire::Rep r;
  r.local_comm_id = comm_id;
  r.remote_comm_id = req.local_comm_id;
  r.local_qpn = qpn;
  r.starting_psn = new_psn();
  // As many RDMA reads each way as the REQ offers, as an rdma_cm server accepts by default.
  r.responder_resources = req.initiator_depth;
  r.initiator_depth = req.responder_resources;
  r.target_ack_delay = 15;
  r.end_to_end_flow_control = true;
  r.rnr_retry_count = 7;
  r.local_ca_guid = o_.ca_guid;
  return r;
}

Want remote_req(uint32_t but) {
  return [but](const wire::Mad& m) {
    const auto* req = std::get_if<wire::Req>(&m.message);
    return req && (but == 0 || req->local_comm_id != but);
  };
}

Want answers_req(uint32_t id) {
  return [rep = to_us<wire::Rep>(id), rej = to_us<wire::Rej>(id),
          mra = to_us<wire::Mra>(id)](const wire::Mad& m) { return rep(m) || rej(m) || mra(m); };
}

wire::Rej consumer_rej(uint32_t ours, uint32_t theirs, wire::MsgRef msg) {
  wire::Rej rej;
  rej.local_comm_id = ours;
  rej.remote_comm_id = theirs;
  rej.message_rejected = msg;
  rej.reason = wire::RejReason::ConsumerDefined;
  return rej;
}

std::string describe(const wire::Mad& m) {
  std::string name(wire::name_of(m.message));
  if (auto* r = as<wire::Rej>(m))
    return name + "(" + std::to_string(static_cast<int>(r->reason)) + ")";
  if (auto* r = as<wire::SidrRep>(m))
    return name + "(" + std::to_string(static_cast<int>(r->status)) + ")";
  if (auto* r = as<wire::Apr>(m))
    return name + "(" + std::to_string(static_cast<int>(r->ap_status)) + ")";
  return name;
}

}  // namespace ibcm::probe
