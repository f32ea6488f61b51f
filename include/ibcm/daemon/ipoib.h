/// @file
/// What the daemon reads of IPoIB to resolve an address on an InfiniBand port, as the kernel's
/// rdma_cm does (drivers/infiniband/core/addr.c, cma.c): an IPoIB hardware address is 20 bytes,
/// the QPN in bytes 0..3 and the port's GID in bytes 4..19; a netdev's broadcast address holds
/// its partition's P_Key in bytes 8..9. Our GID is our IPoIB netdev's, the peer's is in the
/// hardware address the kernel's neighbour table holds for its IP address.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>

#include "ibcm/api.h"
#include "ibcm/transport/ip_address.h"
#include "ibcm/wire/types.h"

IBCM_API_BEGIN

namespace ibcm::daemon {

inline constexpr size_t kIpoibAddressSize = 20;  ///< INFINIBAND_ALEN
using IpoibAddress = std::array<uint8_t, kIpoibAddressSize>;

/// An IPoIB netdev's own addresses.
struct IpoibNetdev {
  IpoibAddress address{};
  IpoibAddress broadcast{};
};

/// Where the daemon looks IPoIB addresses up; kernel_ipoib() by default, tests give their own.
struct IpoibLookup {
  /// The IPoIB netdev that holds the address `src` (its port ignored); nullopt when none does.
  std::function<std::optional<IpoibNetdev>(const IpEndpoint& src)> netdev_of;
  /// The hardware address of `dst` in the kernel's neighbour table, when the entry is valid
  /// (NUD_VALID) and 20 bytes long; nullopt otherwise.
  std::function<std::optional<IpoibAddress>(const IpEndpoint& dst)> neighbour;
};

/// The kernel's: getifaddrs and /sys/class/net/IF/{address,broadcast} for netdev_of, an
/// RTM_GETNEIGH dump (netlink) for neighbour.
IpoibLookup kernel_ipoib();

/// Bytes 4..19 (rdma_addr_get_sgid / rdma_addr_get_dgid).
wire::Gid ipoib_gid(const IpoibAddress& hw);
/// Bytes 8..9 of the broadcast address (ib_addr_get_pkey).
uint16_t ipoib_pkey(const IpoibNetdev& netdev);
/// "80:00:00:48:fe:80:...": the 20 bytes sysfs shows; nullopt for any other text.
std::optional<IpoibAddress> parse_ipoib_address(std::string_view text);

}  // namespace ibcm::daemon

IBCM_API_END
