// libFuzzer target for the sans-I/O engine: two CMs (A and B) joined by a network the input
// controls (deliver, drop, duplicate, reorder, mutate), MADs injected from outside (raw bytes, or
// messages of any type built from identifiers the run has seen, so they reach deep states), time
// jumps, reboots and every consumer call (fuzz/engine_ops.h has the input format).
//
// Checked, besides "never crashes" (ASan, UBSan):
// - every MAD a CM sends decodes, and re-encodes to the same bytes (no reserved bit set), unless
//   it is a MAD-status reply (GetResp with a non-zero status) to something it cannot serve;
// - every connection object is one the consumer was told about (connect, req_received);
// - answering nothing and running the timers to the end, both CMs become quiet: no timer left,
//   no SIDR request left, and every connection waits for its consumer (REQ/REP received,
//   ESTABLISHED, DREQ received) with no LAP of ours outstanding;
// - destroying every connection and running the timers again leaves nothing at all.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine_ops.h"
#include "fixture/nodes.h"
#include "ibcm/engine/cm.h"
#include "ibcm/text/event_json.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/schema.h"
#include "ibcm/wire/time.h"
#include "wire/testkit.h"

using namespace ibcm;
using namespace ibcm::fuzz;
namespace testkit = ibcm::wire::testkit;

namespace {

// IBCM_FUZZ_TRACE=1 prints each operation, MAD and event: for reading a crash's input.
const bool kTrace = std::getenv("IBCM_FUZZ_TRACE") != nullptr;

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "engine_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

constexpr int kNodes = 2;        // A and B; address 2 is a stranger without a CM
constexpr size_t kMaxOps = 512;  // per input
constexpr size_t kMaxInFlight = 256;
constexpr int kMaxTimerRuns = 200000;

constexpr uint64_t kLinuxGuid = 0x505400fffe123456;

Address address_of(int n) {
  Address a;
  a.gid = wire::Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, uint8_t(1 + n)};
  return a;
}

// Node n's CM as the tests' pair has it (tests/fixture/nodes.h), at its address here and with a
// new seed each time it reboots (generation).
Config config_of(int n, uint64_t generation) {
  return fixture::node_config(static_cast<uint32_t>(n + 1), address_of(n),
                              generation * 16 + uint64_t(n));
}

struct InFlight {
  int from;
  int to;
  wire::MadBytes bytes;
};

// splitmix64: the bulk of an injected message's fields, from one seed in the input.
struct SplitMix {
  uint64_t s;
  uint64_t operator()() {
    uint64_t z = (s += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
};

template <class T, size_t N>
T pick(const T (&a)[N], uint8_t sel) {
  return a[sel % N];
}

class World {
 public:
  World() {
    for (int n = 0; n < kNodes; ++n) cms_.emplace_back(config_of(n, 0));
    for (auto& cm : cms_) cm.set_logger(logger());
    for (auto& cm : cms_) guids_.push_back(cm.config().ca_guid);
    guids_.push_back(kLinuxGuid);
  }

  void apply(const Record& r) {
    const int node = r.u8(0) & 1;
    if (kTrace)
      std::fprintf(stderr, "t=%lld op %d arg0 %d (in flight %zu)\n",
                   static_cast<long long>(now_.count()), static_cast<int>(r.op), r.u8(0),
                   in_flight_.size());
    switch (r.op) {
      case Op::Deliver:
      case Op::Drop:
      case Op::Duplicate:
      case Op::Reorder:
      case Op::Mutate:
      case Op::FlipByte:
        network(r);
        break;
      case Op::InjectRaw: {
        // [node|from|long][length: 0 = a whole MAD][bytes]; "long" adds a 257th byte.
        std::array<uint8_t, wire::kMadSize + 1> buf{};
        std::copy_n(r.arg.begin() + 2, wire::kMadSize, buf.begin());
        const size_t len = (r.u8(0) & 0x80) ? buf.size() : r.u8(1) == 0 ? wire::kMadSize : r.u8(1);
        cms_[node].handle_mad(now_, source(r.u8(0), node), {buf.data(), len});
        break;
      }
      case Op::InjectMessage:
        inject_message(r, node);
        break;
      case Op::Advance:
        advance(r.u8(0), r.u32(1));
        break;
      case Op::RunTimers:
        if (auto t = earliest_timer()) now_ = std::max(now_, *t);
        for (auto& cm : cms_) cm.handle_timeout(now_);
        break;
      case Op::Reboot:
        cms_[node] = Cm(config_of(node, ++generation_));
        cms_[node].set_logger(logger());
        known_[node].clear();
        sidr_in_[node].clear();
        break;
      default:
        consumer_call(r, node);
        break;
    }
    collect();
    check_known_connections();
  }

  // Answer nothing: run every timer until none is left; then what remains waits for its consumer.
  void run_out_timers(bool after_destroy) {
    in_flight_.clear();
    for (int i = 0;; ++i) {
      require(i < kMaxTimerRuns, "timers never run out");
      auto t = earliest_timer();
      if (!t) break;
      now_ = std::max(now_, *t);
      for (auto& cm : cms_) cm.handle_timeout(now_);
      collect();
      in_flight_.clear();
    }
    for (int n = 0; n < kNodes; ++n) {
      const Cm& cm = cms_[n];
      require(!cm.next_timeout().has_value(), "a timer is left");
      require(cm.timer_count() == 0, "timer_count() is not 0 with no timer due");
      require(cm.sidr_count() == 0, "a SIDR request outlived its timers");
      if (after_destroy) {
        require(cm.connection_count() == 0, "a destroyed connection outlived its timers");
        continue;
      }
      for (ConnId id : known_[n]) {
        auto s = cm.state(id);
        if (!s) continue;
        require(*s == State::ReqRcvd || *s == State::MraReqSent || *s == State::RepRcvd ||
                    *s == State::MraRepSent || *s == State::Established || *s == State::DreqRcvd,
                "a connection waits on a timer that never fires");
        auto lap = cm.lap_state(id);
        require(lap != LapState::LapSent && lap != LapState::MraLapRcvd,
                "a LAP waits on a timer that never fires");
      }
    }
  }

  void destroy_everything() {
    for (int n = 0; n < kNodes; ++n)
      for (ConnId id : std::vector<ConnId>(known_[n].begin(), known_[n].end()))
        cms_[n].destroy(now_, id);
    collect();
  }

 private:
  static Logger logger() {
    return [](LogLevel, std::string_view msg) { require(msg.size() < 4096, "log line"); };
  }

  std::optional<Time> earliest_timer() const {
    std::optional<Time> t;
    for (const auto& cm : cms_)
      if (auto x = cm.next_timeout(); x && (!t || *x < *t)) t = x;
    return t;
  }

  Address source(uint8_t sel, int to) const {
    // Mostly the other node (so the message may pass the source checks), sometimes a stranger.
    return address_of((sel & 0x40) ? 2 : 1 - to);
  }

  uint32_t some_id(uint8_t sel) const {
    if (ids_.empty() || sel == 0xff) return sel;
    return ids_[ids_.size() - 1 - sel % ids_.size()];
  }

  ConnId conn_of(int node, uint8_t sel) const {
    const auto& k = known_[node];
    if (k.empty() || sel == 0xff) return sel;  // most likely no such connection
    return k[k.size() - 1 - sel % k.size()];
  }

  std::span<const uint8_t> data(uint8_t len) const {
    static const std::array<uint8_t, 256> bytes = [] {
      std::array<uint8_t, 256> b{};
      for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7 + 1);
      return b;
    }();
    return {bytes.data(), len};
  }

  void advance(uint8_t kind, uint32_t amount) {
    switch (kind % 4) {
      case 0:
        now_ += std::chrono::microseconds(amount & 0xffff);
        break;
      case 1:
        now_ += wire::cm_time(static_cast<uint8_t>(amount));
        break;
      case 2:
        now_ += std::chrono::milliseconds(amount & 0xfffff);
        break;
      default:
        if (auto t = earliest_timer())
          now_ = std::max(now_, *t - std::chrono::nanoseconds(amount & 0xff));
        break;
    }
    for (auto& cm : cms_) cm.handle_timeout(now_);
  }

  void network(const Record& r) {
    if (in_flight_.empty()) return;
    const size_t i = r.u8(0) % in_flight_.size();
    InFlight m = in_flight_[i];
    switch (r.op) {
      case Op::Drop:
        in_flight_.erase(in_flight_.begin() + static_cast<ptrdiff_t>(i));
        return;
      case Op::Reorder:
        in_flight_.erase(in_flight_.begin() + static_cast<ptrdiff_t>(i));
        in_flight_.push_back(m);
        return;
      case Op::Duplicate:
        break;
      case Op::Mutate:
        in_flight_.erase(in_flight_.begin() + static_cast<ptrdiff_t>(i));
        mutate_field(m.bytes, r.u8(1), r.u64(2));
        break;
      case Op::FlipByte:
        in_flight_.erase(in_flight_.begin() + static_cast<ptrdiff_t>(i));
        m.bytes[r.u8(1)] ^= r.u8(2) ? r.u8(2) : 0x01;
        break;
      default:  // Deliver
        in_flight_.erase(in_flight_.begin() + static_cast<ptrdiff_t>(i));
        break;
    }
    cms_[m.to].handle_mad(now_, address_of(m.from), m.bytes);
  }

  // One field of the MAD's message or header set to a value of its width, through the schema.
  static void mutate_field(wire::MadBytes& bytes, uint8_t which, uint64_t value) {
    auto mad = wire::decode(bytes);
    if (!mad) {
      bytes[which] ^= static_cast<uint8_t>(value | 1);
      return;
    }
    std::visit(
        [&](auto& m) {
          using M = std::decay_t<decltype(m)>;
          const auto& fields = wire::Schema<M>::fields;
          const auto& hfields = wire::Schema<wire::MadHeader>::fields;
          size_t k = which % (fields.size() + hfields.size());
          if (k < fields.size()) {
            const auto& f = fields[k];
            if (f.is_number()) {
              f.set(m, value & testkit::width_mask(f.width));
            } else {
              auto b = f.mutable_bytes(m);
              b[value % b.size()] ^= static_cast<uint8_t>(value >> 8 | 1);
            }
          } else {
            const auto& f = hfields[k - fields.size()];
            f.set(mad->header, value & testkit::width_mask(f.width));
          }
        },
        mad->message);
    bytes = wire::encode(*mad);
  }

  void inject_message(const Record& r, int node) {
    wire::Message msg = testkit::message_of_index(r.u8(1) % std::variant_size_v<wire::Message>);
    SplitMix rng{r.u64(2)};
    testkit::fill_fields(msg, rng);
    const uint8_t pools = r.u8(10);
    if (!(pools & 0x80)) testkit::clamp_lengths(msg);
    // Identifiers from the run: comm IDs / request IDs, QPNs, CA GUIDs, service IDs.
    std::visit(
        [&](auto& m) {
          using M = std::decay_t<decltype(m)>;
          auto set = [&](const char* name, uint64_t v) {
            if (const auto* f = testkit::field_named<M>(name)) f->set(m, v);
          };
          if (pools & 0x01) set("LocalCommID", some_id(r.u8(11)));
          if (pools & 0x02) set("RemoteCommID", some_id(r.u8(11) >> 4));
          if (pools & 0x01) set("RequestID", some_id(r.u8(11)));
          if (pools & 0x04) {
            const uint32_t qpn = pick(kQpns, r.u8(12));
            set("LocalQPN", qpn);
            set("RemoteQPN", qpn);
            set("QPN", qpn);
          }
          if (pools & 0x08) set("LocalCAGUID", guids_[r.u8(12) % guids_.size()]);
          if (pools & 0x10) set("ServiceID", pick(kServices, r.u8(15)));
          if (pools & 0x20) {  // a plausible REQ: RC, valid timeouts
            set("TransportServiceType", 0);
            set("MaxCMRetries", r.u8(15) % 16);
          }
        },
        msg);
    uint64_t tid = rng();
    if ((r.u8(14) & 3) == 0 && !tids_.empty()) tid = tids_[r.u8(13) % tids_.size()];
    wire::Mad mad = wire::make_mad(msg, tid);
    if (r.u8(14) & 0x80)
      mad.header.method = static_cast<uint8_t>(r.u8(13));
    else
      mad.header.method = testkit::valid_method(mad.message, r.u8(13));
    cms_[node].handle_mad(now_, source(r.u8(0), node), wire::encode(mad));
  }

  void consumer_call(const Record& r, int node) {
    Cm& cm = cms_[node];
    const ConnId conn = conn_of(node, r.u8(1));
    switch (r.op) {
      case Op::Listen: {
        const uint64_t mask = r.u8(2) == 0 ? ~uint64_t{0} : ~uint64_t{0} << (r.u8(2) % 64);
        (void)cm.listen(pick(kServices, r.u8(1)), mask);
        break;
      }
      case Op::Unlisten:
        (void)cm.unlisten(r.u8(1) % 5);
        break;
      case Op::Connect: {
        ConnectParams p;
        p.service_id = pick(kServices, r.u8(2));
        p.dest = address_of((r.u8(0) & 0x40) ? 2 : 1 - node);
        p.qpn = pick(kQpns, r.u8(1));
        p.psn = r.u32(8) & ((r.u8(0) & 0x20) ? ~0u : 0xffffffu);
        p.private_data = data(r.u8(3) % 100);
        p.max_cm_retries = static_cast<uint8_t>((15 + r.u8(4)) % 17);
        p.packet_life_time = static_cast<uint8_t>((18 + r.u8(5)) % 32);
        p.remote_cm_response_timeout = static_cast<uint8_t>((20 + r.u8(6)) % 32);
        p.primary.local_gid = address_of(node).gid;
        p.primary.remote_gid = p.dest.gid;
        p.primary.local_lid = p.primary.remote_lid = 0xffff;
        p.primary.local_ack_timeout = static_cast<uint8_t>((19 + r.u8(7)) % 32);
        p.peer_to_peer = r.u8(0) & 0x02;
        if (r.u8(0) & 0x04) {
          wire::PathInfo alt = p.primary;
          alt.local_lid = 0x10;
          alt.local_ack_timeout = static_cast<uint8_t>(r.u8(7) % 32);
          p.alternate = alt;
        }
        if (r.u8(0) & 0x08) p.transport = wire::TransportType::UC;
        if (auto id = cm.connect(now_, p)) remember(node, *id);
        break;
      }
      case Op::Accept: {
        AcceptParams p;
        p.qpn = pick(kQpns, static_cast<uint8_t>(r.u8(2) + 2));  // 0x200 by default
        p.psn = r.u32(4) & 0xffffff;
        p.private_data = data(static_cast<uint8_t>(r.u8(3) % 200));
        p.failover_accepted = r.u8(4) % 3;
        p.srq = r.u8(4) & 0x04;
        (void)cm.accept(now_, conn, p);
        break;
      }
      case Op::Reject:
        (void)cm.reject(now_, conn, static_cast<wire::RejReason>(r.u8(2) % 40), data(r.u8(3) % 80),
                        data(r.u8(4) % 160));
        break;
      case Op::SendMra:
        (void)cm.send_mra(now_, conn, r.u8(2) % 32, data(r.u8(3) % 230));
        break;
      case Op::SendRtu:
        (void)cm.send_rtu(now_, conn, data(r.u8(2) % 230));
        break;
      case Op::Establish:
        (void)cm.establish(now_, conn);
        break;
      case Op::Disconnect:
        (void)cm.disconnect(now_, conn, data(r.u8(2) % 230));
        break;
      case Op::SendDrep:
        (void)cm.send_drep(now_, conn, data(r.u8(2) % 230));
        break;
      case Op::LoadAlternatePath: {
        wire::PathInfo alt;
        alt.local_gid = address_of(node).gid;
        alt.remote_gid = address_of(1 - node).gid;
        alt.local_lid = static_cast<uint16_t>(0x20 + r.u8(2));
        alt.remote_lid = 0x30;
        alt.flow_label = uint32_t{r.u8(2)} << 12;
        alt.local_ack_timeout = static_cast<uint8_t>((19 + r.u8(2)) % 32);
        (void)cm.load_alternate_path(now_, conn, alt, data(r.u8(3) % 180));
        break;
      }
      case Op::SendApr:
        (void)cm.send_apr(now_, conn, static_cast<wire::ApStatus>(r.u8(2) % 16), data(r.u8(3) % 80),
                          data(r.u8(4) % 160));
        break;
      case Op::Migrate:
        (void)cm.migrate(conn);
        break;
      case Op::SidrRequest: {
        SidrParams p;
        p.service_id = pick(kServices, r.u8(1));
        p.dest = address_of((r.u8(0) & 0x40) ? 2 : 1 - node);
        p.private_data = data(r.u8(2) % 230);
        p.pkey = static_cast<uint16_t>(0xffff - r.u8(3));
        (void)cm.sidr_request(now_, p);
        break;
      }
      case Op::SidrReply: {
        const auto& ids = sidr_in_[node];
        const SidrId id = ids.empty() ? r.u8(1) : ids[ids.size() - 1 - r.u8(1) % ids.size()];
        SidrReplyParams p;
        p.status = static_cast<wire::SidrStatus>(r.u8(2) % 7);
        p.qpn = pick(kQpns, r.u8(3));
        p.additional_info = data(r.u8(4) % 80);
        p.private_data = data(r.u8(5) % 150);
        (void)cm.sidr_reply(now_, id, p);
        break;
      }
      case Op::Destroy:
        cm.destroy(now_, conn);
        break;
      case Op::Query:
        (void)cm.qp_attributes(conn, static_cast<QpState>(r.u8(2) % 4));
        (void)cm.state(conn);
        (void)cm.lap_state(conn);
        break;
      default:
        break;
    }
  }

  void remember(int node, ConnId id) {
    auto& k = known_[node];
    if (std::find(k.begin(), k.end(), id) == k.end()) k.push_back(id);
    if (std::find(ids_.begin(), ids_.end(), id) == ids_.end()) ids_.push_back(id);
  }

  // Everything both CMs want to send and tell, checked; MADs between A and B go in flight.
  void collect() {
    for (int n = 0; n < kNodes; ++n) {
      while (auto t = cms_[n].poll_transmit()) {
        check_sent(t->mad);
        if (kTrace)
          std::fprintf(
              stderr, "  %c sends %s\n", 'A' + n,
              std::string(wire::attr_name(static_cast<uint16_t>(t->mad[16] << 8 | t->mad[17])))
                  .c_str());
        wire::MadHeader h;
        wire::decode_header(t->mad, h);
        tids_.push_back(h.transaction_id);
        if (tids_.size() > 64) tids_.erase(tids_.begin());
        for (int to = 0; to < kNodes; ++to)
          if (to != n && t->to.gid == address_of(to).gid) in_flight_.push_back({n, to, t->mad});
        if (in_flight_.size() > kMaxInFlight) in_flight_.pop_front();
      }
      while (auto e = cms_[n].poll_event()) {
        const std::string json = event_to_json(1.5, *e);
        if (kTrace) std::fprintf(stderr, "  %c event %s\n", 'A' + n, json.c_str());
        if (auto* req = std::get_if<ev::ReqReceived>(&*e)) {
          remember(n, req->conn);
          ids_.push_back(req->req.local_comm_id);
        } else if (auto* s = std::get_if<ev::SidrReqReceived>(&*e)) {
          sidr_in_[n].push_back(s->id);
          ids_.push_back(s->req.request_id);
        }
        if (ids_.size() > 64) ids_.erase(ids_.begin());
      }
    }
  }

  static void check_sent(const wire::MadBytes& bytes) {
    auto mad = wire::decode(bytes);
    if (!mad) {
      const auto& h = mad.error().header;
      require(h.method == static_cast<uint8_t>(wire::Method::GetResp) && h.status != 0,
              "a CM sent a MAD that does not decode");
      return;
    }
    require(wire::encode(*mad) == bytes, "a CM sent a MAD with reserved bits set");
  }

  void check_known_connections() const {
    for (int n = 0; n < kNodes; ++n) {
      size_t live = 0;
      for (ConnId id : known_[n]) live += cms_[n].state(id).has_value();
      require(live == cms_[n].connection_count(), "a connection the consumer never heard of");
    }
  }

  std::vector<Cm> cms_;
  uint64_t generation_ = 0;
  Time now_{1'000'000'000};
  std::deque<InFlight> in_flight_;
  std::vector<ConnId> known_[kNodes];
  std::vector<SidrId> sidr_in_[kNodes];
  std::vector<uint32_t> ids_;  // comm IDs and request IDs seen, ours and the peers'
  std::vector<uint64_t> tids_;
  std::vector<uint64_t> guids_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World world;
  Reader in({data, size});
  for (size_t i = 0; i < kMaxOps && !in.done(); ++i) world.apply(in.next());
  world.run_out_timers(/*after_destroy=*/false);
  world.destroy_everything();
  world.run_out_timers(/*after_destroy=*/true);
  return 0;
}
