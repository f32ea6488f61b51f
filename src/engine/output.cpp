// What the engine sends and tells: the transmit queue (with each connection's kept MAD for
// retries), the event queue's room, the counters of what went out, and the log.
#include "engine/cm_impl.h"

namespace ibcm {

using namespace engine;

void Cm::Impl::log(LogLevel level, const std::string& msg) {
  if (log_) log_(level, msg);
}

void Cm::Impl::count_drop(Drop d, std::string_view msg_name, std::string_view why) {
  ++counters_.drop(d);
  if (log_) {
    std::string line = "drop ";
    line += msg_name;
    line += ": ";
    line += why;
    log_(LogLevel::Info, line);
  }
}

uint64_t Cm::Impl::new_tid() {
  return splitmix64(rng_);
}

std::optional<Drop> Cm::Impl::lacks_room(size_t events, size_t tx) const {
  if (events_.size() + events > event_limit_) return Drop::EventQueueFull;
  if (tx_queue_.size() + tx > tx_limit_) return Drop::TxQueueFull;
  return std::nullopt;
}

bool Cm::Impl::count_tx(uint16_t attr, bool retry) {
  if (tx_queue_.size() >= tx_limit_) {
    count_drop(Drop::TxQueueFull, wire::attr_name(attr), "transmit queue full");
    return false;
  }
  CountedMsg m = counted_msg(attr);
  if (m != CountedMsg::kCount) {
    ++counters_.of(m).tx;
    if (retry) ++counters_.of(m).tx_retries;
  }
  return true;
}

void Cm::Impl::send_bytes(const Address& to, const wire::MadBytes& bytes, uint16_t attr,
                          bool retry) {
  if (!count_tx(attr, retry)) return;
  Transmit& t = tx_queue_.push_slot();
  t.to = to;
  t.mad = bytes;
}

void Cm::Impl::send(const Address& to, const wire::Mad& mad) {
  if (!count_tx(static_cast<uint16_t>(wire::attr_of(mad.message)), false)) return;
  Transmit& t = tx_queue_.push_slot();
  t.to = to;
  wire::encode(mad, t.mad);
}

void Cm::Impl::release_tx(Conn& c) {
  if (c.tx != kNoIndex) tx_bufs_.release(c.tx);
  c.tx = kNoIndex;
}

void Cm::Impl::resend_kept(Conn& c, bool is_retry) {
  if (c.tx == kNoIndex) return;
  const auto& b = tx_bufs_.items[c.tx];
  send_bytes(c.peer, b, static_cast<uint16_t>(b[16] << 8 | b[17]), is_retry);
}

}  // namespace ibcm
