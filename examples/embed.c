/* The engine from C (ibcm/ib_cm.h), in a loop of one's own: two CMs in one process, each MAD
 * carried to the other side; a real program hands them to its MAD I/O instead. */
#include <stdio.h>

#include "ibcm/ib_cm.h"

int main(void) {
  struct ibcm_cm_config ca, cb;
  ibcm_cm_config_init(&ca), ibcm_cm_config_init(&cb);
  ca.ca_guid = ca.seed = ca.local.gid[15] = 1;
  cb.ca_guid = cb.seed = cb.local.gid[15] = 2;
  struct ibcm_cm* cm[2] = {ibcm_cm_create(&ca), ibcm_cm_create(&cb)};
  ibcm_cm_listen(cm[1], 0x106, ~0ull, NULL);
  struct ibcm_cm_req_param req;
  ibcm_cm_req_param_init(&req);
  req.qp_num = 0x11, req.dest = cb.local, req.service_id = 0x106;
  struct ibcm_cm_rep_param rep;
  ibcm_cm_rep_param_init(&rep);
  rep.qp_num = 0x22;
  ibcm_cm_id conn = 0;
  ibcm_send_cm_req(cm[0], 0, &req, &conn);
  int established = 0;
  for (uint64_t now = 0; now < 40000; now += 10000) {
    for (int i = 0; i < 2; ++i) {
      struct ibcm_transmit t = {.size = sizeof t};
      struct ibcm_cm_event e = {.size = sizeof e};
      ibcm_cm_handle_timeout(cm[i], now); /* retries and TIMEWAIT run on your clock */
      while (ibcm_cm_poll_transmit(cm[i], &t) == 1)
        ibcm_cm_handle_mad(cm[1 - i], now, i ? &cb.local : &ca.local, t.mad, sizeof t.mad);
      while (ibcm_cm_poll_event(cm[i], &e) == 1) {
        printf("%c %s\n", "AB"[i], ibcm_cm_event_str(e.event));
        if (e.event == IBCM_CM_REQ_RECEIVED) ibcm_send_cm_rep(cm[i], now, e.cm_id, &rep);
        if (e.event == IBCM_CM_REP_RECEIVED) ibcm_send_cm_rtu(cm[i], now, e.cm_id, NULL, 0);
        if (e.event == IBCM_CM_USER_ESTABLISHED && i == 0) established = e.cm_id == conn;
      }
    }
  }
  ibcm_cm_destroy(cm[0]), ibcm_cm_destroy(cm[1]);
  return established ? 0 : 1;
}
