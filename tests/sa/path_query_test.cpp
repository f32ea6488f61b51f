// PathQueries without I/O: the request each try sends, the retry schedule and the timeout, TID
// matching, the SA's error answers, and MADs that are dropped (counted, never a crash).
#include "ibcm/sa/path_query.h"

#include <gtest/gtest.h>

#include <random>

#include "sa/sa_vectors.h"
#include "umad/fake_umad.h"

using namespace ibcm;
using namespace ibcm::sa;
using namespace ibcm::sa::test;
using namespace std::chrono_literals;
using umad::test::set_tid;
using umad::test::tid_of;

namespace {

// A recorded answer under another TID (the MAD layer's agent number above ours).
wire::MadBytes with_tid(wire::MadBytes mad, uint32_t low, uint64_t high = kAgentTidHigh) {
  set_tid(mad, high | low);
  return mad;
}

struct Queries {
  explicit Queries(QueryOptions o = {}) : q(o) {}
  PathQueries q;
  std::vector<uint32_t> sent_tids() {
    std::vector<uint32_t> out;
    for (const SaSend& s : q.sends()) out.push_back(static_cast<uint32_t>(tid_of(s.mad)));
    q.sends().clear();
    return out;
  }
  PathAnswer only_answer() {
    auto a = q.take_answers();
    EXPECT_EQ(a.size(), 1u);
    return a.empty() ? PathAnswer{} : a.front();
  }
};

// How a query ends when the SA answers it with this MAD status.
QueryError error_for_status(uint16_t status) {
  Queries t;
  t.q.start(0ns, our_request());
  wire::MadBytes m = kPathGetResp;
  m[4] = static_cast<uint8_t>(status >> 8);
  m[5] = static_cast<uint8_t>(status);
  t.q.handle_mad(1ms, m);
  PathAnswer a = t.only_answer();
  EXPECT_FALSE(a.result);
  return a.result ? QueryError{} : a.result.error();
}

QueryOptions fast(uint8_t retries = 2) {
  QueryOptions o;
  o.timeout = 100ms;
  o.max_retries = retries;
  return o;
}

}  // namespace

TEST(SaPathQuery, StartSendsTheRecordedGetAtOnce) {
  Queries t;
  QueryId id = t.q.start(0ns, our_request());
  ASSERT_EQ(t.q.sends().size(), 1u);
  const SaSend& s = t.q.sends().front();
  EXPECT_EQ(s.query, id);
  EXPECT_EQ(with_tid(s.mad, 1), kPathGetRequest);  // TID 1, then the MAD layer's upper bits
  EXPECT_EQ(tid_of(s.mad), 1u);
  EXPECT_EQ(s.timeout_ms, 500u);  // the MAD layer holds the send open for the answer that long
  EXPECT_EQ(t.q.next_timeout(), Time(500ms));
  EXPECT_EQ(t.q.counters().tx_requests, 1u);
  EXPECT_TRUE(t.q.take_answers().empty());
}

TEST(SaPathQuery, TheGetRespResolvesThePath) {
  Queries t;
  QueryId id = t.q.start(0ns, our_request());
  t.q.handle_mad(3ms, kPathGetResp);
  PathAnswer a = t.only_answer();
  EXPECT_EQ(a.id, id);
  EXPECT_EQ(a.tries, 1u);
  ASSERT_TRUE(a.result);
  EXPECT_EQ(a.result->path.local_lid, 3);
  EXPECT_EQ(a.result->path.remote_lid, 5);
  EXPECT_EQ(a.result->path.remote_gid, kPeerGid);
  EXPECT_EQ(a.result->mtu, wire::Mtu::Mtu4096);
  EXPECT_EQ(a.result->packet_life_time, 18);
  EXPECT_EQ(t.q.running(), 0u);
  EXPECT_EQ(t.q.next_timeout(), std::nullopt);
  EXPECT_EQ(t.q.counters().rx_answers, 1u);
  // The same answer again (a duplicate from the fabric) belongs to no query now.
  t.q.handle_mad(4ms, kPathGetResp);
  EXPECT_TRUE(t.q.take_answers().empty());
  EXPECT_EQ(t.q.counters().rx_unknown_tid, 1u);
}

TEST(SaPathQuery, RetriesUnderANewTidAfterEachTimeoutThenGivesUp) {
  Queries t(fast(2));
  QueryId id = t.q.start(0ns, our_request());
  EXPECT_EQ(t.sent_tids(), std::vector<uint32_t>{1});
  t.q.handle_timeout(99ms);
  EXPECT_TRUE(t.q.sends().empty());
  t.q.handle_timeout(100ms);
  EXPECT_EQ(t.sent_tids(), std::vector<uint32_t>{2});
  EXPECT_EQ(t.q.next_timeout(), Time(200ms));
  t.q.handle_timeout(200ms);
  EXPECT_EQ(t.sent_tids(), std::vector<uint32_t>{3});
  EXPECT_EQ(t.q.counters().tx_retries, 2u);
  EXPECT_TRUE(t.q.take_answers().empty());
  t.q.handle_timeout(300ms);
  EXPECT_TRUE(t.q.sends().empty());  // max_retries spent: no fourth try
  PathAnswer a = t.only_answer();
  EXPECT_EQ(a.id, id);
  EXPECT_EQ(a.tries, 3u);
  ASSERT_FALSE(a.result);
  EXPECT_EQ(a.result.error().kind, QueryErrorKind::Timeout);
  EXPECT_EQ(describe(a.result.error(), a.tries), "no answer from the SA after 3 tries");
  EXPECT_EQ(t.q.counters().timeouts, 1u);
  EXPECT_EQ(t.q.next_timeout(), std::nullopt);
}

TEST(SaPathQuery, NoRetriesMeansOneTry) {
  Queries t(fast(0));
  t.q.start(0ns, our_request());
  t.q.handle_timeout(100ms);
  EXPECT_EQ(t.sent_tids(), std::vector<uint32_t>{1});
  PathAnswer a = t.only_answer();
  EXPECT_EQ(a.tries, 1u);
  EXPECT_EQ(describe(a.result.error(), a.tries), "no answer from the SA after 1 try");
}

TEST(SaPathQuery, AnAnswerToAnEarlierTryStillCounts) {
  Queries t(fast(2));
  t.q.start(0ns, our_request());
  t.q.handle_timeout(100ms);  // try 2 under TID 2
  t.q.handle_mad(150ms, with_tid(kPathGetResp, 1));
  PathAnswer a = t.only_answer();
  EXPECT_TRUE(a.result);
  EXPECT_EQ(a.tries, 2u);
  EXPECT_EQ(t.q.counters().rx_unknown_tid, 0u);
}

TEST(SaPathQuery, AnotherTidIsIgnoredAndCounted) {
  Queries t;
  t.q.start(0ns, our_request());
  t.q.handle_mad(1ms, with_tid(kPathGetResp, 2));  // no send of ours had TID 2
  t.q.handle_mad(1ms, with_tid(kPathGetResp, 0x80000001));
  EXPECT_TRUE(t.q.take_answers().empty());
  EXPECT_EQ(t.q.counters().rx_unknown_tid, 2u);
  EXPECT_EQ(t.q.running(), 1u);
  // The upper 32 bits are the MAD layer's: any agent number there still matches TID 1.
  t.q.handle_mad(2ms, with_tid(kPathGetResp, 1, 0xdeadbeefull << 32));
  EXPECT_TRUE(t.only_answer().result);
}

TEST(SaPathQuery, AnswersFindTheirQueriesInAnyOrder) {
  Queries t;
  PathRequest other = our_request();
  other.dgid[15] = 0xe0;
  QueryId first = t.q.start(0ns, our_request());
  QueryId second = t.q.start(0ns, other);
  EXPECT_EQ(t.sent_tids(), (std::vector<uint32_t>{1, 2}));
  t.q.handle_mad(1ms, kPathGetNoRecords);  // TID 2: the second query's
  t.q.handle_mad(1ms, kPathGetResp);       // TID 1
  auto answers = t.q.take_answers();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].id, second);
  EXPECT_FALSE(answers[0].result);
  EXPECT_EQ(answers[1].id, first);
  EXPECT_TRUE(answers[1].result);
}

TEST(SaPathQuery, ErrNoRecordsEndsTheQueryWithTheSpecsName) {
  Queries t;
  PathRequest unknown = our_request();
  unknown.dgid[15] = 0xe0;
  t.q.start(0ns, our_request());  // TID 1
  t.q.start(0ns, unknown);        // TID 2, as kPathGetNoRecords answers
  t.q.handle_mad(1ms, kPathGetNoRecords);
  PathAnswer a = t.only_answer();
  ASSERT_FALSE(a.result);
  EXPECT_EQ(a.result.error().kind, QueryErrorKind::SaError);
  EXPECT_EQ(a.result.error().sa_status(), SaStatus::NoRecords);
  EXPECT_EQ(describe(a.result.error()), "the SA answered ERR_NO_RECORDS (status 0x0300)");
  EXPECT_EQ(t.q.running(), 1u);
}

TEST(SaPathQuery, EverySaStatusEndsTheQuery) {
  for (uint16_t code = 1; code <= 9; ++code) {
    QueryError e = error_for_status(static_cast<uint16_t>(code << 8));
    EXPECT_EQ(e.kind, QueryErrorKind::SaError);
    EXPECT_EQ(e.mad_status, code << 8);
    EXPECT_NE(describe(e).find(code <= 7 ? "ERR_" : "an error"), std::string::npos) << describe(e);
  }
}

TEST(SaPathQuery, BusyWaitsForTheNextTry) {
  Queries t(fast(1));
  t.q.start(0ns, our_request());
  wire::MadBytes busy = kPathGetResp;
  busy[5] = 0x01;  // Busy
  t.q.handle_mad(1ms, busy);
  EXPECT_TRUE(t.q.take_answers().empty());
  EXPECT_EQ(t.q.counters().rx_busy, 1u);
  t.q.handle_timeout(100ms);
  EXPECT_EQ(t.sent_tids(), (std::vector<uint32_t>{1, 2}));
  t.q.handle_mad(120ms, with_tid(kPathGetResp, 2));
  EXPECT_TRUE(t.only_answer().result);
}

TEST(SaPathQuery, RedirectAndInvalidFieldAreMadErrors) {
  for (uint16_t status : {0x02, 0x1C, 0x04, 0x0302}) {
    QueryError e = error_for_status(status);
    EXPECT_EQ(e.kind, QueryErrorKind::MadError);
    EXPECT_EQ(e.mad_status, status);
  }
  QueryError redirect{QueryErrorKind::MadError, 0x0002, 0};
  EXPECT_EQ(describe(redirect), "the SA answered with MAD status 0x0002 (redirect, not supported)");
}

TEST(SaPathQuery, ARecordWithoutAUsableMtuIsAnError) {
  Queries t;
  t.q.start(0ns, our_request());
  wire::MadBytes m = kPathGetResp;
  m[kSaHeaderSize + 54] = 0x80;  // MTU selector 2, MTU 0
  t.q.handle_mad(1ms, m);
  PathAnswer a = t.only_answer();
  ASSERT_FALSE(a.result);
  EXPECT_EQ(a.result.error().kind, QueryErrorKind::InvalidRecord);
}

TEST(SaPathQuery, MalformedAndUnexpectedMadsAreDroppedAndCounted) {
  Queries t;
  t.q.start(0ns, our_request());
  std::vector<std::vector<uint8_t>> malformed;
  malformed.emplace_back();                                                  // nothing
  malformed.emplace_back(kPathGetResp.begin(), kPathGetResp.begin() + 100);  // short
  malformed.emplace_back(kPathGetResp.begin(), kPathGetResp.end());
  malformed.back().push_back(0);                                     // long
  for (auto [byte, value] : {std::pair{0, 2}, {1, 0x07}, {2, 1}}) {  // version, class, version
    malformed.emplace_back(kPathGetResp.begin(), kPathGetResp.end());
    malformed.back()[byte] = static_cast<uint8_t>(value);
  }
  for (const auto& m : malformed) t.q.handle_mad(1ms, m);
  EXPECT_EQ(t.q.counters().rx_malformed, malformed.size());

  std::vector<wire::MadBytes> unexpected{kPathGetRequest, kPathGetTableResp, kPathGetResp};
  unexpected[2][17] = 0x38;  // an MCMemberRecord answer under our TID
  for (const auto& m : unexpected) t.q.handle_mad(1ms, m);
  EXPECT_EQ(t.q.counters().rx_unexpected, unexpected.size());

  EXPECT_TRUE(t.q.take_answers().empty());
  EXPECT_EQ(t.q.running(), 1u);
  EXPECT_EQ(t.q.counters().rx_mads, malformed.size() + unexpected.size());
  t.q.handle_mad(2ms, kPathGetResp);
  EXPECT_TRUE(t.only_answer().result);
}

TEST(SaPathQuery, RandomBytesNeverCrashAndAreAllAccountedFor) {
  std::mt19937_64 rng(0x35);
  Queries t(fast(15));
  std::vector<uint32_t> tids;
  auto start_four = [&](Time now) {
    for (int j = 0; j < 4; ++j) t.q.start(now, our_request());
    tids = t.sent_tids();
  };
  start_four(0ns);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> m(i % 3 == 0 ? rng() % 300 : wire::kMadSize);
    for (auto& b : m) b = static_cast<uint8_t>(rng());
    if (m.size() >= 24 && i % 2 == 0) {  // often a PathRecord GetResp header, to get further in
      std::copy_n(kPathGetResp.begin(), 24, m.begin());
      const uint32_t tid = tids[rng() % tids.size()] + static_cast<uint32_t>(rng() % 2);
      for (int b = 0; b < 4; ++b) m[12 + b] = static_cast<uint8_t>(tid >> (24 - 8 * b));
      m[4] = static_cast<uint8_t>(rng() % 3);
      m[5] = static_cast<uint8_t>(rng() % 3);
    }
    t.q.handle_mad(Time(i), m);
    if (t.q.running() == 0) start_four(Time(i));
  }
  const SaCounters& c = t.q.counters();
  EXPECT_EQ(c.rx_mads, 20000u);
  EXPECT_EQ(c.rx_mads,
            c.rx_malformed + c.rx_unexpected + c.rx_unknown_tid + c.rx_busy + c.rx_answers);
  EXPECT_GT(c.rx_answers, 100u);
  EXPECT_GT(c.rx_busy, 0u);
  EXPECT_GT(c.rx_unknown_tid, 0u);
  EXPECT_GT(c.rx_malformed, 0u);
}

TEST(SaPathQuery, CancelledQueriesSendNoMoreAndAnswerNothing) {
  Queries t(fast(3));
  QueryId id = t.q.start(0ns, our_request());
  EXPECT_TRUE(t.q.cancel(id));
  EXPECT_FALSE(t.q.cancel(id));
  t.q.sends().clear();
  t.q.handle_timeout(1s);
  EXPECT_TRUE(t.q.sends().empty());
  t.q.handle_mad(1s, kPathGetResp);
  EXPECT_TRUE(t.q.take_answers().empty());
  EXPECT_EQ(t.q.counters().rx_unknown_tid, 1u);
}

TEST(SaPathQuery, ASendFailureEndsTheQueryAtOnce) {
  Queries t;
  QueryId id = t.q.start(0ns, our_request());
  t.q.send_failed(id, EINVAL);
  PathAnswer a = t.only_answer();
  ASSERT_FALSE(a.result);
  EXPECT_EQ(a.result.error().kind, QueryErrorKind::SendFailed);
  EXPECT_EQ(describe(a.result.error()), "cannot send to the SA: Invalid argument");
  EXPECT_EQ(t.q.counters().tx_errors, 1u);
  EXPECT_EQ(t.q.next_timeout(), std::nullopt);
}
