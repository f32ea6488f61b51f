// A REQ with one field the remote cannot accept, whatever its port: the REJ reason the spec
// assigns to that field (12.6), or any REJ where it assigns none. The fields whose validity
// depends on the receiving port are n/a rows of the check table (probe.cpp).
#include <algorithm>
#include <functional>

#include "ibcm/wire/print.h"
#include "probe/checks.h"
#include "probe/link.h"

namespace ibcm::probe {

namespace {

// The REQ of a fresh connection attempt, spoilt by `spoil` (its header too): its answer is judged
// by `right`; a REP (a connection after all) is ended with a REJ.
Outcome invalid_req(Conversation& c, const std::function<void(wire::Req&, wire::MadHeader&)>& spoil,
                    const std::function<bool(const wire::Rej&)>& right) {
  uint32_t id = c.new_comm_id();
  wire::Mad mad = wire::make_mad(c.req(id, c.new_qpn()), c.new_tid());
  spoil(std::get<wire::Req>(mad.message), mad.header);
  c.send_mad(mad);
  auto got = c.wait(answers_req(id), c.options().answer_wait);
  if (!got) {
    // Withdrawn, as our REQ's timeout would: a remote that holds it undecided lets it go.
    c.send(timeout_rej(c, id, 0, wire::MsgRef::Req), mad.header.transaction_id);
    return deviation("no answer within " + secs(c.options().answer_wait));
  }
  std::string what = describe(got->mad) + " at " + secs(got->at);
  const auto* rej = std::get_if<wire::Rej>(&got->mad.message);
  if (rej && rej->rejected_info_length > 0) {
    // In hex: a GID, a class version, ...
    what += ", ARI " + wire::bytes_to_hex(std::span(rej->ari).first(
                           std::min<size_t>(rej->rejected_info_length, 16)));
  }
  if (rej && right(*rej)) return pass(what);
  if (std::holds_alternative<wire::Rep>(got->mad.message)) reject_rep(c, id, *got);
  return deviation(what);
}

// A REQ field alone (its header as it comes).
Outcome invalid_field(Conversation& c, const std::function<void(wire::Req&)>& spoil,
                      const std::function<bool(const wire::Rej&)>& right) {
  return invalid_req(
      c, [&spoil](wire::Req& r, wire::MadHeader&) { spoil(r); }, right);
}

std::function<bool(const wire::Rej&)> reason_is(wire::RejReason reason) {
  return [reason](const wire::Rej& rej) {
    return rej.reason == reason && rej.message_rejected == wire::MsgRef::Req;
  };
}

// 2001:db8::1, of the documentation prefix: no port's GID.
constexpr wire::Gid kNoPortsGid{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

// PacketRate 63: reserved (the Rate encodings run from 2, 2.5 Gb/s, to 25, 1600 Gb/s).
constexpr uint8_t kReservedRate = 63;

// An alternate path: the primary's again, another path between the same two ports (all a RoCE
// or a single-port CA can offer), present because its local LID is set (Linux looks at no more;
// on RoCE it sets LIDs to 0xFFFF, the permissive LID).
void add_alternate(wire::Req& r) {
  r.alternate = r.primary;
  r.alternate.local_lid = 0xFFFF;
  r.alternate.remote_lid = 0xFFFF;
  r.alternate.flow_label ^= 1;
}

}  // namespace

Outcome check_invalid_transport(Conversation& c) {
  // RD: a CM without end-to-end contexts cannot serve it (and an RC listener never could).
  return invalid_field(
      c, [](wire::Req& r) { r.transport_service_type = wire::TransportType::RD; },
      reason_is(wire::RejReason::InvalidTransportType));
}

Outcome check_invalid_mtu(Conversation& c) {
  // PathPacketPayloadMTU 7: a reserved encoding (1..5 are 256..4096 bytes).
  return invalid_field(
      c, [](wire::Req& r) { r.path_mtu = static_cast<wire::Mtu>(7); },
      reason_is(wire::RejReason::InvalidMtu));
}

Outcome check_invalid_gid(Conversation& c) {
  // Addressed to a GID that is no port's on the remote's port; the rdma_cm header still names
  // the remote's IP address, so only the GID is wrong.
  return invalid_field(
      c, [](wire::Req& r) { r.primary.remote_gid = kNoPortsGid; },
      reason_is(wire::RejReason::InvalidGid));
}

Outcome check_invalid_packet_rate(Conversation& c) {
  return invalid_field(
      c, [](wire::Req& r) { r.primary.packet_rate = kReservedRate; },
      reason_is(wire::RejReason::InvalidPacketRate));
}

Outcome check_invalid_alt_gid(Conversation& c) {
  return invalid_field(
      c,
      [](wire::Req& r) {
        add_alternate(r);
        r.alternate.remote_gid = kNoPortsGid;
      },
      reason_is(wire::RejReason::InvalidAltGid));
}

Outcome check_invalid_alt_packet_rate(Conversation& c) {
  return invalid_field(
      c,
      [](wire::Req& r) {
        add_alternate(r);
        r.alternate.packet_rate = kReservedRate;
      },
      reason_is(wire::RejReason::InvalidAltPacketRate));
}

Outcome check_invalid_class_version(Conversation& c) {
  // Class version 3, which the CM class does not have (it is 2). A REQ's LocalCommID leads its
  // data whatever the version, so a CM can name the REQ it rejects.
  return invalid_req(
      c, [](wire::Req&, wire::MadHeader& h) { h.class_version = 3; },
      reason_is(wire::RejReason::InvalidClassVersion));
}

Outcome check_invalid_qpn(Conversation& c) {
  // QP 0 (the SMI's) cannot be one end of a connection; the spec names no REJ reason of its own
  // for it, so any REJ is right and only a connection (REP) or silence is wrong.
  return invalid_field(
      c, [](wire::Req& r) { r.local_qpn = 0; },
      [](const wire::Rej& r) { return r.message_rejected == wire::MsgRef::Req; });
}

}  // namespace ibcm::probe
