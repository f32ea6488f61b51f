// A fake kernel MAD layer for the umad transport's tests: ports on one fabric, each a UmadPort
// whose sends are recorded and delivered to the port that owns the destination GID (RoCE) or LID
// (InfiniBand). Like ib_umad and ib_mad it rewrites the upper 32 bits of the TID of every MAD
// sent that is not a response to the agent's hi_tid, routes requests by method and responses by
// those TID bits, refuses a request whose TID a held send still has, refuses a RoCE send without
// a GRH, and can refuse registration (EINVAL: the kernel CM owns the class).
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <memory>
#include <vector>

#include "ibcm/umad/port_info.h"
#include "ibcm/umad/umad_port.h"

namespace ibcm::umad::test {

inline uint64_t tid_of(const wire::MadBytes& mad) {
  uint64_t t = 0;
  for (int i = 8; i < 16; ++i) t = t << 8 | mad[i];
  return t;
}
inline void set_tid(wire::MadBytes& mad, uint64_t tid) {
  for (int i = 15; i >= 8; --i, tid >>= 8) mad[i] = static_cast<uint8_t>(tid);
}
inline bool is_response(const wire::MadBytes& mad) {
  return mad[3] & 0x80;
}

class FakeFabric;

// One port's umad file as the test sees it: configuration, and what happened.
struct FakePortState {
  // The port on the fabric.
  LinkLayer link = LinkLayer::Ethernet;
  std::vector<wire::Gid> gids;  // by index
  uint16_t lid = 0;
  // Behaviour.
  int register_errno = 0;    // registration fails with it (EINVAL: the class is taken)
  int send_errno = 0;        // every send fails with it
  bool rewrite_tids = true;  // as ib_umad_write does for every MAD that is not a response
  bool hold_sends = false;   // sends stay in flight (duplicate-TID check) until complete_sends()
  uint32_t hi_tid = 0;       // this port's agent's, given by the fabric
  // What happened.
  bool registered = false;
  uint32_t agent_id = 0;
  uint8_t mgmt_class = 0;
  uint8_t class_version = 0;
  std::vector<uint8_t> methods;
  std::vector<UmadMad> sent;    // as the MAD layer put them on the wire (TID rewritten)
  std::vector<int> send_codes;  // the result of every send call
  std::deque<UmadMad> rx;       // waiting to be read
  std::vector<uint64_t> in_flight;
  int event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  FakeFabric* fabric = nullptr;

  ~FakePortState() { ::close(event_fd); }
  void push(const UmadMad& m) {
    rx.push_back(m);
    uint64_t one = 1;
    (void)!::write(event_fd, &one, sizeof one);
  }
  void complete_sends() { in_flight.clear(); }
  bool takes(uint8_t method) const {
    return registered && std::find(methods.begin(), methods.end(), method) != methods.end();
  }
  std::optional<uint8_t> index_of(const wire::Gid& g) const {
    for (size_t i = 0; i < gids.size(); ++i)
      if (gids[i] == g) return static_cast<uint8_t>(i);
    return std::nullopt;
  }
};

class FakeFabric {
 public:
  std::shared_ptr<FakePortState> add_port(LinkLayer link, std::vector<wire::Gid> gids,
                                          uint16_t lid = 0) {
    auto p = std::make_shared<FakePortState>();
    p->link = link;
    p->gids = std::move(gids);
    p->lid = lid;
    p->hi_tid = next_hi_tid_++;
    p->fabric = this;
    ports_.push_back(p);
    return p;
  }
  // Delivers a MAD `from` sent to the port its address names, as that port's MAD layer would.
  void deliver(const FakePortState& from, const UmadMad& sent);
  uint64_t unrouted = 0;  // MADs no port or agent took

 private:
  std::vector<std::shared_ptr<FakePortState>> ports_;
  uint32_t next_hi_tid_ = 0x00000a01;  // ib_mad_client_id: one per agent, on a busy host
};

class FakeUmadPort final : public UmadPort {
 public:
  explicit FakeUmadPort(std::shared_ptr<FakePortState> s) : s_(std::move(s)) {}
  int fd() const override { return s_->event_fd; }
  Expected<uint32_t, int> register_agent(uint8_t mgmt_class, uint8_t class_version,
                                         std::span<const uint8_t> methods) override {
    if (s_->register_errno) return Unexpected{s_->register_errno};
    s_->registered = true;
    s_->agent_id = 0;
    s_->mgmt_class = mgmt_class;
    s_->class_version = class_version;
    s_->methods.assign(methods.begin(), methods.end());
    return s_->agent_id;
  }
  int receive(UmadMad& out) override {
    if (s_->rx.empty()) return EAGAIN;
    out = s_->rx.front();
    s_->rx.pop_front();
    if (s_->rx.empty()) {
      uint64_t n;
      (void)!::read(s_->event_fd, &n, sizeof n);
    }
    return 0;
  }
  int send(const UmadMad& m) override {
    int rc = check(m);
    s_->send_codes.push_back(rc);
    if (rc) return rc;
    UmadMad out = m;
    if (s_->rewrite_tids && !is_response(out.mad))
      set_tid(out.mad, uint64_t{s_->hi_tid} << 32 | (tid_of(out.mad) & 0xFFFFFFFF));
    if (s_->hold_sends && !is_response(out.mad)) s_->in_flight.push_back(tid_of(out.mad));
    s_->sent.push_back(out);
    if (s_->fabric) s_->fabric->deliver(*s_, out);
    return 0;
  }

 private:
  int check(const UmadMad& m) const {
    if (s_->send_errno) return s_->send_errno;
    if (!s_->registered || m.agent_id != s_->agent_id) return EIO;  // no such agent
    // rdma_create_user_ah: RoCE needs a GRH, and the GID index must name a GID.
    if (s_->link == LinkLayer::Ethernet && !m.addr.grh_present) return EINVAL;
    if (m.addr.grh_present && m.addr.gid_index >= s_->gids.size()) return EINVAL;
    if (m.timeout_ms != 0 || m.retries != 0) return EPROTO;  // the transport must never ask
    uint64_t tid = tid_of(m.mad);
    if (s_->rewrite_tids) tid = uint64_t{s_->hi_tid} << 32 | (tid & 0xFFFFFFFF);
    if (!is_response(m.mad) &&
        std::find(s_->in_flight.begin(), s_->in_flight.end(), tid) != s_->in_flight.end())
      return EINVAL;  // is_duplicate
    return 0;
  }
  std::shared_ptr<FakePortState> s_;
};

inline void FakeFabric::deliver(const FakePortState& from, const UmadMad& sent) {
  for (const auto& to : ports_) {
    if (to.get() == &from) continue;
    std::optional<uint8_t> dgid_index;
    if (sent.addr.grh_present) {
      dgid_index = to->index_of(sent.addr.gid);
      if (!dgid_index) continue;
    } else if (to->link == LinkLayer::Ethernet || to->lid != sent.addr.lid) {
      continue;
    }
    // The MAD layer's routing: requests by method, responses by the TID's upper 32 bits.
    bool routed = is_response(sent.mad) ? to->registered && tid_of(sent.mad) >> 32 == to->hi_tid
                                        : to->takes(sent.mad[3]);
    if (!routed) break;
    UmadMad r;
    r.agent_id = to->agent_id;
    r.length = static_cast<int32_t>(sent.mad.size());
    r.mad = sent.mad;
    r.addr.qpn = 1;
    r.addr.qkey = 0x80010000;
    r.addr.lid = from.link == LinkLayer::Ethernet ? 0 : from.lid;
    r.addr.sl = sent.addr.sl;
    r.addr.pkey_index = sent.addr.pkey_index;
    r.addr.grh_present = sent.addr.grh_present;
    if (sent.addr.grh_present) {
      r.addr.gid = from.gids[sent.addr.gid_index];  // the source GID
      r.addr.gid_index = *dgid_index;               // ours, the MAD arrived on
      r.addr.hop_limit = sent.addr.hop_limit;
      r.addr.traffic_class = sent.addr.traffic_class;
      r.addr.flow_label = sent.addr.flow_label;
    }
    to->push(r);
    return;
  }
  ++unrouted;
}

inline std::unique_ptr<UmadPort> open_fake(const std::shared_ptr<FakePortState>& s) {
  return std::make_unique<FakeUmadPort>(s);
}

}  // namespace ibcm::umad::test
