// What a RoCEv2 socket call that failed says: the call, errno's text, and what to do when it was
// refused for want of privilege (RoceTransport and RoceSender open the same kinds of sockets).
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

namespace ibcm {

inline std::string roce_socket_error(const std::string& what) {
  std::string msg = what + ": " + std::strerror(errno);
  if (errno == EPERM || errno == EACCES)
    msg += " (RoCEv2 over IPv4 sends with a raw socket: run as root or grant CAP_NET_RAW)";
  return msg;
}

}  // namespace ibcm
