// Input: decode, count, route each MAD to its connection and apply the state table.
#include "engine/impl.h"
#include "ibcm/wire/schema.h"
#include "ibcm/wire/time.h"
#include "wire/bits.h"

namespace ibcm {

using namespace engine;

namespace {
Drop drop_of(wire::DecodeError e) {
  return static_cast<Drop>(static_cast<uint8_t>(e));  // Drop starts with the decode errors
}
static_assert(static_cast<int>(Drop::LengthField) ==
              static_cast<int>(wire::DecodeError::LengthField));

constexpr bool is_response(uint8_t method) {
  return method & 0x80;
}

// Message M's field `name`, found in its schema table at compile time.
template <class M>
constexpr wire::Field<M> field(std::string_view name) {
  for (const auto& f : wire::Schema<M>::fields)
    if (f.name == name) return f;
  throw "no such field";  // not a constant expression: a compile error
}
// Field F of message M in a MAD's bytes (F: a constexpr wire::Field<M>, as field() gives).
#define IBCM_PEEK(M, F, mad)                                                     \
  (wire::bits::get_fixed<(F).byte, (F).bit, (F).width, wire::Schema<M>::region>( \
      (mad) + wire::kMadHeaderSize))
// The MAD status that answers a request we cannot decode (IBTA 13.4.7.1; Linux's
// IB_MGMT_MAD_STATUS_*): Get and Set exist, but no CM attribute other than ClassPortInfo takes
// them, so for those the method/attribute combination is what is unsupported.
wire::MadStatus status_for(const wire::DecodeFailure& f) {
  switch (f.error) {
    case wire::DecodeError::ClassVersion:
      return wire::MadStatus::BadVersion;
    case wire::DecodeError::UnknownAttribute:
      return wire::MadStatus::UnsupportedMethodAttr;
    default:
      break;
  }
  bool get_or_set = f.header.method == static_cast<uint8_t>(wire::Method::Get) ||
                    f.header.method == static_cast<uint8_t>(wire::Method::Set);
  return get_or_set ? wire::MadStatus::UnsupportedMethodAttr : wire::MadStatus::UnsupportedMethod;
}
// How many MADs ahead handle_mads starts the lookups: enough to cover a memory latency with the
// work of the MADs in between.
constexpr size_t kPrefetchAhead = 8;
}  // namespace

void Cm::Impl::prefetch_lookups(std::span<const uint8_t> bytes) {
  if (bytes.size() != wire::kMadSize || bytes[1] != wire::kCmClass) return;
  const uint8_t* b = bytes.data();
  switch (static_cast<wire::AttrId>(wire::bits::be16(b + 16))) {
    case wire::AttrId::Req: {
      // A new REQ: the duplicate check, the stale check.
      static constexpr auto id = field<wire::Req>("LocalCommID");
      static constexpr auto guid = field<wire::Req>("LocalCAGUID");
      static constexpr auto qpn = field<wire::Req>("LocalQPN");
      by_remote_.prefetch(RemoteKey{static_cast<uint32_t>(IBCM_PEEK(wire::Req, id, b)),
                                    IBCM_PEEK(wire::Req, guid, b)});
      by_rqpn_.prefetch(QpKey{static_cast<uint32_t>(IBCM_PEEK(wire::Req, qpn, b)),
                              IBCM_PEEK(wire::Req, guid, b)});
      return;
    }
    case wire::AttrId::Rep: {
      // Our connection, the stale check, the peer's comm ID entry.
      static constexpr auto ours = field<wire::Rep>("RemoteCommID");
      static constexpr auto id = field<wire::Rep>("LocalCommID");
      static constexpr auto guid = field<wire::Rep>("LocalCAGUID");
      static constexpr auto qpn = field<wire::Rep>("LocalQPN");
      by_local_.prefetch(static_cast<uint32_t>(IBCM_PEEK(wire::Rep, ours, b)));
      by_rqpn_.prefetch(QpKey{static_cast<uint32_t>(IBCM_PEEK(wire::Rep, qpn, b)),
                              IBCM_PEEK(wire::Rep, guid, b)});
      by_remote_.prefetch(RemoteKey{static_cast<uint32_t>(IBCM_PEEK(wire::Rep, id, b)),
                                    IBCM_PEEK(wire::Rep, guid, b)});
      return;
    }
    case wire::AttrId::Mra:
    case wire::AttrId::Rej:
    case wire::AttrId::Rtu:
    case wire::AttrId::Dreq:
    case wire::AttrId::Drep:
    case wire::AttrId::Lap:
    case wire::AttrId::Apr: {
      // Every one of these names our connection by its RemoteCommID, at the same place.
      static constexpr auto ours = field<wire::Rtu>("RemoteCommID");
      static_assert(field<wire::Mra>("RemoteCommID").byte == ours.byte &&
                    field<wire::Rej>("RemoteCommID").byte == ours.byte &&
                    field<wire::Dreq>("RemoteCommID").byte == ours.byte &&
                    field<wire::Drep>("RemoteCommID").byte == ours.byte &&
                    field<wire::Lap>("RemoteCommID").byte == ours.byte &&
                    field<wire::Apr>("RemoteCommID").byte == ours.byte);
      by_local_.prefetch(static_cast<uint32_t>(IBCM_PEEK(wire::Rtu, ours, b)));
      return;
    }
    default:
      return;
  }
}

void Cm::Impl::handle_mads(Time now, std::span<const Inbound> batch) {
  // New REQs each take a fresh comm ID: start loading the slots those IDs will take too.
  size_t reqs = 0;
  for (const Inbound& in : batch)
    if (in.mad.size() == wire::kMadSize &&
        wire::bits::be16(in.mad.data() + 16) == static_cast<uint16_t>(wire::AttrId::Req))
      ++reqs;
  by_local_.prefetch_next(reqs);
  for (size_t i = 0; i < batch.size() && i < kPrefetchAhead; ++i) prefetch_lookups(batch[i].mad);
  // One clock for the whole batch: the timers due by `now` run before its first MAD, as they
  // would before each (a MAD never makes a timer due sooner than its own time).
  handle_timeout(now);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i + kPrefetchAhead < batch.size()) prefetch_lookups(batch[i + kPrefetchAhead].mad);
    read_mad(batch[i].from, batch[i].mad);
  }
}

void Cm::Impl::handle_mad(Time now, const Address& from, std::span<const uint8_t> bytes) {
  handle_timeout(now);
  read_mad(from, bytes);
}

void Cm::Impl::read_mad(const Address& from, std::span<const uint8_t> bytes) {
  if (auto full = lacks_room(kMadEvents, kMadTx)) {
    // Refused unread, before any state change: to the protocol it is a MAD lost on the wire,
    // which a retry (the sender's, or ours that it answers) brings back.
    uint16_t attr = bytes.size() >= 18 ? wire::bits::be16(bytes.data() + 16) : 0;
    count_drop(*full, wire::attr_name(attr), "output queue full: refused before processing");
    return;
  }
  const wire::Mad& mad = rx_;
  if (auto failure = wire::decode_into(bytes, rx_)) {
    const auto& f = *failure;
    count_drop(drop_of(f.error), wire::attr_name(f.header.attribute_id), wire::to_string(f.error));
    // A request we cannot serve is answered with a MAD status, as management classes must;
    // CM Sends are not answered (the sender's retries or timeouts handle them).
    bool header_ok =
        f.error != wire::DecodeError::ShortBuffer && f.error != wire::DecodeError::LongBuffer &&
        f.error != wire::DecodeError::BaseVersion && f.error != wire::DecodeError::MgmtClass;
    if (header_ok && !is_response(f.header.method) &&
        f.header.method != static_cast<uint8_t>(wire::Method::Send)) {
      answer_status(from, f.header, status_for(f));
    }
    if (f.error == wire::DecodeError::ClassVersion &&
        f.header.attribute_id == static_cast<uint16_t>(wire::AttrId::Req) &&
        f.header.method == static_cast<uint8_t>(wire::Method::Send)) {
      // A REQ of a CM class version we do not speak: REJ 31, the highest one we do in the ARI.
      // Its LocalCommID leads the data in every version; nothing else of it is read.
      static constexpr auto id = field<wire::Req>("LocalCommID");
      wire::Rej r;
      r.remote_comm_id = static_cast<uint32_t>(IBCM_PEEK(wire::Req, id, bytes.data()));
      r.reason = wire::RejReason::InvalidClassVersion;
      r.rejected_info_length = 1;
      r.ari[0] = wire::kCmClassVersion;
      send_msg(from, r, f.header.transaction_id);
    }
    return;
  }
  CountedMsg m = counted_msg(mad.header.attribute_id);
  if (m != CountedMsg::kCount) ++counters_.of(m).rx;
  if (std::holds_alternative<wire::ClassPortInfo>(mad.message)) {
    on_class_port_info(from, mad);
    return;
  }
  on_cm_mad(from, mad);
}

void Cm::Impl::answer_status(const Address& from, const wire::MadHeader& h,
                             wire::MadStatus status) {
  // Not counted here: the caller has counted the MAD under its one drop reason.
  wire::MadBytes out{};
  wire::MadHeader r = h;
  r.method = static_cast<uint8_t>(wire::Method::GetResp);
  r.status = static_cast<uint16_t>(status);
  r.base_version = wire::kBaseVersion;
  r.mgmt_class = wire::kCmClass;
  r.class_version = wire::kCmClassVersion;
  // The header alone, data zero: there is no attribute to put there.
  wire::Mad tmp{r, wire::ClassPortInfo{}};
  out = wire::encode(tmp);
  out[16] = static_cast<uint8_t>(h.attribute_id >> 8);  // echo the attribute that was asked for
  out[17] = static_cast<uint8_t>(h.attribute_id);
  send_bytes(from, out, h.attribute_id, false);
}

void Cm::Impl::on_class_port_info(const Address& from, const wire::Mad& mad) {
  auto method = static_cast<wire::Method>(mad.header.method);
  if (method == wire::Method::GetResp) {
    count_drop(Drop::InvalidState, "ClassPortInfo", "unsolicited GetResp");
    return;
  }
  if (method == wire::Method::Set) {
    count_drop(Drop::UnsupportedMad, "ClassPortInfo", "Set is not supported: MAD status 0x000C");
    answer_status(from, mad.header, wire::MadStatus::UnsupportedMethodAttr);
    return;
  }
  wire::ClassPortInfo info;
  info.base_version = wire::kBaseVersion;
  info.class_version = wire::kCmClassVersion;
  // CapabilityMask: bit 0 IsTrapSupported is clear; CM defines no class-specific bits we set.
  info.capability_mask = 0;
  info.resp_time_value = cfg_.cm_response_timeout & 31;
  wire::Mad reply{mad.header, info};
  reply.header.method = static_cast<uint8_t>(wire::Method::GetResp);
  reply.header.status = 0;
  ++counters_.class_port_info_answered;
  send(from, reply);
}

void Cm::Impl::on_cm_mad(const Address& from, const wire::Mad& mad) {
  const auto& msg = mad.message;
  uint32_t idx = kNoIndex;
  Input in;
  // Find the connection a message names. Replies name us by their RemoteCommID.
  auto by_our_id = [&](uint32_t our_id) {
    const uint32_t* i = by_local_.find(our_id);
    if (i) idx = *i;
  };
  if (auto* req = std::get_if<wire::Req>(&msg)) {
    in = Input::Req;
    by_rqpn_.prefetch(QpKey{req->local_qpn, req->local_ca_guid});  // the stale check, next
    const uint32_t* i = by_remote_.find(RemoteKey{req->local_comm_id, req->local_ca_guid});
    if (!i) {
      on_new_req(from, mad);
      return;
    }
    idx = *i;
  } else if (auto* mra = std::get_if<wire::Mra>(&msg)) {
    in = Input::Mra;
    by_our_id(mra->remote_comm_id);
  } else if (auto* rej = std::get_if<wire::Rej>(&msg)) {
    in = Input::Rej;
    if (rej->remote_comm_id != 0) {
      by_our_id(rej->remote_comm_id);
    } else if (rej->reason == wire::RejReason::Timeout && rej->rejected_info_length >= 8) {
      // A REJ 4 for a REQ the peer never answered names us by its comm ID and its CA GUID.
      uint64_t guid = 0;
      for (int k = 0; k < 8; ++k) guid = guid << 8 | rej->ari[k];
      const uint32_t* i = by_remote_.find(RemoteKey{rej->local_comm_id, guid});
      if (i) idx = *i;
    }
  } else if (auto* rep = std::get_if<wire::Rep>(&msg)) {
    in = Input::Rep;
    // The stale check and the remote-ID entry come next: overlap their cache misses with ours.
    by_rqpn_.prefetch(QpKey{rep->local_qpn, rep->local_ca_guid});
    by_remote_.prefetch(RemoteKey{rep->local_comm_id, rep->local_ca_guid});
    by_our_id(rep->remote_comm_id);
  } else if (auto* rtu = std::get_if<wire::Rtu>(&msg)) {
    in = Input::Rtu;
    by_our_id(rtu->remote_comm_id);
  } else if (auto* dreq = std::get_if<wire::Dreq>(&msg)) {
    in = Input::Dreq;
    by_our_id(dreq->remote_comm_id);
    if (idx == kNoIndex || conns_.items[idx].remote_id != dreq->local_comm_id) {
      on_unknown_dreq(from, mad);
      return;
    }
  } else if (auto* drep = std::get_if<wire::Drep>(&msg)) {
    in = Input::Drep;
    by_our_id(drep->remote_comm_id);
  } else if (auto* lap = std::get_if<wire::Lap>(&msg)) {
    in = Input::Lap;
    by_our_id(lap->remote_comm_id);
  } else if (auto* apr = std::get_if<wire::Apr>(&msg)) {
    in = Input::Apr;
    by_our_id(apr->remote_comm_id);
  } else if (std::holds_alternative<wire::SidrReq>(msg)) {
    on_sidr_req(from, mad);
    return;
  } else if (std::holds_alternative<wire::SidrRep>(msg)) {
    on_sidr_rep(from, mad);
    return;
  } else {
    return;
  }
  std::string_view name = wire::name_of(msg);
  if (idx == kNoIndex) {
    count_drop(Drop::UnknownConnection, name, "names no connection");
    return;
  }
  Conn& c = conns_.items[idx];
  // A message that names a connection must come from its peer: same port GID, and for replies
  // that carry the sender's comm ID, the same remote comm ID once we know it.
  if (!wire::same_gid(from.gid, c.peer.gid)) {
    count_drop(Drop::WrongSource, name, "from another address than the connection's peer");
    return;
  }
  // A REQ or REP repeats what we know of the peer: its comm ID (REQ: by lookup), CA GUID (REQ:
  // by lookup) and QPN. One that differs is not a duplicate of it.
  if (const auto* req = std::get_if<wire::Req>(&msg); req && req->local_qpn != c.remote_qpn) {
    // Its comm ID is taken by the connection we hold with that CA: REJ 30, which names no
    // connection of ours (LocalCommID 0), so it cannot end that one at the peer.
    count_drop(Drop::WrongSource, name, "a REQ of this connection from another QPN: REJ 30");
    reject_req(from, mad, wire::RejReason::DuplicateLocalCommId);
    return;
  }
  if (const auto* rep = std::get_if<wire::Rep>(&msg);
      rep && c.remote_id != 0 &&
      (rep->local_comm_id != c.remote_id || rep->local_ca_guid != c.remote_guid ||
       rep->local_qpn != c.remote_qpn)) {
    count_drop(Drop::WrongSource, name, "comm ID, CA GUID or QPN does not match the connection");
    return;
  }
  if (in != Input::Req && in != Input::Rep && c.remote_id != 0) {
    uint32_t sender_id = std::visit(
        [](const auto& m) -> uint32_t {
          if constexpr (requires { m.local_comm_id; }) return m.local_comm_id;
          return 0;
        },
        msg);
    // A REJ with LocalCommID 0 answers a REQ without a connection behind it; once the peer has
    // named its comm ID (REP) it is a late answer to an earlier REQ, such as the REJ 10 of a
    // rebooted peer's REQ that its retry overtook, and must not end the connection since made.
    if (sender_id != c.remote_id) {
      count_drop(Drop::WrongSource, name,
                 sender_id == 0 ? "REJ of an earlier REQ, after the peer's REP"
                                : "remote comm ID does not match");
      return;
    }
  }
  dispatch(c, idx, in, from, mad);
}

void Cm::Impl::dispatch(Conn& c, uint32_t idx, Input in, const Address& from,
                        const wire::Mad& mad) {
  CountedMsg m = counted_msg(mad.header.attribute_id);
  switch (act(c.state, in)) {
    case Act::Drop:
      count_drop(Drop::InvalidState, wire::name_of(mad.message), to_string(c.state));
      return;
    case Act::DupDrop:
      ++counters_.of(m).rx_duplicates;
      ++counters_.drop(Drop::DuplicateDropped);
      return;
    case Act::ResendMra:
      ++counters_.of(m).rx_duplicates;
      resend_kept(c, false);
      return;
    case Act::ResendRtu:
      ++counters_.of(m).rx_duplicates;
      if (!c.active) {
        count_drop(Drop::InvalidState, "REP", "REP on the passive side");
        return;
      }
      send_msg(c.peer, make_rtu(c, {}), c.tid);
      return;
    case Act::ResendDrep: {
      ++counters_.of(m).rx_duplicates;
      const auto& d = std::get<wire::Dreq>(mad.message);
      if (d.remote_qpn != c.local_qpn) {
        count_drop(Drop::WrongRemoteQpn, "DREQ", "RemoteQPN is not ours");
        return;
      }
      send_msg(c.peer, make_drep(c, {}), mad.header.transaction_id);
      return;
    }
    case Act::RejStale: {
      ++counters_.of(m).rx_duplicates;
      reject_req(from, mad, wire::RejReason::StaleConnection, {}, c.local_id);
      return;
    }
    case Act::MraWait:
      act_mra_wait(c, idx, mad);
      return;
    case Act::RejConnect:
      act_rej_connect(c, idx, mad);
      return;
    case Act::RepAccept:
      act_rep_accept(c, idx, from, mad);
      return;
    case Act::RtuEstablish:
      act_rtu_establish(c, idx, mad);
      return;
    case Act::DreqAccept:
    case Act::DreqCollide:
      act_dreq(c, idx, mad);
      return;
    case Act::DrepTimeWait:
      act_drep(c, idx, mad);
      return;
    case Act::RetryReq:
    case Act::RetryRep:
    case Act::RetryDreq:
    case Act::ExitTimeWait:
      return;  // timer actions; never reached from a message
    case Act::Lap: {
      LapInput li = in == Input::Lap   ? LapInput::Lap
                    : in == Input::Apr ? LapInput::Apr
                    : in == Input::Mra ? LapInput::Mra
                                       : LapInput::Rej;
      dispatch_lap(c, idx, li, mad);
      return;
    }
  }
}

void Cm::Impl::dispatch_lap(Conn& c, uint32_t idx, LapInput in, const wire::Mad& mad) {
  std::string_view name = in == LapInput::Timeout ? "LAP timer" : wire::name_of(mad.message);
  // A REJ about "other" messages may answer our LAP; one about REQ/REP on an established
  // connection can only mean the peer has given the connection up.
  LapAct action = lap_act(c.lap, in);
  if (in == LapInput::Rej &&
      std::get<wire::Rej>(mad.message).message_rejected != wire::MsgRef::Other)
    action = LapAct::PeerAbandoned;
  switch (action) {
    case LapAct::Drop:
      count_drop(Drop::InvalidState, name, to_string(c.lap));
      return;
    case LapAct::DupDrop:
      ++counters_.of(counted_msg(mad.header.attribute_id)).rx_duplicates;
      ++counters_.drop(Drop::DuplicateDropped);
      return;
    case LapAct::ResendMra:
      ++counters_.of(CountedMsg::Lap).rx_duplicates;
      resend_kept(c, false);
      return;
    case LapAct::LapAccept:
      act_lap_accept(c, mad);
      return;
    case LapAct::AprDone:
      act_apr_done(c, idx, mad);
      return;
    case LapAct::MraWait:
      act_lap_mra(c, idx, mad);
      return;
    case LapAct::LapRejected:
      act_lap_rejected(c, idx, mad);
      return;
    case LapAct::PeerAbandoned:
      act_peer_abandoned(c, idx, mad);
      return;
    case LapAct::RetryLap:
      act_retry_lap(c, idx);
      return;
  }
}

void Cm::Impl::on_timer(uint64_t cookie) {
  auto kind = static_cast<TimerKind>(cookie >> 32);
  auto index = static_cast<uint32_t>(cookie);
  if (kind != TimerKind::Conn) {
    on_sidr_timer(kind, index);
    return;
  }
  Conn& c = conns_.items[index];
  c.timer = TimerWheel::kNone;  // it fired: nothing to cancel any more
  switch (act(c.state, Input::Timeout)) {
    case Act::RetryReq:
      act_retry_req(c, index);
      return;
    case Act::RetryRep:
      act_retry_rep(c, index);
      return;
    case Act::RetryDreq:
      act_retry_dreq(c, index);
      return;
    case Act::ExitTimeWait:
      act_exit_timewait(c, index);
      return;
    case Act::Lap:
      dispatch_lap(c, index, LapInput::Timeout, wire::Mad{});
      return;
    default:
      count_drop(Drop::InvalidState, "timer", to_string(c.state));
      return;
  }
}

}  // namespace ibcm
