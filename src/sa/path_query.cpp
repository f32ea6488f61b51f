#include "ibcm/sa/path_query.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ibcm::sa {

std::string describe(const QueryError& e, unsigned tries) {
  char status[32];
  std::snprintf(status, sizeof status, "status 0x%04x", e.mad_status);
  switch (e.kind) {
    case QueryErrorKind::Timeout:
      if (tries == 0) return "no answer from the SA";
      return "no answer from the SA after " + std::to_string(tries) +
             (tries == 1 ? " try" : " tries");
    case QueryErrorKind::SaError: {
      std::string_view name = to_string(e.sa_status());
      return "the SA answered " + (name.empty() ? std::string("an error") : std::string(name)) +
             " (" + status + ")";
    }
    case QueryErrorKind::MadError:
      return std::string("the SA answered with MAD ") + status +
             ((e.mad_status & kMadStatusRedirect) ? " (redirect, not supported)" : "");
    case QueryErrorKind::InvalidRecord:
      return "the SA's path names no usable MTU";
    case QueryErrorKind::SendFailed:
      return std::string("cannot send to the SA: ") + std::strerror(e.errno_value);
  }
  return "?";
}

PathQueries::PathQueries(QueryOptions options) : options_(options), next_tid_(options.first_tid) {}

QueryId PathQueries::start(Time now, const PathRequest& request) {
  Query& q = queries_.emplace_back();
  q.id = next_id_++;
  q.request = request;
  ++counters_.tx_requests;
  send_try(now, q);
  return q.id;
}

void PathQueries::send_try(Time now, Query& q) {
  const uint32_t tid = next_tid_++;
  q.tids.push_back(tid);
  q.deadline = now + options_.timeout;
  SaSend& s = sends_.emplace_back();
  s.query = q.id;
  s.mad = encode_path_get(q.request, tid);
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(options_.timeout).count();
  s.timeout_ms = static_cast<uint32_t>(std::clamp<int64_t>(ms, 1, UINT32_MAX));
}

bool PathQueries::cancel(QueryId id) {
  auto it =
      std::find_if(queries_.begin(), queries_.end(), [&](const Query& q) { return q.id == id; });
  if (it == queries_.end()) return false;
  queries_.erase(it);
  return true;
}

void PathQueries::send_failed(QueryId id, int errno_value) {
  ++counters_.tx_errors;
  for (size_t i = 0; i < queries_.size(); ++i)
    if (queries_[i].id == id)
      return finish(i, Unexpected{QueryError{QueryErrorKind::SendFailed, 0, errno_value}});
}

void PathQueries::finish(size_t index, Expected<ResolvedPath, QueryError> result) {
  PathAnswer& a = answers_.emplace_back();
  a.id = queries_[index].id;
  a.tries = static_cast<unsigned>(queries_[index].tids.size());
  a.result = std::move(result);
  queries_.erase(queries_.begin() + static_cast<ptrdiff_t>(index));
}

std::optional<size_t> PathQueries::find_tid(uint32_t tid_low) const {
  for (size_t i = 0; i < queries_.size(); ++i)
    if (std::find(queries_[i].tids.begin(), queries_[i].tids.end(), tid_low) !=
        queries_[i].tids.end())
      return i;
  return std::nullopt;
}

void PathQueries::handle_mad(Time, std::span<const uint8_t> mad) {
  ++counters_.rx_mads;
  SaHeader h;
  if (decode_header(mad, h)) {
    ++counters_.rx_malformed;
    return;
  }
  if (h.mad.method != static_cast<uint8_t>(SaMethod::GetResp) ||
      h.mad.attribute_id != kPathRecordAttr) {
    ++counters_.rx_unexpected;
    return;
  }
  // The MAD layer put its agent's number in the upper 32 bits of the TID we sent.
  const auto index = find_tid(static_cast<uint32_t>(h.mad.transaction_id));
  if (!index) {
    ++counters_.rx_unknown_tid;
    return;
  }
  const uint16_t status = h.mad.status;
  if (status == kMadStatusBusy) {
    // The SA dropped the request for now (13.4.7): the next try asks again.
    ++counters_.rx_busy;
    return;
  }
  ++counters_.rx_answers;
  if (status & kMadStatusCommonMask)
    return finish(*index, Unexpected{QueryError{QueryErrorKind::MadError, status, 0}});
  if (status != 0)
    return finish(*index, Unexpected{QueryError{QueryErrorKind::SaError, status, 0}});
  auto records = decode_path_records(mad);
  std::optional<ResolvedPath> path;
  if (records && !records->empty()) path = resolve(records->front());
  if (!path)
    return finish(*index, Unexpected{QueryError{QueryErrorKind::InvalidRecord, status, 0}});
  finish(*index, std::move(*path));
}

void PathQueries::handle_timeout(Time now) {
  for (size_t i = 0; i < queries_.size();) {
    Query& q = queries_[i];
    if (q.deadline > now) {
      ++i;
    } else if (q.tids.size() <= options_.max_retries) {
      ++counters_.tx_retries;
      send_try(now, q);
      ++i;
    } else {
      ++counters_.timeouts;
      finish(i, Unexpected{QueryError{QueryErrorKind::Timeout, 0, 0}});
    }
  }
}

std::optional<Time> PathQueries::next_timeout() const {
  std::optional<Time> t;
  for (const Query& q : queries_)
    if (!t || q.deadline < *t) t = q.deadline;
  return t;
}

std::vector<PathAnswer> PathQueries::take_answers() {
  std::vector<PathAnswer> out;
  out.swap(answers_);
  return out;
}

}  // namespace ibcm::sa
