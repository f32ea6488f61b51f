/// @file
/// Drives one Cm with one Transport and the monotonic clock: epoll on the transport and an eventfd,
/// a timerfd set to the engine's next timeout. The loop runs on one thread; other threads talk to
/// the Cm through post(), and events come out through a callback on the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/cm.h"
#include "ibcm/transport/transport.h"

IBCM_API_BEGIN

namespace ibcm {

struct RuntimeOptions {
  /// Tasks post() holds for the loop thread at most: a loop that has stopped or stalled must not
  /// let other threads queue without bound.
  size_t max_pending_tasks = 65536;
};

class Runtime {
 public:
  using Task = std::function<void(Cm&, Time now)>;
  using EventHandler = std::function<void(Cm&, Time now, const Event&)>;
  using TxTap = std::function<void(Time now, const Transmit&)>;
  using RxTap = std::function<void(Time now, const Received&)>;

  /// The most MADs one receive hands the engine (one handle_mads call) before the runtime sends
  /// what they produced and answers their events.
  static constexpr size_t kReceiveBatch = 256;

  /// The Config's local address is taken from the transport.
  Runtime(Config config, std::unique_ptr<Transport> transport, RuntimeOptions options = {});
  ~Runtime();

  /// The monotonic clock the engine sees (nanoseconds since this runtime started).
  Time now() const;

  /// Thread-safe: runs task on the loop thread, with the Cm, as soon as the loop wakes. Fails with
  /// LimitReached, the task dropped, when max_pending_tasks tasks are already waiting.
  Status post(Task task);
  /// Called on the loop thread for every event, in order.
  void on_event(EventHandler handler) { on_event_ = std::move(handler); }
  /// Observers of every MAD sent / received (captures, ladders); loop thread.
  void on_transmit(TxTap tap) { tx_tap_ = std::move(tap); }
  void on_receive(RxTap tap) { rx_tap_ = std::move(tap); }

  /// Another descriptor the loop waits on (a completion channel, say): when it is readable, the
  /// loop thread calls on_ready and then sends what it queued on the Cm. Level-triggered: the
  /// handler must consume what made the fd readable. Loop thread, or before the loop runs.
  using FdHandler = std::function<void(Cm&, Time now)>;
  bool watch(int fd, FdHandler on_ready);
  // Stops watching fd (before it is closed). A handler may unwatch any descriptor, its own too.
  void unwatch(int fd);

  /// Runs until stop() (from any thread, or from a handler). Returns false on a fatal error.
  bool run();
  /// One round: waits at most max_wait for input or a timer, then processes everything ready.
  bool run_once(std::chrono::milliseconds max_wait);
  void stop();

  Cm& cm() { return cm_; }  // loop thread only
  Transport& transport() { return *transport_; }

 private:
  void process(Time now, bool input);
  void flush(Time now);
  void arm_timer();

  std::unique_ptr<Transport> transport_;
  Cm cm_;
  RuntimeOptions options_;
  std::chrono::steady_clock::time_point start_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  int timer_fd_ = -1;
  std::optional<Time> armed_;  ///< what timer_fd_ is set for, until it fires
  std::mutex tasks_mu_;
  std::vector<Task> tasks_;
  std::atomic<bool> stop_{false};
  EventHandler on_event_;
  TxTap tx_tap_;
  RxTap rx_tap_;
  // Shared, so that a handler that unwatches (itself or another) does not free what runs.
  std::vector<std::pair<int, std::shared_ptr<FdHandler>>> watched_;
  std::vector<Received> rx_buf_;
  std::vector<Inbound> inbound_;  ///< rx_buf_ as the engine takes a batch
};

}  // namespace ibcm

IBCM_API_END
