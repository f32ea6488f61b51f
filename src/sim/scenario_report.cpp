// Scenario results as text and JSON, and the MAD sequence of a run.
#include <algorithm>
#include <cctype>
#include <cstdio>

#include "ibcm/sim/scenario.h"
#include "ibcm/wire/print.h"

namespace ibcm::sim {

namespace {

std::string mad_label(const MadRecord& m) {
  auto d = wire::decode(m.bytes);
  if (!d) return "undecodable";
  std::string s(wire::name_of(d->message));
  if (auto* rej = std::get_if<wire::Rej>(&d->message))
    s.append(" ").append(std::to_string(static_cast<unsigned>(rej->reason)));
  return s;
}

std::string node_name(const Trace& t, NodeId n) {
  return n < t.names.size() ? t.names[n] : "?";
}

// Exact to the nanosecond, in the unit that reads best.
std::string millis(Time t) {
  char buf[64];
  if (t < std::chrono::milliseconds(1))
    std::snprintf(buf, sizeof buf, "%.3f us", static_cast<double>(t.count()) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.6f ms", static_cast<double>(t.count()) / 1e6);
  return buf;
}

std::string number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  return buf;
}

}  // namespace

double ScenarioMeasure::round_trips() const {
  if (round_trip.count() <= 0) return 0;
  return static_cast<double>((elapsed - waited).count()) / static_cast<double>(round_trip.count());
}

bool ScenarioReport::passed() const {
  if (checks.empty()) return false;
  for (const auto& c : checks)
    if (!c.ok) return false;
  return true;
}

bool ScenarioReport::check(bool ok, std::string what) {
  checks.push_back(ScenarioCheck{std::move(what), ok});
  return ok;
}

std::vector<std::string> mad_sequence(const Trace& t) {
  std::vector<std::string> out;
  out.reserve(t.mads.size());
  for (const auto& m : t.mads) {
    std::string s = node_name(t, m.from) + ">" + node_name(t, m.to) + " " + mad_label(m);
    if (m.fate != Fate::Delivered && m.fate != Fate::InFlight) {
      std::string fate(to_string(m.fate));
      for (auto& ch : fate) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      s += " [" + fate + "]";
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string mad_counts(const Trace& t) {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& m : t.mads) {
    if (m.duplicate) continue;
    auto d = wire::decode(m.bytes);
    std::string name = d ? std::string(wire::name_of(d->message)) : "undecodable";
    auto it = std::find_if(counts.begin(), counts.end(), [&](auto& p) { return p.first == name; });
    if (it == counts.end())
      counts.emplace_back(name, 1);
    else
      ++it->second;
  }
  std::string s;
  for (const auto& [name, n] : counts)
    s += (s.empty() ? "" : ", ") + name + " " + std::to_string(n);
  return s;
}

std::string summary_text(const ScenarioReport& r) {
  std::string s;
  size_t ok = 0;
  for (const auto& c : r.checks) ok += c.ok;
  s += "outcome:  " + std::string(r.passed() ? "PASS" : "FAIL") + " (" + std::to_string(ok) + "/" +
       std::to_string(r.checks.size()) + " checks, seed " + std::to_string(r.seed) + ")\n";
  for (const auto& c : r.checks) s += std::string(c.ok ? "  ok    " : "  FAIL  ") + c.what + "\n";
  const Trace& t = r.fabric->trace();
  s += "messages: " + std::to_string(t.mads.size()) + " on the wire (" + mad_counts(t) + ")\n";
  if (r.measure) {
    const auto& m = *r.measure;
    s += m.name + ": " + millis(m.elapsed) + " from " + m.from + " to " + m.to;
    s += " =";
    if (m.waited.count() > 0) s += " " + m.waited_on + " " + millis(m.waited) + " +";
    s.append(" ").append(number(m.round_trips())).append(" round trips of ");
    s.append(millis(m.round_trip)).append("\n");
  }
  return s;
}

std::string summary_json(const ScenarioReport& r) {
  using wire::json_quote;
  const Trace& t = r.fabric->trace();
  std::string s = "{\"scenario\":" + json_quote(r.name) + ",\"title\":" + json_quote(r.title) +
                  ",\"seed\":" + std::to_string(r.seed) +
                  ",\"passed\":" + (r.passed() ? "true" : "false") +
                  ",\"stop\":" + json_quote(to_string(r.stop)) + ",\"checks\":[";
  for (size_t i = 0; i < r.checks.size(); ++i)
    s += std::string(i ? "," : "") + "{\"what\":" + json_quote(r.checks[i].what) +
         ",\"ok\":" + (r.checks[i].ok ? "true" : "false") + "}";
  s += "],\"messages\":" + std::to_string(t.mads.size()) + ",\"sequence\":[";
  const auto seq = mad_sequence(t);
  for (size_t i = 0; i < seq.size(); ++i) s += std::string(i ? "," : "") + json_quote(seq[i]);
  s += "]";
  if (r.measure) {
    const auto& m = *r.measure;
    s += ",\"measure\":{\"name\":" + json_quote(m.name) + ",\"from\":" + json_quote(m.from) +
         ",\"to\":" + json_quote(m.to) + ",\"elapsed_ns\":" + std::to_string(m.elapsed.count()) +
         ",\"waited_ns\":" + std::to_string(m.waited.count()) +
         ",\"waited_on\":" + json_quote(m.waited_on) +
         ",\"round_trip_ns\":" + std::to_string(m.round_trip.count()) +
         ",\"round_trips\":" + number(m.round_trips()) + "}";
  }
  s += ",\"ladder\":[";
  const std::string ladder = r.fabric->ladder();
  size_t start = 0, n = 0;
  while (start < ladder.size()) {
    size_t end = ladder.find('\n', start);
    if (end == std::string::npos) end = ladder.size();
    s += std::string(n++ ? "," : "") +
         json_quote(std::string_view(ladder).substr(start, end - start));
    start = end + 1;
  }
  s += "]}";
  return s;
}

}  // namespace ibcm::sim
