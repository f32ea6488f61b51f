// rdmacm_peer: the other rdma_cm program of the rdmacm tests, in its own process (the library
// keeps one command socket per process). Written against <rdma/rdma_cma.h> alone, as an rdma_cm
// application is, and linked to ibcm's librdmacm.so.1. It has no QP: connections carry the QP
// number in rdma_conn_param.qp_num, and the active side completes them with rdma_establish.
//
// It reads one command a line on stdin and answers each with one line on stdout:
//   ps tcp|udp                the port space of the IDs made from now on (RDMA_PS_TCP at first)
//   listen PORT               bind 127.0.0.1:PORT and listen              -> ok | error ERRNO
//   connect PORT QPN HEX      resolve 127.0.0.1:PORT (its two events are printed), connect
//   accept QPN HEX            accept the last CONNECT_REQUEST's ID
//   reject HEX                reject it
//   establish | disconnect    on the connection (the last request's ID, or the connecting one)
//   event                     wait for the next event, printed as
//                             NAME status=S qpn=Q listen=0|1 rr=R depth=D pd=HEX
//                             (rr, depth: param.conn's responder_resources, initiator_depth),
//                             or on a UD ID (param.ud) as
//                             NAME status=S qpn=Q listen=0|1 qkey=K global=G pd=HEX
//                             (K in hex; G: the address handle's is_global)
//   quit                      destroy everything and exit 0
// HEX is private data in hex ("-": none). "ready" is printed once the daemon answered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <rdma/rdma_cma.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

rdma_event_channel* g_channel = nullptr;
rdma_cm_id* g_listener = nullptr;
rdma_cm_id* g_conn = nullptr;  // the connection: the last request's ID, or the connecting one
rdma_port_space g_ps = RDMA_PS_TCP;

void answer(int rc) {
  if (rc == 0)
    std::printf("ok\n");
  else
    std::printf("error %d\n", errno);
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// "-" or hex digits -> bytes; the length in *len.
void parse_hex(const char* hex, uint8_t* out, uint8_t* len) {
  *len = 0;
  if (std::strcmp(hex, "-") == 0) return;
  for (size_t i = 0; hex[i] && hex[i + 1] && *len < 196; i += 2) {
    char byte[3] = {hex[i], hex[i + 1], 0};
    out[(*len)++] = static_cast<uint8_t>(std::strtoul(byte, nullptr, 16));
  }
}

// Waits for one event, prints it, acknowledges it; returns its type (-1: none).
int print_event() {
  rdma_cm_event* ev = nullptr;
  if (rdma_get_cm_event(g_channel, &ev) != 0) {
    std::printf("error %d\n", errno);
    return -1;
  }
  const rdma_conn_param& c = ev->param.conn;
  const rdma_ud_param& ud = ev->param.ud;
  bool is_ud = ev->id->qp_type == IBV_QPT_UD;
  std::string pd;
  const auto* bytes = static_cast<const uint8_t*>(is_ud ? ud.private_data : c.private_data);
  uint8_t len = is_ud ? ud.private_data_len : c.private_data_len;
  for (uint8_t i = 0; bytes && i < len; ++i) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", bytes[i]);
    pd += two;
  }
  int listen = ev->listen_id == g_listener && g_listener ? 1 : 0;
  if (is_ud)
    std::printf("%s status=%d qpn=%u listen=%d qkey=%x global=%u pd=%s\n",
                rdma_event_str(ev->event), ev->status, ud.qp_num, listen, ud.qkey,
                ud.ah_attr.is_global, pd.empty() ? "-" : pd.c_str());
  else
    std::printf("%s status=%d qpn=%u listen=%d rr=%u depth=%u pd=%s\n", rdma_event_str(ev->event),
                ev->status, c.qp_num, listen, c.responder_resources, c.initiator_depth,
                pd.empty() ? "-" : pd.c_str());
  int type = ev->event;
  if (type == RDMA_CM_EVENT_CONNECT_REQUEST) g_conn = ev->id;
  rdma_ack_cm_event(ev);
  return type;
}

rdma_conn_param conn_param(const char* qpn, const char* hex, uint8_t* pd) {
  rdma_conn_param p{};
  p.qp_num = static_cast<uint32_t>(std::strtoul(qpn, nullptr, 0));
  p.retry_count = 7;
  p.rnr_retry_count = 7;
  parse_hex(hex, pd, &p.private_data_len);
  p.private_data = p.private_data_len ? pd : nullptr;
  return p;
}

void connect(int port, const char* qpn, const char* hex) {
  sockaddr_in dst = loopback(port);
  if (rdma_create_id(g_channel, &g_conn, nullptr, g_ps) != 0 ||
      rdma_resolve_addr(g_conn, nullptr, reinterpret_cast<sockaddr*>(&dst), 2000) != 0 ||
      print_event() != RDMA_CM_EVENT_ADDR_RESOLVED || rdma_resolve_route(g_conn, 2000) != 0 ||
      print_event() != RDMA_CM_EVENT_ROUTE_RESOLVED) {
    std::printf("error %d\n", errno);
    return;
  }
  uint8_t pd[196];
  rdma_conn_param p = conn_param(qpn, hex, pd);
  answer(rdma_connect(g_conn, &p));
}

// One listener at a time: one that fails is destroyed, so that the next try starts afresh.
void listen(int port) {
  sockaddr_in addr = loopback(port);
  rdma_cm_id* id = nullptr;
  int rc = rdma_create_id(g_channel, &id, nullptr, g_ps);
  if (rc == 0) rc = rdma_bind_addr(id, reinterpret_cast<sockaddr*>(&addr));
  if (rc == 0) rc = rdma_listen(id, 8);
  answer(rc);
  if (rc != 0 && id) {
    rdma_destroy_id(id);
  } else if (rc == 0) {
    g_listener = id;
  }
}

}  // namespace

int main() {
  g_channel = rdma_create_event_channel();
  if (!g_channel) {
    std::printf("error %d\n", errno);
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  char line[1024];
  while (std::fgets(line, sizeof line, stdin)) {
    char cmd[32] = {}, a[400] = {}, b[400] = {}, c[400] = {};
    int n = std::sscanf(line, "%31s %399s %399s %399s", cmd, a, b, c);
    std::string op = n > 0 ? cmd : "";
    uint8_t pd[196];
    if (op == "ps" && n == 2) {
      g_ps = std::strcmp(a, "udp") == 0 ? RDMA_PS_UDP : RDMA_PS_TCP;
      answer(0);
    } else if (op == "listen" && n == 2) {
      listen(std::atoi(a));
    } else if (op == "connect" && n == 4) {
      connect(std::atoi(a), b, c);
    } else if (op == "accept" && n == 3 && g_conn) {
      rdma_conn_param p = conn_param(a, b, pd);
      answer(rdma_accept(g_conn, &p));
    } else if (op == "reject" && n == 2 && g_conn) {
      uint8_t len = 0;
      parse_hex(a, pd, &len);
      answer(rdma_reject(g_conn, len ? pd : nullptr, len));
    } else if (op == "establish" && g_conn) {
      answer(rdma_establish(g_conn));
    } else if (op == "disconnect" && g_conn) {
      answer(rdma_disconnect(g_conn));
    } else if (op == "event") {
      print_event();
    } else if (op == "quit") {
      break;
    } else {
      std::printf("error %d\n", EINVAL);
    }
    std::fflush(stdout);
  }
  if (g_conn) rdma_destroy_id(g_conn);
  if (g_listener) rdma_destroy_id(g_listener);
  rdma_destroy_event_channel(g_channel);
  return 0;
}
