// SIDR: resolving a service ID to a UD QP, with retries and duplicate detection by
// (RequestID, requester GID) — the GID, not the LID, so that it works on RoCE.
#include <algorithm>

#include "engine/cm_impl.h"

namespace ibcm {

using namespace engine;

Expected<SidrId, Error> Cm::Impl::sidr_request(Time now, const SidrParams& p) {
  handle_timeout(now);
  if (p.private_data.size() > 216) return fail(Error::PrivateDataTooLong);
  Time timeout = p.timeout.value_or(cfg_.sidr_timeout);
  if (timeout <= Time{0}) return fail(Error::InvalidArgument);
  if (sidr_out_.live >= cfg_.max_sidr) return fail(Error::LimitReached);
  uint32_t request_id;
  do {
    request_id = static_cast<uint32_t>(splitmix64(rng_));
  } while (request_id == 0 || sidr_out_by_id_.find(request_id));
  uint32_t idx = sidr_out_.alloc();
  SidrOut& s = sidr_out_.items[idx];
  s.request_id = request_id;
  s.dest = p.dest;
  s.tid = new_tid();
  s.timeout = timeout;
  s.retries_left = p.max_retries.value_or(cfg_.sidr_retries);
  wire::SidrReq r;
  r.request_id = request_id;
  r.partition_key = p.pkey;
  r.service_id = p.service_id;
  copy_pd(r.private_data, p.private_data);
  s.tx = tx_bufs_.alloc();
  wire::encode_send(r, s.tid, tx_bufs_.items[s.tx]);
  send_bytes(s.dest, tx_bufs_.items[s.tx], static_cast<uint16_t>(wire::AttrId::SidrReq), false);
  sidr_out_by_id_.insert(request_id, idx);
  s.timer = timers_.arm(now_ + s.timeout, timer_cookie(TimerKind::SidrOut, idx));
  return request_id;
}

Status Cm::Impl::sidr_reply(Time now, SidrId id, const SidrReplyParams& p) {
  handle_timeout(now);
  const uint32_t* i = sidr_in_by_handle_.find(id);
  if (!i) return fail(Error::UnknownSidr);
  SidrIn& s = sidr_in_.items[*i];
  if (s.tx != kNoIndex) return fail(Error::InvalidState);  // answered already
  if (p.qpn > kMax24Bits) return fail(Error::InvalidArgument);
  if (p.additional_info.size() > wire::kAriSize || p.private_data.size() > 136)
    return fail(Error::PrivateDataTooLong);
  wire::SidrRep r;
  r.request_id = s.key.id;
  r.status = p.status;
  r.qpn = p.qpn;
  r.qkey = p.qkey;
  r.service_id = s.service_id;
  r.additional_information_length = static_cast<uint8_t>(p.additional_info.size());
  copy_pd(r.additional_information, p.additional_info);
  copy_pd(r.private_data, p.private_data);
  s.tx = tx_bufs_.alloc();
  wire::encode_send(r, s.tid, tx_bufs_.items[s.tx]);
  send_bytes(s.from, tx_bufs_.items[s.tx], static_cast<uint16_t>(wire::AttrId::SidrRep), false);
  return Ok{};
}

void Cm::Impl::on_sidr_req(const Address& from, const wire::Mad& mad) {
  const auto& req = std::get<wire::SidrReq>(mad.message);
  SidrKey key{req.request_id, from.gid};
  if (const uint32_t* i = sidr_in_by_key_.find(key)) {
    ++counters_.of(CountedMsg::SidrReq).rx_duplicates;
    SidrIn& s = sidr_in_.items[*i];
    if (s.tx != kNoIndex) {  // already answered: the answer was lost, repeat it
      send_bytes(s.from, tx_bufs_.items[s.tx], static_cast<uint16_t>(wire::AttrId::SidrRep), false);
    } else {
      ++counters_.drop(Drop::DuplicateDropped);
    }
    return;
  }
  auto reply_now = [&](wire::SidrStatus status) {
    wire::SidrRep rep;
    rep.request_id = req.request_id;
    rep.status = status;
    rep.service_id = req.service_id;
    send_msg(from, rep, mad.header.transaction_id);
  };
  auto listener = match_listener(req.service_id);
  if (!listener) {
    reply_now(wire::SidrStatus::ServiceIdNotSupported);
    return;
  }
  // Full: the oldest entry makes room (its requester has had its answer, or the longest time to
  // get one), so a flood cannot lock out real requesters.
  if (sidr_in_.live >= cfg_.max_sidr && !evict_oldest_sidr_in()) {
    count_drop(Drop::LimitReached, "SIDR_REQ", "max_sidr incoming requests outstanding");
    reply_now(wire::SidrStatus::Rejected);
    return;
  }
  uint32_t idx = sidr_in_.alloc();
  SidrIn& s = sidr_in_.items[idx];
  s.key = key;
  s.from = from;
  s.tid = mad.header.transaction_id;
  s.service_id = req.service_id;
  do {
    s.handle = next_sidr_in_handle_++;
  } while (s.handle == 0 || sidr_in_by_handle_.find(s.handle));
  sidr_in_by_key_.insert(key, idx);
  sidr_in_by_handle_.insert(s.handle, idx);
  sidr_in_order_.push({idx, s.handle});
  // Entries expire in arrival order, so expired pairs gather at the front: drop them there.
  while (sidr_in_order_.size() > 2 * sidr_in_.live + 16) {
    auto [i, h] = *sidr_in_order_.front();
    if (sidr_in_.items[i].handle == h) break;
    sidr_in_order_.pop();
  }
  // Kept for as long as the requester may still retry, so duplicates get the same answer. The
  // SIDR_REQ does not say how the requester retries: this assumes it uses our Config's values.
  s.timer = timers_.arm(now_ + cfg_.sidr_timeout * (cfg_.sidr_retries + 2),
                        timer_cookie(TimerKind::SidrIn, idx));
  emit(ev::SidrReqReceived{s.handle, *listener, from, req});
}

void Cm::Impl::on_sidr_rep(const Address& from, const wire::Mad& mad) {
  const auto& rep = std::get<wire::SidrRep>(mad.message);
  const uint32_t* i = sidr_out_by_id_.find(rep.request_id);
  if (!i) {
    count_drop(Drop::UnknownConnection, "SIDR_REP", "no SIDR request with that RequestID");
    return;
  }
  uint32_t idx = *i;
  SidrOut& s = sidr_out_.items[idx];
  if (!wire::same_gid(from.gid, s.dest.gid)) {
    count_drop(Drop::WrongSource, "SIDR_REP", "not from the node we asked");
    return;
  }
  emit(ev::SidrRepReceived{rep.request_id, rep});
  finish_sidr_out(idx);
}

void Cm::Impl::finish_sidr_out(uint32_t idx) {
  SidrOut& s = sidr_out_.items[idx];
  if (s.timer != TimerWheel::kNone) timers_.cancel(s.timer);
  if (s.tx != kNoIndex) tx_bufs_.release(s.tx);
  sidr_out_by_id_.erase(s.request_id);
  s = SidrOut{};
  sidr_out_.release(idx);
}

bool Cm::Impl::evict_oldest_sidr_in() {
  while (auto f = sidr_in_order_.pop()) {
    auto [i, h] = *f;
    if (sidr_in_.items[i].handle != h) continue;  // expired already
    ++counters_.sidr_evicted;
    finish_sidr_in(i);
    return true;
  }
  return false;
}

void Cm::Impl::finish_sidr_in(uint32_t idx) {
  SidrIn& s = sidr_in_.items[idx];
  if (s.timer != TimerWheel::kNone) timers_.cancel(s.timer);
  if (s.tx != kNoIndex) tx_bufs_.release(s.tx);
  sidr_in_by_key_.erase(s.key);
  sidr_in_by_handle_.erase(s.handle);
  s = SidrIn{};
  sidr_in_.release(idx);
}

void Cm::Impl::on_sidr_timer(TimerKind kind, uint32_t index) {
  if (kind == TimerKind::SidrOut) {
    SidrOut& s = sidr_out_.items[index];
    s.timer = TimerWheel::kNone;
    if (s.retries_left > 0) {
      --s.retries_left;
      send_bytes(s.dest, tx_bufs_.items[s.tx], static_cast<uint16_t>(wire::AttrId::SidrReq), true);
      s.timer = timers_.arm(now_ + s.timeout, timer_cookie(TimerKind::SidrOut, index));
      return;
    }
    SidrId id = s.request_id;
    finish_sidr_out(index);
    emit(ev::SidrTimeout{id});
    return;
  }
  sidr_in_.items[index].timer = TimerWheel::kNone;
  finish_sidr_in(index);
}

}  // namespace ibcm
