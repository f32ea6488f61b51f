#include "ibcm/transport/runtime.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

namespace ibcm {

namespace {
Config with_local(Config c, const Transport& t) {
  c.local = t.local();
  return c;
}
}  // namespace

Runtime::Runtime(Config config, std::unique_ptr<Transport> transport, RuntimeOptions options)
    : transport_(std::move(transport)),
      cm_(with_local(config, *transport_)),
      options_(options),
      start_(std::chrono::steady_clock::now()) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  for (int fd : {transport_->fd(), event_fd_, timer_fd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  rx_buf_.resize(kReceiveBatch);
  inbound_.reserve(kReceiveBatch);
}

Runtime::~Runtime() {
  for (int fd : {epoll_fd_, event_fd_, timer_fd_})
    if (fd >= 0) ::close(fd);
}

Time Runtime::now() const {
  return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now() - start_);
}

Status Runtime::post(Task task) {
  {
    std::lock_guard lock(tasks_mu_);
    if (tasks_.size() >= options_.max_pending_tasks) return Unexpected{Error::LimitReached};
    tasks_.push_back(std::move(task));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
  return Ok{};
}

void Runtime::stop() {
  stop_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);
}

bool Runtime::watch(int fd, FdHandler on_ready) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watched_.emplace_back(fd, std::make_shared<FdHandler>(std::move(on_ready)));
  return true;
}

void Runtime::unwatch(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  std::erase_if(watched_, [fd](const auto& w) { return w.first == fd; });
}

bool Runtime::run() {
  while (!stop_)
    if (!run_once(std::chrono::milliseconds(1000))) return false;
  return true;
}

bool Runtime::run_once(std::chrono::milliseconds max_wait) {
  // Tasks posted before the loop started (or between rounds) run first, and what calls on cm()
  // queued is sent. Input waits for epoll to report it (a receive here would mostly come back
  // empty: one system call per round for nothing).
  process(now(), false);
  if (stop_) return true;
  epoll_event evs[8];
  int n = ::epoll_wait(epoll_fd_, evs, 8, static_cast<int>(max_wait.count()));
  if (n < 0 && errno != EINTR) return false;
  size_t ready_watched = 0;
  int ready[8];
  bool input = false;
  for (int i = 0; i < n; ++i) {
    uint64_t v;
    int fd = evs[i].data.fd;
    if (fd == event_fd_) {
      [[maybe_unused]] auto r = ::read(event_fd_, &v, sizeof v);
    } else if (fd == timer_fd_) {
      [[maybe_unused]] auto r = ::read(timer_fd_, &v, sizeof v);
      armed_.reset();
    } else if (fd == transport_->fd()) {
      input = true;
    } else {
      ready[ready_watched++] = fd;
    }
  }
  // A round woken by a program, a task or the timer does not ask the transport for MADs it has
  // not reported (a daemon serving requests paid one empty read per request).
  process(now(), input);
  for (size_t i = 0; i < ready_watched; ++i) {
    std::shared_ptr<FdHandler> handler;
    for (auto& [fd, h] : watched_)
      if (fd == ready[i]) handler = h;
    if (!handler) continue;  // an earlier handler of this round unwatched it
    Time t = now();
    (*handler)(cm_, t);
    flush(t);
  }
  if (ready_watched > 0) arm_timer();  // the handlers' calls may have set earlier timers
  return true;
}

void Runtime::process(Time t, bool input) {
  // Consumer tasks first: a call posted before a MAD arrived (listen, say) must be in effect when
  // the MAD is handled. Then input, then timers.
  std::vector<Task> tasks;
  {
    std::lock_guard lock(tasks_mu_);
    tasks.swap(tasks_);
  }
  for (auto& task : tasks) {
    task(cm_, t);
    flush(t);
  }
  // One receive batch a round, then the timers (late by at most that batch's work): under a flood
  // the socket never runs dry, and serving input until it did starved the timers (REP retries
  // never went out, so real connections whose RTU the kernel had dropped were evicted) and froze
  // the engine's clock. Input left over is reported again at once by the level-triggered epoll.
  if (input) {
    size_t got = transport_->receive(rx_buf_);
    inbound_.clear();
    for (size_t i = 0; i < got; ++i) {
      const Received& r = rx_buf_[i];
      if (rx_tap_) rx_tap_(t, r);
      inbound_.push_back(Inbound{r.from, std::span<const uint8_t>(r.mad.data(), r.length)});
    }
    cm_.handle_mads(t, inbound_);
    flush(t);
    t = now();  // the timers run at the time it is after the batch
  }
  cm_.handle_timeout(t);
  flush(t);
  arm_timer();
}

void Runtime::flush(Time t) {
  // Events may trigger consumer calls that send more, so alternate until both are empty.
  for (int round = 0; round < 1000; ++round) {
    bool any_tx = false;
    // Straight from the engine's queue to the socket: no copies.
    for (auto batch = cm_.peek_transmits(); !batch.empty(); batch = cm_.peek_transmits()) {
      any_tx = true;
      if (tx_tap_)
        for (const Transmit& tx : batch) tx_tap_(t, tx);
      transport_->send(batch);
      cm_.consume_transmits(batch.size());
    }
    bool any_event = false;
    while (auto e = cm_.poll_event()) {
      any_event = true;
      if (on_event_) on_event_(cm_, t, *e);
    }
    if (!any_event && !any_tx) return;
  }
}

void Runtime::arm_timer() {
  // Lazily: the timerfd is set only when the engine needs it earlier than it is set for. A timerfd
  // that fires early (its timer was cancelled) costs one round that finds nothing due; setting it
  // after every round cost a system call each (a busy runtime runs tens of thousands a second).
  auto next = cm_.next_timeout();
  if (!next || (armed_ && *armed_ <= *next)) return;
  itimerspec spec{};
  // timerfd takes absolute CLOCK_MONOTONIC time; translate from our epoch.
  auto abs = start_.time_since_epoch() + *next;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(abs).count();
  if (ns <= 0) ns = 1;
  spec.it_value.tv_sec = ns / 1000000000;
  spec.it_value.tv_nsec = ns % 1000000000;
  ::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
  armed_ = *next;
}

}  // namespace ibcm
