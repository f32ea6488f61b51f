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
 *   --private-data HEX    private data for rdma_connect / rdma_accept / rdma_reject
 *   --retry N             retry_count in the connection parameters (default 7)
 *   --rnr-retry N         rnr_retry_count (default 7)
 *   --resolve-ms MS       rdma_resolve_addr / rdma_resolve_route timeout (default 2000)
 *   --timeout SECONDS     overall limit (default 120); reaching it exits 3 (0 in --end hang)
 *
 * Output, one line per rdma_cm event and per action, on stdout (line-buffered):
 *   T=<seconds since start> EV=<event name> status=<n> conn=<k> peer=ADDR:PORT [qpn=0x..]
 *       pdata_len=<n> pdata=<hex, trailing zero bytes left out>
 *   T=<seconds> ACT=<what it does> conn=<k> ...
 *   T=<seconds> RESULT=<ok|failed:<event name>|timeout> rc=<exit code>
 * Exit: 0 ok, 1 the connection failed (rejected, unreachable, error events), 2 usage or setup
 * error, 3 overall timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
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
};

#define MAX_CONNS 64
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

static int make_qp(int k) {
  struct conn* c = &conns[k];
  struct ibv_qp_init_attr a;
  if (c->has_qp) return 0;
  c->pd = ibv_alloc_pd(c->id->verbs);
  if (!c->pd) {
    out("ACT=error what=ibv_alloc_pd conn=%d errno=%d", k, errno);
    return -1;
  }
  c->cq = ibv_create_cq(c->id->verbs, 16, NULL, NULL, 0);
  if (!c->cq) {
    out("ACT=error what=ibv_create_cq conn=%d errno=%d", k, errno);
    return -1;
  }
  memset(&a, 0, sizeof a);
  a.send_cq = c->cq;
  a.recv_cq = c->cq;
  a.qp_type = opt.ps == RDMA_PS_UDP ? IBV_QPT_UD : IBV_QPT_RC;
  a.cap.max_send_wr = 4;
  a.cap.max_recv_wr = 4;
  a.cap.max_send_sge = 1;
  a.cap.max_recv_sge = 1;
  if (rdma_create_qp(c->id, c->pd, &a)) {
    out("ACT=error what=rdma_create_qp conn=%d errno=%d", k, errno);
    return -1;
  }
  c->has_qp = 1;
  return 0;
}

static void conn_release(int k) {
  struct conn* c = &conns[k];
  if (c->has_qp) rdma_destroy_qp(c->id);
  if (c->cq) ibv_destroy_cq(c->cq);
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

static int handled; /* listen: connect requests seen */
static int failures;
static const char* fail_what = "";

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
      if (opt.ps == RDMA_PS_UDP && !opt.listen) {
        /* SIDR: nothing to disconnect. */
        conn_release(k);
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
    case RDMA_CM_EVENT_ADDR_ERROR:
    case RDMA_CM_EVENT_ROUTE_ERROR:
    case RDMA_CM_EVENT_CONNECT_ERROR:
    case RDMA_CM_EVENT_UNREACHABLE:
    case RDMA_CM_EVENT_REJECTED:
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
                                     {"help", no_argument, 0, 'h'},
                                     {0, 0, 0, 0}};
  struct rdma_event_channel* ch;
  struct rdma_cm_id *id = NULL, *listen_id = NULL;
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
      default:
        usage();
    }
  }
  if (optind != argc) usage();

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
        rdma_listen(listen_id, 8)) {
      perror("rdma listen");
      return 2;
    }
    out("ACT=listen port=%s ps=%s", opt.port,
        opt.ps == RDMA_PS_UDP  ? "udp"
        : opt.ps == RDMA_PS_IB ? "ib"
                               : "tcp");
  } else {
    struct addrinfo* src = NULL;
    if (getaddrinfo(opt.addr, opt.port, &hints, &res)) {
      fprintf(stderr, "bad address/port\n");
      return 2;
    }
    if (opt.bind_addr && getaddrinfo(opt.bind_addr, NULL, &hints, &src)) {
      fprintf(stderr, "bad bind address\n");
      return 2;
    }
    if (rdma_create_id(ch, &id, NULL, opt.ps)) {
      perror("rdma_create_id");
      return 2;
    }
    conn_new(id);
    out("ACT=resolve addr=%s port=%s ps=%s", opt.addr, opt.port,
        opt.ps == RDMA_PS_UDP  ? "udp"
        : opt.ps == RDMA_PS_IB ? "ib"
                               : "tcp");
    if (rdma_resolve_addr(id, src ? src->ai_addr : NULL, res->ai_addr, opt.resolve_ms)) {
      perror("rdma_resolve_addr");
      return 2;
    }
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
    struct pollfd pfd = {ch->fd, POLLIN, 0};
    int n = poll(&pfd, 1, ms);
    if (n < 0 && errno != EINTR) {
      perror("poll");
      return 2;
    }
    if (n > 0) {
      struct rdma_cm_event* ev;
      if (rdma_get_cm_event(ch, &ev)) {
        perror("rdma_get_cm_event");
        return 2;
      }
      handle(ev);
    }
  }
}
