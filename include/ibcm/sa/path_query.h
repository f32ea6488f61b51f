/// @file
/// PathRecord queries to the SA, sans I/O like the CM engine: time and received MADs in, MADs to
/// send, the time to wake and answers out. Each query is a SubnAdmGet(PathRecord) sent again under
/// a new TID after each per-try timeout until max_retries are spent; the answer is the GetResp
/// whose TID (its lower 32 bits: the MAD layer owns the upper ones) is one this query sent.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/engine/types.h"
#include "ibcm/sa/path_record.h"

IBCM_API_BEGIN

namespace ibcm::sa {

using QueryId = uint64_t;

struct QueryOptions {
  /// How long one try waits for the answer. All tries together (timeout x (max_retries + 1),
  /// 2 s by default) fit what rdma-core's tools give rdma_resolve_route: 2000 ms.
  Time timeout = std::chrono::milliseconds(500);
  uint8_t max_retries = 3;  ///< tries after the first
  uint32_t first_tid = 1;   ///< lower 32 bits of the first TID; each send takes the next
};

enum class QueryErrorKind : uint8_t {
  Timeout,        ///< no answer to any try
  SaError,        ///< the SA answered with an SA status (ERR_NO_RECORDS, ...): sa_status()
  MadError,       ///< the SA answered with a common MAD status (redirect, invalid field)
  InvalidRecord,  ///< the record names no MTU a connection can use
  SendFailed,     ///< the MAD layer refused the request (errno)
};

struct QueryError {
  QueryErrorKind kind = QueryErrorKind::Timeout;
  uint16_t mad_status = 0;  ///< SaError, MadError: the answer's Status
  int errno_value = 0;      ///< SendFailed
  SaStatus sa_status() const { return sa_status_of(mad_status); }
  bool operator==(const QueryError&) const = default;
};
/// One line: "the SA answered ERR_NO_RECORDS (status 0x0300)", "no answer from the SA after 4
/// tries" (a timeout names the tries when they are given).
std::string describe(const QueryError& e, unsigned tries = 0);

struct PathAnswer {
  QueryId id = 0;
  unsigned tries = 0;  ///< requests sent for it
  Expected<ResolvedPath, QueryError> result = Unexpected{QueryError{}};
};

struct SaCounters {
  uint64_t tx_requests = 0;      ///< first tries
  uint64_t tx_retries = 0;       ///< tries after a timeout
  uint64_t tx_errors = 0;        ///< sends the MAD layer refused
  uint64_t rx_mads = 0;          ///< everything handed to handle_mad
  uint64_t rx_answers = 0;       ///< GetResps that ended a query (with a path or an error)
  uint64_t rx_busy = 0;          ///< GetResps with Busy: the query waits for its next try
  uint64_t rx_unknown_tid = 0;   ///< GetResps for no TID a live query sent (late, duplicate, other)
  uint64_t rx_malformed = 0;     ///< not a 256-byte SA MAD of base version 1, class version 2
  uint64_t rx_unexpected = 0;    ///< an SA MAD that is not a PathRecord GetResp
  uint64_t rx_send_reports = 0;  ///< the MAD layer's reports on our sends (no MAD from the SA)
  uint64_t timeouts = 0;         ///< queries that ended without an answer
};

/// One MAD to hand the MAD layer: to the SA, held open for a response for timeout_ms (the MAD
/// layer drops a response to a send that no longer waits).
struct SaSend {
  QueryId query = 0;
  wire::MadBytes mad{};
  uint32_t timeout_ms = 0;
};

class PathQueries {
 public:
  explicit PathQueries(QueryOptions options = {});

  /// Starts a query: its first request is in sends() at once.
  QueryId start(Time now, const PathRequest& request);
  /// Ends a query without an answer; false if it is not running.
  bool cancel(QueryId id);
  /// The MAD layer refused a request of the query: it ends with SendFailed.
  void send_failed(QueryId id, int errno_value);

  /// A MAD the SA's agent received (a whole MAD, as read). Safe for any bytes.
  void handle_mad(Time now, std::span<const uint8_t> mad);
  /// A read that held no whole MAD (shorter than the umad header, longer than a MAD).
  void handle_malformed() {
    ++counters_.rx_mads;
    ++counters_.rx_malformed;
  }
  /// The MAD layer's report on a send of ours (ib_umad status != 0): counted, nothing else — the
  /// query's own timer decides when to try again.
  void handle_send_report() { ++counters_.rx_send_reports; }
  void handle_timeout(Time now);
  std::optional<Time> next_timeout() const;

  /// MADs to send, oldest first; the caller sends them and clears the vector.
  std::vector<SaSend>& sends() { return sends_; }
  /// Queries that ended since the last call, in the order they ended.
  std::vector<PathAnswer> take_answers();

  size_t running() const { return queries_.size(); }
  const SaCounters& counters() const { return counters_; }
  const QueryOptions& options() const { return options_; }

 private:
  struct Query {
    QueryId id = 0;
    PathRequest request;
    std::vector<uint32_t> tids;  ///< every TID sent, first try first
    Time deadline{};
  };
  void send_try(Time now, Query& q);
  void finish(size_t index, Expected<ResolvedPath, QueryError> result);
  std::optional<size_t> find_tid(uint32_t tid_low) const;

  QueryOptions options_;
  QueryId next_id_ = 1;
  uint32_t next_tid_;
  std::vector<Query> queries_;
  std::vector<SaSend> sends_;
  std::vector<PathAnswer> answers_;
  SaCounters counters_;
};

}  // namespace ibcm::sa

IBCM_API_END
