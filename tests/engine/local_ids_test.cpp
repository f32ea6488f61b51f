// LocalIds against a map of live IDs under random take / find / erase sequences; the cipher's
// inverse; the properties the engine relies on: IDs never 0, never repeated while the counter goes
// round, consecutive IDs in neighbouring slots, and a long stretch of held slots crossed.
#include "engine/local_ids.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using ibcm::engine::CommIdCipher;
using ibcm::engine::LocalIds;

namespace {

// Records as the engine keeps them: the ID lives in the record, LocalIds reads it from there.
struct Records {
  std::vector<uint32_t> id;
};
struct IdOf {
  const Records* r;
  uint32_t operator()(uint32_t i) const { return r->id[i]; }
};

struct Fixture {
  explicit Fixture(uint64_t seed) : ids(seed, IdOf{&rec}) {}
  Records rec;
  LocalIds<IdOf> ids;
  std::vector<uint32_t> free_records;
  uint32_t take() {
    uint32_t i;
    if (free_records.empty()) {
      i = static_cast<uint32_t>(rec.id.size());
      rec.id.push_back(0);
    } else {
      i = free_records.back();
      free_records.pop_back();
    }
    rec.id[i] = ids.take(i);
    return i;
  }
  void release(uint32_t i) {
    ASSERT_TRUE(ids.erase(rec.id[i], i));
    rec.id[i] = 0;
    free_records.push_back(i);
  }
};

}  // namespace

TEST(CommIdCipher, DecryptInvertsEncrypt) {
  CommIdCipher c(42);
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint32_t x = rng();
    ASSERT_EQ(c.decrypt(c.encrypt(x)), x);
    ASSERT_EQ(c.encrypt(c.decrypt(x)), x);
  }
  // Other keys, other IDs.
  CommIdCipher d(43);
  int same = 0;
  for (uint32_t x = 0; x < 1000; ++x) same += c.encrypt(x) == d.encrypt(x);
  EXPECT_LT(same, 2);
}

TEST(LocalIds, MatchesAMapOfLiveIds) {
  Fixture f(1);
  std::unordered_map<uint32_t, uint32_t> live;  // ID -> record
  std::mt19937 rng(3);
  for (int op = 0; op < 300000; ++op) {
    // Grows to a few thousand live IDs, shrinks, grows again: every size goes through growth.
    const bool grow_phase = (op / 50000) % 2 == 0;
    const unsigned r = rng() % 10;
    if (live.empty() || r < (grow_phase ? 6u : 3u)) {
      uint32_t i = f.take();
      uint32_t id = f.rec.id[i];
      ASSERT_NE(id, 0u);
      ASSERT_TRUE(live.emplace(id, i).second) << "an ID given twice while live: " << id;
    } else if (r < 8) {
      auto it = live.begin();
      std::advance(it, rng() % std::min<size_t>(live.size(), 16));
      ASSERT_FALSE(f.ids.erase(it->first, it->second + 1)) << "erased under another record";
      f.release(it->second);
      ASSERT_EQ(f.ids.find(it->first), nullptr);
      live.erase(it);
    } else {
      uint32_t probe = rng();
      auto it = live.find(probe);
      const uint32_t* got = f.ids.find(probe);
      ASSERT_EQ(got != nullptr, it != live.end());
      auto known = live.begin();
      std::advance(known, rng() % std::min<size_t>(live.size(), 64));
      got = f.ids.find(known->first);
      ASSERT_NE(got, nullptr);
      ASSERT_EQ(*got, known->second);
    }
    ASSERT_EQ(f.ids.size(), live.size());
    ASSERT_LE(f.ids.size() * 4, f.ids.capacity() * 3) << "more than 3/4 of the slots held";
  }
  for (auto [id, i] : live) {
    ASSERT_NE(f.ids.find(id), nullptr);
    f.release(i);
  }
  EXPECT_EQ(f.ids.size(), 0u);
  EXPECT_EQ(f.ids.find(0), nullptr);
}

TEST(LocalIds, IdsDoNotRepeatWhileTheCounterGoesRound) {
  // One connection at a time, churned: a hash of a slot would hand the same few IDs out again;
  // the counter does not.
  Fixture f(5);
  std::unordered_set<uint32_t> seen;
  for (int n = 0; n < 200000; ++n) {
    uint32_t i = f.take();
    ASSERT_TRUE(seen.insert(f.rec.id[i]).second) << "ID repeated after " << n;
    f.release(i);
  }
}

TEST(LocalIds, ConsecutiveIdsAreNotSequentialButShareCacheLines) {
  Fixture f(9);
  std::vector<uint32_t> recs;
  for (int n = 0; n < 1000; ++n) recs.push_back(f.take());
  int sequential = 0;
  for (size_t k = 1; k < recs.size(); ++k) {
    const uint32_t a = f.rec.id[recs[k - 1]], b = f.rec.id[recs[k]];
    sequential += b == a + 1;
    // Neighbouring slots: the index entry of the next ID is 4 bytes after this one's.
    const uint32_t* pa = f.ids.find(a);
    const uint32_t* pb = f.ids.find(b);
    ASSERT_TRUE(pa && pb);
    const auto step = (reinterpret_cast<uintptr_t>(pb) - reinterpret_cast<uintptr_t>(pa)) &
                      (f.ids.capacity() * sizeof(uint32_t) - 1);
    EXPECT_EQ(step, sizeof(uint32_t)) << k;
  }
  EXPECT_LT(sequential, 5) << "IDs must be hard to guess from the previous one";
}

TEST(LocalIds, CrossesALongStretchOfHeldSlots) {
  // A burst of long-lived connections holds a run of slots; churn behind it goes round the array
  // and must skip the whole run, more than 64 slots (a bitmap word) at a time.
  Fixture f(11);
  std::vector<uint32_t> held;
  for (int n = 0; n < 3000; ++n) held.push_back(f.take());
  const size_t cap = f.ids.capacity();
  ASSERT_GE(cap, 4096u);
  std::unordered_set<uint32_t> live;
  for (uint32_t i : held) live.insert(f.rec.id[i]);
  for (size_t n = 0; n < 3 * cap; ++n) {
    uint32_t i = f.take();
    ASSERT_TRUE(live.insert(f.rec.id[i]).second);
    ASSERT_EQ(f.ids.capacity(), cap) << "churn alone must not grow the array";
    live.erase(f.rec.id[i]);
    f.release(i);
  }
  for (uint32_t i : held) {
    const uint32_t* got = f.ids.find(f.rec.id[i]);
    ASSERT_NE(got, nullptr);
    ASSERT_EQ(*got, i);
  }
}

TEST(LocalIds, EraseOfAnIdNotHeldChangesNothing) {
  Fixture f(13);
  uint32_t a = f.take();
  uint32_t b = f.take();
  EXPECT_FALSE(f.ids.erase(f.rec.id[a], b));
  EXPECT_FALSE(f.ids.erase(f.rec.id[a] ^ 1, a));
  EXPECT_EQ(f.ids.size(), 2u);
  ASSERT_NE(f.ids.find(f.rec.id[a]), nullptr);
  EXPECT_EQ(*f.ids.find(f.rec.id[a]), a);
  EXPECT_EQ(*f.ids.find(f.rec.id[b]), b);
}

namespace {

// reserve(n) makes room once: taking up to n IDs never grows the index again, and IDs taken
// before it are still found.
TEST(LocalIds, ReserveMakesRoomForThatManyWithoutGrowing) {
  Fixture f(11);
  std::vector<uint32_t> taken;
  for (int i = 0; i < 100; ++i) taken.push_back(f.rec.id[f.take()]);
  f.ids.reserve(5000);
  const size_t cap = f.ids.capacity();
  EXPECT_GE(cap - cap / 4, 5000u);
  for (int i = 100; i < 5000; ++i) taken.push_back(f.rec.id[f.take()]);
  EXPECT_EQ(f.ids.capacity(), cap);
  for (uint32_t id : taken) ASSERT_NE(f.ids.find(id), nullptr) << id;
  f.ids.reserve(1);
  EXPECT_EQ(f.ids.capacity(), cap);
}

}  // namespace
