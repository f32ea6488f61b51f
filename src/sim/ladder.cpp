// The ladder diagram: a run as one line per MAD copy, event and note, in the order they happened.
#include <cstdarg>
#include <cstdio>
#include <set>
#include <tuple>

#include "ibcm/sim/trace.h"
#include "ibcm/wire/print.h"

namespace ibcm::sim {

namespace {

__attribute__((format(printf, 1, 2))) std::string fmt(const char* f, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, f);
  const int n = std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// Integer arithmetic, so the text is the same wherever the run is printed.
std::string ms(Time t) {
  const long long us = t.count() / 1000;
  return fmt("%7lld.%03lld ms", us / 1000, (us < 0 ? -us : us) % 1000);
}

std::string comm(uint32_t local, uint32_t remote) {
  return fmt("comm=0x%08x/0x%08x", local, remote);
}

std::string summary(const wire::Mad& m) {
  struct V {
    std::string operator()(const wire::Req& x) {
      return fmt("comm=0x%08x sid=0x%016llx qpn=0x%06x", x.local_comm_id,
                 static_cast<unsigned long long>(x.service_id), x.local_qpn);
    }
    std::string operator()(const wire::Mra& x) {
      return comm(x.local_comm_id, x.remote_comm_id) +
             fmt(" mraed=%s timeout=%u", std::string(to_string(x.message_mraed)).c_str(),
                 x.service_timeout);
    }
    std::string operator()(const wire::Rej& x) {
      return comm(x.local_comm_id, x.remote_comm_id) +
             fmt(" reason=%u %s", static_cast<unsigned>(x.reason),
                 std::string(to_string(x.reason)).c_str());
    }
    std::string operator()(const wire::Rep& x) {
      return comm(x.local_comm_id, x.remote_comm_id) + fmt(" qpn=0x%06x", x.local_qpn);
    }
    std::string operator()(const wire::Rtu& x) { return comm(x.local_comm_id, x.remote_comm_id); }
    std::string operator()(const wire::Dreq& x) {
      return comm(x.local_comm_id, x.remote_comm_id) + fmt(" rqpn=0x%06x", x.remote_qpn);
    }
    std::string operator()(const wire::Drep& x) { return comm(x.local_comm_id, x.remote_comm_id); }
    std::string operator()(const wire::SidrReq& x) {
      return fmt("req=0x%08x sid=0x%016llx", x.request_id,
                 static_cast<unsigned long long>(x.service_id));
    }
    std::string operator()(const wire::SidrRep& x) {
      return fmt("req=0x%08x status=%s qpn=0x%06x", x.request_id,
                 std::string(to_string(x.status)).c_str(), x.qpn);
    }
    std::string operator()(const wire::Lap& x) {
      return comm(x.local_comm_id, x.remote_comm_id) + fmt(" rqpn=0x%06x", x.remote_qpn);
    }
    std::string operator()(const wire::Apr& x) {
      return comm(x.local_comm_id, x.remote_comm_id) +
             fmt(" status=%s", std::string(to_string(x.ap_status)).c_str());
    }
    std::string operator()(const wire::ClassPortInfo&) { return {}; }
  };
  std::string s = std::visit(V{}, m.message);
  if (m.header.method != static_cast<uint8_t>(wire::Method::Send))
    s += fmt(" method=0x%02x", m.header.method);
  if (m.header.status != 0) s += fmt(" status=0x%04x", m.header.status);
  return s;
}

std::string arrow(uint16_t attr, bool rightwards) {
  constexpr size_t kWidth = 14;
  std::string name(wire::attr_name(attr));
  if (name.empty()) name = fmt("0x%04x", attr);
  const std::string dashes(name.size() + 3 < kWidth ? kWidth - 3 - name.size() : 1, '-');
  return rightwards ? "--" + name + dashes + ">" : "<" + dashes + name + "--";
}

std::string_view mark(Fate f) {
  switch (f) {
    case Fate::Delivered:
      return "";
    case Fate::InFlight:
      return " [IN FLIGHT]";
    case Fate::Lost:
      return " [LOST]";
    case Fate::Dropped:
      return " [DROPPED]";
    case Fate::Partitioned:
      return " [PARTITIONED]";
    case Fate::NodeDown:
      return " [NODE DOWN]";
    case Fate::Unroutable:
      return " [UNROUTABLE]";
  }
  return "";
}

std::string event_detail(const Event& e) {
  std::string s = fmt("conn=0x%08x", event_conn(e));
  if (auto* x = std::get_if<ev::RejReceived>(&e))
    s += fmt(" reason=%u", static_cast<unsigned>(x->rej.reason));
  else if (auto* x = std::get_if<ev::StaleConnection>(&e))
    s += fmt(" rqpn=0x%06x", x->remote_qpn);
  else if (auto* x = std::get_if<ev::Aborted>(&e))
    s += fmt(" reason=%u", static_cast<unsigned>(x->reason));
  else if (auto* x = std::get_if<ev::ReqReceived>(&e))
    s += x->peer_to_peer ? " p2p" : "";
  else if (auto* x = std::get_if<ev::SidrReqReceived>(&e))
    s = fmt("req=0x%08x", x->id);
  else if (auto* x = std::get_if<ev::SidrRepReceived>(&e))
    s = fmt("req=0x%08x status=%s", x->id, std::string(to_string(x->rep.status)).c_str());
  else if (auto* x = std::get_if<ev::SidrTimeout>(&e))
    s = fmt("req=0x%08x", x->id);
  return s;
}

}  // namespace

std::string_view to_string(Fate f) {
  switch (f) {
    case Fate::InFlight:
      return "in_flight";
    case Fate::Delivered:
      return "delivered";
    case Fate::Lost:
      return "lost";
    case Fate::Dropped:
      return "dropped";
    case Fate::Partitioned:
      return "partitioned";
    case Fate::NodeDown:
      return "node_down";
    case Fate::Unroutable:
      return "unroutable";
  }
  return "?";
}

std::string mad_summary(std::span<const uint8_t> bytes) {
  auto m = wire::decode(bytes);
  if (!m) return "undecodable (" + std::string(wire::to_string(m.error().error)) + ")";
  return summary(*m);
}

std::string ladder(const Trace& t) {
  size_t w = 1;
  for (const auto& n : t.names) w = std::max(w, n.size());
  auto pad = [w](std::string_view s) {
    std::string out(s);
    out.resize(std::max(w, s.size()), ' ');
    return out;
  };
  auto name_of = [&](NodeId n) -> std::string {
    return n < t.names.size() ? t.names[n] : std::string("?");
  };

  std::string out = "nodes:";
  for (size_t i = 0; i < t.names.size(); ++i)
    out += " " + t.names[i] + "=" + wire::gid_to_string(t.addresses[i].gid);
  out += "\n";

  // A MAD a node sends again unchanged is a retransmission (or a repeated answer).
  std::set<std::tuple<NodeId, NodeId, wire::MadBytes>> seen;
  size_t im = 0, ie = 0, in = 0;
  const std::string blank(w, ' ');
  for (;;) {
    const uint64_t sm = im < t.mads.size() ? t.mads[im].seq : UINT64_MAX;
    const uint64_t se = ie < t.events.size() ? t.events[ie].seq : UINT64_MAX;
    const uint64_t sn = in < t.notes.size() ? t.notes[in].seq : UINT64_MAX;
    if (sm == UINT64_MAX && se == UINT64_MAX && sn == UINT64_MAX) break;
    if (sm < se && sm < sn) {
      const MadRecord& r = t.mads[im++];
      const bool right = r.to == kAnyNode || r.from <= r.to;
      const std::string src = name_of(r.from), dst = name_of(r.to);
      out += ms(r.sent) + "  " + pad(right ? src : dst) + " " + arrow(r.attr(), right) + " " +
             pad(right ? dst : src) + "  " + mad_summary(r.bytes);
      if (r.to == kAnyNode) out += " to=" + wire::gid_to_string(r.to_address.gid);
      if (!r.duplicate && !seen.insert({r.from, r.to, r.bytes}).second) out += " (resent)";
      if (r.injected) out += " [INJECTED]";
      if (r.duplicate) out += " [DUP]";
      if (r.reordered) out += " [REORDERED]";
      out += mark(r.fate);
    } else if (se < sn) {
      const EventRecord& e = t.events[ie++];
      out += ms(e.time) + "  " + pad(name_of(e.node)) + "  : " + std::string(event_name(e.event)) +
             " " + event_detail(e.event);
    } else {
      const Note& n = t.notes[in++];
      out += ms(n.time) + "  " + (n.node == kAnyNode ? blank : pad(name_of(n.node))) + "  ** " +
             n.text;
    }
    out += "\n";
  }
  return out;
}

}  // namespace ibcm::sim
