// Config::max_reqs_in_flight. A window per peer port GID, because a peer that answers nothing (one
// powered off: each of its REQs takes all its retries to give up) must hold back the connects to
// it only. A connect that finds its peer's window full keeps its encoded REQ in the connection's
// transmit buffer; its retry timer starts when the REQ leaves.
#include "engine/cm_impl.h"

namespace ibcm {

using namespace engine;

void Cm::Impl::send_req(Conn& c, uint32_t idx, const wire::Req& r) {
  ReqWindow* w = nullptr;
  if (cfg_.max_reqs_in_flight != 0) {
    uint32_t* slot = req_windows_by_peer_.find(c.peer.gid);
    uint32_t ws = slot ? *slot : req_windows_.alloc();
    w = &req_windows_.items[ws];
    if (!slot) {
      w->peer = c.peer.gid;
      req_windows_by_peer_.insert(c.peer.gid, ws);
    }
    if (w->in_flight >= cfg_.max_reqs_in_flight || !w->waiting.empty()) {
      if (c.tx == kNoIndex) c.tx = tx_bufs_.alloc();
      wire::encode_send(r, c.tid, tx_bufs_.items[c.tx]);
      c.req_held = true;
      w->waiting.push({idx, c.local_id});
      ++counters_.reqs_waited;
      return;
    }
  }
  keep_tx(c, r, c.tid);
  arm(c, idx, retry_interval(c));
  if (w) {
    c.req_in_flight = true;
    ++w->in_flight;
  }
}

void Cm::Impl::req_done(Conn& c) {
  if (!c.req_in_flight && !c.req_held) return;
  uint32_t* slot = req_windows_by_peer_.find(c.peer.gid);
  if (!slot) return;  // cannot be: a flag is set only with its window
  const uint32_t ws = *slot;
  ReqWindow& w = req_windows_.items[ws];
  if (c.req_in_flight) --w.in_flight;
  c.req_in_flight = c.req_held = false;  // a waiting entry of c is skipped when it comes up
  if (!w.waiting.empty()) {
    if (!w.ready) {
      w.ready = true;
      req_ready_.push_back(ws);
    }
  } else if (w.in_flight == 0) {
    drop_req_window(ws);
  }
}

void Cm::Impl::drop_req_window(uint32_t ws) {
  req_windows_by_peer_.erase(req_windows_.items[ws].peer);
  req_windows_.items[ws] = ReqWindow{};
  req_windows_.release(ws);
}

void Cm::Impl::send_waiting_reqs() {
  while (!req_ready_.empty()) {
    const uint32_t ws = req_ready_.back();
    ReqWindow& w = req_windows_.items[ws];
    while (w.in_flight < cfg_.max_reqs_in_flight && !w.waiting.empty()) {
      const auto [idx, id] = *w.waiting.front();
      Conn& c = conns_.items[idx];
      if (c.local_id != id || !c.req_held) {
        w.waiting.pop();
        continue;
      }
      if (lacks_room(0, 1)) return;  // the next call sends it, once the consumer has made room
      w.waiting.pop();
      c.req_held = false;
      c.req_in_flight = true;
      ++w.in_flight;
      send_bytes(c.peer, tx_bufs_.items[c.tx], static_cast<uint16_t>(wire::AttrId::Req), false);
      arm(c, idx, retry_interval(c));
    }
    w.ready = false;
    req_ready_.pop_back();
    if (w.in_flight == 0 && w.waiting.empty()) drop_req_window(ws);
  }
}

}  // namespace ibcm
