#include "ibcm/transport/transport.h"

#include <cerrno>

namespace ibcm {

void Transport::count_send_error(TransportCounters& c, int code, const IpEndpoint& to) {
  ++c.tx_errors;
  // A full socket buffer (or an interrupted call) passes; the CM's retries cover the MAD.
  if (code == EAGAIN || code == EWOULDBLOCK || code == ENOBUFS || code == EINTR) return;
  send_error_.code = code;
  send_error_.to = to.to_string();
  ++send_error_.count;
}

}  // namespace ibcm
