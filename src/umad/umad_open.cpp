// Opening a umad transport from options: which device and port (sysfs), which GID and P_Key,
// then the umad device and the agent. Each failure is one line naming what to do.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

#include "ibcm/umad/umad_transport.h"
#include "umad/address_map.h"
#include "umad/roce_direct.h"

namespace ibcm::umad {

namespace {

using Failure = Unexpected<UmadError>;

Failure fail(UmadErrorKind kind, std::string message) {
  return Failure{UmadError{kind, std::move(message)}};
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none" : out;
}

std::string hex16(uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", v);
  return buf;
}

std::string where(const PortInfo& p) {
  return p.device + " port " + std::to_string(p.port);
}

// "198.51.100.3" or "2001:db8::3": the address without the port IpEndpoint::to_string adds.
std::string ip_text(const IpEndpoint& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  const void* a =
      ip.is_v4() ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(ip.addr).sin_addr)
                 : &reinterpret_cast<const sockaddr_in6&>(ip.addr).sin6_addr;
  inet_ntop(ip.addr.ss_family, a, buf, sizeof buf);
  return buf;
}

// The first ACTIVE port among the devices and ports the options allow, or why there is none.
Expected<PortInfo, UmadError> find_port(const UmadOptions& o) {
  std::vector<std::string> all = list_devices(o.sysfs_root);
  if (!o.device.empty() && std::find(all.begin(), all.end(), o.device) == all.end())
    return fail(UmadErrorKind::NoDevice,
                "no RDMA device " + o.device + " (devices: " + join(all) + ")");
  if (all.empty())
    return fail(UmadErrorKind::NoDevice, "no RDMA device in " + o.sysfs_root +
                                             " (soft-RoCE: modprobe rdma_rxe; rdma link add "
                                             "rxe0 type rxe netdev eth0)");
  std::vector<std::string> devices = o.device.empty() ? all : std::vector{o.device};
  std::vector<std::string> seen;  // "rxe0 port 1: DOWN"
  for (const std::string& dev : devices) {
    std::vector<uint8_t> ports = list_ports(o.sysfs_root, dev);
    if (o.port_num != 0) {
      if (std::find(ports.begin(), ports.end(), o.port_num) == ports.end()) {
        if (!o.device.empty()) {
          std::vector<std::string> names;
          for (uint8_t p : ports) names.push_back(std::to_string(p));
          return fail(UmadErrorKind::NoPort, "RDMA device " + dev + " has no port " +
                                                 std::to_string(o.port_num) +
                                                 " (ports: " + join(names) + ")");
        }
        continue;
      }
      ports = {o.port_num};
    }
    for (uint8_t port : ports) {
      auto info = read_port_info(o.sysfs_root, dev, port);
      if (!info) continue;
      if (info->active) return *info;
      seen.push_back(where(*info) + ": " + (info->state.empty() ? "no state" : info->state));
    }
  }
  if (seen.size() == 1 && o.port_num != 0)
    return fail(UmadErrorKind::PortNotActive, seen.front() + ", not ACTIVE (is its link up?)");
  return fail(UmadErrorKind::PortNotActive, "no ACTIVE port (" + join(seen) + "; is the link up?)");
}

bool link_local(const wire::Gid& g) {
  return g[0] == 0xfe && (g[1] & 0xc0) == 0x80;
}

// The GID entry we send from (options.gid_index, else by link layer and address).
Expected<GidEntry, UmadError> choose_gid(const PortInfo& p, const UmadOptions& o) {
  const auto& table = p.gids;
  auto listed = [&] { return " (GIDs: " + describe(table) + ")"; };
  std::optional<GidEntry> e;
  if (o.gid_index) {
    for (const GidEntry& g : table)
      if (g.index == *o.gid_index) e = g;
    if (!e)
      return fail(UmadErrorKind::NoGid,
                  where(p) + " has no GID at index " + std::to_string(*o.gid_index) + listed());
    if (o.local_ip && e->gid != gid_of(*o.local_ip))
      return fail(UmadErrorKind::NoGid, "GID " + std::to_string(e->index) + " of " + where(p) +
                                            " is " + format_gid(e->gid) + ", not that of " +
                                            ip_text(*o.local_ip) + listed());
  } else if (p.link_layer != LinkLayer::Ethernet) {
    if (!table.empty() && table.front().index == 0) e = table.front();
    if (!e) return fail(UmadErrorKind::NoGid, where(p) + " has no port GID (GID 0)");
  } else if (o.local_ip) {
    e = find_roce_v2_gid(table, *o.local_ip);
    if (!e)
      return fail(UmadErrorKind::NoGid,
                  where(p) + " has no RoCE v2 GID for " + ip_text(*o.local_ip) + listed());
  } else {
    for (const GidEntry& g : table)
      if (!e && g.type == GidType::RoceV2 && !link_local(g.gid)) e = g;
    if (!e)
      return fail(
          UmadErrorKind::NoGid,
          where(p) + " has no RoCE v2 GID but link-local ones: give the local address" + listed());
  }
  // ib_mad_addr holds the index in one byte.
  if (e->index > 0xFF)
    return fail(UmadErrorKind::NoGid, "GID " + std::to_string(e->index) + " of " + where(p) +
                                          ": umad sends only from GID indices up to 255");
  return *e;
}

Expected<LocalPort, UmadError> local_port_of(const PortInfo& p, const UmadOptions& o) {
  if (p.link_layer == LinkLayer::Unknown)
    return fail(UmadErrorKind::NoPort,
                where(p) + ": its link layer is neither InfiniBand nor Ethernet");
  auto gid = choose_gid(p, o);
  if (!gid) return Failure{gid.error()};
  LocalPort l;
  l.device = p.device;
  l.port = p.port;
  l.link_layer = p.link_layer;
  l.lid = p.lid;
  l.gid = gid->gid;
  l.gid_index = static_cast<uint8_t>(gid->index);
  l.roce_v2 = gid->type == GidType::RoceV2;
  l.netdev = gid->ndev;
  l.pkeys = p.pkeys.empty() ? std::vector<uint16_t>{0xFFFF} : p.pkeys;  // RoCE: the default one
  auto index = pkey_index_of(l.pkeys, o.pkey);
  if (!index) {
    std::vector<std::string> keys;
    for (uint16_t k : l.pkeys) keys.push_back(hex16(k));
    return fail(UmadErrorKind::NoPkey, "P_Key " + hex16(o.pkey) + " is not in the P_Key table of " +
                                           where(p) + " (" + join(keys) + ")");
  }
  l.pkey_index = *index;
  return l;
}

}  // namespace

Expected<std::unique_ptr<UmadTransport>, UmadError> UmadTransport::open(const UmadOptions& o) {
  if ((o.pkey & 0x7FFF) == 0)
    return fail(UmadErrorKind::NoPkey, "P_Key 0x0000 / 0x8000 names no partition");
  auto port = find_port(o);
  if (!port) return Failure{port.error()};
  auto local = local_port_of(*port, o);
  if (!local) return Failure{local.error()};
  const PortOpener& opener = o.open_port ? o.open_port : PortOpener(open_libibumad_port);
  auto umad = opener(local->device, local->port);
  if (!umad) return Failure{umad.error()};
  std::unique_ptr<DirectSender> direct;
  if (o.direct_send) direct = roce_direct_sender(*local);
  return open(std::move(*umad), *local, std::move(direct));
}

}  // namespace ibcm::umad
