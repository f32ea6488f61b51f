// Local communication IDs, and the index from an ID to its connection record.
//
// An ID is the keyed permutation (comm_id.h) of a counter that only moves forward, so an ID comes
// back only after the counter has gone round all 2^32 values. The index is an array of record
// indices in which the record of ID encrypt(x) sits in slot x mod capacity. Taking an ID skips
// the counter values whose slot is still held (a bitmap finds the next free slot 64 at a time), so
// slots never collide and nothing probes. Connections made one after another get consecutive
// counters, so their slots share cache lines, and the replies to them (REP, RTU) find their slot
// still in the cache. A hash index put every new ID, and so every handshake's two ID inserts, in
// a random slot: with a million live connections, two cache misses a handshake.
//
// The cost: the counter's slot can be held for a long stretch (connections made in a burst that
// stay up), which the bitmap crosses at 64 slots a word; at most 3/4 of the slots are ever held.
// 4 bytes a slot and 1 bit of bitmap: 8.25 MB for a million IDs (a hash index: 16 MB).
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "engine/comm_id.h"
#include "engine/large_alloc.h"
#include "engine/prefetch.h"

namespace ibcm::engine {

// IdOf(index) -> uint32_t reads the ID stored in record `index`, which find() checks.
template <class IdOf>
class LocalIds {
 public:
  static constexpr uint32_t kEmpty = UINT32_MAX;

  LocalIds(uint64_t seed, IdOf id_of)
      : cipher_(seed), id_of_(std::move(id_of)), counter_(cipher_.first_counter()) {}
  LocalIds(const LocalIds&) = delete;
  LocalIds& operator=(const LocalIds&) = delete;

  // A fresh ID (never 0, which names no connection on the wire) for record `index`, indexed.
  uint32_t take(uint32_t index) {
    assert(index != kEmpty);
    if (size_ + 1 > max_load(cap_)) grow();
    for (;;) {
      const size_t s = next_free(counter_ & mask());
      counter_ += static_cast<uint32_t>((s - (counter_ & mask())) & mask());
      const uint32_t id = cipher_.encrypt(counter_++);
      if (id == 0) continue;
      hold(s, index);
      ++size_;
      return id;
    }
  }

  // The index of the record whose ID is id, or nullptr. Valid until the next take or erase.
  const uint32_t* find(uint32_t id) const {
    if (cap_ == 0 || id == 0) return nullptr;
    const uint32_t* s = &slots_[slot_of(id)];
    return *s != kEmpty && id_of_(*s) == id ? s : nullptr;
  }

  // Removes id, if record `index` holds it; false if it does not.
  bool erase(uint32_t id, uint32_t index) {
    if (cap_ == 0 || index == kEmpty) return false;
    const size_t s = slot_of(id);
    if (slots_[s] != index || id_of_(index) != id) return false;
    slots_[s] = kEmpty;
    used_[s >> 6] &= ~(uint64_t{1} << (s & 63));
    --size_;
    return true;
  }

  // Starts loading id's slot into the cache, for a find soon after.
  void prefetch(uint32_t id) const {
    if (cap_ != 0) prefetch_line(&slots_[slot_of(id)]);
  }
  // Starts loading the slots the next n IDs will most likely take (the counter's next slots).
  void prefetch_next(size_t n) const {
    if (cap_ == 0) return;
    constexpr size_t kPerLine = 64 / sizeof(uint32_t);
    const size_t first = counter_ & mask();
    for (size_t k = 0; k < n && k < cap_; k += kPerLine)
      prefetch_line(&slots_[(first + k) & mask()]);
    prefetch_line(&used_[first >> 6]);
  }

  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }

  // Makes room for n IDs, so that taking up to that many never grows the index.
  void reserve(size_t n) {
    size_t cap = cap_ == 0 ? kMinCapacity : cap_;
    while (max_load(cap) < n) cap *= 2;
    if (cap != cap_) resize(cap);
  }

 private:
  static constexpr size_t kMinCapacity = 64;  // one bitmap word
  static size_t max_load(size_t cap) { return cap - cap / 4; }
  size_t mask() const { return cap_ - 1; }
  size_t slot_of(uint32_t id) const { return cipher_.decrypt(id) & mask(); }

  void hold(size_t s, uint32_t index) {
    slots_[s] = index;
    used_[s >> 6] |= uint64_t{1} << (s & 63);
  }

  // The first free slot at or after s, going round. One exists: at most 3/4 are held.
  size_t next_free(size_t s) const {
    const size_t words = cap_ >> 6;
    size_t w = s >> 6;
    uint64_t free = ~used_[w] & (~uint64_t{0} << (s & 63));
    while (free == 0) {
      w = (w + 1) & (words - 1);
      free = ~used_[w];
    }
    return w << 6 | static_cast<size_t>(std::countr_zero(free));
  }

  // Grows the slots to cap, a larger power of two. The IDs keep their counters, and counters in
  // distinct slots of the old array stay distinct modulo the new size.
  void grow() { resize(cap_ == 0 ? kMinCapacity : cap_ * 2); }
  void resize(size_t cap) {
    const size_t old_cap = cap_;
    LargeArray<uint32_t> old = std::move(slots_);
    cap_ = cap;
    slots_ = make_large_array<uint32_t>(cap_);
    used_ = make_large_array<uint64_t>(cap_ >> 6);  // zeroed
    for (size_t i = 0; i < cap_; ++i) slots_[i] = kEmpty;
    for (size_t i = 0; i < old_cap; ++i) {
      if (old[i] == kEmpty) continue;
      const size_t s = slot_of(id_of_(old[i]));
      assert(slots_[s] == kEmpty);
      hold(s, old[i]);
    }
  }

  CommIdCipher cipher_;
  IdOf id_of_;
  LargeArray<uint32_t> slots_;
  LargeArray<uint64_t> used_;  // bit s: slot s is held
  size_t cap_ = 0;             // 0 or a power of two, at least kMinCapacity
  size_t size_ = 0;
  uint32_t counter_;
};

}  // namespace ibcm::engine
