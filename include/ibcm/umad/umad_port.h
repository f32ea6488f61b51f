/// @file
/// The seam below libibumad: the few operations the umad transport needs from the kernel's umad
/// device (one port's /dev/infiniband/umadN), so that tests put a fake there and need no device.
/// Types here are ibcm's own, in host byte order; only src/umad/libibumad_port.cpp sees umad.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ibcm/api.h"
#include "ibcm/result.h"
#include "ibcm/umad/umad_error.h"
#include "ibcm/wire/mad.h"

IBCM_API_BEGIN

namespace ibcm::umad {

/// ib_mad_addr: where a MAD came from (receive) or goes to (send), as the kernel reports and takes
/// it.
struct MadAddress {
  uint32_t qpn = 1;
  uint32_t qkey = 0x80010000;  ///< the GSI Q_Key
  uint16_t lid = 0;            ///< receive: the source LID; send: the destination LID (IB only)
  uint8_t sl = 0;
  uint8_t path_bits = 0;
  bool grh_present = false;
  uint8_t gid_index = 0;  ///< receive: our GID the MAD arrived on; send: our GID to send from
  uint8_t hop_limit = 0;
  uint8_t traffic_class = 0;
  wire::Gid gid{};  ///< receive: the source GID; send: the destination GID
  uint32_t flow_label = 0;
  uint16_t pkey_index = 0;
  bool operator==(const MadAddress&) const = default;
};

/// One MAD as ib_umad reads and writes it (struct ib_user_mad, then the MAD).
struct UmadMad {
  uint32_t agent_id = 0;
  /// Receive: non-zero when this is not a MAD but the MAD layer's report on one of our sends
  /// (ETIMEDOUT: no response came); it carries only the sent MAD's header.
  uint32_t status = 0;
  /// Send: 0 and 0, so that the MAD layer neither waits for a response nor retries; the CM engine
  /// retries on its own schedule.
  uint32_t timeout_ms = 0;
  uint32_t retries = 0;
  MadAddress addr;
  /// Receive: bytes of MAD after the umad header (negative: the read was shorter than the
  /// header). Send: bytes of `mad` to write.
  int32_t length = 0;
  wire::MadBytes mad{};
};

/// Methods the agent registers for: requests are routed to an agent by class, version and method,
/// so the CM agent needs Send (every CM message) and Get and Set (ClassPortInfo). Responses
/// (GetResp) are routed by the upper 32 bits of their TID to the agent that sent the request, never
/// by this mask.
inline constexpr uint8_t kCmRequestMethods[] = {0x01, 0x02, 0x03};

class UmadPort {
 public:
  virtual ~UmadPort() = default;
  /// Pollable (readable when receive() has something); non-blocking.
  virtual int fd() const = 0;
  /// Registers an agent for class 0x07 version 2 with `methods`; the agent ID, or the errno.
  virtual Expected<uint32_t, int> register_agent(uint8_t mgmt_class, uint8_t class_version,
                                                 std::span<const uint8_t> methods) = 0;
  /// One MAD into `out`: 0, or EAGAIN when none is ready, or another errno.
  virtual int receive(UmadMad& out) = 0;
  /// Writes one MAD (out.length bytes of out.mad): 0 or the errno.
  virtual int send(const UmadMad& m) = 0;
};

/// The real port over libibumad: umad_open_port(device, port), the agent through umad_register2,
/// MADs by read/write on the port's fd.
Expected<std::unique_ptr<UmadPort>, UmadError> open_libibumad_port(const std::string& device,
                                                                   uint8_t port);

}  // namespace ibcm::umad

IBCM_API_END
