// The probe's run: its checks in order, each its own conversation, and what became of each.
#include <algorithm>
#include <array>
#include <cstdio>

#include "probe/checks.h"

namespace ibcm::probe {

namespace {

// The REQ fields whose validity depends on the receiving port, not on their encoding: no value
// is invalid whatever the port, so no remote can be held to a REJ for one by its messages alone.
constexpr std::string_view kLidNa =
    "depends on the port: a LID is invalid unless it is the receiving port's (within its LMC), "
    "which only the subnet knows; RoCE and MAD-over-UDP ports have no LID (Linux sends 0xFFFF "
    "there) and do not look at the field";
constexpr std::string_view kSlNa =
    "depends on the port: all 16 SLs are valid encodings, and one is refused only where the "
    "port's SL-to-VL table (on RoCE, its priority setup) sends it nowhere";
constexpr std::string_view kTrafficClassNa =
    "depends on the port: all 256 traffic classes are valid encodings, and one is refused only by "
    "the port's own policy (on RoCE, its DSCP setup)";
constexpr std::string_view kHopLimitNa =
    "depends on the path: every hop limit 0-255 is a valid encoding, and whether one reaches the "
    "remote depends on the routers between the ports (on RoCEv2 it is the IP TTL)";
constexpr std::string_view kFlowLabelNa =
    "depends on the port: every 20-bit flow label is a valid encoding (0: none), and one is "
    "refused only by the port's own policy";

// Where each rule is in IBTA Vol 1: chapter 12's messages and REJ reasons (12.6), its state
// diagrams (12.9), SIDR (12.11), and ClassPortInfo in the MAD chapter (13.4.8.1).
constexpr std::array kChecks{
    CheckDef{{"class-port-info", "13.4.8.1", "Get(ClassPortInfo) of the CM class is answered"},
             "GetResp with status 0 and CM class version 2",
             check_class_port_info},
    CheckDef{{"unknown-service", "12.6, 12.9", "REQ for a service ID nobody listens on"},
             "REJ with reason 8 (invalid service ID)",
             check_unknown_service},
    CheckDef{{"sidr-unknown-service", "12.11", "SIDR_REQ for a service ID nobody listens on"},
             "SIDR_REP with status 1 (service ID not supported)",
             check_sidr_unknown_service},
    CheckDef{{"invalid-transport", "12.6",
              "REQ for the RD transport service, which an rdma_cm listener cannot serve"},
             "REJ with reason 9 (invalid transport service type)",
             check_invalid_transport},
    CheckDef{{"invalid-mtu", "12.6", "REQ with a reserved PathPacketPayloadMTU (7)"},
             "REJ with reason 26 (invalid MTU)",
             check_invalid_mtu},
    CheckDef{{"invalid-gid", "12.6",
              "REQ whose PrimaryRemotePortGID (the remote's port) is 2001:db8::1, not the "
              "remote's"},
             "REJ with reason 12 (invalid GID)",
             check_invalid_gid},
    CheckDef{{"invalid-lid", "12.6", "REQ whose PrimaryRemotePortLID is not the remote port's"},
             "REJ with reason 13 (invalid LID)",
             nullptr,
             kLidNa},
    CheckDef{{"invalid-sl", "12.6", "REQ with a PrimarySL the remote port cannot use"},
             "REJ with reason 14 (invalid SL)",
             nullptr,
             kSlNa},
    CheckDef{{"invalid-traffic-class", "12.6",
              "REQ with a PrimaryTrafficClass the remote port cannot use"},
             "REJ with reason 15 (invalid traffic class)",
             nullptr,
             kTrafficClassNa},
    CheckDef{
        {"invalid-hop-limit", "12.6", "REQ with a PrimaryHopLimit that cannot reach the remote"},
        "REJ with reason 16 (invalid hop limit)",
        nullptr,
        kHopLimitNa},
    CheckDef{{"invalid-packet-rate", "12.6", "REQ with a reserved PrimaryPacketRate (63)"},
             "REJ with reason 17 (invalid packet rate)",
             check_invalid_packet_rate},
    CheckDef{{"invalid-alt-gid", "12.6",
              "REQ with an alternate path whose AlternateRemotePortGID is 2001:db8::1, not the "
              "remote's"},
             "REJ with reason 18 (invalid alternate GID)",
             check_invalid_alt_gid},
    CheckDef{{"invalid-alt-lid", "12.6",
              "REQ whose AlternateRemotePortLID is not a port of the remote's"},
             "REJ with reason 19 (invalid alternate LID)",
             nullptr,
             kLidNa},
    CheckDef{{"invalid-alt-sl", "12.6", "REQ with an AlternateSL the remote port cannot use"},
             "REJ with reason 20 (invalid alternate SL)",
             nullptr,
             kSlNa},
    CheckDef{{"invalid-alt-traffic-class", "12.6",
              "REQ with an AlternateTrafficClass the remote port cannot use"},
             "REJ with reason 21 (invalid alternate traffic class)",
             nullptr,
             kTrafficClassNa},
    CheckDef{{"invalid-alt-hop-limit", "12.6",
              "REQ with an AlternateHopLimit that cannot reach the remote"},
             "REJ with reason 22 (invalid alternate hop limit)",
             nullptr,
             kHopLimitNa},
    CheckDef{{"invalid-alt-packet-rate", "12.6",
              "REQ with an alternate path whose AlternatePacketRate is reserved (63)"},
             "REJ with reason 23 (invalid alternate packet rate)",
             check_invalid_alt_packet_rate},
    CheckDef{
        {"invalid-class-version", "12.6", "REQ of CM class version 3 (the CM class is version 2)"},
        "REJ with reason 31 (invalid class version), naming the REQ",
        check_invalid_class_version},
    CheckDef{{"invalid-flow-label", "12.6", "REQ with a PrimaryFlowLabel the remote cannot use"},
             "REJ with reason 32 (invalid flow label)",
             nullptr,
             kFlowLabelNa},
    CheckDef{
        {"invalid-alt-flow-label", "12.6", "REQ with an AlternateFlowLabel the remote cannot use"},
        "REJ with reason 33 (invalid alternate flow label)",
        nullptr,
        kFlowLabelNa},
    CheckDef{{"invalid-qpn", "12.6", "REQ from QP 0, which cannot be connected"},
             "a REJ (the spec assigns no reason of its own), never a connection",
             check_invalid_qpn},
    CheckDef{{"duplicate-req", "12.9", "the same REQ (comm ID, TID) again while its REP is out"},
             "the REP again, an MRA or nothing: never a second connection or a REJ",
             check_duplicate_req},
    CheckDef{{"reused-comm-id", "12.6, 12.9",
              "REQ from another QP under the comm ID (and CA GUID) of a live connection"},
             "REJ with reason 30 (duplicate local comm ID); the live connection goes on (its "
             "DREQ gets a DREP)",
             check_reused_comm_id},
    CheckDef{{"reused-tid", "12.9, 13.4",
              "REQ for a new connection with the TID of a live connection's REQ"},
             "a REP: a new connection (TIDs pair a reply with its request, they name no "
             "connection)",
             check_reused_tid},
    CheckDef{{"lost-rtu", "12.9", "REP never answered with an RTU"},
             "the REP retried at the interval the REQ asked, at most MaxCMRetries times, then "
             "REJ with reason 4 (timeout) naming the REP",
             check_lost_rtu},
    CheckDef{
        {"mra-rep", "12.6, 12.9", "MRA for the REP (more time asked before the RTU), then the RTU"},
        "no REP retry while the MRA's service time runs; the RTU then establishes the "
        "connection (its DREQ gets a DREP)",
        check_mra_rep},
    CheckDef{{"lap", "12.6, 12.9", "LAP (an alternate path) on an established connection"},
             "an APR (any status; an MRA first if more time is needed) or a REJ naming the LAP; "
             "the connection goes on (its DREQ gets a DREP)",
             check_lap},
    CheckDef{{"stale-req", "12.9",
              "REQ from a QP (and CA GUID) that still has a connection, as after a reboot"},
             "REJ with reason 10 (stale connection), then a DREQ for the old connection naming "
             "that QPN",
             check_stale_req},
    CheckDef{{"stale-req-half-open", "12.9",
              "the same, while the old connection's REP still waits for its RTU (REP_SENT)"},
             "REJ with reason 10, then a DREQ for the old connection naming that QPN: in every "
             "state, not only when established",
             check_stale_req_half_open},
    CheckDef{{"rej-established", "12.9",
              "REJ naming the REP of an established connection, as from a peer that gave it up"},
             "the connection ends: a REQ from its QP is not stale (REP, or REJ 10 with no DREQ "
             "while its QPN is kept through TIMEWAIT)",
             check_rej_established},
    CheckDef{{"dreq-unknown", "12.9", "DREQ for a connection the remote does not have"},
             "DREP, the communication IDs swapped",
             check_dreq_unknown},
    CheckDef{{"dreq-unanswered", "12.9", "the remote's DREQ never answered"},
             "the DREQ retried at most MaxCMRetries times, then TIMEWAIT: the connection is "
             "given up (a REQ from its QP is a new connection)",
             check_dreq_unanswered},
    CheckDef{{"stale-rep", "12.9",
              "the remote connects twice; our REP to the second comes from the QP (and CA GUID) "
              "of the first, still connected"},
             "REJ with reason 10 naming the REP, then a DREQ for the old connection naming that "
             "QPN; the REJ ends the remote's attempt (no REQ retry)",
             check_stale_rep},
    CheckDef{{"mra-req", "12.6, 12.9",
              "the remote connects; MRA for its REQ, then the REP after its REQ retry was due"},
             "no REQ retry and no timeout while the MRA's service time runs; the late REP is "
             "answered with an RTU",
             check_mra_req},
};

constexpr auto kInfos = [] {
  std::array<CheckInfo, kChecks.size()> a{};
  for (size_t i = 0; i < kChecks.size(); ++i) a[i] = kChecks[i].info;
  return a;
}();

// The remote's MADs are counted across checks: a run that heard nothing at all could not run.
class CountingTransport final : public Transport {
 public:
  explicit CountingTransport(Transport& t) : t_(t) {}
  int fd() const override { return t_.fd(); }
  size_t receive(std::span<Received> out) override {
    size_t n = t_.receive(out);
    received += n;
    return n;
  }
  void send(std::span<const Transmit> batch) override {
    sent += batch.size();
    t_.send(batch);
  }
  Address local() const override { return t_.local(); }
  const TransportCounters& counters() const override { return t_.counters(); }
  std::string name() const override { return t_.name(); }
  uint64_t received = 0;
  uint64_t sent = 0;

 private:
  Transport& t_;
};

}  // namespace

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::Pass:
      return "pass";
    case Verdict::Deviation:
      return "deviation";
    case Verdict::NotApplicable:
      return "n/a";
  }
  return "?";
}

std::span<const CheckDef> check_defs() {
  return kChecks;
}

std::span<const CheckInfo> checks() {
  return kInfos;
}

std::string seconds(Time t) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", std::chrono::duration<double>(t).count());
  return b;
}

Expected<std::vector<CheckResult>, std::string> run(Transport& t, const ProbeOptions& o) {
  for (const std::string& name : o.only) {
    bool known = false;
    for (const CheckDef& d : kChecks) known = known || d.info.name == name;
    if (!known) return Unexpected{"no check named '" + name + "'"};
  }
  CountingTransport counting(t);
  uint64_t rng = o.seed;
  std::vector<CheckResult> results;
  for (const CheckDef& d : kChecks) {
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), d.info.name) == o.only.end())
      continue;
    Conversation c(counting, o, rng);
    Outcome out = d.run ? d.run(c) : not_applicable(std::string(d.not_applicable));
    (void)c.strays();  // late answers of this check are not the next one's
    CheckResult r;
    r.check = d.info.name;
    r.section = d.info.section;
    r.expected = d.expected;
    r.seen = std::move(out.seen);
    r.result = out.verdict;
    r.seconds = std::chrono::duration<double>(c.now()).count();
    r.left_open = out.left_open;
    if (o.on_result) o.on_result(r);
    results.push_back(std::move(r));
  }
  if (counting.received == 0 && counting.sent > 0)
    return Unexpected{
        std::string("not one MAD came back from the remote: does a CM listen there?")};
  return results;
}

}  // namespace ibcm::probe
