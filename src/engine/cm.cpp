// Cm, the public face of the engine: every call is one call of Cm::Impl (cm_impl.h), and those that
// can end a REQ_SENT (a MAD, a timer, destroy: the call table refuses every other consumer call
// there) then send the REQs that waited for its place (Config::max_reqs_in_flight).
#include "engine/cm_impl.h"

namespace ibcm {

Cm::Cm(const Config& config) : impl_(std::make_unique<Impl>(config)) {}
Cm::~Cm() = default;
Cm::Cm(Cm&&) noexcept = default;
Cm& Cm::operator=(Cm&&) noexcept = default;

void Cm::handle_mad(Time now, const Address& from, std::span<const uint8_t> mad) {
  impl_->handle_mad(now, from, mad);
  impl_->send_waiting_reqs();
}
void Cm::handle_mads(Time now, std::span<const Inbound> batch) {
  impl_->handle_mads(now, batch);
  impl_->send_waiting_reqs();
}
void Cm::handle_timeout(Time now) {
  impl_->handle_timeout(now);
  impl_->send_waiting_reqs();
}
std::optional<Time> Cm::next_timeout() const {
  return impl_->next_timeout();
}

std::optional<Transmit> Cm::poll_transmit() {
  return impl_->transmits().pop();
}
std::span<const Transmit> Cm::peek_transmits() const {
  return impl_->transmits().front_span();
}
void Cm::consume_transmits(size_t n) {
  impl_->transmits().drop_front(n);
}
std::optional<Event> Cm::poll_event() {
  engine::Fifo<Event>& q = impl_->events();
  const Event* e = q.front();
  if (!e) return std::nullopt;
  // Copied by alternative, straight into the return value: an Event is a 320-byte variant, and
  // most events (Established, TimeWaitExit) hold a few bytes of it. Popped once copied.
  struct Pop {
    engine::Fifo<Event>& q;
    ~Pop() { q.drop_front(1); }
  } pop{q};
  return std::visit([](const auto& x) { return std::optional<Event>(std::in_place, x); }, *e);
}

Expected<ListenId, Error> Cm::listen(uint64_t service_id, uint64_t mask) {
  return impl_->listen(service_id, mask);
}
Status Cm::unlisten(ListenId id) {
  return impl_->unlisten(id);
}
Expected<ConnId, Error> Cm::connect(Time now, const ConnectParams& p) {
  return impl_->connect(now, p);
}
Status Cm::accept(Time now, ConnId c, const AcceptParams& p) {
  return impl_->accept(now, c, p);
}
Status Cm::reject(Time now, ConnId c, wire::RejReason reason, std::span<const uint8_t> ari,
                  std::span<const uint8_t> pd) {
  return impl_->reject(now, c, reason, ari, pd);
}
Status Cm::send_mra(Time now, ConnId c, uint8_t service_timeout, std::span<const uint8_t> pd) {
  return impl_->send_mra(now, c, service_timeout, pd);
}
Status Cm::send_rtu(Time now, ConnId c, std::span<const uint8_t> pd) {
  return impl_->send_rtu(now, c, pd);
}
Status Cm::establish(Time now, ConnId c) {
  return impl_->establish(now, c);
}
Status Cm::disconnect(Time now, ConnId c, std::span<const uint8_t> pd) {
  return impl_->disconnect(now, c, pd);
}
Status Cm::send_drep(Time now, ConnId c, std::span<const uint8_t> pd) {
  return impl_->send_drep(now, c, pd);
}
Status Cm::load_alternate_path(Time now, ConnId c, const wire::PathInfo& alt,
                               std::span<const uint8_t> pd) {
  return impl_->load_alternate_path(now, c, alt, pd);
}
Status Cm::send_apr(Time now, ConnId c, wire::ApStatus status, std::span<const uint8_t> info,
                    std::span<const uint8_t> pd) {
  return impl_->send_apr(now, c, status, info, pd);
}
Status Cm::migrate(ConnId c) {
  return impl_->migrate(c);
}
Expected<SidrId, Error> Cm::sidr_request(Time now, const SidrParams& p) {
  return impl_->sidr_request(now, p);
}
Status Cm::sidr_reply(Time now, SidrId id, const SidrReplyParams& p) {
  return impl_->sidr_reply(now, id, p);
}
void Cm::destroy(Time now, ConnId c) {
  impl_->destroy(now, c);
  impl_->send_waiting_reqs();
}

Expected<QpAttr, Error> Cm::qp_attributes(ConnId c, QpState target) const {
  return impl_->qp_attributes(c, target);
}
std::optional<State> Cm::state(ConnId c) const {
  const engine::Conn* p = impl_->find(c);
  return p ? std::optional(p->state) : std::nullopt;
}
std::optional<LapState> Cm::lap_state(ConnId c) const {
  const engine::Conn* p = impl_->find(c);
  return p ? std::optional(p->lap) : std::nullopt;
}
const Counters& Cm::counters() const {
  return impl_->counters();
}
size_t Cm::connection_count() const {
  return impl_->connection_count();
}
std::vector<ConnectionInfo> Cm::connections() const {
  return impl_->connections();
}
size_t Cm::timer_count() const {
  return impl_->timer_count();
}
size_t Cm::sidr_count() const {
  return impl_->sidr_count();
}
const Config& Cm::config() const {
  return impl_->config();
}
void Cm::set_logger(Logger log) {
  impl_->set_logger(std::move(log));
}

}  // namespace ibcm
