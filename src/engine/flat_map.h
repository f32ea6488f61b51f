// An open-addressing hash map for the engine's lookups (comm IDs, (QPN, CA GUID) pairs, ... to
// slot indices): small trivially copyable keys and values, no allocation except growth.
//
// Robin Hood linear probing: each slot records its entry's distance from its home slot, an
// insert takes the slot of any entry that is closer to home than itself, and erase shifts the
// following displaced entries back by one. This keeps probe sequences short and evenly long at
// a high load factor (7/8), lets a miss stop as soon as it meets an entry closer to home than
// the probe, and needs no tombstones, so a map with heavy insert/erase churn never degrades.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

namespace ibcm::engine {

// The finalizer of splitmix64 (Stafford's variant 13): a bijection on 64 bits in which every
// input bit affects every output bit, so the low bits used as a table index are well mixed even
// for sequential or strided keys.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

namespace detail {

template <class T>
constexpr uint64_t field_bits(T v) {
  static_assert(std::is_integral_v<T> || std::is_enum_v<T>,
                "hash_fields takes integers and enums; split wider fields into 64-bit words");
  static_assert(sizeof(T) <= 8);
  if constexpr (std::is_enum_v<T>) {
    return static_cast<uint64_t>(static_cast<std::underlying_type_t<T>>(v));
  } else {
    return static_cast<uint64_t>(v);
  }
}

}  // namespace detail

// Hashes a key field by field, so structs with padding (e.g. {uint32_t qpn; uint64_t guid;})
// hash only their values, never the indeterminate padding bytes:
//   struct QpKeyHash { size_t operator()(const QpKey& k) const { return hash_fields(k.qpn, k.guid);
//   } };
// Each step is a bijection of the running state XOR the next field, so keys differing in one
// field never collide, and the field order matters ((1, 2) and (2, 1) hash differently).
template <class... Fields>
constexpr uint64_t hash_fields(Fields... fields) {
  uint64_t h = 0x9e3779b97f4a7c15ull;
  ((h = mix64(h ^ detail::field_bits(fields))), ...);
  return h;
}

// The default hash: integers and enums are mixed directly; other keys are hashed over their
// bytes, which is allowed only for types without padding (has_unique_object_representations),
// since padding bytes are indeterminate and two equal keys could hash differently. Keys with
// padding need a Hash written with hash_fields.
template <class K>
struct DefaultHash {
  uint64_t operator()(const K& k) const {
    if constexpr (std::is_integral_v<K> || std::is_enum_v<K>) {
      return hash_fields(k);
    } else {
      static_assert(std::has_unique_object_representations_v<K>,
                    "this key has padding (or floats): give FlatMap a Hash built on hash_fields");
      unsigned char bytes[sizeof(K)];
      std::memcpy(bytes, &k, sizeof(K));
      uint64_t h = 0x9e3779b97f4a7c15ull;
      size_t i = 0;
      for (; i + 8 <= sizeof(K); i += 8) {
        uint64_t w;
        std::memcpy(&w, bytes + i, 8);
        h = mix64(h ^ w);
      }
      if (i < sizeof(K)) {
        uint64_t w = 0;
        std::memcpy(&w, bytes + i, sizeof(K) - i);
        h = mix64(h ^ w ^ (uint64_t{sizeof(K) - i} << 56));
      }
      return h;
    }
  }
};

// Pointers returned by find() stay valid until the next insert, erase, reserve or clear: Robin
// Hood insertion and backward-shift deletion move other entries.
template <class K, class V, class Hash = DefaultHash<K>>
class FlatMap {
  static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>,
                "FlatMap moves entries with plain copies");
  static_assert(std::is_default_constructible_v<K> && std::is_default_constructible_v<V>);

 public:
  FlatMap() = default;
  explicit FlatMap(Hash hash) : hash_(std::move(hash)) {}
  FlatMap(const FlatMap& o) : hash_(o.hash_) { *this = o; }
  FlatMap& operator=(const FlatMap& o) {
    if (this == &o) return *this;
    hash_ = o.hash_;
    slots_.reset(o.cap_ ? new Slot[o.cap_] : nullptr);
    std::copy_n(o.slots_.get(), o.cap_, slots_.get());
    cap_ = o.cap_;
    size_ = o.size_;
    return *this;
  }
  FlatMap(FlatMap&& o) noexcept { swap(o); }
  FlatMap& operator=(FlatMap&& o) noexcept {
    swap(o);
    return *this;
  }

  // Adds key -> value. Returns false, changing nothing, if the key is present.
  bool insert(const K& key, const V& value) {
    if (size_ + 1 > max_load(cap_)) {
      if (contains(key)) return false;
      rehash(cap_ ? cap_ * 2 : kMinCapacity);
    }
    size_t mask = cap_ - 1;
    size_t i = hash_(key) & mask;
    uint32_t dist = 1;
    // Robin Hood keeps a present key ahead of every entry closer to home than the probe, so the
    // first such entry (or an empty slot) proves the key absent.
    for (; slots_[i].dist >= dist; i = (i + 1) & mask, ++dist) {
      if (slots_[i].dist == dist && slots_[i].key == key) return false;
    }
    put(i, Slot{key, value, dist});
    ++size_;
    return true;
  }

  V* find(const K& key) {
    size_t i = index_of(key);
    return i == kNotFound ? nullptr : &slots_[i].value;
  }
  const V* find(const K& key) const {
    size_t i = index_of(key);
    return i == kNotFound ? nullptr : &slots_[i].value;
  }
  bool contains(const K& key) const { return index_of(key) != kNotFound; }

  // Removes the key; returns whether it was present. O(1) expected.
  bool erase(const K& key) {
    size_t i = index_of(key);
    if (i == kNotFound) return false;
    size_t mask = cap_ - 1;
    for (size_t j = (i + 1) & mask; slots_[j].dist > 1; i = j, j = (j + 1) & mask) {
      slots_[i] = slots_[j];
      --slots_[i].dist;
    }
    slots_[i].dist = 0;
    --size_;
    return true;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }

  // Removes every entry, keeping the storage.
  void clear() {
    for (size_t i = 0; i < cap_; ++i) slots_[i].dist = 0;
    size_ = 0;
  }

  // Makes room for n entries without further allocation.
  void reserve(size_t n) {
    size_t cap = kMinCapacity;
    while (max_load(cap) < n) cap *= 2;
    if (cap > cap_) rehash(cap);
  }

 private:
  struct Slot {
    K key{};
    V value{};
    // 0: empty; else 1 + the distance from the key's home slot. 32 bits cost nothing for the
    // engine's key/value sizes (padding) and cannot overflow, however poor the hash.
    uint32_t dist = 0;
  };
  static constexpr size_t kMinCapacity = 16;
  static constexpr size_t kNotFound = SIZE_MAX;

  static size_t max_load(size_t cap) { return cap - cap / 8; }

  size_t index_of(const K& key) const {
    if (size_ == 0) return kNotFound;
    size_t mask = cap_ - 1;
    size_t i = hash_(key) & mask;
    for (uint32_t dist = 1; slots_[i].dist >= dist; i = (i + 1) & mask, ++dist) {
      if (slots_[i].dist == dist && slots_[i].key == key) return i;
    }
    return kNotFound;
  }

  void rehash(size_t cap) {
    std::unique_ptr<Slot[]> old(new Slot[cap]);
    old.swap(slots_);
    size_t old_cap = cap_;
    cap_ = cap;
    size_t mask = cap_ - 1;
    for (size_t i = 0; i < old_cap; ++i) {
      if (old[i].dist) put(hash_(old[i].key) & mask, Slot{old[i].key, old[i].value, 1});
    }
  }

  // Places an entry known to be absent, starting at slot i where it has distance carry.dist,
  // displacing entries that are closer to home (each then continues one slot further on).
  void put(size_t i, Slot carry) {
    size_t mask = cap_ - 1;
    for (;;) {
      Slot& s = slots_[i];
      if (s.dist == 0) {
        s = carry;
        return;
      }
      if (s.dist < carry.dist) std::swap(s, carry);
      i = (i + 1) & mask;
      ++carry.dist;
    }
  }

  void swap(FlatMap& o) noexcept {
    using std::swap;
    swap(hash_, o.hash_);
    swap(slots_, o.slots_);
    swap(cap_, o.cap_);
    swap(size_, o.size_);
  }

  [[no_unique_address]] Hash hash_{};
  std::unique_ptr<Slot[]> slots_;
  size_t cap_ = 0;  // a power of two, or 0
  size_t size_ = 0;
};

}  // namespace ibcm::engine
