// FlatMap against std::unordered_map under random insert / find / erase sequences, for the key
// shapes the engine uses, plus hashes poor enough to force long probe runs and wrap-around, where
// Robin Hood displacement and backward-shift deletion are easiest to get wrong.
#include "engine/flat_map.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

using ibcm::engine::DefaultHash;
using ibcm::engine::FlatMap;
using ibcm::engine::hash_fields;
using ibcm::engine::mix64;

namespace {

struct QpKey {  // has 4 bytes of padding after qpn
  uint32_t qpn;
  uint64_t guid;
  bool operator==(const QpKey&) const = default;
};
struct QpKeyHash {
  size_t operator()(const QpKey& k) const { return hash_fields(k.qpn, k.guid); }
};
struct QpKeyStdHash {
  size_t operator()(const QpKey& k) const { return k.qpn * 31 + k.guid; }
};

struct Packed {  // no padding: the default hash may read its bytes
  uint32_t a;
  uint16_t b;
  uint16_t c;
  uint8_t d[4];
  bool operator==(const Packed&) const = default;
};
static_assert(std::has_unique_object_representations_v<Packed>);

// Everything lands in 4 home slots: probe runs span most of the table and wrap around its end.
struct TerribleHash {
  size_t operator()(uint32_t k) const { return k & 3; }
};
// Home slots near the end of the table, so runs wrap past index 0.
struct HighHash {
  size_t operator()(uint32_t k) const { return SIZE_MAX - (k % 7); }
};

template <class K, class V, class H, class StdH, class MakeKey>
void run_against_model(uint64_t seed, int ops, uint64_t key_space, MakeKey make_key) {
  FlatMap<K, V, H> map;
  std::unordered_map<K, V, StdH> model;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < ops; ++i) {
    K key = make_key(rng() % key_space);
    switch (rng() % 6) {
      case 0:
      case 1: {
        V v = static_cast<V>(rng());
        bool fresh = model.emplace(key, v).second;
        ASSERT_EQ(map.insert(key, v), fresh) << "op " << i;
        break;
      }
      case 2:
      case 3: {
        bool present = model.erase(key) != 0;
        ASSERT_EQ(map.erase(key), present) << "op " << i;
        break;
      }
      default: {
        auto it = model.find(key);
        V* got = map.find(key);
        if (it == model.end()) {
          ASSERT_EQ(got, nullptr) << "op " << i;
        } else {
          ASSERT_NE(got, nullptr) << "op " << i;
          ASSERT_EQ(*got, it->second) << "op " << i;
          V updated = static_cast<V>(rng());
          *got = updated;  // values are writable in place
          it->second = updated;
        }
        break;
      }
    }
    ASSERT_EQ(map.size(), model.size());
    // Occasionally check the whole content: a backward shift that breaks one chain shows up
    // only on keys that were not touched.
    if (i % 4096 == 0) {
      for (const auto& [k, v] : model) {
        const V* got = std::as_const(map).find(k);
        ASSERT_NE(got, nullptr);
        ASSERT_EQ(*got, v);
      }
    }
  }
  for (const auto& [k, v] : model) {
    ASSERT_NE(map.find(k), nullptr);
    ASSERT_EQ(*map.find(k), v);
  }
  for (const auto& [k, v] : model) ASSERT_TRUE(map.erase(k));
  EXPECT_EQ(map.size(), 0u);
  EXPECT_TRUE(map.empty());
}

TEST(FlatMap, Uint32KeysMatchModel) {
  run_against_model<uint32_t, uint32_t, DefaultHash<uint32_t>, std::hash<uint32_t>>(
      1, 300000, 5000, [](uint64_t x) { return static_cast<uint32_t>(x); });
}

TEST(FlatMap, Uint64KeysMatchModel) {
  run_against_model<uint64_t, uint32_t, DefaultHash<uint64_t>, std::hash<uint64_t>>(
      2, 300000, 20000, [](uint64_t x) { return x * 0x100000001ull; });
}

TEST(FlatMap, StructKeysMatchModel) {
  run_against_model<QpKey, uint32_t, QpKeyHash, QpKeyStdHash>(3, 300000, 8000, [](uint64_t x) {
    return QpKey{static_cast<uint32_t>(x & 0xFF), 0x0002c90300000000ull | (x >> 8)};
  });
}

TEST(FlatMap, TerribleHashMatchesModel) {
  run_against_model<uint32_t, uint64_t, TerribleHash, std::hash<uint32_t>>(
      4, 40000, 600, [](uint64_t x) { return static_cast<uint32_t>(x); });
}

TEST(FlatMap, WrappingHashMatchesModel) {
  run_against_model<uint32_t, uint32_t, HighHash, std::hash<uint32_t>>(
      5, 40000, 300, [](uint64_t x) { return static_cast<uint32_t>(x); });
}

TEST(FlatMap, InsertOfPresentKeyChangesNothing) {
  FlatMap<uint32_t, uint32_t> m;
  EXPECT_TRUE(m.insert(7, 1));
  EXPECT_FALSE(m.insert(7, 2));
  ASSERT_NE(m.find(7), nullptr);
  EXPECT_EQ(*m.find(7), 1u);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_FALSE(m.erase(8));
  EXPECT_TRUE(m.erase(7));
  EXPECT_FALSE(m.erase(7));
  EXPECT_EQ(m.find(7), nullptr);
}

// Presence must be decided before growth: a present key at the load limit must not rehash.
TEST(FlatMap, InsertOfPresentKeyAtLoadLimitDoesNotGrow) {
  FlatMap<uint32_t, uint32_t> m;
  uint32_t k = 0;
  while (m.size() < 14) m.insert(k++, 0);  // 14 = 7/8 of the minimum capacity 16
  EXPECT_EQ(m.capacity(), 16u);
  EXPECT_FALSE(m.insert(3, 9));
  EXPECT_EQ(m.capacity(), 16u);
  EXPECT_TRUE(m.insert(k, 0));
  EXPECT_EQ(m.capacity(), 32u);
}

TEST(FlatMap, ReserveThenFillDoesNotGrow) {
  FlatMap<uint64_t, uint32_t> m;
  m.reserve(1000000);
  size_t cap = m.capacity();
  EXPECT_TRUE(std::has_single_bit(cap));
  EXPECT_GE(cap - cap / 8, 1000000u);
  for (uint64_t i = 0; i < 1000000; ++i) ASSERT_TRUE(m.insert(i, static_cast<uint32_t>(i)));
  EXPECT_EQ(m.capacity(), cap);
  for (uint64_t i = 0; i < 1000000; i += 997) ASSERT_EQ(*m.find(i), static_cast<uint32_t>(i));
}

// No tombstones: churn at a steady size never forces a rehash however long it runs.
TEST(FlatMap, ChurnAtSteadySizeKeepsCapacity) {
  FlatMap<uint32_t, uint32_t> m;
  std::mt19937_64 rng(6);
  std::vector<uint32_t> keys;
  for (uint32_t i = 0; i < 50000; ++i) {
    keys.push_back(static_cast<uint32_t>(rng()));
    if (!m.insert(keys.back(), i)) keys.pop_back();
  }
  size_t cap = m.capacity();
  for (int i = 0; i < 1000000; ++i) {
    size_t at = rng() % keys.size();
    ASSERT_TRUE(m.erase(keys[at]));
    uint32_t k;
    do k = static_cast<uint32_t>(rng());
    while (!m.insert(k, 0));
    keys[at] = k;
  }
  EXPECT_EQ(m.capacity(), cap);
  EXPECT_EQ(m.size(), keys.size());
  for (uint32_t k : keys) ASSERT_NE(m.find(k), nullptr);
}

TEST(FlatMap, ClearKeepsStorageAndEmpties) {
  FlatMap<uint32_t, uint32_t> m;
  for (uint32_t i = 0; i < 1000; ++i) m.insert(i, i);
  size_t cap = m.capacity();
  m.clear();
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.capacity(), cap);
  for (uint32_t i = 0; i < 1000; ++i) EXPECT_EQ(m.find(i), nullptr);
  EXPECT_TRUE(m.insert(5, 50));
  EXPECT_EQ(*m.find(5), 50u);
}

TEST(FlatMap, CopyAndMove) {
  FlatMap<uint32_t, uint32_t> a;
  for (uint32_t i = 0; i < 100; ++i) a.insert(i, i * 2);
  FlatMap<uint32_t, uint32_t> b = a;
  b.erase(5);
  EXPECT_NE(a.find(5), nullptr);
  EXPECT_EQ(b.find(5), nullptr);
  FlatMap<uint32_t, uint32_t> c = std::move(b);
  EXPECT_EQ(c.size(), 99u);
  EXPECT_EQ(*c.find(99), 198u);
  a = c;
  EXPECT_EQ(a.size(), 99u);
  EXPECT_EQ(a.find(5), nullptr);
}

TEST(FlatMap, EmptyMapLookupsNeedNoStorage) {
  const FlatMap<uint64_t, uint32_t> m;
  EXPECT_EQ(m.find(1), nullptr);
  EXPECT_FALSE(m.contains(1));
  EXPECT_EQ(m.capacity(), 0u);
}

// Two equal keys with different padding bytes must hash alike: hash_fields never reads padding.
TEST(HashFields, IgnoresPadding) {
  alignas(QpKey) unsigned char raw1[sizeof(QpKey)];
  alignas(QpKey) unsigned char raw2[sizeof(QpKey)];
  std::memset(raw1, 0x00, sizeof raw1);
  std::memset(raw2, 0xA5, sizeof raw2);
  QpKey* k1 = new (raw1) QpKey;
  QpKey* k2 = new (raw2) QpKey;
  k1->qpn = k2->qpn = 0x123456;
  k1->guid = k2->guid = 0x0002c903000a0b0cull;
  ASSERT_EQ(*k1, *k2);
  ASSERT_NE(std::memcmp(raw1, raw2, sizeof raw1), 0);  // the padding does differ
  EXPECT_EQ(QpKeyHash{}(*k1), QpKeyHash{}(*k2));
}

TEST(HashFields, OrderAndEachFieldMatter) {
  EXPECT_NE(hash_fields(uint32_t{1}, uint64_t{2}), hash_fields(uint32_t{2}, uint64_t{1}));
  EXPECT_NE(hash_fields(uint32_t{1}, uint64_t{2}), hash_fields(uint32_t{1}, uint64_t{3}));
  EXPECT_NE(hash_fields(uint32_t{1}, uint64_t{2}), hash_fields(uint32_t{0}, uint64_t{2}));
  EXPECT_NE(hash_fields(uint64_t{0}), hash_fields(uint64_t{0}, uint64_t{0}));
}

TEST(DefaultHash, PaddingFreeStructUsesAllBytes) {
  Packed p{1, 2, 3, {4, 5, 6, 7}};
  DefaultHash<Packed> h;
  uint64_t base = h(p);
  for (int i = 0; i < 4; ++i) {
    Packed q = p;
    q.d[i] ^= 1;  // bytes past the last full 8-byte word count too
    EXPECT_NE(h(q), base) << i;
  }
  Packed q = p;
  q.a ^= 0x80000000u;
  EXPECT_NE(h(q), base);
}

// Every input bit must reach the low bits used as the table index: flipping one input bit flips
// close to half of the 64 output bits on average.
TEST(Mix64, Avalanche) {
  std::mt19937_64 rng(8);
  constexpr int kSamples = 2000;
  for (int bit = 0; bit < 64; ++bit) {
    uint64_t flips = 0;
    for (int s = 0; s < kSamples; ++s) {
      uint64_t x = rng();
      flips += static_cast<uint64_t>(std::popcount(mix64(x) ^ mix64(x ^ (uint64_t{1} << bit))));
    }
    double mean = static_cast<double>(flips) / kSamples;
    EXPECT_GT(mean, 30.0) << "bit " << bit;
    EXPECT_LT(mean, 34.0) << "bit " << bit;
  }
}

// Sequential keys (comm IDs, QPNs) spread evenly over the low bits.
TEST(Mix64, SequentialKeysSpreadOverLowBits) {
  constexpr int kBuckets = 1024;
  constexpr int kKeys = kBuckets * 64;
  std::vector<int> count(kBuckets, 0);
  for (uint32_t k = 0; k < kKeys; ++k) ++count[DefaultHash<uint32_t>{}(k) & (kBuckets - 1)];
  double chi2 = 0;
  for (int c : count) chi2 += (c - 64.0) * (c - 64.0) / 64.0;
  // 1023 degrees of freedom: mean 1023, sd ~45; a bad mixer lands far outside.
  EXPECT_LT(chi2, 1300.0);
  EXPECT_GT(chi2, 750.0);
}

}  // namespace
