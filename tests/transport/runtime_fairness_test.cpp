// The runtime under input that never stops: a transport whose every receive fills the whole batch
// (as a socket does under a flood) must not keep the engine's timers from running. The runtime
// once served input until the socket ran dry, so under a flood no timer fired - no REQ or REP
// retry, no timeout - and the engine's clock stood still. Deterministic: the fake transport is
// never empty, whatever the machine's speed.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "ibcm/transport/runtime.h"

using namespace ibcm;
using namespace std::chrono_literals;

namespace {

// Always readable (an eventfd that is never read), every receive a full batch of junk datagrams
// (the engine counts and drops them), every send counted.
class EndlessInput : public Transport {
 public:
  EndlessInput() : fd_(::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK)) {
    local_.gid = wire::Gid{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 9, 9, 1};
  }
  ~EndlessInput() override { ::close(fd_); }
  int fd() const override { return fd_; }
  size_t receive(std::span<Received> out) override {
    if (!endless) return 0;
    for (auto& r : out) {
      r.from = local_;
      r.from.gid[15] = 2;
      r.mad.fill(0);
      r.length = 16;  // too short for a MAD: dropped and counted by the engine
    }
    received += out.size();
    return out.size();
  }
  void send(std::span<const Transmit> batch) override { sent += batch.size(); }
  Address local() const override { return local_; }
  const TransportCounters& counters() const override { return counters_; }
  std::string name() const override { return "endless input"; }

  std::atomic<uint64_t> received{0}, sent{0};
  std::atomic<bool> endless{true};  // the test ends the input to be able to stop the runtime

 private:
  int fd_;
  Address local_;
  TransportCounters counters_;
};

}  // namespace

TEST(RuntimeFairness, TimersRunUnderInputThatNeverStops) {
  auto t = std::make_unique<EndlessInput>();
  EndlessInput& input = *t;
  Config c;
  c.ca_guid = 0x3333;
  c.seed = 33;
  Runtime rt(c, std::move(t));
  std::mutex mu;
  std::condition_variable cv;
  bool timed_out = false;
  rt.on_event([&](Cm&, Time, const Event& e) {
    if (!std::holds_alternative<ev::ReqTimeout>(e)) return;
    std::lock_guard lock(mu);
    timed_out = true;
    cv.notify_all();
  });
  rt.post([&](Cm& cm, Time now) {
    ConnectParams p;
    p.service_id = 0x1234;
    p.dest = cm.config().local;
    p.dest.gid[15] = 7;  // nobody: the fake transport answers nothing
    p.qpn = 0x4242;
    p.packet_life_time = 8;            // 2 x 1 ms
    p.remote_cm_response_timeout = 8;  // + 1 ms: a retry every ~3 ms
    p.max_cm_retries = 3;
    EXPECT_TRUE(cm.connect(now, p).has_value());
  });
  std::thread loop([&] { rt.run(); });
  bool ok;
  {
    std::unique_lock lock(mu);
    ok = cv.wait_for(lock, 30s, [&] { return timed_out; });
  }
  input.endless = false;
  rt.stop();
  loop.join();
  EXPECT_TRUE(ok) << "no REQ timeout while " << input.received.load() << " datagrams came in";
  EXPECT_EQ(input.sent.load(), 4u + 1u) << "the REQ, its 3 retries and the REJ 4";
  EXPECT_GT(input.received.load(), 256u) << "the input never stopped";
}
