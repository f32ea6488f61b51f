/// @file
/// The engine's timer wheel: a hierarchical timing wheel for millions of live timers with
/// injected time, header-only and standard library only. `ibcm::Cm` keeps its retransmission,
/// MRA and TIMEWAIT timers in one; an embedding that keeps timers of its own on the same clock
/// (per-QP timeouts, keep-alives, its own retries) may use it too, and `ibcm bench` measures it
/// (docs/performance.md, "Timers").
///
/// Resolution: 1 ns. Deadlines are kept exactly, so a timer fires exactly at its deadline when
/// advance() is called at the times next_wakeup() names; simulated runs depend on that.
///
/// Layout: 11 levels of 64 slots cover the whole 64-bit nanosecond range, so there is no overflow
/// list and no horizon. A timer with deadline t sits at the level of the highest 6-bit digit in
/// which t differs from the wheel's cursor, in the slot named by t's digit there. Hence every
/// timer at level L shares the cursor's digits above L and has a larger digit at L, which gives
/// the two properties everything rests on: the first occupied slot of the lowest occupied level
/// holds the earliest timers, and moving the cursor within [cursor, start of that slot) leaves
/// every timer correctly placed. advance() therefore jumps from occupied slot to occupied slot
/// (found with one count-trailing-zeros per level bitmap), never tick by tick, and each timer
/// moves down at most 10 times in its life.
///
/// Memory: timers are 24-byte nodes in one vector, linked into per-slot circular lists by 32-bit
/// indices; the slot heads are sentinel nodes at the start of the same vector, so list surgery
/// never branches on "is this a head". Freed nodes go on a free list: arming allocates only when
/// the pool grows.
///
/// Not thread-safe: one thread at a time, as for a Cm.
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"

IBCM_API_BEGIN

namespace ibcm {

/// Timers with deadlines in `ibcm::Time` (nanoseconds since an epoch of the caller's choosing;
/// it may be negative), each carrying a 64-bit cookie that advance() hands back when it fires:
///
///     ibcm::TimerWheel wheel(now);
///     ibcm::TimerWheel::Id id = wheel.arm(now + std::chrono::milliseconds(500), cookie);
///     ...                                   // wheel.cancel(id) if it is no longer wanted
///     // when the clock reaches *wheel.next_wakeup():
///     wheel.advance(now, [&](uint64_t cookie) { ... });
class TimerWheel {
 public:
  /// A handle valid from arm() until the timer fires or is cancelled. Handles are reused after
  /// that (most recently freed first), so a caller must forget a handle once its timer is gone: a
  /// stale handle that has been reused names someone else's timer. A stale handle that has not
  /// been reused is caught (see cancel()).
  using Id = uint32_t;
  static constexpr Id kNone = UINT32_MAX;  ///< no timer: never a handle arm() returns

  /// An empty wheel whose time is `now`.
  explicit TimerWheel(Time now) : cur_(to_tick(now)) {
    nodes_.resize(kFirstNode);
    for (uint32_t i = 0; i < kFirstNode; ++i) nodes_[i].prev = nodes_[i].next = i;
  }

  /// O(1). A deadline <= now() is due at now(): it fires first in the next advance(), with timers
  /// that were due together firing in arm order (their deadlines are not compared).
  Id arm(Time deadline, uint64_t cookie) {
    uint32_t i = take_node();
    nodes_[i].when = to_tick(deadline);
    nodes_[i].cookie = cookie;
    place(i);
    ++size_;
    return i;
  }

  /// O(1). Cancelling a handle whose timer has already fired or been cancelled is a programming
  /// error: it asserts in debug builds and is ignored otherwise.
  void cancel(Id id) {
    if (!armed(id)) {
      assert(false && "TimerWheel::cancel: timer is not armed");
      return;
    }
    unlink(id);
    release(id);
    --size_;
  }

  /// O(1): moves an armed timer to a new deadline (same handle, same cookie). Returns false and
  /// does nothing if the timer is not armed, so callers can fall back to arm().
  bool rearm(Id id, Time deadline) {
    if (!armed(id)) return false;
    unlink(id);
    nodes_[id].when = to_tick(deadline);
    place(id);
    return true;
  }

  /// Fires every timer whose deadline is <= now, calling fire(cookie) once each, in deadline order
  /// (equal deadlines in no promised order). Returns how many fired.
  ///
  /// While fire() runs, now() is that timer's deadline (or, for a timer armed already due, the
  /// time it was armed at), not the `now` passed in. fire() may arm, rearm and cancel timers: one
  /// whose deadline is <= the `now` passed in fires in this same call, in order; one armed with a
  /// deadline <= now() fires in this call too, after the timers already due at now(). A fire()
  /// that keeps arming due timers therefore never lets advance() return. advance() must not be
  /// called from fire().
  ///
  /// Cost: O(1) per call plus, per timer, one fire and at most 10 moves down a level over its
  /// life. The cursor visits only occupied slots, so a jump of hours costs no more than one of 1
  /// ns. Time must not go backwards: an earlier `now` asserts in debug builds and is treated as
  /// now().
  template <class F>
  size_t advance(Time now, F&& fire) {
    auto always = [] { return true; };
    return advance_while(now, always, fire);
  }

  /// As advance(), but asks ready() before firing each due timer, and when it answers false
  /// stops there: that timer and all later ones stay armed, now() stays at that timer's deadline
  /// (so next_wakeup() is now()), and the next advance() fires them first, in the same order. The
  /// engine holds its timers this way while its output queues are full.
  template <class R, class F>
  size_t advance_while(Time now, R&& ready, F&& fire) {
    assert(!advancing_ && "TimerWheel::advance is not reentrant");
    uint64_t target = to_tick(now);
    assert(target >= cur_ && "TimerWheel::advance: time went backwards");
    target = std::max(target, cur_);
    advancing_ = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{advancing_};
    size_t fired = 0;
    for (;;) {
      while (nodes_[kDue].next != kDue) {
        if (!ready()) return fired;  // the cursor stays here: every timer is still placed right
        uint32_t i = nodes_[kDue].next;
        uint64_t cookie = nodes_[i].cookie;
        unlink(i);
        release(i);
        --size_;
        ++fired;
        fire(cookie);
      }
      if (levels_ == 0) break;
      unsigned level = static_cast<unsigned>(std::countr_zero(levels_));
      unsigned slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
      if (slot_start(level, slot) > target) break;
      // The slot's recorded minimum lies inside the slot and is <= all its timers, so the cursor
      // may stop there: the timers equal to it become due at exactly their deadline.
      uint32_t idx = level * kSlots + slot;
      cur_ = std::min(slot_min_[idx], target);
      if (level == 0) {
        splice(kSlot0 + idx, kDue);  // one level-0 slot is one instant, now reached
      } else {
        splice(kSlot0 + idx, kTemp);
        while (nodes_[kTemp].next != kTemp) {
          uint32_t i = nodes_[kTemp].next;
          unlink(i);
          place(i);  // strictly lower level, or due
        }
      }
    }
    cur_ = target;
    return fired;
  }

  /// A time at which advance() should next be called: now() if a timer is due; otherwise never
  /// later than the earliest deadline and later than now(); nullopt when no timer is armed. O(1).
  /// It is the exact earliest deadline unless the earliest timer of its slot was cancelled or
  /// rearmed (the slot keeps a lower bound, not a heap); waking early then costs one cascade.
  std::optional<Time> next_wakeup() const {
    if (nodes_[kDue].next != kDue) return now();
    if (levels_ == 0) return std::nullopt;
    unsigned level = static_cast<unsigned>(std::countr_zero(levels_));
    unsigned slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
    return to_time(slot_min_[level * kSlots + slot]);
  }

  /// How many timers are armed.
  size_t size() const { return size_; }
  /// The wheel's time: the `now` of the last advance() (or of the constructor), or, inside
  /// fire(), the deadline of the timer firing.
  Time now() const { return to_time(cur_); }

  /// Whether `id` names an armed timer (see Id for handles that were reused).
  bool armed(Id id) const {
    return id >= kFirstNode && id < nodes_.size() && nodes_[id].prev != kFreeMark;
  }

  /// Grows the pool so that n timers can be armed without allocating.
  void reserve(size_t n) { nodes_.reserve(kFirstNode + n); }

 private:
  static constexpr unsigned kDigitBits = 6;
  static constexpr unsigned kSlots = 1u << kDigitBits;
  static constexpr unsigned kLevels = (64 + kDigitBits - 1) / kDigitBits;  // 11
  static constexpr uint32_t kDue = 0;   // sentinel: timers to fire now, in order
  static constexpr uint32_t kTemp = 1;  // sentinel: a slot being cascaded
  static constexpr uint32_t kSlot0 = 2;
  static constexpr uint32_t kFirstNode = kSlot0 + kLevels * kSlots;
  static constexpr uint32_t kFreeMark = UINT32_MAX - 1;  // in prev: the node is free
  static constexpr uint64_t kSignFlip = uint64_t{1} << 63;

  struct Node {
    uint64_t when = 0;  // deadline as an unsigned tick (see to_tick)
    uint64_t cookie = 0;
    uint32_t prev = 0;
    uint32_t next = 0;  // on the free list: the next free node
  };
  static_assert(sizeof(Node) == 24);

  // Flipping the sign bit maps signed nanoseconds onto unsigned ticks in the same order, so
  // epochs before 0 work and digit arithmetic is plain unsigned.
  static uint64_t to_tick(Time t) { return static_cast<uint64_t>(t.count()) ^ kSignFlip; }
  static Time to_time(uint64_t tick) { return Time(static_cast<int64_t>(tick ^ kSignFlip)); }

  uint64_t slot_start(unsigned level, unsigned slot) const {
    unsigned shift = level * kDigitBits;
    unsigned above = shift + kDigitBits;
    uint64_t high = above >= 64 ? 0 : cur_ >> above << above;
    return high | (uint64_t{slot} << shift);
  }

  uint32_t take_node() {
    if (free_ != kNone) {
      uint32_t i = free_;
      free_ = nodes_[i].next;
      return i;
    }
    if (nodes_.size() >= kFreeMark) throw std::length_error("TimerWheel: too many timers");
    nodes_.emplace_back();
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  void release(uint32_t i) {
    nodes_[i].prev = kFreeMark;
    nodes_[i].next = free_;
    free_ = i;
  }

  void place(uint32_t i) {
    uint64_t t = nodes_[i].when;
    if (t <= cur_) {
      link_tail(kDue, i);
      return;
    }
    unsigned level = static_cast<unsigned>(63 - std::countl_zero(t ^ cur_)) / kDigitBits;
    unsigned slot = static_cast<unsigned>(t >> (level * kDigitBits)) & (kSlots - 1);
    uint32_t idx = level * kSlots + slot;
    uint64_t bit = uint64_t{1} << slot;
    if (!(occupied_[level] & bit)) {
      occupied_[level] |= bit;
      levels_ |= 1u << level;
      slot_min_[idx] = t;
    } else if (t < slot_min_[idx]) {
      slot_min_[idx] = t;
    }
    link_tail(kSlot0 + idx, i);
  }

  void link_tail(uint32_t head, uint32_t i) {
    uint32_t last = nodes_[head].prev;
    nodes_[i].prev = last;
    nodes_[i].next = head;
    nodes_[last].next = i;
    nodes_[head].prev = i;
  }

  void unlink(uint32_t i) {
    uint32_t p = nodes_[i].prev;
    uint32_t n = nodes_[i].next;
    nodes_[p].next = n;
    nodes_[n].prev = p;
    // Only a sentinel is its own neighbour both ways: the list just became empty, and since the
    // sentinel's index names the slot, the node need not remember where it was.
    if (p == n && p >= kSlot0 && p < kFirstNode) mark_empty(p - kSlot0);
  }

  void mark_empty(uint32_t idx) {
    unsigned level = idx / kSlots;
    occupied_[level] &= ~(uint64_t{1} << (idx % kSlots));
    if (occupied_[level] == 0) levels_ &= ~(1u << level);
  }

  // Moves the whole list of slot sentinel `from` to the tail of sentinel `to`, keeping order.
  void splice(uint32_t from, uint32_t to) {
    uint32_t first = nodes_[from].next;
    uint32_t last = nodes_[from].prev;
    uint32_t tail = nodes_[to].prev;
    nodes_[tail].next = first;
    nodes_[first].prev = tail;
    nodes_[last].next = to;
    nodes_[to].prev = last;
    nodes_[from].next = nodes_[from].prev = from;
    mark_empty(from - kSlot0);
  }

  std::vector<Node> nodes_;  // [0, kFirstNode): sentinels; then timers, armed or free
  uint32_t free_ = kNone;
  uint64_t cur_;  // the cursor, as a tick: every armed timer not due is later than it
  size_t size_ = 0;
  uint32_t levels_ = 0;  // bit L: occupied_[L] != 0
  uint64_t occupied_[kLevels] = {};
  // Per slot, a lower bound of its deadlines that lies inside the slot: the minimum armed since
  // the slot was last empty. Cheaper than an exact minimum, which cancel() would have to repair.
  uint64_t slot_min_[kLevels * kSlots] = {};
  bool advancing_ = false;
};

}  // namespace ibcm

IBCM_API_END
