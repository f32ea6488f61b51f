// The receive path: each MAD is decoded, counted, routed to its connection by its row of the
// routing table (routes.h), checked against the connection's peer, and handed to the state table
// (state_table.h); each timer that fires is handed to the same table. (Consumer calls meet the
// call table in begin_call, cm_impl.h.)
#include "engine/cm_impl.h"
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
  with_message_type(wire::bits::be16(b + 16),
                    [&]<class M>() { prefetch_keys<M>(keys_of<M>(b), true); });
}

template <class M>
void Cm::Impl::prefetch_keys(const Keys& k, bool first_lookup) {
  constexpr const Route& r = route_of<M>();
  if constexpr (r.lookup == Lookup::None) {
    return;
  } else if constexpr (r.lookup == Lookup::PeerCommId) {  // a REQ: the duplicate check
    if (first_lookup) by_remote_.prefetch(RemoteKey{k.peer_id, k.peer_guid});
  } else {
    if (first_lookup) by_local_.prefetch(k.our_id);
    // A REP: the entry for the peer's comm ID it brings, next to the stale check.
    if constexpr (!r.peer_guid.empty()) by_remote_.prefetch(RemoteKey{k.peer_id, k.peer_guid});
  }
  if constexpr (!r.peer_qpn.empty())
    by_rqpn_.prefetch(QpKey{k.peer_qpn, k.peer_guid});  // the stale check
}

template <class M>
uint32_t Cm::Impl::look_up(const Keys& k, const wire::Mad& mad) const {
  constexpr const Route& r = route_of<M>();
  auto found = [](const uint32_t* i) { return i ? *i : kNoIndex; };
  if constexpr (r.lookup == Lookup::PeerCommId) {
    return found(by_remote_.find(RemoteKey{k.peer_id, k.peer_guid}));
  } else if constexpr (r.lookup == Lookup::OurCommId) {
    return found(by_local_.find(k.our_id));
  } else if constexpr (r.lookup == Lookup::BothCommIds) {
    const uint32_t i = found(by_local_.find(k.our_id));
    return i != kNoIndex && conns_.items[i].remote_id == k.peer_id ? i : kNoIndex;
  } else if constexpr (r.lookup == Lookup::OurCommIdOrCa) {
    if (k.our_id != 0) return found(by_local_.find(k.our_id));
    const auto& rej = std::get<wire::Rej>(mad.message);
    if (rej.reason != wire::RejReason::Timeout || rej.rejected_info_length < 8) return kNoIndex;
    uint64_t guid = 0;
    for (int i = 0; i < 8; ++i) guid = guid << 8 | rej.ari[i];
    return found(by_remote_.find(RemoteKey{k.peer_id, guid}));
  } else {
    return kNoIndex;
  }
}

namespace {
// Whether the sender's keys a message carries (its route's) are those the connection knows of
// its peer.
constexpr bool repeats_peer(const Route& r, const Keys& k, const Conn& c) {
  return (r.peer_id.empty() || k.peer_id == c.remote_id) &&
         (r.peer_guid.empty() || k.peer_guid == c.remote_guid) &&
         (r.peer_qpn.empty() || k.peer_qpn == c.remote_qpn);
}
}  // namespace

template <class M>
void Cm::Impl::route(const Address& from, const wire::Mad& mad, const uint8_t* bytes) {
  constexpr const Route& r = route_of<M>();
  if constexpr (std::is_same_v<M, wire::ClassPortInfo>) {
    on_class_port_info(from, mad);
  } else if constexpr (std::is_same_v<M, wire::SidrReq>) {
    on_sidr_req(from, mad);
  } else if constexpr (std::is_same_v<M, wire::SidrRep>) {
    on_sidr_rep(from, mad);
  } else {
    static_assert(r.lookup != Lookup::None);
    constexpr std::string_view name = wire::Schema<M>::name;
    const Keys k = keys_of<M>(bytes);
    prefetch_keys<M>(k, false);  // what comes after the lookup: overlap its cache misses
    const uint32_t idx = look_up<M>(k, mad);
    if (idx == kNoIndex) {
      switch (r.if_none) {
        case IfNone::NewRequest:
          on_new_req(from, mad);
          return;
        case IfNone::AnswerDrep:
          on_unknown_dreq(from, mad);
          return;
        case IfNone::Drop:
          count_drop(Drop::UnknownConnection, name, "names no connection");
          return;
      }
    }
    Conn& c = conns_.items[idx];
    // A message that names a connection must come from its peer: the same port GID, and the
    // sender's comm ID, CA GUID and QPN it carries the ones we know (once we know them: a REQ's
    // are how it was found).
    if (!wire::same_gid(from.gid, c.peer.gid)) {
      count_drop(Drop::WrongSource, name, "from another address than the connection's peer");
      return;
    }
    if ((r.lookup == Lookup::PeerCommId || c.remote_id != 0) && !repeats_peer(r, k, c)) {
      if constexpr (std::is_same_v<M, wire::Req>) {
        // Its comm ID is taken by the connection we hold with that CA: REJ 30, which names no
        // connection of ours (LocalCommID 0), so it cannot end that one at the peer.
        count_drop(Drop::WrongSource, name, "a REQ of this connection from another QPN: REJ 30");
        reject_req(from, mad, wire::RejReason::DuplicateLocalCommId);
      } else {
        // A REJ with LocalCommID 0 answers a REQ without a connection behind it; once the peer
        // has named its comm ID (REP) it is a late answer to an earlier REQ, such as the REJ 10
        // of a rebooted peer's REQ that its retry overtook, and must not end the connection
        // since made.
        count_drop(Drop::WrongSource, name,
                   k.peer_id == 0 ? "REJ of an earlier REQ, after the peer's REP"
                                  : "the sender's comm ID, CA GUID or QPN is not the peer's");
      }
      return;
    }
    dispatch(c, idx, r.input, from, mad);
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

void Cm::Impl::handle_timeout(Time now) {
  if (now > now_) now_ = now;
  // A timer that finds no room for its output stays due (next_timeout() is then in the past)
  // and runs once the consumer has drained the queues: nothing it would emit is lost.
  auto ready = [this] {
    if (!lacks_room(kTimerEvents, kTimerTx)) return true;
    ++counters_.timers_held;
    log(LogLevel::Warn, "output queues full: due timers held until they are drained");
    return false;
  };
  timers_.advance_while(now_, ready, [this](uint64_t cookie) { on_timer(cookie); });
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
      // Its LocalCommID leads the data in every version; nothing else of it is used.
      const uint8_t highest[] = {wire::kCmClassVersion};
      send_rej_to(from, f.header.transaction_id, wire::MsgRef::Req,
                  keys_of<wire::Req>(bytes.data()).peer_id, 0, wire::RejReason::InvalidClassVersion,
                  highest);
    }
    return;
  }
  CountedMsg m = counted_msg(mad.header.attribute_id);
  if (m != CountedMsg::kCount) ++counters_.of(m).rx;
  std::visit([&]<class M>(const M&) { route<M>(from, mad, bytes.data()); }, mad.message);
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
      resend_rtu(c);
      return;
    case Act::ResendDrep:
      ++counters_.of(m).rx_duplicates;
      act_resend_drep(c, mad);
      return;
    case Act::RejStale:
      ++counters_.of(m).rx_duplicates;
      act_rej_stale(c, from, mad);
      return;
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
      act_rtu_establish(c, mad);
      return;
    case Act::DreqAccept:
    case Act::DreqCollide:
      act_dreq(c, mad);
      return;
    case Act::DrepTimeWait:
      act_drep(c, idx, mad);
      return;
    case Act::RetryReq:
    case Act::RetryRep:
    case Act::RetryDreq:
    case Act::ExitTimeWait:
    case Act::StaleDreq:
    case Act::StaleReport:
    case Act::StaleDrep:
      return;  // timer and stale-claim actions (on_timer, tear_down_stale): never a message's
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
