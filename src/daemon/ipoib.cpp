// IPoIB addresses from the kernel: our netdevs (getifaddrs, sysfs) and the neighbour table
// (netlink). Only the daemon on an InfiniBand port asks.
#include "ibcm/daemon/ipoib.h"

#include <ifaddrs.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

namespace ibcm::daemon {

wire::Gid ipoib_gid(const IpoibAddress& hw) {
  wire::Gid g{};
  std::memcpy(g.data(), hw.data() + 4, g.size());
  return g;
}

uint16_t ipoib_pkey(const IpoibNetdev& netdev) {
  return static_cast<uint16_t>(netdev.broadcast[8] << 8 | netdev.broadcast[9]);
}

std::optional<IpoibAddress> parse_ipoib_address(std::string_view text) {
  IpoibAddress out{};
  size_t n = 0;
  for (size_t i = 0; i < text.size(); i += 3) {
    if (n == out.size() || i + 2 > text.size() || (i + 2 < text.size() && text[i + 2] != ':'))
      return std::nullopt;
    unsigned v = 0;
    for (char c : text.substr(i, 2)) {
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<unsigned>(d);
    }
    out[n++] = static_cast<uint8_t>(v);
  }
  if (n != out.size()) return std::nullopt;
  return out;
}

namespace {

// The kernel's NUD_VALID (include/net/neighbour.h, not exported to user space): an entry with a
// hardware address the kernel would send to.
constexpr uint16_t kNudValid =
    NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

bool same_address(const sockaddr* a, const IpEndpoint& ip) {
  if (!a || a->sa_family != ip.addr.ss_family) return false;
  if (a->sa_family == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(ip.addr).sin_addr.s_addr;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                     &reinterpret_cast<const sockaddr_in6&>(ip.addr).sin6_addr,
                     sizeof(in6_addr)) == 0;
}

std::optional<IpoibAddress> read_address(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  return parse_ipoib_address(line);
}

std::optional<IpoibNetdev> kernel_netdev_of(const IpEndpoint& src) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::string name;
  for (ifaddrs* i = list; i; i = i->ifa_next)
    if (same_address(i->ifa_addr, src)) {
      name = i->ifa_name;
      break;
    }
  ::freeifaddrs(list);
  if (name.empty()) return std::nullopt;
  // An IPoIB netdev's addresses are 20 bytes; any other netdev's do not parse.
  auto address = read_address("/sys/class/net/" + name + "/address");
  auto broadcast = read_address("/sys/class/net/" + name + "/broadcast");
  if (!address || !broadcast) return std::nullopt;
  return IpoibNetdev{*address, *broadcast};
}

// One RTM_GETNEIGH dump of the destination's family: the entry for its address, if valid.
std::optional<IpoibAddress> kernel_neighbour(const IpEndpoint& dst) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr h;
    ndmsg n;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = RTM_GETNEIGH;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.n.ndm_family = static_cast<uint8_t>(dst.addr.ss_family);
  std::optional<IpoibAddress> found;
  const void* want =
      dst.is_v4()
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(dst.addr).sin_addr)
          : &reinterpret_cast<const sockaddr_in6&>(dst.addr).sin6_addr;
  const size_t want_len = dst.is_v4() ? sizeof(in_addr) : sizeof(in6_addr);
  bool done = ::send(fd, &req, sizeof req, 0) != static_cast<ssize_t>(sizeof req);
  alignas(nlmsghdr) char buf[16384];
  while (!done) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    // Unsigned, as nlmsg_len is: NLMSG_OK compares the two (clang's -Wsign-compare).
    uint32_t left = static_cast<uint32_t>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        done = true;
        break;
      }
      auto* nd = static_cast<ndmsg*>(NLMSG_DATA(h));
      if (h->nlmsg_type != RTM_NEWNEIGH || !(nd->ndm_state & kNudValid)) continue;
      const void* dst_attr = nullptr;
      size_t dst_len = 0;
      const void* lladdr = nullptr;
      size_t lladdr_len = 0;
      int attr_left = static_cast<int>(RTM_PAYLOAD(h));
      for (auto* a = RTM_RTA(nd); RTA_OK(a, attr_left); a = RTA_NEXT(a, attr_left)) {
        if (a->rta_type == NDA_DST) dst_attr = RTA_DATA(a), dst_len = RTA_PAYLOAD(a);
        if (a->rta_type == NDA_LLADDR) lladdr = RTA_DATA(a), lladdr_len = RTA_PAYLOAD(a);
      }
      if (dst_len == want_len && std::memcmp(dst_attr, want, want_len) == 0 &&
          lladdr_len == kIpoibAddressSize) {
        found.emplace();
        std::memcpy(found->data(), lladdr, kIpoibAddressSize);
      }
    }
  }
  ::close(fd);
  return found;
}

}  // namespace

IpoibLookup kernel_ipoib() {
  return IpoibLookup{kernel_netdev_of, kernel_neighbour};
}

}  // namespace ibcm::daemon
