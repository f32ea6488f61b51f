// The C API (ibcm/ib_cm.h) over ibcm::Cm: conversions between the C structs and the engine's
// types, and nothing else. Structs cross the boundary by their size field: what a caller's struct
// does not cover keeps its default (input) or is not written (output).
#include "ibcm/ib_cm.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>

#include "ibcm/engine/cm.h"

struct ibcm_cm {
  ibcm::Cm cm;
};

namespace {

using ibcm::Time;

Time time_of(uint64_t ns) {
  return Time(static_cast<Time::rep>(ns));
}

// A caller's input struct, read as far as its size says, over a struct of defaults.
template <class T>
bool read_in(const T* in, T& out) {
  if (!in || in->size < sizeof(size_t)) return false;
  std::memcpy(static_cast<void*>(&out), in, std::min(in->size, sizeof(T)));
  out.size = sizeof(T);
  return true;
}

// Writes a filled output struct to the caller's, as far as the caller's size says.
template <class T>
bool write_out(const T& filled, T* out) {
  if (!out || out->size < sizeof(size_t)) return false;
  size_t size = out->size;
  std::memcpy(static_cast<void*>(out), &filled, std::min(size, sizeof(T)));
  out->size = size;
  return true;
}

int status_of(ibcm::Error e) {
  return -1 - static_cast<int>(e);  // the enum ibcm_status order is the Error order
}
static_assert(-1 - static_cast<int>(ibcm::Error::QueueFull) == IBCM_ERR_QUEUE_FULL);

int status_of(const ibcm::Status& s) {
  return s ? IBCM_OK : status_of(s.error());
}

// The engine's types and the C structs name their fields alike: one copy serves both directions.
template <class From, class To>
To convert_address(const From& a) {
  To out{};
  std::copy(std::begin(a.gid), std::end(a.gid), std::begin(out.gid));
  out.lid = a.lid;
  out.pkey = a.pkey;
  out.qpn = a.qpn;
  out.port = a.port;
  return out;
}

template <class From, class To>
To convert_path(const From& p) {
  To out{};
  std::copy(std::begin(p.local_gid), std::end(p.local_gid), std::begin(out.local_gid));
  std::copy(std::begin(p.remote_gid), std::end(p.remote_gid), std::begin(out.remote_gid));
  out.local_lid = p.local_lid;
  out.remote_lid = p.remote_lid;
  out.flow_label = p.flow_label;
  out.packet_rate = p.packet_rate;
  out.traffic_class = p.traffic_class;
  out.hop_limit = p.hop_limit;
  out.sl = p.sl;
  out.subnet_local = p.subnet_local;
  out.local_ack_timeout = p.local_ack_timeout;
  return out;
}

ibcm::Address address_of(const ibcm_address& a) {
  return convert_address<ibcm_address, ibcm::Address>(a);
}
ibcm_address c_address(const ibcm::Address& a) {
  return convert_address<ibcm::Address, ibcm_address>(a);
}
ibcm::wire::PathInfo path_of(const ibcm_path& p) {
  return convert_path<ibcm_path, ibcm::wire::PathInfo>(p);
}
ibcm_path c_path(const ibcm::wire::PathInfo& p) {
  return convert_path<ibcm::wire::PathInfo, ibcm_path>(p);
}

std::span<const uint8_t> bytes(const uint8_t* data, uint8_t length) {
  return data ? std::span<const uint8_t>(data, length) : std::span<const uint8_t>();
}

template <size_t N>
void set_private_data(ibcm_cm_event& out, const std::array<uint8_t, N>& pd) {
  static_assert(N <= sizeof out.private_data);
  std::copy(pd.begin(), pd.end(), out.private_data);
  out.private_data_len = static_cast<uint8_t>(N);
}

// What every connection message tells: the event, the sender's comm ID and the private data.
template <class M>
void from_message(ibcm_cm_event& out, ibcm_cm_event_type type, const M& m) {
  out.event = type;
  out.remote_comm_id = m.local_comm_id;
  set_private_data(out, m.private_data);
}

// The C form of one engine event.
ibcm_cm_event c_event(const ibcm::Event& e) {
  namespace ev = ibcm::ev;
  ibcm_cm_event out{};
  out.cm_id = ibcm::event_conn(e);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ev::ReqReceived>) {
          from_message(out, IBCM_CM_REQ_RECEIVED, x.req);
          out.listen_id = x.listener;
          out.from = c_address(x.from);
          out.remote_ca_guid = x.req.local_ca_guid;
          out.service_id = x.req.service_id;
          out.remote_qpn = x.req.local_qpn;
          out.starting_psn = x.req.starting_psn;
        } else if constexpr (std::is_same_v<T, ev::RepReceived>) {
          from_message(out, IBCM_CM_REP_RECEIVED, x.rep);
          out.remote_ca_guid = x.rep.local_ca_guid;
          out.remote_qpn = x.rep.local_qpn;
          out.starting_psn = x.rep.starting_psn;
        } else if constexpr (std::is_same_v<T, ev::RtuReceived>) {
          from_message(out, IBCM_CM_RTU_RECEIVED, x.rtu);
        } else if constexpr (std::is_same_v<T, ev::Established>) {
          out.event = IBCM_CM_USER_ESTABLISHED;
        } else if constexpr (std::is_same_v<T, ev::MraReceived>) {
          from_message(out, IBCM_CM_MRA_RECEIVED, x.mra);
          out.message = static_cast<uint8_t>(x.mra.message_mraed);
          out.service_timeout = x.mra.service_timeout;
        } else if constexpr (std::is_same_v<T, ev::RejReceived>) {
          from_message(out, IBCM_CM_REJ_RECEIVED, x.rej);
          out.reason = static_cast<uint16_t>(x.rej.reason);
          out.message = static_cast<uint8_t>(x.rej.message_rejected);
        } else if constexpr (std::is_same_v<T, ev::DreqReceived>) {
          from_message(out, IBCM_CM_DREQ_RECEIVED, x.dreq);
          out.remote_qpn = x.dreq.remote_qpn;
        } else if constexpr (std::is_same_v<T, ev::DrepReceived>) {
          from_message(out, IBCM_CM_DREP_RECEIVED, x.drep);
        } else if constexpr (std::is_same_v<T, ev::LapReceived>) {
          from_message(out, IBCM_CM_LAP_RECEIVED, x.lap);
        } else if constexpr (std::is_same_v<T, ev::AprReceived>) {
          from_message(out, IBCM_CM_APR_RECEIVED, x.apr);
          out.status = static_cast<uint8_t>(x.apr.ap_status);
        } else if constexpr (std::is_same_v<T, ev::SidrReqReceived>) {
          out.event = IBCM_CM_SIDR_REQ_RECEIVED;
          out.sidr_id = x.id;
          out.listen_id = x.listener;
          out.from = c_address(x.from);
          out.service_id = x.req.service_id;
          set_private_data(out, x.req.private_data);
        } else if constexpr (std::is_same_v<T, ev::SidrRepReceived>) {
          out.event = IBCM_CM_SIDR_REP_RECEIVED;
          out.sidr_id = x.id;
          out.status = static_cast<uint8_t>(x.rep.status);
          out.remote_qpn = x.rep.qpn;
          out.qkey = x.rep.qkey;
          set_private_data(out, x.rep.private_data);
        } else if constexpr (std::is_same_v<T, ev::ReqTimeout>) {
          out.event = IBCM_CM_REQ_ERROR;
        } else if constexpr (std::is_same_v<T, ev::RepTimeout>) {
          out.event = IBCM_CM_REP_ERROR;
        } else if constexpr (std::is_same_v<T, ev::LapTimeout>) {
          out.event = IBCM_CM_LAP_ERROR;
        } else if constexpr (std::is_same_v<T, ev::DreqTimeout>) {
          out.event = IBCM_CM_DREQ_ERROR;
        } else if constexpr (std::is_same_v<T, ev::SidrTimeout>) {
          out.event = IBCM_CM_SIDR_REQ_ERROR;
          out.sidr_id = x.id;
        } else if constexpr (std::is_same_v<T, ev::TimeWaitExit>) {
          out.event = IBCM_CM_TIMEWAIT_EXIT;
        } else if constexpr (std::is_same_v<T, ev::StaleConnection>) {
          out.event = IBCM_CM_STALE_CONNECTION;
          out.remote_qpn = x.remote_qpn;
          out.remote_ca_guid = x.remote_ca_guid;
        } else if constexpr (std::is_same_v<T, ev::Aborted>) {
          out.event = IBCM_CM_ABORTED;
          out.reason = static_cast<uint16_t>(x.reason);
        } else {
          static_assert(!sizeof(T), "every event has its C form");
        }
      },
      e);
  return out;
}

}  // namespace

extern "C" {

void ibcm_cm_config_init(ibcm_cm_config* config) {
  const ibcm::Config defaults;
  *config = ibcm_cm_config{};
  config->size = sizeof *config;
  config->local = c_address(defaults.local);
  config->cm_response_timeout = defaults.cm_response_timeout;
  config->max_cm_retries = defaults.max_cm_retries;
  config->max_connections = defaults.max_connections;
}

ibcm_cm* ibcm_cm_create(const ibcm_cm_config* config) {
  ibcm_cm_config c;
  ibcm_cm_config_init(&c);
  if (!read_in(config, c)) return nullptr;
  ibcm::Config cfg;
  cfg.ca_guid = c.ca_guid;
  cfg.local = address_of(c.local);
  cfg.seed = c.seed;
  cfg.timewait = time_of(c.timewait_ns);
  cfg.cm_response_timeout = c.cm_response_timeout;
  cfg.max_cm_retries = c.max_cm_retries;
  cfg.max_connections = c.max_connections;
  return new (std::nothrow) ibcm_cm{ibcm::Cm(cfg)};
}

void ibcm_cm_destroy(ibcm_cm* cm) {
  delete cm;
}

void ibcm_cm_handle_mad(ibcm_cm* cm, uint64_t now_ns, const ibcm_address* from, const uint8_t* mad,
                        size_t length) {
  if (!from || !mad) return;
  cm->cm.handle_mad(time_of(now_ns), address_of(*from), std::span<const uint8_t>(mad, length));
}

void ibcm_cm_handle_timeout(ibcm_cm* cm, uint64_t now_ns) {
  cm->cm.handle_timeout(time_of(now_ns));
}

int ibcm_cm_next_timeout(const ibcm_cm* cm, uint64_t* when_ns) {
  auto t = cm->cm.next_timeout();
  if (!t) return 0;
  *when_ns = static_cast<uint64_t>(std::max<Time::rep>(t->count(), 0));
  return 1;
}

int ibcm_cm_poll_transmit(ibcm_cm* cm, ibcm_transmit* out) {
  auto span = cm->cm.peek_transmits();
  if (span.empty()) return 0;
  ibcm_transmit t{};
  t.size = sizeof t;
  t.to = c_address(span.front().to);
  std::copy(span.front().mad.begin(), span.front().mad.end(), t.mad);
  if (!write_out(t, out)) return IBCM_ERR_INVALID_ARGUMENT;
  cm->cm.consume_transmits(1);
  return 1;
}

int ibcm_cm_poll_event(ibcm_cm* cm, ibcm_cm_event* out) {
  if (!out || out->size < sizeof(size_t)) return IBCM_ERR_INVALID_ARGUMENT;
  auto e = cm->cm.poll_event();
  if (!e) return 0;
  ibcm_cm_event c = c_event(*e);
  c.size = sizeof c;
  write_out(c, out);
  return 1;
}

const char* ibcm_cm_event_str(ibcm_cm_event_type event) {
  static const char* const names[] = {
      "REQ_ERROR",         "REQ_RECEIVED",      "REP_ERROR",        "REP_RECEIVED",
      "RTU_RECEIVED",      "USER_ESTABLISHED",  "DREQ_ERROR",       "DREQ_RECEIVED",
      "DREP_RECEIVED",     "TIMEWAIT_EXIT",     "MRA_RECEIVED",     "REJ_RECEIVED",
      "LAP_ERROR",         "LAP_RECEIVED",      "APR_RECEIVED",     "SIDR_REQ_ERROR",
      "SIDR_REQ_RECEIVED", "SIDR_REP_RECEIVED", "STALE_CONNECTION", "ABORTED"};
  static_assert(std::size(names) == IBCM_CM_ABORTED + 1);
  auto i = static_cast<size_t>(event);
  return i < std::size(names) ? names[i] : "UNKNOWN";
}

const char* ibcm_status_str(int status) {
  if (status == IBCM_OK) return "success";
  if (status == IBCM_ERR_NO_MEMORY) return "out of memory";
  if (status < IBCM_ERR_NO_MEMORY || status > 0) return "unknown status";
  // The engine's own text for the Error this status stands for; it ends in a NUL.
  return ibcm::to_string(static_cast<ibcm::Error>(-1 - status)).data();
}

int ibcm_cm_listen(ibcm_cm* cm, uint64_t service_id, uint64_t mask, uint32_t* listen_id) {
  auto l = cm->cm.listen(service_id, mask);
  if (!l) return status_of(l.error());
  if (listen_id) *listen_id = *l;
  return IBCM_OK;
}

int ibcm_cm_unlisten(ibcm_cm* cm, uint32_t listen_id) {
  return status_of(cm->cm.unlisten(listen_id));
}

void ibcm_cm_req_param_init(ibcm_cm_req_param* param) {
  const ibcm::ConnectParams d;
  *param = ibcm_cm_req_param{};
  param->size = sizeof *param;
  param->dest = c_address(d.dest);
  param->retry_count = d.retry_count;
  param->rnr_retry_count = d.rnr_retry_count;
  param->mtu = static_cast<uint8_t>(d.mtu);
  param->pkey = d.pkey;
  param->flow_control = d.flow_control;
  param->packet_life_time = d.packet_life_time;
  param->remote_cm_response_timeout = d.remote_cm_response_timeout;
  param->max_cm_retries = d.max_cm_retries;
}

int ibcm_send_cm_req(ibcm_cm* cm, uint64_t now_ns, const ibcm_cm_req_param* param,
                     ibcm_cm_id* cm_id) {
  ibcm_cm_req_param c;
  ibcm_cm_req_param_init(&c);
  if (!read_in(param, c) || c.qp_type > 1 || c.mtu == 0 || c.mtu > 5)
    return IBCM_ERR_INVALID_ARGUMENT;
  ibcm::ConnectParams p;
  p.service_id = c.service_id;
  p.dest = address_of(c.dest);
  p.primary = path_of(c.primary_path);
  p.qpn = c.qp_num;
  p.psn = c.starting_psn;
  p.qkey = c.qkey;
  p.transport = static_cast<ibcm::wire::TransportType>(c.qp_type);
  p.responder_resources = c.responder_resources;
  p.initiator_depth = c.initiator_depth;
  p.retry_count = c.retry_count;
  p.rnr_retry_count = c.rnr_retry_count;
  p.mtu = static_cast<ibcm::wire::Mtu>(c.mtu);
  p.pkey = c.pkey;
  p.srq = c.srq != 0;
  p.flow_control = c.flow_control != 0;
  p.packet_life_time = c.packet_life_time;
  p.remote_cm_response_timeout = c.remote_cm_response_timeout;
  p.max_cm_retries = c.max_cm_retries;
  p.peer_to_peer = c.peer_to_peer != 0;
  p.private_data = bytes(c.private_data, c.private_data_len);
  auto id = cm->cm.connect(time_of(now_ns), p);
  if (!id) return status_of(id.error());
  if (cm_id) *cm_id = *id;
  return IBCM_OK;
}

void ibcm_cm_rep_param_init(ibcm_cm_rep_param* param) {
  const ibcm::AcceptParams d;
  *param = ibcm_cm_rep_param{};
  param->size = sizeof *param;
  param->rnr_retry_count = d.rnr_retry_count;
  param->flow_control = d.flow_control;
}

int ibcm_send_cm_rep(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id,
                     const ibcm_cm_rep_param* param) {
  ibcm_cm_rep_param c;
  ibcm_cm_rep_param_init(&c);
  if (!read_in(param, c)) return IBCM_ERR_INVALID_ARGUMENT;
  ibcm::AcceptParams p;
  p.qpn = c.qp_num;
  p.psn = c.starting_psn;
  p.qkey = c.qkey;
  p.responder_resources = c.responder_resources;
  p.initiator_depth = c.initiator_depth;
  p.target_ack_delay = c.target_ack_delay;
  p.failover_accepted = c.failover_accepted;
  p.rnr_retry_count = c.rnr_retry_count;
  p.srq = c.srq != 0;
  p.flow_control = c.flow_control != 0;
  p.private_data = bytes(c.private_data, c.private_data_len);
  return status_of(cm->cm.accept(time_of(now_ns), cm_id, p));
}

int ibcm_send_cm_rtu(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, const uint8_t* private_data,
                     uint8_t private_data_len) {
  return status_of(cm->cm.send_rtu(time_of(now_ns), cm_id, bytes(private_data, private_data_len)));
}

int ibcm_send_cm_rej(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, uint16_t reason,
                     const uint8_t* ari, uint8_t ari_length, const uint8_t* private_data,
                     uint8_t private_data_len) {
  return status_of(cm->cm.reject(time_of(now_ns), cm_id, static_cast<ibcm::wire::RejReason>(reason),
                                 bytes(ari, ari_length), bytes(private_data, private_data_len)));
}

int ibcm_send_cm_mra(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, uint8_t service_timeout,
                     const uint8_t* private_data, uint8_t private_data_len) {
  return status_of(cm->cm.send_mra(time_of(now_ns), cm_id, service_timeout,
                                   bytes(private_data, private_data_len)));
}

int ibcm_send_cm_dreq(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, const uint8_t* private_data,
                      uint8_t private_data_len) {
  return status_of(
      cm->cm.disconnect(time_of(now_ns), cm_id, bytes(private_data, private_data_len)));
}

int ibcm_send_cm_drep(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, const uint8_t* private_data,
                      uint8_t private_data_len) {
  return status_of(cm->cm.send_drep(time_of(now_ns), cm_id, bytes(private_data, private_data_len)));
}

int ibcm_send_cm_lap(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id,
                     const ibcm_path* alternate_path, const uint8_t* private_data,
                     uint8_t private_data_len) {
  if (!alternate_path) return IBCM_ERR_INVALID_ARGUMENT;
  return status_of(cm->cm.load_alternate_path(time_of(now_ns), cm_id, path_of(*alternate_path),
                                              bytes(private_data, private_data_len)));
}

int ibcm_send_cm_apr(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, uint8_t status,
                     const uint8_t* info, uint8_t info_length, const uint8_t* private_data,
                     uint8_t private_data_len) {
  return status_of(
      cm->cm.send_apr(time_of(now_ns), cm_id, static_cast<ibcm::wire::ApStatus>(status),
                      bytes(info, info_length), bytes(private_data, private_data_len)));
}

int ibcm_cm_establish(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id) {
  return status_of(cm->cm.establish(time_of(now_ns), cm_id));
}

void ibcm_destroy_cm_id(ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id) {
  cm->cm.destroy(time_of(now_ns), cm_id);
}

int ibcm_send_cm_sidr_req(ibcm_cm* cm, uint64_t now_ns, uint64_t service_id,
                          const ibcm_address* dest, const uint8_t* private_data,
                          uint8_t private_data_len, uint32_t* sidr_id) {
  if (!dest) return IBCM_ERR_INVALID_ARGUMENT;
  ibcm::SidrParams p;
  p.service_id = service_id;
  p.dest = address_of(*dest);
  p.private_data = bytes(private_data, private_data_len);
  auto id = cm->cm.sidr_request(time_of(now_ns), p);
  if (!id) return status_of(id.error());
  if (sidr_id) *sidr_id = *id;
  return IBCM_OK;
}

int ibcm_send_cm_sidr_rep(ibcm_cm* cm, uint64_t now_ns, uint32_t sidr_id, uint8_t status,
                          uint32_t qp_num, uint32_t qkey, const uint8_t* private_data,
                          uint8_t private_data_len) {
  ibcm::SidrReplyParams p;
  p.status = static_cast<ibcm::wire::SidrStatus>(status);
  p.qpn = qp_num;
  p.qkey = qkey;
  p.private_data = bytes(private_data, private_data_len);
  return status_of(cm->cm.sidr_reply(time_of(now_ns), sidr_id, p));
}

int ibcm_cm_init_qp_attr(const ibcm_cm* cm, ibcm_cm_id cm_id, ibcm_qp_state state,
                         ibcm_qp_attr* attr) {
  if (!attr || attr->size < sizeof(size_t) || state > IBCM_QPS_RTS)
    return IBCM_ERR_INVALID_ARGUMENT;
  auto a = cm->cm.qp_attributes(cm_id, static_cast<ibcm::QpState>(state));
  if (!a) return status_of(a.error());
  ibcm_qp_attr c{};
  c.size = sizeof c;
  c.qp_state = state;
  c.pkey = a->pkey;
  c.qkey = a->qkey;
  c.dest_qp_num = a->dest_qpn;
  c.rq_psn = a->rq_psn;
  c.path_mtu = static_cast<uint8_t>(a->path_mtu);
  c.max_dest_rd_atomic = a->max_dest_rd_atomic;
  c.min_rnr_timer = a->min_rnr_timer;
  c.primary_path = c_path(a->primary);
  c.sq_psn = a->sq_psn;
  c.timeout = a->timeout;
  c.retry_cnt = a->retry_count;
  c.rnr_retry = a->rnr_retry;
  c.max_rd_atomic = a->max_rd_atomic;
  write_out(c, attr);
  return IBCM_OK;
}

}  // extern "C"
