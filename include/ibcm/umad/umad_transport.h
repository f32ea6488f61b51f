/// @file
/// CM MADs through the kernel's MAD layer: an agent for class 0x07 on one port's umad device
/// (libibumad), on RoCE or InfiniBand. It replaces the kernel CM (ib_cm), which must not be
/// loaded: both cannot own the class. See docs/transports.md, "umad".
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/transport/ip_address.h"
#include "ibcm/transport/transport.h"
#include "ibcm/umad/port_info.h"
#include "ibcm/umad/umad_error.h"
#include "ibcm/umad/umad_port.h"

IBCM_API_BEGIN

namespace ibcm::umad {

using PortOpener = std::function<Expected<std::unique_ptr<UmadPort>, UmadError>(
    const std::string& device, uint8_t port)>;

/// Sends a MAD as a RoCEv2 packet of its own instead of writing it to umad. On RoCE every umad
/// write makes the kernel create an address handle and resolve the peer's MAC through its ib_addr
/// workqueue (a wake-up of a kernel thread and a wait for it, per MAD); the kernel CM resolves a
/// path once. What arrives still comes through umad: the packets are the device's QP 1's.
class DirectSender {
 public:
  virtual ~DirectSender() = default;
  /// The MAD to QP 1 at `to` (its DGID, hop limit and traffic class). 0, or an errno.
  virtual int send(const MadAddress& to, const wire::MadBytes& mad) = 0;
  /// Whether `gid` is an address of this host: such a packet goes through the host's loopback
  /// and never reaches the device, so it is written to umad.
  virtual bool is_local(const wire::Gid& gid) = 0;
};

struct UmadOptions {
  std::string device;    ///< "rxe0"; empty: the first device (by name) with an ACTIVE port
  uint8_t port_num = 0;  ///< 0: the device's first ACTIVE port
  /// The GID to send from. Default: on RoCE the RoCEv2 GID of local_ip (or, without local_ip, the
  /// first RoCEv2 GID that is not link-local); on InfiniBand GID 0, the port GID.
  std::optional<uint16_t> gid_index;
  std::optional<IpEndpoint> local_ip;  ///< its port is ignored
  uint16_t pkey = 0xFFFF;              ///< must be in the port's P_Key table
  std::string sysfs_root = kSysfsInfiniband;
  PortOpener open_port;  ///< empty: open_libibumad_port; tests pass a fake
  /// On a RoCEv2 GID, send through a DirectSender over the kernel's IP stack (RoceSender; IPv4
  /// needs root or CAP_NET_RAW, else umad writes as with false). docs/transports.md has why.
  bool direct_send = true;
};

/// Ports answered the way their last MAD came (hop limit, flow label, SL, ...), remembered per
/// peer in a table of this many entries (direct-mapped: a peer whose entry another took is
/// answered with the defaults).
inline constexpr size_t kPeerPathSlots = 1024;

struct PeerPath {
  wire::Gid gid{};
  uint16_t lid = 0;
  bool valid = false;
  bool grh = false;
  uint8_t sl = 0;
  uint8_t path_bits = 0;
  uint8_t hop_limit = 0;
  uint8_t traffic_class = 0;
  uint8_t gid_index = 0;
  uint32_t flow_label = 0;
};

/// What the transport knows about its port: fixed at open.
struct LocalPort {
  std::string device;
  uint8_t port = 0;
  LinkLayer link_layer = LinkLayer::Ethernet;
  uint16_t lid = 0;
  uint8_t gid_index = 0;
  wire::Gid gid{};
  bool roce_v2 = false;         ///< the GID is a RoCEv2 one (an IP address: UDP port 4791)
  std::string netdev;           ///< the net device the GID belongs to (RoCE)
  std::vector<uint16_t> pkeys;  ///< by index
  uint16_t pkey_index = 0;      ///< our partition's
};

class UmadTransport final : public Transport {
 public:
  static Expected<std::unique_ptr<UmadTransport>, UmadError> open(const UmadOptions& options);
  /// Over a port already open (tests; tools that opened it themselves): registers the agent.
  static Expected<std::unique_ptr<UmadTransport>, UmadError> open(
      std::unique_ptr<UmadPort> port, const LocalPort& local,
      std::unique_ptr<DirectSender> direct = nullptr);

  int fd() const override { return port_->fd(); }
  size_t receive(std::span<Received> out) override;
  void send(std::span<const Transmit> batch) override;
  Address local() const override;
  const TransportCounters& counters() const override { return counters_; }
  std::string name() const override;
  const LocalPort& local_port() const { return local_; }
  uint32_t agent_id() const { return agent_; }
  /// Whether MADs to other hosts go through a DirectSender rather than umad writes.
  bool sends_direct() const { return direct_ != nullptr; }

 private:
  UmadTransport() = default;
  bool accept(const UmadMad& m, Received& out);
  /// InfiniBand: the GID of each unicast LID, learned from GRHs and from where we send.
  void learn_gid(uint16_t lid, const wire::Gid& gid);
  wire::Gid gid_of_lid(uint16_t lid) const;
  int write(UmadMad& m);

  std::unique_ptr<UmadPort> port_;
  std::unique_ptr<DirectSender> direct_;
  LocalPort local_;
  uint32_t agent_ = 0;
  uint32_t next_tid_low_ = 1;  ///< for a MAD ib_umad refused as a duplicate TID (see send)
  TransportCounters counters_;
  std::array<PeerPath, kPeerPathSlots> peers_{};
  std::vector<wire::Gid> lid_gids_;  ///< by unicast LID; InfiniBand only (768 KB, made at open)
  UmadMad rx_;                       ///< one receive buffer, reused
  UmadMad tx_;
};

}  // namespace ibcm::umad

IBCM_API_END
