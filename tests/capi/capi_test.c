/* The C API (ibcm/ib_cm.h) from C: two CMs back to back, driven the way a stack that owns its
 * MAD I/O drives them. Each check prints what failed and the program exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ibcm/ib_cm.h"

static int failures;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

struct side {
  struct ibcm_cm* cm;
  struct ibcm_address address;
  struct ibcm_cm_event events[32];
  int count;
};

static void open_side(struct side* s, uint8_t n) {
  struct ibcm_cm_config config;
  ibcm_cm_config_init(&config);
  config.ca_guid = 0x0002c90300000000ull | n;
  config.seed = n;
  config.local.gid[10] = config.local.gid[11] = 0xff;
  config.local.gid[15] = n;
  memset(s, 0, sizeof *s);
  s->cm = ibcm_cm_create(&config);
  s->address = config.local;
}

/* Moves every MAD each side has to send to the other, until neither has any; events are logged.
 */
static void exchange(struct side* a, struct side* b, uint64_t now) {
  int moved = 1;
  while (moved) {
    moved = 0;
    struct side* from[2] = {a, b};
    for (int i = 0; i < 2; ++i) {
      struct side* s = from[i];
      struct side* peer = from[1 - i];
      struct ibcm_transmit t;
      t.size = sizeof t;
      while (ibcm_cm_poll_transmit(s->cm, &t) == 1) {
        ibcm_cm_handle_mad(peer->cm, now, &s->address, t.mad, sizeof t.mad);
        moved = 1;
      }
    }
    for (int i = 0; i < 2; ++i) {
      struct side* s = from[i];
      struct ibcm_cm_event e;
      e.size = sizeof e;
      while (s->count < 32 && ibcm_cm_poll_event(s->cm, &e) == 1) s->events[s->count++] = e;
    }
  }
}

/* A REQ's parameters: to b's CM, for service, from our QP qpn. */
static struct ibcm_cm_req_param req_to(const struct side* b, uint64_t service, uint32_t qpn) {
  struct ibcm_cm_req_param req;
  ibcm_cm_req_param_init(&req);
  req.service_id = service;
  req.dest = b->address;
  req.qp_num = qpn;
  return req;
}

static const struct ibcm_cm_event* find(const struct side* s, enum ibcm_cm_event_type type) {
  for (int i = 0; i < s->count; ++i)
    if (s->events[i].event == type) return &s->events[i];
  return NULL;
}

static void handshake_and_disconnect(void) {
  struct side a, b;
  open_side(&a, 1);
  open_side(&b, 2);
  CHECK(a.cm && b.cm);
  uint32_t listen_id = 0;
  CHECK(ibcm_cm_listen(b.cm, 0x106, ~0ull, &listen_id) == IBCM_OK);
  CHECK(ibcm_cm_listen(b.cm, 0x106, ~0ull, NULL) == IBCM_ERR_SERVICE_IN_USE);

  struct ibcm_cm_req_param req = req_to(&b, 0x106, 0x11);
  req.starting_psn = 0x1234;
  const uint8_t hello[] = {'h', 'i'};
  req.private_data = hello;
  req.private_data_len = sizeof hello;
  ibcm_cm_id a_id = 0;
  CHECK(ibcm_send_cm_req(a.cm, 0, &req, &a_id) == IBCM_OK);
  CHECK(a_id != 0);
  exchange(&a, &b, 1000);

  const struct ibcm_cm_event* got = find(&b, IBCM_CM_REQ_RECEIVED);
  CHECK(got != NULL);
  if (!got) return;
  CHECK(got->listen_id == listen_id);
  CHECK(got->remote_comm_id == a_id);
  CHECK(got->remote_qpn == 0x11);
  CHECK(got->starting_psn == 0x1234);
  CHECK(got->service_id == 0x106);
  CHECK(got->remote_ca_guid == (0x0002c90300000000ull | 1));
  CHECK(memcmp(got->from.gid, a.address.gid, 16) == 0);
  CHECK(got->private_data_len == 92 && memcmp(got->private_data, hello, sizeof hello) == 0);
  ibcm_cm_id b_id = got->cm_id;

  struct ibcm_cm_rep_param rep;
  ibcm_cm_rep_param_init(&rep);
  rep.qp_num = 0x22;
  rep.starting_psn = 0x5678;
  CHECK(ibcm_send_cm_rep(b.cm, 2000, b_id, &rep) == IBCM_OK);
  exchange(&a, &b, 3000);
  got = find(&a, IBCM_CM_REP_RECEIVED);
  CHECK(got && got->cm_id == a_id && got->remote_qpn == 0x22 && got->remote_comm_id == b_id);
  CHECK(ibcm_send_cm_rtu(a.cm, 4000, a_id, NULL, 0) == IBCM_OK);
  CHECK(ibcm_send_cm_rtu(a.cm, 4000, a_id, NULL, 0) == IBCM_ERR_INVALID_STATE);
  CHECK(ibcm_send_cm_rtu(a.cm, 4000, 0x7777, NULL, 0) == IBCM_ERR_UNKNOWN_CONNECTION);
  exchange(&a, &b, 5000);
  CHECK(find(&a, IBCM_CM_USER_ESTABLISHED) != NULL);
  CHECK(find(&b, IBCM_CM_RTU_RECEIVED) != NULL);
  CHECK(find(&b, IBCM_CM_USER_ESTABLISHED) != NULL);

  /* What the active side's QP needs for RTR: the peer's QPN and starting PSN. */
  struct ibcm_qp_attr attr;
  attr.size = sizeof attr;
  CHECK(ibcm_cm_init_qp_attr(a.cm, a_id, IBCM_QPS_RTR, &attr) == IBCM_OK);
  CHECK(attr.qp_state == IBCM_QPS_RTR && attr.dest_qp_num == 0x22 && attr.rq_psn == 0x1234);
  CHECK(ibcm_cm_init_qp_attr(a.cm, a_id, IBCM_QPS_RTS, &attr) == IBCM_OK);
  CHECK(attr.sq_psn == 0x5678);

  CHECK(ibcm_send_cm_dreq(a.cm, 6000, a_id, NULL, 0) == IBCM_OK);
  exchange(&a, &b, 7000);
  got = find(&b, IBCM_CM_DREQ_RECEIVED);
  CHECK(got && got->cm_id == b_id && got->remote_qpn == 0x22);
  CHECK(ibcm_send_cm_drep(b.cm, 8000, b_id, NULL, 0) == IBCM_OK);
  exchange(&a, &b, 9000);
  CHECK(find(&a, IBCM_CM_DREP_RECEIVED) != NULL);

  /* TIMEWAIT ends on the caller's clock: run it to the next timeout. */
  uint64_t when = 0;
  CHECK(ibcm_cm_next_timeout(a.cm, &when) == 1);
  ibcm_cm_handle_timeout(a.cm, when);
  exchange(&a, &b, when);
  got = find(&a, IBCM_CM_TIMEWAIT_EXIT);
  CHECK(got && got->cm_id == a_id);
  ibcm_cm_destroy(a.cm);
  ibcm_cm_destroy(b.cm);
}

static void reject_and_sidr(void) {
  struct side a, b;
  open_side(&a, 3);
  open_side(&b, 4);
  struct ibcm_cm_req_param req = req_to(&b, 0x999, 0x33);
  ibcm_cm_id id = 0;
  req.mtu = 0; /* reserved (1..5 are 256..4096): a REQ the peer would answer with REJ 26 */
  CHECK(ibcm_send_cm_req(a.cm, 0, &req, &id) == IBCM_ERR_INVALID_ARGUMENT);
  req.mtu = 3;
  CHECK(ibcm_send_cm_req(a.cm, 0, &req, &id) == IBCM_OK);
  exchange(&a, &b, 10);
  const struct ibcm_cm_event* rej = find(&a, IBCM_CM_REJ_RECEIVED);
  CHECK(rej && rej->cm_id == id && rej->reason == 8); /* no listener: InvalidServiceID */

  uint32_t listen_id = 0, sidr_id = 0;
  CHECK(ibcm_cm_listen(b.cm, 0x4242, ~0ull, &listen_id) == IBCM_OK);
  CHECK(ibcm_send_cm_sidr_req(a.cm, 20, 0x4242, &b.address, NULL, 0, &sidr_id) == IBCM_OK);
  exchange(&a, &b, 30);
  const struct ibcm_cm_event* sreq = find(&b, IBCM_CM_SIDR_REQ_RECEIVED);
  CHECK(sreq && sreq->service_id == 0x4242 && sreq->listen_id == listen_id);
  if (sreq)
    CHECK(ibcm_send_cm_sidr_rep(b.cm, 40, sreq->sidr_id, 0, 0x44, 0x11111111, NULL, 0) == IBCM_OK);
  exchange(&a, &b, 50);
  const struct ibcm_cm_event* srep = find(&a, IBCM_CM_SIDR_REP_RECEIVED);
  CHECK(srep && srep->sidr_id == sidr_id && srep->status == 0 && srep->remote_qpn == 0x44 &&
        srep->qkey == 0x11111111);
  ibcm_cm_destroy(a.cm);
  ibcm_cm_destroy(b.cm);
}

/* A caller built against an older, smaller struct: the library writes only what its size covers.
 */
static void smaller_structs_are_respected(void) {
  struct side a, b;
  open_side(&a, 5);
  open_side(&b, 6);
  CHECK(ibcm_cm_listen(b.cm, 0x106, ~0ull, NULL) == IBCM_OK);
  struct ibcm_cm_req_param req = req_to(&b, 0x106, 0x55);
  CHECK(ibcm_send_cm_req(a.cm, 0, &req, NULL) == IBCM_OK);
  struct ibcm_transmit t;
  t.size = sizeof t;
  CHECK(ibcm_cm_poll_transmit(a.cm, &t) == 1);
  ibcm_cm_handle_mad(b.cm, 1, &a.address, t.mad, sizeof t.mad);

  struct ibcm_cm_event e;
  memset(&e, 0xab, sizeof e);
  e.size = offsetof(struct ibcm_cm_event, private_data_len);
  CHECK(ibcm_cm_poll_event(b.cm, &e) == 1);
  CHECK(e.event == IBCM_CM_REQ_RECEIVED && e.remote_qpn == 0x55);
  CHECK(e.size == offsetof(struct ibcm_cm_event, private_data_len));
  CHECK(e.private_data_len == 0xab && e.private_data[0] == 0xab);
  e.size = 4; /* too small to hold even its size */
  CHECK(ibcm_cm_poll_event(b.cm, &e) == IBCM_ERR_INVALID_ARGUMENT);
  ibcm_cm_destroy(a.cm);
  ibcm_cm_destroy(b.cm);
}

static void names(void) {
  CHECK(strcmp(ibcm_cm_event_str(IBCM_CM_REQ_RECEIVED), "REQ_RECEIVED") == 0);
  CHECK(strcmp(ibcm_cm_event_str(IBCM_CM_ABORTED), "ABORTED") == 0);
  CHECK(strcmp(ibcm_status_str(IBCM_ERR_UNKNOWN_CONNECTION), "unknown connection") == 0);
  CHECK(strcmp(ibcm_status_str(IBCM_OK), "success") == 0);
  CHECK(strcmp(ibcm_status_str(-99), "unknown status") == 0);
}

int main(void) {
  handshake_and_disconnect();
  reject_and_sidr();
  smaller_structs_are_respected();
  names();
  if (failures) fprintf(stderr, "capi_test: %d checks failed\n", failures);
  return failures ? 1 : 0;
}
