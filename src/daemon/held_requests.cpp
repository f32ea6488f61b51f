// REQs to an rdma_cm port nobody listens on yet. The kernel CM rejects them at once (REJ 8); the
// daemon holds them for DaemonConfig::listen_grace first, because a program's listen takes a few
// requests to the daemon where the kernel's takes system calls, and programs such as perftest
// connect their second QP the moment their first connection is up, while the server only then
// creates, binds and listens its second ID. A listen in time takes the held REQ as if it had come
// after; the others get their REJ 8 when the grace ends. The engine's catch-all listener (the
// lobby) gets only what no program listens on, since the most specific listener wins.
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>

#include "daemon/daemon_state.h"
#include "ibcm/wire/rdma_cm.h"

namespace ibcm::daemon {

namespace {
// Every rdma_cm service ID (0x01PPpppp: port space PP, port pppp), whatever its port space.
constexpr uint64_t kRdmaCmServices = 0x0000000001000000;
constexpr uint64_t kRdmaCmServicesMask = 0xFFFFFFFFFF000000;
}  // namespace

void CmDaemon::State::open_lobby(Cm& cm) {
  if (config.listen_grace.count() <= 0) return;
  auto l = cm.listen(kRdmaCmServices, kRdmaCmServicesMask);
  if (!l) return;  // no room for a listener: REQs to closed ports get the engine's REJ 8 at once
  lobby = *l;
  held_timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  rt->watch(held_timer_fd, [this](Cm& c, Time now) {
    uint64_t ticks;
    [[maybe_unused]] auto r = ::read(held_timer_fd, &ticks, sizeof ticks);
    expire_held(c, now);
  });
}

void CmDaemon::State::close_lobby(Cm& cm) {
  if (lobby == 0) return;
  Time now = rt->now();
  while (!held.empty()) {
    (void)cm.reject(now, held.front().req.conn, wire::RejReason::InvalidServiceId);
    held.pop_front();
  }
  (void)cm.unlisten(lobby);
  lobby = 0;
  rt->unwatch(held_timer_fd);
  ::close(held_timer_fd);
  held_timer_fd = -1;
}

void CmDaemon::State::hold(Cm& cm, Time now, const ev::ReqReceived& req) {
  if (held.size() >= kMaxHeld) {  // a flood to closed ports: no more of the engine's half-open
    ++counters.reqs_held_refused;
    (void)cm.reject(now, req.conn, wire::RejReason::InvalidServiceId);
    return;
  }
  ++counters.reqs_held;
  held.push_back({req, now + config.listen_grace});
  if (held.size() == 1) arm_held_timer(now);
}

void CmDaemon::State::release_held(Cm& cm, Time now, ListenId listener, uint64_t service_id) {
  for (auto it = held.begin(); it != held.end();) {
    if (it->req.req.service_id != service_id) {
      ++it;
      continue;
    }
    ev::ReqReceived req = it->req;
    it = held.erase(it);
    if (!cm.state(req.conn)) continue;  // the peer gave up meanwhile
    req.listener = listener;
    ++counters.reqs_held_taken;
    on_event(cm, now, Event{req});
  }
  if (!held.empty()) arm_held_timer(now);
}

void CmDaemon::State::expire_held(Cm& cm, Time now) {
  // Deadlines are in arrival order: the expired ones are at the front.
  while (!held.empty() && held.front().deadline <= now) {
    ConnId c = held.front().req.conn;
    held.pop_front();
    if (cm.state(c)) (void)cm.reject(now, c, wire::RejReason::InvalidServiceId);
  }
  if (!held.empty()) arm_held_timer(now);
}

void CmDaemon::State::arm_held_timer(Time now) {
  auto left = std::max(held.front().deadline - now, Time(1));
  itimerspec spec{};
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  spec.it_value.tv_sec = ns / 1'000'000'000;
  spec.it_value.tv_nsec = ns % 1'000'000'000;
  (void)::timerfd_settime(held_timer_fd, 0, &spec, nullptr);
}

}  // namespace ibcm::daemon
