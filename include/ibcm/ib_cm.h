/// @file
/// The C API: the sans-I/O engine (ibcm::Cm) in the vocabulary of the Linux kernel's ib_cm.h,
/// for C programs and other languages' FFI (an FPGA or SmartNIC stack that owns its QPs and its
/// MAD I/O). The names are the kernel's with an ibcm_ prefix: ibcm_send_cm_req, ibcm_send_cm_rep,
/// ..., ibcm_cm_init_qp_attr, events IBCM_CM_REQ_RECEIVED and so on.
///
/// Bytes and time in, bytes and events out, as with the C++ engine: feed received MADs with
/// ibcm_cm_handle_mad() and the passing of time with ibcm_cm_handle_timeout(); make consumer calls;
/// then drain ibcm_cm_poll_transmit() (MADs to send) and ibcm_cm_poll_event() until they return 0;
/// sleep until ibcm_cm_next_timeout() or the next MAD. Every call takes the caller's clock
/// (nanoseconds, any epoch, never going back). Not thread-safe: one thread drives one ibcm_cm.
///
/// ABI: struct ibcm_cm is opaque; connections are named by their local communication ID
/// (ibcm_cm_id), never by a pointer. Every struct passed in or out starts with its size, which the
/// caller sets (the *_init functions do): a library of a later version, whose structs have grown
/// at the end, reads and writes only the fields that size covers. Calls return 0 or a negative
/// ibcm_status.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ibcm/api.h"

IBCM_API_BEGIN

#ifdef __cplusplus
extern "C" {
#endif

/// One CM: the engine of one CA port.
struct ibcm_cm;

/// A connection, by its local communication ID (never 0).
typedef uint32_t ibcm_cm_id;

/// What a call returns: 0, or one of these (negative).
enum ibcm_status {
  IBCM_OK = 0,
  IBCM_ERR_UNKNOWN_CONNECTION = -1,     ///< no connection with that ID
  IBCM_ERR_INVALID_STATE = -2,          ///< the call is not allowed in the connection's state
  IBCM_ERR_QPN_IN_TIMEWAIT = -3,        ///< the local QPN belongs to a connection in TIMEWAIT
  IBCM_ERR_QPN_IN_USE = -4,             ///< the local QPN belongs to a live connection
  IBCM_ERR_PRIVATE_DATA_TOO_LONG = -5,  ///< more private data than the message carries
  IBCM_ERR_INVALID_ARGUMENT = -6,       ///< a field out of its range, or a size too small
  IBCM_ERR_SERVICE_IN_USE = -7,         ///< listen: that service ID / mask is taken
  IBCM_ERR_UNKNOWN_LISTENER = -8,
  IBCM_ERR_UNKNOWN_SIDR = -9,
  IBCM_ERR_LIMIT_REACHED = -10,  ///< a configured resource limit
  IBCM_ERR_QUEUE_FULL = -11,     ///< no room for the call's event: drain events, retry
  IBCM_ERR_NO_MEMORY = -12,
};

/// Where a MAD comes from or goes to: the peer's GID (an IPv4-mapped one for RoCEv2 over IPv4),
/// LID, QP (1, the GSI QP), P_Key and the transport's port (UDP port for MAD-over-UDP, 0 else).
struct ibcm_address {
  uint8_t gid[16];
  uint16_t lid;
  uint16_t pkey;
  uint32_t qpn;
  uint16_t port;
};

/// One CM's configuration. ibcm_cm_config_init() sets the size and the defaults.
struct ibcm_cm_config {
  size_t size;
  uint64_t ca_guid;             ///< this CA's GUID
  struct ibcm_address local;    ///< this port's address
  uint64_t seed;                ///< randomness (comm IDs, TIDs): injected, never read from the OS
  uint64_t timewait_ns;         ///< 0: from each connection's path, as the spec asks
  uint8_t cm_response_timeout;  ///< exponent: 4.096 us x 2^t (default 20)
  uint8_t max_cm_retries;       ///< default 15
  uint32_t max_connections;     ///< default 2^24
};

void ibcm_cm_config_init(struct ibcm_cm_config* config);
/// A new CM, or NULL (an invalid config, no memory). Destroy it with ibcm_cm_destroy().
struct ibcm_cm* ibcm_cm_create(const struct ibcm_cm_config* config);
void ibcm_cm_destroy(struct ibcm_cm* cm);

// --- input ---
/// A received MAD (256 bytes) and where it came from. Bad input is counted and dropped.
void ibcm_cm_handle_mad(struct ibcm_cm* cm, uint64_t now_ns, const struct ibcm_address* from,
                        const uint8_t* mad, size_t length);
/// Runs every timer due at now_ns (retransmissions, MRA waits, TIMEWAIT).
void ibcm_cm_handle_timeout(struct ibcm_cm* cm, uint64_t now_ns);
/// 1 and *when_ns set when a timer is armed (call ibcm_cm_handle_timeout then); 0 when none is.
int ibcm_cm_next_timeout(const struct ibcm_cm* cm, uint64_t* when_ns);

// --- output ---
struct ibcm_transmit {
  size_t size;
  struct ibcm_address to;
  uint8_t mad[256];
};
/// 1 and *out filled with the oldest MAD to send; 0 when there is none.
int ibcm_cm_poll_transmit(struct ibcm_cm* cm, struct ibcm_transmit* out);

/// The events, by the kernel's ib_cm_event_type names; the last three are ibcm's own.
enum ibcm_cm_event_type {
  IBCM_CM_REQ_ERROR,     ///< no REP after every retry (a REJ was sent)
  IBCM_CM_REQ_RECEIVED,  ///< answer with ibcm_send_cm_rep / _rej / _mra
  IBCM_CM_REP_ERROR,     ///< no RTU after every retry (TIMEWAIT follows)
  IBCM_CM_REP_RECEIVED,  ///< answer with ibcm_send_cm_rtu / _rej / _mra
  IBCM_CM_RTU_RECEIVED,
  IBCM_CM_USER_ESTABLISHED,  ///< the connection is ESTABLISHED (RTU sent or received, or establish)
  IBCM_CM_DREQ_ERROR,        ///< no DREP after every retry (TIMEWAIT anyway)
  IBCM_CM_DREQ_RECEIVED,     ///< answer with ibcm_send_cm_drep
  IBCM_CM_DREP_RECEIVED,
  IBCM_CM_TIMEWAIT_EXIT,  ///< the QPN may be reused
  IBCM_CM_MRA_RECEIVED,
  IBCM_CM_REJ_RECEIVED,
  IBCM_CM_LAP_ERROR,
  IBCM_CM_LAP_RECEIVED,
  IBCM_CM_APR_RECEIVED,
  IBCM_CM_SIDR_REQ_ERROR,     ///< no SIDR_REP after every retry
  IBCM_CM_SIDR_REQ_RECEIVED,  ///< answer with ibcm_send_cm_sidr_rep
  IBCM_CM_SIDR_REP_RECEIVED,
  IBCM_CM_STALE_CONNECTION,  ///< a peer proved this connection stale; DREQ (or DREP) was sent
  IBCM_CM_ABORTED,           ///< the engine ended the attempt itself with REJ (reason below)
};

/// One event. The fields that an event type does not use are 0.
struct ibcm_cm_event {
  size_t size;
  enum ibcm_cm_event_type event;
  ibcm_cm_id cm_id;          ///< the connection (0 for SIDR events)
  uint32_t listen_id;        ///< REQ and SIDR_REQ received: the listen that matched
  uint32_t sidr_id;          ///< SIDR events: the request ID (answer SIDR_REQ with it)
  struct ibcm_address from;  ///< REQ and SIDR_REQ received: where it came from
  uint64_t remote_ca_guid;   ///< REQ, REP, stale connection
  uint64_t service_id;       ///< REQ, SIDR_REQ
  uint32_t remote_comm_id;   ///< the peer's comm ID, from the message
  uint32_t remote_qpn;       ///< REQ, REP: the peer's QPN; DREQ: our QPN it names; stale; SIDR_REP
  uint32_t starting_psn;     ///< REQ, REP: the PSN the peer's receive queue expects first
  uint32_t qkey;             ///< SIDR_REP
  uint16_t reason;           ///< REJ received, aborted: the REJ reason
  uint8_t status;            ///< SIDR_REP status, APR status
  uint8_t message;           ///< REJ: message rejected; MRA: message MRAed (0 REQ, 1 REP, 2 LAP)
  uint8_t service_timeout;   ///< MRA
  uint8_t private_data_len;
  uint8_t private_data[224];  ///< the message's private data, padding included
};
/// 1 and *out filled with the oldest event; 0 when there is none.
int ibcm_cm_poll_event(struct ibcm_cm* cm, struct ibcm_cm_event* out);
/// "REQ_RECEIVED", "TIMEWAIT_EXIT", ...
const char* ibcm_cm_event_str(enum ibcm_cm_event_type event);
/// What a status means: "the call is not allowed in the connection's state", ...
const char* ibcm_status_str(int status);

// --- consumer calls ---
/// Listen for REQ and SIDR_REQ on service_id: a REQ matches if (its ServiceID & mask) ==
/// (service_id & mask). *listen_id names it in events and for ibcm_cm_unlisten.
int ibcm_cm_listen(struct ibcm_cm* cm, uint64_t service_id, uint64_t mask, uint32_t* listen_id);
int ibcm_cm_unlisten(struct ibcm_cm* cm, uint32_t listen_id);

/// A primary or alternate path, as seen from this side.
struct ibcm_path {
  uint8_t local_gid[16];
  uint8_t remote_gid[16];
  uint16_t local_lid;
  uint16_t remote_lid;
  uint32_t flow_label;
  uint8_t packet_rate;
  uint8_t traffic_class;
  uint8_t hop_limit;
  uint8_t sl;
  uint8_t subnet_local;
  uint8_t local_ack_timeout;
};

/// ibcm_send_cm_req's parameters (ib_cm_req_param). ibcm_cm_req_param_init() sets the size and
/// the defaults (RC, MTU 1024, P_Key 0xFFFF, retries 7, CM timeouts 20, MaxCMRetries 15).
struct ibcm_cm_req_param {
  size_t size;
  uint64_t service_id;
  struct ibcm_address dest;  ///< the peer's CM
  struct ibcm_path primary_path;
  uint32_t qp_num;        ///< our QP (24 bits); the consumer owns QPs
  uint32_t starting_psn;  ///< the PSN our receive queue expects first
  uint32_t qkey;
  uint8_t qp_type;  ///< 0 RC, 1 UC
  uint8_t responder_resources;
  uint8_t initiator_depth;
  uint8_t retry_count;
  uint8_t rnr_retry_count;
  uint8_t mtu;  ///< IB encoding: 1 256, 2 512, 3 1024, 4 2048, 5 4096
  uint16_t pkey;
  uint8_t srq;
  uint8_t flow_control;
  uint8_t packet_life_time;
  uint8_t remote_cm_response_timeout;
  uint8_t max_cm_retries;
  uint8_t peer_to_peer;
  const uint8_t* private_data;
  uint8_t private_data_len;  ///< at most 92
};
void ibcm_cm_req_param_init(struct ibcm_cm_req_param* param);
/// Sends REQ; *cm_id names the new connection.
int ibcm_send_cm_req(struct ibcm_cm* cm, uint64_t now_ns, const struct ibcm_cm_req_param* param,
                     ibcm_cm_id* cm_id);

/// ibcm_send_cm_rep's parameters (ib_cm_rep_param); ibcm_cm_rep_param_init() sets the defaults.
struct ibcm_cm_rep_param {
  size_t size;
  uint32_t qp_num;
  uint32_t starting_psn;
  uint32_t qkey;
  uint8_t responder_resources;
  uint8_t initiator_depth;
  uint8_t target_ack_delay;
  uint8_t failover_accepted;
  uint8_t rnr_retry_count;
  uint8_t srq;
  uint8_t flow_control;
  const uint8_t* private_data;
  uint8_t private_data_len;  ///< at most 196
};
void ibcm_cm_rep_param_init(struct ibcm_cm_rep_param* param);
int ibcm_send_cm_rep(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id,
                     const struct ibcm_cm_rep_param* param);
int ibcm_send_cm_rtu(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id,
                     const uint8_t* private_data, uint8_t private_data_len);
/// reason: the spec's REJ reason (28: consumer defined, ...); ari: additional rejection info.
int ibcm_send_cm_rej(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, uint16_t reason,
                     const uint8_t* ari, uint8_t ari_length, const uint8_t* private_data,
                     uint8_t private_data_len);
int ibcm_send_cm_mra(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, uint8_t service_timeout,
                     const uint8_t* private_data, uint8_t private_data_len);
int ibcm_send_cm_dreq(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id,
                      const uint8_t* private_data, uint8_t private_data_len);
int ibcm_send_cm_drep(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id,
                      const uint8_t* private_data, uint8_t private_data_len);
/// Loads an alternate path (ours as local) on an ESTABLISHED connection.
int ibcm_send_cm_lap(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id,
                     const struct ibcm_path* alternate_path, const uint8_t* private_data,
                     uint8_t private_data_len);
int ibcm_send_cm_apr(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id, uint8_t status,
                     const uint8_t* info, uint8_t info_length, const uint8_t* private_data,
                     uint8_t private_data_len);
/// Communication established: data arrived before the RTU (ib_cm_notify IB_EVENT_COMM_EST).
int ibcm_cm_establish(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id);
/// Ends a connection in any state the way the spec asks (ib_destroy_cm_id); no event follows.
void ibcm_destroy_cm_id(struct ibcm_cm* cm, uint64_t now_ns, ibcm_cm_id cm_id);

/// SIDR: resolve service_id at dest to a UD QP. *sidr_id names it in the SIDR_REP event.
int ibcm_send_cm_sidr_req(struct ibcm_cm* cm, uint64_t now_ns, uint64_t service_id,
                          const struct ibcm_address* dest, const uint8_t* private_data,
                          uint8_t private_data_len, uint32_t* sidr_id);
/// status 0: the service is at qp_num / qkey.
int ibcm_send_cm_sidr_rep(struct ibcm_cm* cm, uint64_t now_ns, uint32_t sidr_id, uint8_t status,
                          uint32_t qp_num, uint32_t qkey, const uint8_t* private_data,
                          uint8_t private_data_len);

/// QP states for ibcm_cm_init_qp_attr.
enum ibcm_qp_state { IBCM_QPS_INIT, IBCM_QPS_RTR, IBCM_QPS_RTS };

/// What a verbs user applies to its QP for one transition (ib_cm_init_qp_attr).
struct ibcm_qp_attr {
  size_t size;
  enum ibcm_qp_state qp_state;
  uint16_t pkey;
  uint32_t qkey;
  uint32_t dest_qp_num;           ///< RTR
  uint32_t rq_psn;                ///< RTR
  uint8_t path_mtu;               ///< RTR, IB encoding
  uint8_t max_dest_rd_atomic;     ///< RTR
  uint8_t min_rnr_timer;          ///< RTR
  struct ibcm_path primary_path;  ///< RTR
  uint32_t sq_psn;                ///< RTS
  uint8_t timeout;                ///< RTS: local ACK timeout exponent
  uint8_t retry_cnt;              ///< RTS
  uint8_t rnr_retry;              ///< RTS
  uint8_t max_rd_atomic;          ///< RTS
};
int ibcm_cm_init_qp_attr(const struct ibcm_cm* cm, ibcm_cm_id cm_id, enum ibcm_qp_state state,
                         struct ibcm_qp_attr* attr);

#ifdef __cplusplus
}
#endif

IBCM_API_END
