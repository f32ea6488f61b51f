// Random simulation runs: a fabric, fault rates and a workload drawn from one seed (see
// random_run.h), driven step by step under RandomChecker.
#include "ibcm/sim/random_run.h"

#include <cstdio>

#include "ibcm/sim/consumer.h"
#include "sim/random_checker.h"

namespace ibcm::sim {

namespace {

using namespace std::chrono_literals;
constexpr uint64_t kService = 0x0000000001060000ull | 7174;
constexpr uint32_t kFirstQpn = 0x100;
constexpr int kMaxStaleRetries = 3;  // reconnects after REJ 10, per node and boot

// Per-run protocol timing: small exponents keep runs short without changing any rule.
struct Timing {
  uint8_t plt, resp, ack, retries;
};

// How one node's application behaves; drawn per node.
struct Behaviour {
  uint32_t accept = 70, reject = 10, mra = 10, slow = 10;  // weights of the answers to a REQ
  Time max_delay = 2s;                                     // for slow answers (REP, DREP, APR)
  double slow_drep = 0.1;                                  // DREP after a delay
  double reconnect = 0.5;   // after REJ 10 + TIMEWAIT, connect again from the same QP
  double disconnect = 0.5;  // disconnect some time after ESTABLISHED
};

class Run {
 public:
  explicit Run(const RandomRunOptions& o) : o_(o), rng_(mix64(o.seed ^ 0x5eedf00dull)) {
    FabricConfig fc;
    fc.seed = o.seed;
    fc.nodes = o.min_nodes + rng_.below(o.max_nodes - o.min_nodes + 1);
    timing_ =
        Timing{static_cast<uint8_t>(8 + rng_.below(7)), static_cast<uint8_t>(10 + rng_.below(7)),
               static_cast<uint8_t>(10 + rng_.below(9)), static_cast<uint8_t>(1 + rng_.below(15))};
    fc.node.cm_response_timeout = timing_.resp;
    fc.node.max_cm_retries = timing_.retries;
    fc.node.sidr_timeout = 100ms;
    fc.node.mutations = o.mutations;
    // A window of unanswered REQs (Config::max_reqs_in_flight) in half the runs, 1 to 4 so that
    // it fills; drawn from the seed apart from rng_, so the rest of a seed's run is as before.
    const uint64_t w = mix64(o.seed ^ 0x77696e646f77ull);
    fc.node.max_reqs_in_flight = (w & 1) ? 1 + static_cast<uint32_t>((w >> 1) % 4) : 0;
    // Many runs with little loss, some with a lot (up to 50 %).
    const double u = static_cast<double>(rng_.below(1'000'001)) / 1e6;
    fc.link.loss = 0.5 * u * u;
    fc.link.duplicate = static_cast<double>(rng_.below(101)) / 1000;
    fc.link.reorder = static_cast<double>(rng_.below(201)) / 1000;
    fc.link.latency = Time(1000 + static_cast<int64_t>(rng_.below(50'000)));
    fc.link.jitter = rng_.upto(fc.link.latency);
    fc.link.reorder_delay = rng_.upto(5ms);
    quiet_ = fc.link;
    quiet_.loss = quiet_.duplicate = quiet_.reorder = 0;
    f_ = std::make_unique<Fabric>(fc);
    checker_ = std::make_unique<RandomChecker>(f_->size());
    behaviour_.resize(f_->size());
    qpn_.assign(f_->size(), kFirstQpn);
    stale_retries_.assign(f_->size(), 0);
    s_.nodes = static_cast<uint32_t>(f_->size());
    s_.loss = fc.link.loss, s_.duplicate = fc.link.duplicate, s_.reorder = fc.link.reorder;
    for (NodeId n = 0; n < f_->size(); ++n) {
      Behaviour& b = behaviour_[n];
      b.accept = 40 + static_cast<uint32_t>(rng_.below(60));
      b.max_delay = rng_.upto(3s);
      b.slow_drep = static_cast<double>(rng_.below(30)) / 100;
      f_->set_consumer(n, [this](Fabric&, NodeId n, const Event& e) { on_event(n, e); });
      f_->set_boot_handler(n, [this](Fabric& f, NodeId n) {
        qpn_[n] = kFirstQpn;  // a reset HCA hands out the same QPNs again
        stale_retries_[n] = 0;
        listen(f, n);
      });
      listen(*f_, n);
    }
  }

  RandomRunResult go() {
    schedule_workload();
    // Heal: partitions end, links stop losing, duplicating and reordering.
    f_->schedule(o_.workload, [this](Fabric& f) {
      f.heal_all();
      f.set_default_link(quiet_);
      healed_ = true;
      for (NodeId n = 0; n < f.size(); ++n)
        if (!f.is_up(n)) f.reboot(n);
    });
    if (!drive("run")) return finish();
    const auto one_sided = checker_->at_idle(*f_, "after heal");
    s_.one_sided_after_heal = one_sided.size();
    // Only the legitimate ones (the peer rebooted, or its last word was lost) pass; on real
    // hardware their RC QP reports an error on its next send and the application disconnects.
    // Do that (to the others too, so the run drains), then the survivors must all agree.
    for (const auto& o : checker_->explain_one_sided(*f_, one_sided))
      ++(o.why == RandomChecker::OneSided::Why::PeerRebooted ? s_.one_sided_peer_rebooted
                                                             : s_.one_sided_last_word_lost);
    for (auto [n, c] : one_sided) disconnect(n, c);
    if (!drive("after the QP errors")) return finish();
    if (!checker_->at_idle(*f_, "after the QP errors").empty())
      checker_->violations().push_back("ESTABLISHED connections whose peer does not agree remain");
    // Teardown: everyone disconnects everything; then nothing may be left.
    for (NodeId n = 0; n < f_->size(); ++n)
      for (const auto& c : f_->cm(n).connections())
        if (c.state == State::Established) disconnect(n, c.id);
    if (!drive("teardown")) return finish();
    checker_->at_end(*f_);
    return finish();
  }

 private:
  void listen(Fabric& f, NodeId n) { (void)f.cm(n).listen(kService); }

  uint32_t next_qpn(NodeId n) { return qpn_[n]++ & 0xFFFFFF; }
  uint32_t psn() { return static_cast<uint32_t>(rng_.next()) & 0xFFFFFF; }
  Time delay(NodeId n) { return rng_.upto(behaviour_[n].max_delay); }

  ConnectParams params(NodeId from, NodeId to, uint32_t qpn) {
    ConnectParams p = make_connect_params(*f_, from, to, kService, qpn, psn());
    p.packet_life_time = timing_.plt;
    p.remote_cm_response_timeout = timing_.resp;
    p.primary.local_ack_timeout = timing_.ack;
    p.max_cm_retries = timing_.retries;
    return p;
  }

  void connect(NodeId from, NodeId to, std::optional<uint32_t> qpn = std::nullopt) {
    if (!f_->is_up(from)) return;
    ++s_.connects;
    const uint32_t q = qpn ? *qpn : next_qpn(from);
    if (auto c = f_->cm(from).connect(f_->now(), params(from, to, q)))
      checker_->connected(*f_, from, *c, q, to);
  }

  // The checker hears of every consumer call that moves a connection on, as it succeeds.
  bool tell(NodeId n, ConnId c, Call call, const Status& s) {
    if (s) checker_->called(*f_, n, c, call);
    return s.has_value();
  }
  bool disconnect(NodeId n, ConnId c) {
    return tell(n, c, Call::Disconnect, f_->cm(n).disconnect(f_->now(), c));
  }

  // Runs a consumer call later on node n, if the node has not crashed since.
  template <class F>
  void later(NodeId n, Time d, F fn) {
    f_->schedule(f_->now() + d, n, [fn](Fabric& f, NodeId n) mutable { fn(f.cm(n), f.now()); });
  }

  void on_event(NodeId n, const Event& e) {
    Cm& cm = f_->cm(n);
    const Time now = f_->now();
    const Behaviour& b = behaviour_[n];
    if (auto* x = std::get_if<ev::ReqReceived>(&e)) {
      const ConnId c = x->conn;
      AcceptParams ap;
      ap.qpn = x->peer_to_peer ? 0 : next_qpn(n);
      ap.psn = psn();
      const uint64_t pick = rng_.below(b.accept + b.reject + b.mra + b.slow);
      if (pick < b.accept) {
        accept(n, c, ap);
      } else if (pick < b.accept + b.reject) {
        tell(n, c, Call::Reject, cm.reject(now, c, wire::RejReason::ConsumerDefined));
      } else {
        if (pick < b.accept + b.reject + b.mra) (void)cm.send_mra(now, c, timing_.resp + 2);
        later(n, delay(n), [this, n, c, ap](Cm&, Time) { accept(n, c, ap); });
      }
    } else if (auto* x = std::get_if<ev::RepReceived>(&e)) {
      (void)cm.send_rtu(now, x->conn);
    } else if (auto* x = std::get_if<ev::Established>(&e)) {
      ++s_.established;
      if (!healed_ && rng_.chance(b.disconnect)) {
        const ConnId c = x->conn;
        later(n, rng_.upto(o_.workload / 4), [this, n, c](Cm&, Time) {
          if (disconnect(n, c)) ++s_.disconnects;
        });
      }
    } else if (auto* x = std::get_if<ev::DreqReceived>(&e)) {
      const ConnId c = x->conn;
      if (rng_.chance(b.slow_drep))
        later(n, delay(n),
              [this, n, c](Cm& cm, Time now) { tell(n, c, Call::SendDrep, cm.send_drep(now, c)); });
      else
        tell(n, c, Call::SendDrep, cm.send_drep(now, c));
    } else if (auto* x = std::get_if<ev::LapReceived>(&e)) {
      const auto status = rng_.chance(0.8) ? wire::ApStatus::Success : wire::ApStatus::Rejected;
      (void)cm.send_apr(now, x->conn, status);
    } else if (auto* x = std::get_if<ev::SidrReqReceived>(&e)) {
      SidrReplyParams rp;
      rp.qpn = next_qpn(n);
      rp.qkey = 0x11223344;
      (void)cm.sidr_reply(now, x->id, rp);
    } else if (auto* x = std::get_if<ev::RejReceived>(&e)) {
      if (x->rej.reason == wire::RejReason::StaleConnection && rng_.chance(b.reconnect) &&
          stale_retries_[n] < kMaxStaleRetries) {
        auto info = cm.connections();
        for (const auto& c : info)
          if (c.id == x->conn)
            stale_.push_back(Stale{n, c.id, c.local_qpn, f_->node_of(c.peer.gid)});
      }
    } else if (auto* x = std::get_if<ev::TimeWaitExit>(&e)) {
      for (size_t i = 0; i < stale_.size(); ++i) {
        if (stale_[i].node != n || stale_[i].conn != x->conn) continue;
        const Stale st = stale_[i];
        stale_.erase(stale_.begin() + static_cast<std::ptrdiff_t>(i));
        if (st.to) {
          ++stale_retries_[n];
          connect(n, *st.to, st.qpn);
        }
        break;
      }
    } else if (std::holds_alternative<ev::DreqTimeout>(e)) {
      ++s_.dreq_timeouts;
    }
  }

  void accept(NodeId n, ConnId c, const AcceptParams& ap) {
    if (f_->cm(n).accept(f_->now(), c, ap)) checker_->accepted(*f_, n, c, ap.qpn);
  }

  // An application that connects from a QP one of its connections still holds (in any state,
  // TIMEWAIT included): the engine must refuse, or the checker sees the QPN bound twice.
  void reuse_qpn(NodeId a, NodeId b) {
    std::vector<uint32_t> held;
    for (const auto& c : f_->cm(a).connections())
      if (c.local_qpn != 0) held.push_back(c.local_qpn);
    if (held.empty()) return;
    const uint32_t q = held[rng_.below(held.size())];
    if (auto c = f_->cm(a).connect(f_->now(), params(a, b, q)))
      checker_->connected(*f_, a, *c, q, b);
    else
      ++s_.qpn_reuses_refused;
  }

  // Picks a random connection of node n in `want` (any state if nullopt).
  std::optional<ConnId> pick(NodeId n, std::optional<State> want) {
    Cm* cm = f_->find_cm(n);
    if (!cm) return std::nullopt;
    std::vector<ConnId> ids;
    for (const auto& c : cm->connections())
      if (!want || c.state == *want) ids.push_back(c.id);
    if (ids.empty()) return std::nullopt;
    return ids[rng_.below(ids.size())];
  }

  void schedule_workload() {
    const uint64_t ops = f_->size() + rng_.below(std::max<uint64_t>(o_.max_ops, f_->size()) + 1);
    const uint64_t n_ops = std::min<uint64_t>(ops, o_.max_ops);
    s_.ops = n_ops;
    for (uint64_t i = 0; i < n_ops; ++i) {
      const Time at = rng_.upto(o_.workload - 1ns);
      const uint64_t kind = rng_.below(100);
      const NodeId a = static_cast<NodeId>(rng_.below(f_->size()));
      NodeId b = static_cast<NodeId>(rng_.below(f_->size() - 1));
      if (b >= a) ++b;
      f_->schedule(at, [this, kind, a, b](Fabric& f) { op(f, kind, a, b); });
    }
  }

  void op(Fabric& f, uint64_t kind, NodeId a, NodeId b) {
    if (!f.is_up(a)) return;
    Cm& cm = f.cm(a);
    const Time now = f.now();
    if (kind < 3) {
      reuse_qpn(a, b);
    } else if (kind < 45) {
      connect(a, b);
    } else if (kind < 60) {
      if (auto c = pick(a, State::Established); c && disconnect(a, *c)) ++s_.disconnects;
    } else if (kind < 65) {
      if (auto c = pick(a, std::nullopt)) {
        cm.destroy(now, *c);
        checker_->called(f, a, *c, Call::Destroy);
        ++s_.destroys;
      }
    } else if (kind < 72) {
      if (auto c = pick(a, State::Established)) {
        wire::PathInfo alt = params(a, b, 1).primary;
        for (const auto& i : cm.connections())
          if (i.id == *c) {
            if (auto peer = f.node_of(i.peer.gid)) alt = params(a, *peer, 1).primary;
          }
        alt.sl = static_cast<uint8_t>(rng_.below(16));
        if (tell(a, *c, Call::LoadAlternatePath, cm.load_alternate_path(now, *c, alt))) ++s_.laps;
      }
    } else if (kind < 82) {
      SidrParams p;
      p.service_id = kService;
      p.dest = f.address(b);
      if (auto id = cm.sidr_request(now, p)) {
        checker_->sidr_requested(f, a, *id);
        ++s_.sidrs;
      }
    } else if (kind < 88) {
      // The node's application reconnects after the reboot to the peers it had, from the same
      // QPNs (a reset HCA hands them out again): the stale-connection path.
      std::vector<std::pair<NodeId, uint32_t>> again;
      for (const auto& c : cm.connections())
        if (auto peer = f.node_of(c.peer.gid); peer && c.state == State::Established)
          again.emplace_back(*peer, c.local_qpn);
      ++s_.crashes;
      f.crash(a);
      f.schedule(now + rng_.upto(5s), [this, a, again](Fabric& f) {
        if (f.is_up(a)) return;
        f.reboot(a);
        for (auto [peer, qpn] : again) {
          if (qpn >= qpn_[a]) qpn_[a] = qpn + 1;
          if (!healed_) connect(a, peer, qpn);
        }
      });
    } else if (kind < 93) {
      ++s_.partitions;
      std::vector<NodeId> side;
      for (NodeId n = 0; n < f.size(); ++n)
        if (rng_.chance(0.3)) side.push_back(n);
      if (side.empty()) side.push_back(a);
      const PartitionId p = f.isolate(side);
      f.schedule(now + rng_.upto(10s), [p](Fabric& f) { f.heal(p); });
    } else {
      // A delay spike on one link: the next few MADs arrive up to 2 s late.
      f.add_rule(delay_next(std::nullopt, rng_.upto(2s), a, b, 1 + rng_.below(5)));
    }
  }

  // Steps until idle, checking after every step. False if the run did not drain.
  bool drive(const std::string& phase) {
    for (uint64_t i = 0; i < o_.max_steps; ++i) {
      if (!f_->step()) {
        checker_->after_step(*f_);
        return true;
      }
      checker_->after_step(*f_);
    }
    checker_->violations().push_back(phase + ": no idle after " + std::to_string(o_.max_steps) +
                                     " steps (livelock?)");
    return false;
  }

  RandomRunResult finish() {
    RandomRunResult r;
    r.seed = o_.seed;
    s_.mads = f_->trace().mads.size();
    s_.steps = f_->stats().steps;
    s_.end = f_->now();
    for (NodeId n = 0; n < f_->size(); ++n)
      if (const Cm* cm = f_->find_cm(n)) s_.reqs_waited += cm->counters().reqs_waited;
    for (const auto& m : f_->trace().mads) {
      if (m.attr() != static_cast<uint16_t>(wire::AttrId::Rej)) continue;
      auto d = wire::decode(m.bytes);
      if (d && std::get<wire::Rej>(d->message).reason == wire::RejReason::StaleConnection)
        ++s_.stale_rejects;
    }
    r.stats = s_;
    r.violations = std::move(checker_->violations());
    r.fabric = std::move(f_);
    return r;
  }

  struct Stale {
    NodeId node;
    ConnId conn;
    uint32_t qpn;
    std::optional<NodeId> to;
  };

  RandomRunOptions o_;
  Rng rng_;
  Timing timing_{};
  LinkParams quiet_;
  std::unique_ptr<Fabric> f_;
  std::unique_ptr<RandomChecker> checker_;
  std::vector<Behaviour> behaviour_;
  std::vector<uint32_t> qpn_;
  std::vector<int> stale_retries_;
  std::vector<Stale> stale_;
  RandomRunStats s_;
  bool healed_ = false;
};

}  // namespace

std::span<const MutationName> mutation_names() {
  static constexpr MutationName kNames[] = {
      {"skip-stale-dreq", Mutation::SkipStaleDreq},
      {"never-time-out-dreq", Mutation::NeverTimeOutDreq},
      {"ignore-rej-on-established", Mutation::IgnoreRejOnEstablished},
  };
  return kNames;
}

RandomRunResult run_random(const RandomRunOptions& o) {
  Run r(o);
  return r.go();
}

std::string describe(const RandomRunResult& r) {
  const RandomRunStats& s = r.stats;
  char buf[640];
  std::snprintf(
      buf, sizeof buf,
      "seed %llu: %u nodes, loss %.3f dup %.3f reorder %.3f; %llu ops (%llu connects, "
      "%llu disconnects, %llu destroys, %llu LAPs, %llu SIDRs, %llu crashes, %llu "
      "partitions, %llu QPN reuses refused); %llu established, %llu REJ 10, %llu DREQ "
      "timeouts, %llu one-sided at heal (%llu peer rebooted, %llu last word lost); %llu MADs, "
      "%llu steps, drained at %.3f s: %s",
      static_cast<unsigned long long>(r.seed), s.nodes, s.loss, s.duplicate, s.reorder,
      static_cast<unsigned long long>(s.ops), static_cast<unsigned long long>(s.connects),
      static_cast<unsigned long long>(s.disconnects), static_cast<unsigned long long>(s.destroys),
      static_cast<unsigned long long>(s.laps), static_cast<unsigned long long>(s.sidrs),
      static_cast<unsigned long long>(s.crashes), static_cast<unsigned long long>(s.partitions),
      static_cast<unsigned long long>(s.qpn_reuses_refused),
      static_cast<unsigned long long>(s.established),
      static_cast<unsigned long long>(s.stale_rejects),
      static_cast<unsigned long long>(s.dreq_timeouts),
      static_cast<unsigned long long>(s.one_sided_after_heal),
      static_cast<unsigned long long>(s.one_sided_peer_rebooted),
      static_cast<unsigned long long>(s.one_sided_last_word_lost),
      static_cast<unsigned long long>(s.mads), static_cast<unsigned long long>(s.steps),
      static_cast<double>(s.end.count()) / 1e9, r.passed() ? "ok" : "VIOLATED");
  return buf;
}

}  // namespace ibcm::sim
