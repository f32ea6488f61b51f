// The timer wheel against a reference model (std::multimap keyed by the time a timer must fire)
// under long random sequences of arm / cancel / rearm / advance, including arms, cancels and
// rearms from inside fire callbacks, jumps from 1 ns to hours and the ends of the 64-bit range.
// Fire times are checked exactly: inside a callback the wheel's now() is the time it fires at.
#include "ibcm/engine/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

using ibcm::Time;
using ibcm::TimerWheel;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// A distance from 0 to ~10 hours whose logarithm is uniform: as many 1-10 ns jumps as
// 1-10 s jumps, so every level of the wheel sees traffic.
Time log_jump(std::mt19937_64& rng, unsigned max_bits = 45) {
  unsigned bits = static_cast<unsigned>(rng() % (max_bits + 1));
  uint64_t span = uint64_t{1} << bits;
  return Time(static_cast<int64_t>(rng() % span));
}

// The model: what should be armed, and the exact time each timer must fire at (its deadline, or
// the wheel's time when it was armed if that was later).
struct Model {
  struct Entry {
    TimerWheel::Id id;
    Time fires_at;
    std::multimap<Time, uint64_t>::iterator pos;
    size_t live_index;
  };
  std::unordered_map<uint64_t, Entry> by_cookie;
  std::multimap<Time, uint64_t> by_time;
  std::vector<uint64_t> live;  // for picking a random armed timer in O(1)
  uint64_t next_cookie = 1;

  void add(uint64_t cookie, TimerWheel::Id id, Time fires_at) {
    auto pos = by_time.emplace(fires_at, cookie);
    by_cookie[cookie] = Entry{id, fires_at, pos, live.size()};
    live.push_back(cookie);
  }
  void remove(uint64_t cookie) {
    auto it = by_cookie.find(cookie);
    ASSERT_NE(it, by_cookie.end());
    by_time.erase(it->second.pos);
    size_t idx = it->second.live_index;
    live[idx] = live.back();
    by_cookie[live[idx]].live_index = idx;
    live.pop_back();
    by_cookie.erase(cookie);
  }
  void move(uint64_t cookie, Time fires_at) {
    Entry& e = by_cookie.at(cookie);
    by_time.erase(e.pos);
    e.pos = by_time.emplace(fires_at, cookie);
    e.fires_at = fires_at;
  }
  uint64_t pick(std::mt19937_64& rng) const { return live[rng() % live.size()]; }
};

// Drives a wheel and a model with the same random operations and checks them against each other
// after every step.
class Harness {
 public:
  Harness(Time start, uint64_t seed) : wheel_(start), rng_(seed) {}

  TimerWheel::Id arm(Time deadline) {
    uint64_t cookie = model_.next_cookie++;
    TimerWheel::Id id = wheel_.arm(deadline, cookie);
    EXPECT_TRUE(wheel_.armed(id));
    EXPECT_TRUE(ids_in_use_.insert({id, cookie}).second) << "handle " << id << " handed out twice";
    model_.add(cookie, id, std::max(deadline, wheel_.now()));
    return id;
  }

  void cancel_random() {
    if (model_.live.empty()) return;
    uint64_t cookie = model_.pick(rng_);
    TimerWheel::Id id = model_.by_cookie.at(cookie).id;
    wheel_.cancel(id);
    EXPECT_FALSE(wheel_.armed(id));
    // A just-freed handle is not reused until the next arm, so this must be refused.
    EXPECT_FALSE(wheel_.rearm(id, wheel_.now() + seconds(1)));
    ids_in_use_.erase(id);
    model_.remove(cookie);
  }

  void rearm_random(Time deadline) {
    if (model_.live.empty()) return;
    uint64_t cookie = model_.pick(rng_);
    EXPECT_TRUE(wheel_.rearm(model_.by_cookie.at(cookie).id, deadline));
    model_.move(cookie, std::max(deadline, wheel_.now()));
  }

  // Advances to `target`, doing random work from inside the callbacks when `chaos` is set.
  void advance(Time target, bool chaos) {
    size_t calls = 0;
    size_t fired = wheel_.advance(target, [&](uint64_t cookie) {
      ++calls;
      Time at = wheel_.now();
      auto it = model_.by_cookie.find(cookie);
      ASSERT_NE(it, model_.by_cookie.end()) << "fired a timer that is not armed: " << cookie;
      EXPECT_EQ(it->second.fires_at.count(), at.count()) << "cookie " << cookie;
      EXPECT_GE(at, last_fire_) << "out of deadline order";
      EXPECT_LE(at, target);
      EXPECT_FALSE(wheel_.armed(it->second.id));
      last_fire_ = at;
      ids_in_use_.erase(it->second.id);
      model_.remove(cookie);
      if (!chaos) return;
      switch (rng_() % 8) {
        case 0:  // already due: must fire in this same advance
          arm(at - log_jump(rng_, 20));
          break;
        case 1:
          arm(at + log_jump(rng_));
          break;
        case 2:
          cancel_random();
          break;
        case 3:
          rearm_random(at + log_jump(rng_));
          break;
        default:
          break;
      }
    });
    EXPECT_EQ(fired, calls);
    EXPECT_EQ(wheel_.now(), target);
    check();
  }

  void check() {
    ASSERT_EQ(wheel_.size(), model_.by_cookie.size());
    std::optional<Time> wake = wheel_.next_wakeup();
    if (model_.by_time.empty()) {
      EXPECT_FALSE(wake.has_value());
      return;
    }
    ASSERT_TRUE(wake.has_value());
    Time earliest = model_.by_time.begin()->first;
    EXPECT_LE(*wake, earliest) << "next_wakeup later than the earliest deadline";
    if (earliest <= wheel_.now()) {
      EXPECT_EQ(*wake, wheel_.now());
    } else {
      EXPECT_GT(*wake, wheel_.now());
    }
  }

  Time random_deadline() {
    Time now = wheel_.now();
    if (rng_() % 10 == 0) return now - log_jump(rng_, 30);  // overdue
    return now + log_jump(rng_);
  }

  // Runs in phases that differ in how far advance() jumps relative to the deadlines being
  // armed, so the population swings between a handful and thousands of timers spread over all
  // levels, and the cursor crosses slot boundaries of every level with timers in them.
  void run(int steps) {
    unsigned jump_bits = 45;
    for (int i = 0; i < steps; ++i) {
      if (i % 5000 == 0) jump_bits = static_cast<unsigned>(rng_() % 46);
      switch (rng_() % 12) {
        case 0:
        case 1:
        case 2:
        case 3:
        case 4:
          arm(random_deadline());
          break;
        case 5:
          cancel_random();
          break;
        case 6:
          rearm_random(random_deadline());
          break;
        case 7:
        case 8: {
          std::optional<Time> wake = wheel_.next_wakeup();
          if (wake) advance(*wake, true);
          break;
        }
        default:
          advance(wheel_.now() + log_jump(rng_, jump_bits), true);
          break;
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
    drain();
  }

  void drain() {
    if (!model_.by_time.empty()) advance(std::prev(model_.by_time.end())->first, false);
    EXPECT_EQ(wheel_.size(), 0u);
    EXPECT_TRUE(model_.by_cookie.empty());
    EXPECT_FALSE(wheel_.next_wakeup().has_value());
  }

  TimerWheel& wheel() { return wheel_; }
  Model& model() { return model_; }

 private:
  TimerWheel wheel_;
  std::mt19937_64 rng_;
  Model model_;
  std::unordered_map<TimerWheel::Id, uint64_t> ids_in_use_;
  Time last_fire_{kMin};
};

TEST(TimerWheel, RandomOperationsMatchModel) {
  Harness h(Time(0), 0x5eed0001);
  h.run(300000);
}

TEST(TimerWheel, RandomOperationsFromNegativeEpoch) {
  Harness h(-hours(3), 0x5eed0002);
  h.run(100000);
}

// Near the top of the range the highest levels carry the timers and the cursor crosses
// boundaries of every digit at once.
TEST(TimerWheel, RandomOperationsNearTheTopOfTheRange) {
  Harness h(Time(kMax - (int64_t{1} << 56)), 0x5eed0003);
  h.run(50000);
}

TEST(TimerWheel, WholeRangeInOneAdvance) {
  Harness h(Time(kMin), 0x5eed0004);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 10000; ++i) h.arm(Time(static_cast<int64_t>(rng())));
  h.arm(Time(kMax));
  h.arm(Time(kMin + 1));
  h.advance(Time(kMax), false);
  EXPECT_EQ(h.wheel().size(), 0u);
}

// With no cancel or rearm the wakeup is exact, so a loop that only ever sleeps until
// next_wakeup() sees each timer fire exactly at its deadline and wakes for nothing else.
TEST(TimerWheel, NextWakeupIsExactWithoutCancellation) {
  TimerWheel w(Time(1000));
  std::mt19937_64 rng(11);
  std::multiset<int64_t> expected;
  for (int i = 0; i < 20000; ++i) {
    Time d = Time(1000) + log_jump(rng, 42) + nanoseconds(1);
    w.arm(d, static_cast<uint64_t>(d.count()));
    expected.insert(d.count());
  }
  size_t wakeups = 0;
  std::vector<int64_t> fired;
  while (std::optional<Time> wake = w.next_wakeup()) {
    ASSERT_EQ(wake->count(), *expected.begin());
    ++wakeups;
    w.advance(*wake, [&](uint64_t cookie) {
      EXPECT_EQ(static_cast<int64_t>(cookie), w.now().count());
      fired.push_back(static_cast<int64_t>(cookie));
      expected.erase(expected.find(static_cast<int64_t>(cookie)));
    });
  }
  EXPECT_TRUE(expected.empty());
  EXPECT_EQ(fired.size(), 20000u);
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
  EXPECT_LE(wakeups, 20000u);
}

TEST(TimerWheel, MillionTimersDrainInOrder) {
  constexpr int kCount = 1000000;
  TimerWheel w(Time(0));
  w.reserve(kCount);
  std::mt19937_64 rng(12);
  std::vector<int64_t> deadlines(kCount);
  for (int i = 0; i < kCount; ++i) {
    deadlines[i] = 1 + log_jump(rng, 43).count();  // up to ~2.4 hours
    w.arm(Time(deadlines[i]), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(w.size(), static_cast<size_t>(kCount));
  std::vector<uint8_t> seen(kCount, 0);
  size_t fired = 0;
  int64_t last = 0;
  bool ok = true;
  Time now(0);
  while (w.size() > 0) {
    now += log_jump(rng, 40) + nanoseconds(1);
    fired += w.advance(now, [&](uint64_t cookie) {
      int64_t at = w.now().count();
      ok &= cookie < kCount && !seen[cookie] && deadlines[cookie] == at && at >= last &&
            at <= now.count();
      if (cookie < kCount) seen[cookie] = 1;
      last = at;
    });
  }
  EXPECT_TRUE(ok);
  EXPECT_EQ(fired, static_cast<size_t>(kCount));
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kCount);
  EXPECT_FALSE(w.next_wakeup().has_value());
}

TEST(TimerWheel, NeverFiresEarly) {
  TimerWheel w(Time(0));
  w.arm(Time(1000), 1);
  int fired = 0;
  EXPECT_EQ(w.advance(Time(999), [&](uint64_t) { ++fired; }), 0u);
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(w.next_wakeup(), Time(1000));
  EXPECT_EQ(w.advance(Time(1000), [&](uint64_t) { ++fired; }), 1u);
  EXPECT_EQ(fired, 1);
}

TEST(TimerWheel, OverdueTimersFireNextAdvanceInArmOrder) {
  TimerWheel w(seconds(10));
  w.arm(seconds(5), 1);
  w.arm(seconds(10), 2);
  w.arm(seconds(1), 3);
  w.arm(seconds(11), 4);
  EXPECT_EQ(w.next_wakeup(), seconds(10));
  std::vector<uint64_t> order;
  std::vector<Time> at;
  w.advance(seconds(10), [&](uint64_t c) {
    order.push_back(c);
    at.push_back(w.now());
  });
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(at, (std::vector<Time>{seconds(10), seconds(10), seconds(10)}));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.next_wakeup(), seconds(11));
}

TEST(TimerWheel, CallbackArmsDueTimerThatFiresInSameCall) {
  TimerWheel w(Time(0));
  w.arm(microseconds(5), 1);
  w.arm(microseconds(9), 2);
  std::vector<std::pair<uint64_t, Time>> log;
  w.advance(microseconds(10), [&](uint64_t c) {
    log.emplace_back(c, w.now());
    if (c == 1) {
      w.arm(microseconds(1), 10);   // overdue: right after this one
      w.arm(microseconds(7), 11);   // between: in order
      w.arm(microseconds(10), 12);  // at the end of this advance
      w.arm(microseconds(11), 13);  // not yet
    }
  });
  using P = std::pair<uint64_t, Time>;
  EXPECT_EQ(log,
            (std::vector<P>{P{1, microseconds(5)}, P{10, microseconds(5)}, P{11, microseconds(7)},
                            P{2, microseconds(9)}, P{12, microseconds(10)}}));
  EXPECT_EQ(w.size(), 1u);
}

TEST(TimerWheel, CallbackCancelsAndRearmsTimersDueInSameCall) {
  TimerWheel w(Time(0));
  TimerWheel::Id a = w.arm(Time(100), 1);
  TimerWheel::Id b = w.arm(Time(100), 2);  // same instant as a
  TimerWheel::Id c = w.arm(Time(200), 3);
  TimerWheel::Id d = w.arm(Time(300), 4);
  std::vector<uint64_t> order;
  w.advance(Time(1000), [&](uint64_t cookie) {
    order.push_back(cookie);
    if (cookie == 1) {
      w.cancel(b);
      EXPECT_TRUE(w.rearm(d, Time(150)));
      EXPECT_TRUE(w.rearm(c, Time(5000)));
    }
  });
  (void)a;
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(w.next_wakeup(), Time(5000));
}

TEST(TimerWheel, RearmKeepsHandleAndCookie) {
  TimerWheel w(Time(0));
  TimerWheel::Id id = w.arm(hours(1), 42);
  EXPECT_TRUE(w.rearm(id, microseconds(3)));
  EXPECT_EQ(w.next_wakeup(), microseconds(3));
  std::vector<uint64_t> got;
  w.advance(hours(2), [&](uint64_t c) { got.push_back(c); });
  EXPECT_EQ(got, std::vector<uint64_t>{42});
  EXPECT_FALSE(w.rearm(id, hours(3)));
  EXPECT_FALSE(w.rearm(TimerWheel::kNone, hours(3)));
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, CancelOfFiredTimerIsCaught) {
  TimerWheel w(Time(0));
  TimerWheel::Id id = w.arm(Time(10), 1);
  TimerWheel::Id other = w.arm(Time(20), 2);
  w.advance(Time(10), [](uint64_t) {});
  EXPECT_DEBUG_DEATH(w.cancel(id), "not armed");
  EXPECT_DEBUG_DEATH(w.cancel(TimerWheel::kNone), "not armed");
  EXPECT_DEBUG_DEATH(w.cancel(0), "not armed");  // a sentinel's index, never a handle
  w.cancel(other);
  EXPECT_DEBUG_DEATH(w.cancel(other), "not armed");
  EXPECT_EQ(w.size(), 0u);
  EXPECT_FALSE(w.next_wakeup().has_value());
}

TEST(TimerWheel, HandlesAreRecycledWithoutGrowth) {
  TimerWheel w(Time(0));
  std::vector<TimerWheel::Id> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(w.arm(seconds(1 + i), static_cast<uint64_t>(i)));
  TimerWheel::Id max_id = *std::max_element(ids.begin(), ids.end());
  for (TimerWheel::Id id : ids) w.cancel(id);
  for (int i = 0; i < 1000; ++i) EXPECT_LE(w.arm(seconds(1), 0), max_id);
}

// A timer hours ahead, reached in one call: the cursor must jump, not walk 10^13 ticks.
TEST(TimerWheel, LargeJumpFiresFarTimer) {
  TimerWheel w(Time(0));
  w.arm(hours(5) + nanoseconds(3), 1);
  w.arm(nanoseconds(1), 2);
  std::vector<std::pair<uint64_t, Time>> log;
  w.advance(hours(24), [&](uint64_t c) { log.emplace_back(c, w.now()); });
  using P = std::pair<uint64_t, Time>;
  EXPECT_EQ(log, (std::vector<P>{P{2, nanoseconds(1)}, P{1, hours(5) + nanoseconds(3)}}));
  EXPECT_EQ(w.now(), hours(24));
}

}  // namespace
