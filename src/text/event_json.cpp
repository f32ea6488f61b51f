#include "ibcm/text/event_json.h"

#include <cstdio>
#include <span>

#include "ibcm/wire/print.h"

namespace ibcm {

namespace {

// Writes an event's fields in one of its two forms: JSON members (,"key":value) or text pairs
// ( key=value). Both forms come from the one list of fields in write_event().
class Obj {
 public:
  Obj(std::string& out, bool json) : out_(out), json_(json) {}
  void num(const char* k, uint64_t v) {
    key(k);
    out_ += std::to_string(v);
  }
  // An identifier: hex, a string in JSON (a GUID does not fit a double).
  void id(const char* k, uint64_t v, unsigned bits) { str(k, wire::id_to_string(v, bits)); }
  void str(const char* k, std::string_view v) {
    key(k);
    out_ += json_ ? wire::json_quote(v) : wire::text_value(v);
  }
  void boolean(const char* k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
  }
  void hex(const char* k, std::span<const uint8_t> bytes) {
    // Trailing zeros are padding: private data has no length on the wire.
    size_t n = bytes.size();
    while (n > 0 && bytes[n - 1] == 0) --n;
    str(k, wire::bytes_to_hex(bytes.first(n)));
  }

 private:
  void key(const char* k) {
    out_ += json_ ? "," : " ";
    out_ += json_ ? wire::json_quote(k) : k;
    out_ += json_ ? ':' : '=';
  }
  std::string& out_;
  bool json_;
};

constexpr unsigned kCommIdBits = 32, kGuidBits = 64, kServiceIdBits = 64, kRequestIdBits = 32;

void write_event(Obj& o, const Event& e) {
  if (ConnId c = event_conn(e)) o.id("local_comm_id", c, kCommIdBits);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ev::ReqReceived>) {
          o.id("remote_comm_id", x.req.local_comm_id, kCommIdBits);
          o.num("remote_qpn", x.req.local_qpn);
          o.id("remote_ca_guid", x.req.local_ca_guid, kGuidBits);
          o.id("service_id", x.req.service_id, kServiceIdBits);
          o.num("starting_psn", x.req.starting_psn);
          o.boolean("peer_to_peer", x.peer_to_peer);
          o.str("from", wire::gid_to_string(x.from.gid));
          o.hex("private_data", x.req.private_data);
        } else if constexpr (std::is_same_v<T, ev::RepReceived>) {
          o.id("remote_comm_id", x.rep.local_comm_id, kCommIdBits);
          o.num("remote_qpn", x.rep.local_qpn);
          o.id("remote_ca_guid", x.rep.local_ca_guid, kGuidBits);
          o.num("starting_psn", x.rep.starting_psn);
          o.hex("private_data", x.rep.private_data);
        } else if constexpr (std::is_same_v<T, ev::RejReceived>) {
          o.id("remote_comm_id", x.rej.local_comm_id, kCommIdBits);
          o.num("reason", static_cast<uint16_t>(x.rej.reason));
          o.str("reason_name", wire::to_string(x.rej.reason));
          o.num("message_rejected", static_cast<uint8_t>(x.rej.message_rejected));
          o.str("prior_state", to_string(x.prior));
          o.hex("ari", std::span(x.rej.ari).first(x.rej.rejected_info_length));
          o.hex("private_data", x.rej.private_data);
        } else if constexpr (std::is_same_v<T, ev::MraReceived>) {
          o.id("remote_comm_id", x.mra.local_comm_id, kCommIdBits);
          o.num("message_mraed", static_cast<uint8_t>(x.mra.message_mraed));
          o.num("service_timeout", x.mra.service_timeout);
        } else if constexpr (std::is_same_v<T, ev::RtuReceived>) {
          o.id("remote_comm_id", x.rtu.local_comm_id, kCommIdBits);
        } else if constexpr (std::is_same_v<T, ev::DreqReceived>) {
          o.id("remote_comm_id", x.dreq.local_comm_id, kCommIdBits);
          o.num("qpn", x.dreq.remote_qpn);
          o.hex("private_data", x.dreq.private_data);
        } else if constexpr (std::is_same_v<T, ev::DrepReceived>) {
          o.id("remote_comm_id", x.drep.local_comm_id, kCommIdBits);
        } else if constexpr (std::is_same_v<T, ev::LapReceived>) {
          o.id("remote_comm_id", x.lap.local_comm_id, kCommIdBits);
          o.str("alternate_remote_gid", wire::gid_to_string(x.lap.alternate.local_gid));
        } else if constexpr (std::is_same_v<T, ev::AprReceived>) {
          o.id("remote_comm_id", x.apr.local_comm_id, kCommIdBits);
          o.num("ap_status", static_cast<uint8_t>(x.apr.ap_status));
          o.str("ap_status_name", wire::to_string(x.apr.ap_status));
        } else if constexpr (std::is_same_v<T, ev::SidrReqReceived>) {
          o.id("request_id", x.req.request_id, kRequestIdBits);
          o.id("service_id", x.req.service_id, kServiceIdBits);
          o.str("from", wire::gid_to_string(x.from.gid));
        } else if constexpr (std::is_same_v<T, ev::SidrRepReceived>) {
          o.id("request_id", x.rep.request_id, kRequestIdBits);
          o.num("status", static_cast<uint8_t>(x.rep.status));
          o.str("status_name", wire::to_string(x.rep.status));
          o.num("qpn", x.rep.qpn);
          o.num("qkey", x.rep.qkey);
        } else if constexpr (std::is_same_v<T, ev::SidrTimeout>) {
          o.id("request_id", x.id, kRequestIdBits);
        } else if constexpr (std::is_same_v<T, ev::StaleConnection>) {
          o.num("remote_qpn", x.remote_qpn);
          o.id("remote_ca_guid", x.remote_ca_guid, kGuidBits);
        } else if constexpr (std::is_same_v<T, ev::Aborted>) {
          o.num("reason", static_cast<uint16_t>(x.reason));
          o.str("reason_name", wire::to_string(x.reason));
        }
      },
      e);
}

std::string time_text(double t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", t);
  return buf;
}

}  // namespace

std::string event_to_json(double t, const Event& e, const std::string& extra) {
  std::string out = "{\"t\":" + time_text(t) + ",\"event\":" + wire::json_quote(event_name(e));
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  Obj o(out, true);
  write_event(o, e);
  return out + "}";
}

std::string event_to_text(double t, const Event& e) {
  std::string out = "t=" + time_text(t) + " event=" + std::string(event_name(e));
  Obj o(out, false);
  write_event(o, e);
  return out;
}

}  // namespace ibcm
