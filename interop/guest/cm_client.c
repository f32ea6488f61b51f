/*
 * cm_client: drives the Linux kernel CM through librdmacm for interop scenarios, where rping and
 * friends cannot (hold a connection, leave without disconnecting, reject, withhold the DREP, ...).
 * Built on the host by interop/vm/build-image (cc ... -lrdmacm -libverbs) and put in the guest's
 * /usr/bin.
 *
 *   cm_client connect ADDR PORT [options]     active side: REQ (or SIDR REQ with --ps udp)
 *   cm_client listen PORT [options]           passive side
 *
 * Options:
 *   --ps tcp|udp|ib       rdma_cm port space (default tcp; udp makes rdma_cm use SIDR and a UD QP)
 *   --bind ADDR           local address to bind to (connect; default: chosen by routing)
 *   --hold SECONDS        once ESTABLISHED, keep the connection this long (default 0; fractions ok)
 *   --end MODE            how to end a connection after --hold:
 *                           disconnect  rdma_disconnect (DREQ), wait for DISCONNECTED (default)
 *                           exit        exit the process at once without rdma_disconnect (the
 *                                       kernel then tears the ids down itself)
 *                           hang        stop handling events; sit until --timeout, then exit 0
 *                           wait        do nothing; wait for the peer's DREQ (DISCONNECTED)
 *   --no-drep             on DISCONNECTED caused by the peer's DREQ, do not call rdma_disconnect
 *                         (so the DREP is left to the kernel's own timeout handling)
 *   --reject              listen: reject every connect request (rdma_reject)
 *   --accept-delay MS     listen: wait this long before rdma_accept / rdma_reject (events keep
 *                         being handled meanwhile)
 *   --count N             listen: connect requests to handle before exiting (default 1)
 *   --backlog N           listen: rdma_listen's backlog (default 8): connect requests the kernel
 *                         holds for us before we take them; beyond it rdma_cm drops a REQ without
 *                         an answer (ucma: -ENOMEM, and ib_cm does not reject, for the retry)
 *   --connections N       connect: N connections at once, each its own rdma_cm_id and QP (default
 *                         1, at most 512); the run ends when every one has ended
 *   --private-data HEX    private data for rdma_connect / rdma_accept / rdma_reject
 *   --retry N             retry_count in the connection parameters (default 7)
 *   --rnr-retry N         rnr_retry_count (default 7)
 *   --resolve-ms MS       rdma_resolve_addr / rdma_resolve_route timeout (default 2000)
 *   --timeout SECONDS     overall limit (default 120); reaching it exits 3 (0 in --end hang)
 *   --messages N          exchange data as rdma-core's ucmatose does: N receives posted before
 *                         rdma_connect / rdma_accept, N sends of --size bytes once ESTABLISHED
 *                         (signalled, RC SEND), then wait for every completion both ways; one
 *                         DATA line per connection; --hold and --end start after the data.
 *                         A completion error, or a connection that ends before its data is
 *                         complete, makes the exit status 1
 *   --size S              bytes per message (default 100)
 *   --reconnect N         connect: after REJECTED, destroy the QP and the rdma_cm_id and connect
 *                         again with a new id (and QP), up to N times (default 0); each attempt
 *                         prints its own ACT/EV lines. A REJECTED that is followed by another
 *                         attempt does not fail the run; the last attempt's outcome counts
 *
 * Output, one line per rdma_cm event and per action, on stdout (line-buffered):
 *   T=<seconds since start> EV=<event name> status=<n> conn=<k> peer=ADDR:PORT [qpn=0x..]
 *       pdata_len=<n> pdata=<hex, trailing zero bytes left out>
 *   T=<seconds> ACT=<what it does> conn=<k> ...
 *   T=<seconds> DATA conn=<k> sent=<n> received=<n> bytes=<bytes received> first_completion=<T of
 *       the connection's first completion, send or receive; "none"> errors=<completion errors>
 *       [first_error=<ibv_wc_status_str of the first, spaces as _>]
 *   T=<seconds> RESULT=<ok|failed:<event name>|timeout> rc=<exit code>
 * Exit: 0 ok, 1 the connection failed (rejected, unreachable, error events), 2 usage or setup
 * error, 3 overall timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <infiniband/verbs.h>
#include <netdb.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum end_mode { END_DISCONNECT, END_EXIT, END_HANG, END_WAIT };

struct options {
  int listen;
  const char* addr;
  const char* port;
  const char* bind_addr;
  enum rdma_port_space ps;
  double hold;
  enum end_mode end;
  int no_drep;
  int reject;
  int accept_delay_ms;
  int count;
  uint8_t pdata[256];
  int pdata_len;
  int retry;
  int rnr_retry;
  int resolve_ms;
  double timeout;
  int messages;
  int size;
  int reconnect;
  int connections;
  int backlog;
};

enum conn_state {
  C_FREE,
  C_RESOLVING,
  C_CONNECTING,
  C_PENDING_ACCEPT,
  C_ESTABLISHED,
  C_DISCONNECTING,
  C_DONE
};

struct conn {
  enum conn_state state;
  struct rdma_cm_id* id;
  struct ibv_pd* pd;
  struct ibv_cq* cq;
  int has_qp;
  double deadline; /* when the pending action (accept, end of hold) is due; 0 = none */
  /* --messages: the exchange */
  struct ibv_comp_channel* comp;
  struct ibv_mr* mr;
  uint8_t* buf; /* messages receive slots of size bytes, then one send buffer */
  int sends_posted, sends_done, recvs_done; /* completions, successful or not */
  int sends_ok, recvs_ok, errors;
  unsigned long long bytes_received;
  double first_completion; /* seconds since start; < 0: none yet */
  enum ibv_wc_status first_error;
  int data_reported;
  int established; /* reached ESTABLISHED: its data is expected */
};

#define MAX_CONNS 512
static struct conn conns[MAX_CONNS];
static struct options opt;
static double t0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void out(const char* fmt, ...) {
  va_list ap;
  printf("T=%.6f ", now() - t0);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void finish(const char* result, int rc) {
  out("RESULT=%s rc=%d", result, rc);
  exit(rc);
}

static void usage(void) {
  fprintf(stderr,
          "usage: cm_client connect ADDR PORT [options] | cm_client listen PORT [options]\n"
          "  (see the comment at the top of interop/guest/cm_client.c)\n");
  exit(2);
}

static int conn_index(struct rdma_cm_id* id) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].state != C_FREE && conns[i].id == id) return i;
  return -1;
}

static int conn_new(struct rdma_cm_id* id) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].state == C_FREE) {
      memset(&conns[i], 0, sizeof conns[i]);
      conns[i].id = id;
      conns[i].state = C_RESOLVING;
      return i;
    }
  return -1;
}

static const char* peer_str(struct rdma_cm_id* id, char* buf, size_t len) {
  struct sockaddr* sa = rdma_get_peer_addr(id);
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa && sa->sa_family == AF_INET) {
    struct sockaddr_in* in = (struct sockaddr_in*)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (sa && sa->sa_family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  snprintf(buf, len, "%s:%d", host, port);
  return buf;
}

static void hex(const void* p, int n, char* buf, size_t len) {
  const uint8_t* b = p;
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < n && o + 3 < len; i++) o += (size_t)snprintf(buf + o, len - o, "%02x", b[i]);
}

static int parse_hex(const char* s, uint8_t* dst, int max) {
  int n = 0;
  size_t l = strlen(s);
  if (l % 2) return -1;
  for (size_t i = 0; i < l; i += 2) {
    unsigned v;
    if (n >= max || sscanf(s + i, "%2x", &v) != 1) return -1;
    dst[n++] = (uint8_t)v;
  }
  return n;
}

/* --messages: the receive buffers registered, all N receives posted (before connect / accept) */
static int post_receives(int k) {
  struct conn* c = &conns[k];
  size_t len = (size_t)opt.size * ((size_t)opt.messages + 1);
  c->buf = calloc(1, len);
  if (!c->buf) {
    out("ACT=error what=calloc conn=%d", k);
    return -1;
  }
  c->mr = ibv_reg_mr(c->pd, c->buf, len, IBV_ACCESS_LOCAL_WRITE);
  if (!c->mr) {
    out("ACT=error what=ibv_reg_mr conn=%d errno=%d", k, errno);
    return -1;
  }
  for (int i = 0; i < opt.messages; i++) {
    struct ibv_sge sge = {(uintptr_t)(c->buf + (size_t)i * (size_t)opt.size), (uint32_t)opt.size,
                          c->mr->lkey};
    struct ibv_recv_wr wr, *bad;
    memset(&wr, 0, sizeof wr);
    wr.wr_id = (uint64_t)i;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    if (ibv_post_recv(c->id->qp, &wr, &bad)) {
      out("ACT=error what=ibv_post_recv conn=%d errno=%d", k, errno);
      return -1;
    }
  }
  return 0;
}

/* --messages: N sends once ESTABLISHED, each signalled (sq_sig_all) */
static int post_sends(int k) {
  struct conn* c = &conns[k];
  uint8_t* sbuf = c->buf + (size_t)opt.messages * (size_t)opt.size;
  memset(sbuf, 0x5a, (size_t)opt.size);
  for (int i = 0; i < opt.messages; i++) {
    struct ibv_sge sge = {(uintptr_t)sbuf, (uint32_t)opt.size, c->mr->lkey};
    struct ibv_send_wr wr, *bad;
    memset(&wr, 0, sizeof wr);
    wr.wr_id = (uint64_t)(opt.messages + i);
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = IBV_WR_SEND;
    if (ibv_post_send(c->id->qp, &wr, &bad)) {
      out("ACT=error what=ibv_post_send conn=%d errno=%d", k, errno);
      return -1;
    }
    c->sends_posted++;
  }
  return 0;
}

static int data_complete(const struct conn* c) {
  return c->sends_posted == opt.messages && c->sends_done == opt.messages &&
         c->recvs_done == opt.messages;
}

/* Takes every completion the CQ holds. A completion error puts the QP in ERR: what is still
 * outstanding flushes (counted as errors too), so the exchange still reaches its end. */
static void poll_completions(int k) {
  struct conn* c = &conns[k];
  struct ibv_wc wc[16];
  int n;
  while ((n = ibv_poll_cq(c->cq, 16, wc)) > 0) {
    for (int i = 0; i < n; i++) {
      if (c->first_completion < 0) c->first_completion = now() - t0;
      if (wc[i].status != IBV_WC_SUCCESS && c->errors++ == 0) c->first_error = wc[i].status;
      int ok = wc[i].status == IBV_WC_SUCCESS;
      if (wc[i].wr_id < (uint64_t)opt.messages) {
        c->recvs_done++;
        c->recvs_ok += ok;
        if (ok) c->bytes_received += wc[i].byte_len;
      } else {
        c->sends_done++;
        c->sends_ok += ok;
      }
    }
  }
}

static int failures;
static const char* fail_what = "";

/* The DATA line, once per connection that reached ESTABLISHED: when the exchange is complete, or
 * when the connection ends before that (then it failed). */
static void report_data(int k) {
  struct conn* c = &conns[k];
  char first[32] = "none", err[96] = "";
  if (c->data_reported || opt.messages <= 0 || !c->established) return;
  c->data_reported = 1;
  if (c->first_completion >= 0) snprintf(first, sizeof first, "%.6f", c->first_completion);
  if (c->errors) {
    snprintf(err, sizeof err, " first_error=%s", ibv_wc_status_str(c->first_error));
    for (char* p = err + 1; *p; p++)
      if (*p == ' ') *p = '_';
  }
  out("DATA conn=%d sent=%d received=%d bytes=%llu first_completion=%s errors=%d%s", k, c->sends_ok,
      c->recvs_ok, c->bytes_received, first, c->errors, err);
  if (!data_complete(c) || c->errors) {
    failures++;
    fail_what = "data";
  }
}

static int make_qp(int k) {
  struct conn* c = &conns[k];
  struct ibv_qp_init_attr a;
  if (c->has_qp) return 0;
  int data = opt.messages > 0;
  c->first_completion = -1;
  c->pd = ibv_alloc_pd(c->id->verbs);
  if (!c->pd) {
    out("ACT=error what=ibv_alloc_pd conn=%d errno=%d", k, errno);
    return -1;
  }
  if (data) {
    c->comp = ibv_create_comp_channel(c->id->verbs);
    if (!c->comp) {
      out("ACT=error what=ibv_create_comp_channel conn=%d errno=%d", k, errno);
      return -1;
    }
  }
  c->cq = ibv_create_cq(c->id->verbs, data ? 2 * opt.messages + 2 : 16, NULL, c->comp, 0);
  if (!c->cq) {
    out("ACT=error what=ibv_create_cq conn=%d errno=%d", k, errno);
    return -1;
  }
  if (data && ibv_req_notify_cq(c->cq, 0)) {
    out("ACT=error what=ibv_req_notify_cq conn=%d errno=%d", k, errno);
    return -1;
  }
  memset(&a, 0, sizeof a);
  a.send_cq = c->cq;
  a.recv_cq = c->cq;
  a.qp_type = opt.ps == RDMA_PS_UDP ? IBV_QPT_UD : IBV_QPT_RC;
  a.cap.max_send_wr = data ? (uint32_t)opt.messages : 4;
  a.cap.max_recv_wr = data ? (uint32_t)opt.messages : 4;
  a.cap.max_send_sge = 1;
  a.cap.max_recv_sge = 1;
  a.sq_sig_all = 1;
  if (rdma_create_qp(c->id, c->pd, &a)) {
    out("ACT=error what=rdma_create_qp conn=%d errno=%d", k, errno);
    return -1;
  }
  c->has_qp = 1;
  return data ? post_receives(k) : 0;
}

static void conn_release(int k) {
  struct conn* c = &conns[k];
  if (c->has_qp && c->cq && opt.messages > 0) {
    poll_completions(k); /* what came before the CM event that ends it */
    report_data(k);
  }
  if (c->has_qp) rdma_destroy_qp(c->id);
  if (c->mr) ibv_dereg_mr(c->mr);
  free(c->buf);
  if (c->cq) ibv_destroy_cq(c->cq);
  if (c->comp) ibv_destroy_comp_channel(c->comp);
  if (c->pd) ibv_dealloc_pd(c->pd);
  rdma_destroy_id(c->id);
  out("ACT=destroyed conn=%d", k);
  c->state = C_FREE;
}

static struct rdma_conn_param conn_param(void) {
  struct rdma_conn_param p;
  memset(&p, 0, sizeof p);
  p.responder_resources = 1;
  p.initiator_depth = 1;
  p.retry_count = (uint8_t)opt.retry;
  p.rnr_retry_count = (uint8_t)opt.rnr_retry;
  if (opt.pdata_len) {
    p.private_data = opt.pdata;
    p.private_data_len = (uint8_t)opt.pdata_len;
  }
  return p;
}

static void do_accept_or_reject(int k) {
  struct conn* c = &conns[k];
  c->deadline = 0;
  if (opt.reject) {
    out("ACT=reject conn=%d pdata_len=%d", k, opt.pdata_len);
    if (rdma_reject(c->id, opt.pdata_len ? opt.pdata : NULL, (uint8_t)opt.pdata_len))
      out("ACT=error what=rdma_reject conn=%d errno=%d", k, errno);
    conn_release(k);
    return;
  }
  if (make_qp(k)) {
    rdma_reject(c->id, NULL, 0);
    conn_release(k);
    return;
  }
  struct rdma_conn_param p = conn_param();
  out("ACT=accept conn=%d qpn=0x%x", k, c->id->qp->qp_num);
  if (rdma_accept(c->id, &p)) {
    out("ACT=error what=rdma_accept conn=%d errno=%d", k, errno);
    conn_release(k);
    return;
  }
  c->state = C_CONNECTING;
}

static void start_end(int k) {
  struct conn* c = &conns[k];
  c->deadline = 0;
  switch (opt.end) {
    case END_DISCONNECT:
      out("ACT=disconnect conn=%d", k);
      if (rdma_disconnect(c->id)) out("ACT=error what=rdma_disconnect conn=%d errno=%d", k, errno);
      c->state = C_DISCONNECTING;
      break;
    case END_EXIT:
      out("ACT=exit-without-disconnect conn=%d", k);
      finish("ok", 0);
      break;
    case END_HANG: {
      out("ACT=hang conn=%d", k);
      double left = opt.timeout - (now() - t0);
      if (left > 0) {
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        while (nanosleep(&ts, &ts) && errno == EINTR)
          ;
      }
      finish("ok", 0);
      break;
    }
    case END_WAIT:
      out("ACT=wait-for-peer conn=%d", k);
      break;
  }
}

static struct rdma_event_channel* ch;
static struct addrinfo *dst_ai, *src_ai; /* connect: the peer, and --bind */

static const char* ps_name(void) {
  return opt.ps == RDMA_PS_UDP ? "udp" : opt.ps == RDMA_PS_IB ? "ib" : "tcp";
}

/* connect: a new rdma_cm_id (a new connection slot) resolving the peer's address; 0 if started */
static int start_connect(void) {
  struct rdma_cm_id* id;
  if (rdma_create_id(ch, &id, NULL, opt.ps)) {
    out("ACT=error what=rdma_create_id errno=%d", errno);
    return -1;
  }
  int k = conn_new(id);
  out("ACT=resolve addr=%s port=%s ps=%s", opt.addr, opt.port, ps_name());
  if (rdma_resolve_addr(id, src_ai ? src_ai->ai_addr : NULL, dst_ai->ai_addr, opt.resolve_ms)) {
    out("ACT=error what=rdma_resolve_addr errno=%d", errno);
    conn_release(k);
    return -1;
  }
  return 0;
}

static int handled;    /* listen: connect requests seen */
static int reconnects; /* connect: attempts made again after REJECTED */

/* --messages: after completions were taken; once the exchange is complete, the DATA line, then
 * the hold and the end as without data */
static void data_progress(int k) {
  struct conn* c = &conns[k];
  if (c->data_reported || c->state != C_ESTABLISHED || !data_complete(c)) return;
  report_data(k);
  c->deadline = now() + opt.hold;
  if (opt.hold <= 0) start_end(k);
}

/* --messages: the completion channel of connection k is readable */
static void data_event(int k) {
  struct conn* c = &conns[k];
  struct ibv_cq* cq;
  void* ctx;
  if (ibv_get_cq_event(c->comp, &cq, &ctx)) return;
  ibv_ack_cq_events(cq, 1);
  if (ibv_req_notify_cq(cq, 0)) out("ACT=error what=ibv_req_notify_cq conn=%d errno=%d", k, errno);
  poll_completions(k);
  data_progress(k);
}

static int all_done(void) {
  if (opt.listen && handled < opt.count) return 0;
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].state != C_FREE) return 0;
  return 1;
}

static void handle(struct rdma_cm_event* ev) {
  char pbuf[96], hbuf[600] = "";
  struct rdma_cm_id* id = ev->id;
  int k = conn_index(id);
  const void* pd = NULL;
  int pdl = 0, qpn = -1;
  if (opt.ps == RDMA_PS_UDP) {
    pd = ev->param.ud.private_data;
    pdl = ev->param.ud.private_data_len;
    qpn = (int)ev->param.ud.qp_num;
  } else {
    pd = ev->param.conn.private_data;
    pdl = ev->param.conn.private_data_len;
    qpn = (int)ev->param.conn.qp_num;
  }
  if (pd && pdl) {
    /* rdma_cm hands over the whole private data field: print it without trailing zeros */
    int n = pdl;
    while (n > 0 && ((const uint8_t*)pd)[n - 1] == 0) n--;
    hex(pd, n, hbuf, sizeof hbuf);
  }

  if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
    k = conn_new(id);
    handled++;
    out("EV=%s status=%d conn=%d peer=%s qpn=0x%x pdata_len=%d pdata=%s", rdma_event_str(ev->event),
        ev->status, k, peer_str(id, pbuf, sizeof pbuf), qpn, pdl, hbuf);
    if (k < 0) {
      rdma_reject(id, NULL, 0);
      rdma_ack_cm_event(ev);
      rdma_destroy_id(id);
      return;
    }
    conns[k].state = C_PENDING_ACCEPT;
    rdma_ack_cm_event(ev);
    if (opt.accept_delay_ms > 0)
      conns[k].deadline = now() + opt.accept_delay_ms / 1000.0;
    else
      do_accept_or_reject(k);
    return;
  }

  out("EV=%s status=%d conn=%d peer=%s pdata_len=%d pdata=%s", rdma_event_str(ev->event),
      ev->status, k, peer_str(id, pbuf, sizeof pbuf), pdl, hbuf);
  if (ev->event == RDMA_CM_EVENT_REJECTED) out("ACT=note conn=%d reason=%d", k, ev->status);
  if (ev->event == RDMA_CM_EVENT_ESTABLISHED && opt.ps == RDMA_PS_UDP)
    out("ACT=note conn=%d remote_qpn=0x%x qkey=0x%x", k, ev->param.ud.qp_num, ev->param.ud.qkey);

  if (k < 0) { /* the listening id itself, or an unknown one */
    rdma_ack_cm_event(ev);
    return;
  }
  struct conn* c = &conns[k];
  switch (ev->event) {
    case RDMA_CM_EVENT_ADDR_RESOLVED:
      rdma_ack_cm_event(ev);
      if (rdma_resolve_route(id, opt.resolve_ms)) {
        out("ACT=error what=rdma_resolve_route errno=%d", errno);
        failures++;
        conn_release(k);
      }
      return;
    case RDMA_CM_EVENT_ROUTE_RESOLVED: {
      rdma_ack_cm_event(ev);
      if (make_qp(k)) {
        failures++;
        conn_release(k);
        return;
      }
      struct rdma_conn_param p = conn_param();
      out("ACT=connect conn=%d qpn=0x%x", k, id->qp->qp_num);
      if (rdma_connect(id, &p)) {
        out("ACT=error what=rdma_connect errno=%d", errno);
        failures++;
        conn_release(k);
        return;
      }
      c->state = C_CONNECTING;
      return;
    }
    case RDMA_CM_EVENT_ESTABLISHED:
      rdma_ack_cm_event(ev);
      c->state = C_ESTABLISHED;
      c->established = 1;
      if (opt.ps == RDMA_PS_UDP && !opt.listen) {
        /* SIDR: nothing to disconnect. */
        conn_release(k);
        return;
      }
      if (opt.messages > 0) { /* the hold starts once the data is done */
        if (post_sends(k)) {
          failures++;
          fail_what = "data";
          start_end(k);
        }
        return;
      }
      c->deadline = now() + opt.hold;
      if (opt.hold <= 0) start_end(k);
      return;
    case RDMA_CM_EVENT_DISCONNECTED:
      rdma_ack_cm_event(ev);
      if (c->state != C_DISCONNECTING) { /* the peer's DREQ */
        if (opt.no_drep) {
          out("ACT=withhold-drep conn=%d", k);
        } else {
          out("ACT=disconnect conn=%d (answer the peer's DREQ)", k);
          rdma_disconnect(id);
        }
      }
      conn_release(k);
      return;
    case RDMA_CM_EVENT_TIMEWAIT_EXIT:
      rdma_ack_cm_event(ev);
      return;
    case RDMA_CM_EVENT_REJECTED:
      if (!opt.listen && reconnects < opt.reconnect) {
        rdma_ack_cm_event(ev);
        conn_release(k);
        reconnects++;
        out("ACT=reconnect attempt=%d of=%d", reconnects + 1, opt.reconnect + 1);
        if (start_connect()) {
          failures++;
          fail_what = "reconnect";
        }
        return;
      }
      /* fall through */
    case RDMA_CM_EVENT_ADDR_ERROR:
    case RDMA_CM_EVENT_ROUTE_ERROR:
    case RDMA_CM_EVENT_CONNECT_ERROR:
    case RDMA_CM_EVENT_UNREACHABLE:
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
      fail_what = rdma_event_str(ev->event);
      rdma_ack_cm_event(ev);
      failures++;
      conn_release(k);
      return;
    default:
      rdma_ack_cm_event(ev);
      return;
  }
}

int main(int argc, char** argv) {
  static const struct option lo[] = {{"ps", required_argument, 0, 'p'},
                                     {"bind", required_argument, 0, 'b'},
                                     {"hold", required_argument, 0, 'H'},
                                     {"end", required_argument, 0, 'e'},
                                     {"no-drep", no_argument, 0, 'N'},
                                     {"reject", no_argument, 0, 'r'},
                                     {"accept-delay", required_argument, 0, 'a'},
                                     {"count", required_argument, 0, 'c'},
                                     {"private-data", required_argument, 0, 'd'},
                                     {"retry", required_argument, 0, 'R'},
                                     {"rnr-retry", required_argument, 0, 'n'},
                                     {"resolve-ms", required_argument, 0, 'm'},
                                     {"timeout", required_argument, 0, 't'},
                                     {"messages", required_argument, 0, 'M'},
                                     {"size", required_argument, 0, 'S'},
                                     {"reconnect", required_argument, 0, 'C'},
                                     {"connections", required_argument, 0, 'K'},
                                     {"backlog", required_argument, 0, 'B'},
                                     {"help", no_argument, 0, 'h'},
                                     {0, 0, 0, 0}};
  struct rdma_cm_id* listen_id = NULL;
  int o;

  setvbuf(stdout, NULL, _IOLBF, 0);
  t0 = now();
  opt.ps = RDMA_PS_TCP;
  opt.end = END_DISCONNECT;
  opt.count = 1;
  opt.retry = 7;
  opt.rnr_retry = 7;
  opt.resolve_ms = 2000;
  opt.timeout = 120;
  opt.size = 100;
  opt.connections = 1;
  opt.backlog = 8;

  if (argc < 2) usage();
  if (!strcmp(argv[1], "connect")) {
    if (argc < 4) usage();
    opt.addr = argv[2];
    opt.port = argv[3];
    optind = 4;
  } else if (!strcmp(argv[1], "listen")) {
    if (argc < 3) usage();
    opt.listen = 1;
    opt.port = argv[2];
    optind = 3;
  } else {
    usage();
  }
  while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (o) {
      case 'p':
        if (!strcmp(optarg, "tcp"))
          opt.ps = RDMA_PS_TCP;
        else if (!strcmp(optarg, "udp"))
          opt.ps = RDMA_PS_UDP;
        else if (!strcmp(optarg, "ib"))
          opt.ps = RDMA_PS_IB;
        else
          usage();
        break;
      case 'b':
        opt.bind_addr = optarg;
        break;
      case 'H':
        opt.hold = atof(optarg);
        break;
      case 'e':
        if (!strcmp(optarg, "disconnect"))
          opt.end = END_DISCONNECT;
        else if (!strcmp(optarg, "exit"))
          opt.end = END_EXIT;
        else if (!strcmp(optarg, "hang"))
          opt.end = END_HANG;
        else if (!strcmp(optarg, "wait"))
          opt.end = END_WAIT;
        else
          usage();
        break;
      case 'N':
        opt.no_drep = 1;
        break;
      case 'r':
        opt.reject = 1;
        break;
      case 'a':
        opt.accept_delay_ms = atoi(optarg);
        break;
      case 'c':
        opt.count = atoi(optarg);
        break;
      case 'd':
        opt.pdata_len = parse_hex(optarg, opt.pdata, (int)sizeof opt.pdata);
        if (opt.pdata_len < 0) usage();
        break;
      case 'R':
        opt.retry = atoi(optarg);
        break;
      case 'n':
        opt.rnr_retry = atoi(optarg);
        break;
      case 'm':
        opt.resolve_ms = atoi(optarg);
        break;
      case 't':
        opt.timeout = atof(optarg);
        break;
      case 'M':
        opt.messages = atoi(optarg);
        if (opt.messages < 0 || opt.messages > 4096) usage();
        break;
      case 'S':
        opt.size = atoi(optarg);
        if (opt.size < 1 || opt.size > (1 << 24)) usage();
        break;
      case 'C':
        opt.reconnect = atoi(optarg);
        if (opt.reconnect < 0) usage();
        break;
      case 'B':
        opt.backlog = atoi(optarg);
        if (opt.backlog < 1) usage();
        break;
      case 'K':
        opt.connections = atoi(optarg);
        if (opt.connections < 1 || opt.connections > MAX_CONNS) usage();
        break;
      default:
        usage();
    }
  }
  if (optind != argc) usage();
  if (opt.messages > 0 && opt.ps == RDMA_PS_UDP) usage(); /* data is for RC connections */

  ch = rdma_create_event_channel();
  if (!ch) {
    perror("rdma_create_event_channel");
    return 2;
  }

  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;

  if (opt.listen) {
    hints.ai_flags |= AI_PASSIVE;
    if (getaddrinfo(opt.bind_addr, opt.port, &hints, &res)) {
      fprintf(stderr, "bad address/port\n");
      return 2;
    }
    if (rdma_create_id(ch, &listen_id, NULL, opt.ps) || rdma_bind_addr(listen_id, res->ai_addr) ||
        rdma_listen(listen_id, opt.backlog)) {
      perror("rdma listen");
      return 2;
    }
    out("ACT=listen port=%s ps=%s", opt.port, ps_name());
  } else {
    if (getaddrinfo(opt.addr, opt.port, &hints, &dst_ai)) {
      fprintf(stderr, "bad address/port\n");
      return 2;
    }
    if (opt.bind_addr && getaddrinfo(opt.bind_addr, NULL, &hints, &src_ai)) {
      fprintf(stderr, "bad bind address\n");
      return 2;
    }
    for (int i = 0; i < opt.connections; i++)
      if (start_connect()) return 2;
  }

  for (;;) {
    double t = now();
    if (t - t0 >= opt.timeout) finish("timeout", opt.end == END_HANG ? 0 : 3);
    double next = t0 + opt.timeout;
    for (int i = 0; i < MAX_CONNS; i++) {
      if (conns[i].state == C_FREE || conns[i].deadline == 0) continue;
      if (conns[i].deadline <= t) {
        if (conns[i].state == C_PENDING_ACCEPT)
          do_accept_or_reject(i);
        else if (conns[i].state == C_ESTABLISHED)
          start_end(i);
        else
          conns[i].deadline = 0;
      } else if (conns[i].deadline < next) {
        next = conns[i].deadline;
      }
    }
    if (all_done()) {
      if (failures)
        out("RESULT=failed:%s rc=1", fail_what[0] ? fail_what : "setup");
      else
        out("RESULT=ok rc=0");
      exit(failures ? 1 : 0);
    }
    int ms = (int)((next - now()) * 1000.0) + 1;
    if (ms < 0) ms = 0;
    /* the CM's events, and each connection's completion channel (--messages) */
    struct pollfd pfd[1 + MAX_CONNS];
    int of[1 + MAX_CONNS], nfd = 1;
    pfd[0] = (struct pollfd){ch->fd, POLLIN, 0};
    for (int i = 0; i < MAX_CONNS; i++)
      if (conns[i].state != C_FREE && conns[i].comp) {
        of[nfd] = i;
        pfd[nfd++] = (struct pollfd){conns[i].comp->fd, POLLIN, 0};
      }
    int n = poll(pfd, (nfds_t)nfd, ms);
    if (n < 0 && errno != EINTR) {
      perror("poll");
      return 2;
    }
    for (int i = 1; n > 0 && i < nfd; i++)
      if (pfd[i].revents & POLLIN) data_event(of[i]);
    if (n > 0 && (pfd[0].revents & POLLIN)) {
      struct rdma_cm_event* ev;
      if (rdma_get_cm_event(ch, &ev)) {
        perror("rdma_get_cm_event");
        return 2;
      }
      handle(ev);
    }
  }
}
