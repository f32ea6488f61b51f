// A hash index over the slots of a record array: key -> record index, where the key is stored in
// the record itself, not in the index. An entry is 8 bytes (the record index, 24 bits of the key's
// hash and the probe distance), so the engine's lookups by the peer's comm ID and QPN cost 8 bytes
// a slot each instead of the 12-24 bytes of a FlatMap, and a miss rarely touches a record: only an
// entry whose hash bits match is checked against the record's key.
//
// Robin Hood linear probing with backward-shift deletion, as FlatMap (flat_map.h), at most 3/4
// full, doubling when full. Fuller tables probe much longer on a miss once they no longer fit
// the cache (measured at 1M entries: 49-72 ns at 3/4 full against 28-32 ns at 1/2; at 100k live
// connections, 0.76 full, a handshake cost 1.3x what it costs at 1k): the small slots pay for the
// empty space. Hashes are keyed (a seed from Config::seed): remote peers choose some of the keys.
//
// The record's key must not change while the record is in the index (insert it after setting the
// key, erase it before changing it): rehashing and long probes read keys from the records.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "engine/flat_map.h"
#include "engine/large_alloc.h"
#include "engine/prefetch.h"

namespace ibcm::engine {

// How many low bits of a hash are added to its home slot: 8 slots, a cache line (home()).
constexpr unsigned kIndexNeighbourBits = 3;
constexpr uint64_t kIndexNeighbourMask = (uint64_t{1} << kIndexNeighbourBits) - 1;

// A peer hands out QPNs close together (an adapter counts up), and comm IDs too when it is Linux
// (a counter XOR a random value): the keys of a peer's connections made one after another differ
// in their low bits. This gives them one hash but for its low kIndexNeighbourBits, which home()
// adds to the home slot, so they sit in neighbouring slots and a burst of handshakes with one peer
// touches one cache line of the table per 8 connections, not one each. `other` is the rest of the
// key (the peer's CA GUID); the seed keeps the blocks' places secret from the peers.
inline uint64_t neighbour_hash(uint64_t seed, uint32_t v, uint64_t other) {
  return (mix64(mix64(seed ^ (v >> kIndexNeighbourBits)) ^ other) & ~kIndexNeighbourMask) |
         (v & kIndexNeighbourMask);
}

// KeyOf(index) -> Key reads a record's key; Hash(key) -> uint64_t hashes a key.
template <class Key, class KeyOf, class Hash>
class IndexTable {
 public:
  IndexTable(KeyOf key_of, Hash hash) : key_of_(std::move(key_of)), hash_(std::move(hash)) {}
  IndexTable(const IndexTable&) = delete;
  IndexTable& operator=(const IndexTable&) = delete;

  // The index of the record whose key is k, or nullptr. The pointer is valid until the next
  // insert or erase.
  const uint32_t* find(const Key& k) const {
    if (size_ == 0) return nullptr;
    const uint64_t h = hash_(k);
    const uint32_t tag = tag_of(h);
    size_t i = home(h);
    for (uint32_t dist = 1;; ++dist, i = next(i)) {
      const uint32_t d = dist_at(i);
      if (d < dist) return nullptr;  // Robin Hood: k would sit before this entry
      if (d == dist && slots_[i].meta >> 8 == tag && key_of_(slots_[i].index) == k)
        return &slots_[i].index;
    }
  }

  // Adds record `index`, whose key is k. Returns false, changing nothing, if k is present.
  bool insert(const Key& k, uint32_t index) {
    assert(key_of_(index) == k);
    if (size_ + 1 > max_load(cap_)) {
      if (find(k)) return false;
      grow();
    }
    const uint64_t h = hash_(k);
    const uint32_t tag = tag_of(h);
    size_t i = home(h);
    uint32_t dist = 1;
    // Robin Hood keeps a present key ahead of every entry closer to home than the probe, so the
    // first such entry (or an empty slot) proves k absent, and is where k goes.
    for (;; ++dist, i = next(i)) {
      const uint32_t d = dist_at(i);
      if (d < dist) break;
      if (d == dist && slots_[i].meta >> 8 == tag && key_of_(slots_[i].index) == k) return false;
    }
    place(i, Slot{index, tag << 8}, dist);
    ++size_;
    return true;
  }

  // Removes record `index`'s entry (k is its key). Returns false if it is not in the index.
  bool erase(const Key& k, uint32_t index) { return erase_hashed(hash(k), index); }
  // As erase, with the key's hash(k) computed once for a prefetch_hashed before.
  bool erase_hashed(uint64_t h, uint32_t index) {
    if (size_ == 0) return false;
    size_t i = home(h);
    for (uint32_t dist = 1;; ++dist, i = next(i)) {
      const uint32_t d = dist_at(i);
      if (d < dist) return false;
      if (d == dist && slots_[i].index == index) break;
    }
    // Backward shift: each following displaced entry moves one slot closer to home.
    for (size_t j = next(i);; i = j, j = next(j)) {
      const uint32_t d = dist_at(j);
      if (d <= 1) break;
      slots_[i] = slots_[j];
      set_dist(i, d - 1);
    }
    slots_[i].meta = 0;
    --size_;
    return true;
  }

  uint64_t hash(const Key& k) const { return hash_(k); }

  // Makes room for n entries, so that inserts up to that many never grow the table.
  void reserve(size_t n) {
    size_t cap = cap_ < kMinCapacity ? kMinCapacity : cap_;
    while (max_load(cap) < n) cap *= 2;
    if (cap != cap_) resize(cap);
  }

  // Starts loading k's home slot into the cache, for a find or insert soon after.
  void prefetch(const Key& k) const { prefetch_hashed(hash(k)); }
  void prefetch_hashed(uint64_t h) const {
    if (cap_ == 0) return;
    prefetch_line(slots_.get() + home(h));
  }

  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  static constexpr size_t kSlotBytes = 8;

 private:
  struct Slot {
    uint32_t index = 0;
    uint32_t meta = 0;  // 24 hash bits << 8 | probe distance + 1 (0: empty; kSaturated: >= that)
  };
  static constexpr uint32_t kSaturated = 255;
  static constexpr size_t kMinCapacity = 16;

  static size_t max_load(size_t cap) { return cap - cap / 4; }
  static uint32_t tag_of(uint64_t h) { return static_cast<uint32_t>(h) & 0xFFFFFF; }
  // The capacity is a power of two: the home slot is the hash's top bits (the tag is its bottom),
  // plus its low kIndexNeighbourBits. A Hash that gives keys differing only in a few low bits one
  // hash but for those bits (neighbour_hash) places them in neighbouring slots, which share cache
  // lines.
  size_t home(uint64_t h) const {
    return static_cast<size_t>((h >> shift_) + (h & kIndexNeighbourMask)) & (cap_ - 1);
  }
  size_t next(size_t i) const { return (i + 1) & (cap_ - 1); }

  // Slot i's probe distance + 1 (0: empty). Distances of 255 and more (a hash much worse than
  // ours) are stored as kSaturated and recomputed from the record.
  uint32_t dist_at(size_t i) const {
    const uint32_t d = slots_[i].meta & 0xFF;
    if (d != kSaturated) return d;
    const size_t h = home(hash_(key_of_(slots_[i].index)));
    return static_cast<uint32_t>((i - h) & (cap_ - 1)) + 1;
  }
  void set_dist(size_t i, uint32_t d) {
    slots_[i].meta = (slots_[i].meta & ~0xFFu) | (d < kSaturated ? d : kSaturated);
  }

  // Places an entry known to be absent, starting at slot i where its distance is `dist`,
  // displacing entries closer to home than the one in hand.
  void place(size_t i, Slot carry, uint32_t dist) {
    for (;; i = next(i), ++dist) {
      const uint32_t d = dist_at(i);
      if (d == 0) {
        slots_[i] = carry;
        set_dist(i, dist);
        return;
      }
      if (d < dist) {
        std::swap(slots_[i], carry);
        set_dist(i, dist);
        dist = d;
      }
    }
  }

  void grow() { resize(cap_ < kMinCapacity ? kMinCapacity : cap_ * 2); }
  void resize(size_t cap) {
    LargeArray<Slot> old = make_large_array<Slot>(cap);
    old.swap(slots_);
    const size_t old_cap = cap_;
    cap_ = cap;
    shift_ = static_cast<unsigned>(64 - std::countr_zero(cap));
    for (size_t i = 0; i < old_cap; ++i) {
      if ((old[i].meta & 0xFF) == 0) continue;
      const uint64_t h = hash_(key_of_(old[i].index));
      place(home(h), Slot{old[i].index, tag_of(h) << 8}, 1);
    }
  }

  KeyOf key_of_;
  Hash hash_;
  LargeArray<Slot> slots_;
  size_t cap_ = 0;  // 0 or a power of two
  unsigned shift_ = 64;
  size_t size_ = 0;
};

}  // namespace ibcm::engine
