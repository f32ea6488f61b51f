// IndexTable against std::unordered_map under random insert / find / erase sequences, with the
// keys in a record array as the engine keeps them, and with hashes poor enough to force long probe
// runs, wrap-around and distances past the 8 bits an entry stores.
#include "engine/index_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

#include "engine/flat_map.h"

using ibcm::engine::hash_fields;
using ibcm::engine::IndexTable;

namespace {

struct Records {
  std::vector<uint64_t> keys;  // record i's key
};
struct KeyOf {
  const Records* r;
  uint64_t operator()(uint32_t i) const { return r->keys[i]; }
};
struct GoodHash {
  uint64_t seed;
  uint64_t operator()(uint64_t k) const { return hash_fields(seed, k); }
};
// Everything has one of 4 hashes: runs far longer than 255, all wrapping around.
struct TerribleHash {
  uint64_t operator()(uint64_t k) const { return (k & 3) * 0x4000000000000000ull; }
};
// The engine's hash for a peer's QPNs and comm IDs: runs of 8 neighbouring keys.
struct NeighbourHash {
  uint64_t seed;
  uint64_t operator()(uint64_t k) const {
    return ibcm::engine::neighbour_hash(seed, static_cast<uint32_t>(k), k >> 32);
  }
};
// Home slots at the very end of the table, so runs wrap past index 0.
struct HighHash {
  uint64_t operator()(uint64_t k) const { return ~uint64_t{0} - (k % 7); }
};

template <class Hash>
void run_against_model(Hash hash, uint64_t seed, int ops, uint64_t key_space) {
  Records rec;
  IndexTable<uint64_t, KeyOf, Hash> table(KeyOf{&rec}, hash);
  std::unordered_map<uint64_t, uint32_t> model;
  std::vector<uint32_t> free;
  std::mt19937_64 rng(seed);
  for (int op = 0; op < ops; ++op) {
    uint64_t key = rng() % key_space;
    switch (rng() % 3) {
      case 0: {  // a new record with this key
        uint32_t i;
        if (!free.empty()) {
          i = free.back();
          free.pop_back();
        } else {
          i = static_cast<uint32_t>(rec.keys.size());
          rec.keys.push_back(0);
        }
        rec.keys[i] = key;
        bool added = table.insert(key, i);
        ASSERT_EQ(added, !model.count(key)) << "op " << op;
        if (added)
          model[key] = i;
        else
          free.push_back(i);
        break;
      }
      case 1: {  // erase the record with this key, if any
        auto it = model.find(key);
        if (it == model.end()) {
          // A record index that is not in the table is not found either.
          ASSERT_FALSE(table.erase(key, static_cast<uint32_t>(rec.keys.size() + 5)));
          break;
        }
        ASSERT_TRUE(table.erase(key, it->second)) << "op " << op;
        free.push_back(it->second);
        model.erase(it);
        break;
      }
      default: {
        const uint32_t* found = table.find(key);
        auto it = model.find(key);
        ASSERT_EQ(found != nullptr, it != model.end()) << "op " << op;
        if (found) {
          ASSERT_EQ(*found, it->second);
        }
      }
    }
    ASSERT_EQ(table.size(), model.size());
    ASSERT_LE(table.size(), table.capacity());
  }
  for (const auto& [k, i] : model) {
    const uint32_t* found = table.find(k);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(*found, i);
  }
  // Erasing everything leaves nothing behind.
  for (const auto& [k, i] : model) ASSERT_TRUE(table.erase(k, i));
  EXPECT_EQ(table.size(), 0u);
  for (const auto& [k, i] : model) EXPECT_EQ(table.find(k), nullptr);
}

TEST(IndexTable, MatchesModelWithKeyedHash) {
  for (uint64_t seed = 1; seed <= 5; ++seed) run_against_model(GoodHash{seed}, seed, 200000, 5000);
}

TEST(IndexTable, MatchesModelWithLargeKeySpace) {
  run_against_model(GoodHash{7}, 7, 300000, uint64_t{1} << 40);
}

TEST(IndexTable, MatchesModelWithTerribleHash) {
  // Probe runs of hundreds: distances saturate the stored 8 bits and are read from the records.
  run_against_model(TerribleHash{}, 11, 20000, 800);
}

TEST(IndexTable, MatchesModelWithWrappingHash) {
  run_against_model(HighHash{}, 12, 20000, 300);
}

TEST(IndexTable, MatchesModelWithNeighbourHash) {
  // A small key space: whole runs of 8 present at once, which displace each other.
  run_against_model(NeighbourHash{5}, 13, 200000, 4000);
  run_against_model(NeighbourHash{6}, 14, 200000, uint64_t{1} << 36);
}

TEST(IndexTable, NeighbourKeysShareCacheLines) {
  // A peer's QPNs counted up from 0x100 (and another peer's, interleaved): with neighbour_hash,
  // most connections' entries sit within a cache line's span of the one before (8-byte slots);
  // with a hash of the whole key, almost none do.
  auto adjacent = [](auto hash) {
    Records rec;
    IndexTable<uint64_t, KeyOf, decltype(hash)> table(KeyOf{&rec}, hash);
    for (uint32_t q = 0; q < 20000; ++q)
      for (uint64_t peer : {uint64_t{7} << 32, uint64_t{9} << 32}) {
        rec.keys.push_back(peer | (0x100 + q));
        EXPECT_TRUE(table.insert(rec.keys.back(), static_cast<uint32_t>(rec.keys.size() - 1)));
      }
    int next_to = 0;
    for (uint32_t q = 1; q < 20000; ++q) {
      const uint64_t peer = uint64_t{7} << 32;
      const uint32_t* a = table.find(peer | (0x100 + q - 1));
      const uint32_t* b = table.find(peer | (0x100 + q));
      EXPECT_TRUE(a && b);
      // Within a cache line's span of the one before (a run wraps at the table's end rarely).
      if (a && b) {
        const auto gap = reinterpret_cast<intptr_t>(b) - reinterpret_cast<intptr_t>(a);
        next_to += gap > -64 && gap < 64;
      }
    }
    return next_to;
  };
  EXPECT_GT(adjacent(NeighbourHash{3}), 20000 * 8 / 10) << "neighbour_hash";
  EXPECT_LT(adjacent(GoodHash{3}), 20000 / 100) << "a hash of the whole key";
}

TEST(IndexTable, DoublesAndStaysAtMostThreeQuartersFull) {
  Records rec;
  IndexTable<uint64_t, KeyOf, GoodHash> table(KeyOf{&rec}, GoodHash{3});
  size_t last_cap = 0;
  for (uint32_t i = 0; i < 100000; ++i) {
    rec.keys.push_back(uint64_t{i} * 7919);
    ASSERT_TRUE(table.insert(rec.keys[i], i));
    if (table.capacity() != last_cap) {
      if (last_cap) {
        EXPECT_EQ(table.capacity(), 2 * last_cap);
      }
      last_cap = table.capacity();
    }
    ASSERT_LE(table.size() * 4, table.capacity() * 3);
  }
  EXPECT_LE(static_cast<double>(table.capacity()) / static_cast<double>(table.size()), 2 / 0.75);
}

TEST(IndexTable, InsertOfAPresentKeyChangesNothing) {
  Records rec{{42, 42}};
  IndexTable<uint64_t, KeyOf, GoodHash> table(KeyOf{&rec}, GoodHash{1});
  EXPECT_TRUE(table.insert(42, 0));
  EXPECT_FALSE(table.insert(42, 1));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(*table.find(42), 0u);
  EXPECT_FALSE(table.erase(42, 1));  // record 1 was never in
  EXPECT_TRUE(table.erase(42, 0));
}

}  // namespace

namespace {

// reserve(n) makes room once: inserting up to n keys never grows the table again, and a table
// reserved while it holds keys still finds every one of them.
TEST(IndexTable, ReserveMakesRoomForThatManyWithoutGrowing) {
  Records rec;
  IndexTable<uint64_t, KeyOf, GoodHash> table(KeyOf{&rec}, GoodHash{7});
  for (uint32_t i = 0; i < 100; ++i) {
    rec.keys.push_back(i * 977);
    ASSERT_TRUE(table.insert(rec.keys[i], i));
  }
  table.reserve(10000);
  const size_t cap = table.capacity();
  EXPECT_GE(cap - cap / 4, 10000u);
  for (uint32_t i = 100; i < 10000; ++i) {
    rec.keys.push_back(i * 977);
    ASSERT_TRUE(table.insert(rec.keys[i], i));
  }
  EXPECT_EQ(table.capacity(), cap);
  for (uint32_t i = 0; i < 10000; ++i) {
    const uint32_t* found = table.find(i * 977);
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(*found, i);
  }
  table.reserve(10);  // never shrinks
  EXPECT_EQ(table.capacity(), cap);
}

}  // namespace
