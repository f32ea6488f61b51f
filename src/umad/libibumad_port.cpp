// The real UmadPort: libibumad opens the port's umad device and registers the agent; MADs move by
// read and write on the (non-blocking) fd, laid out with libibumad's accessors.
#include <endian.h>
#include <infiniband/umad.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "ibcm/umad/umad_port.h"

namespace ibcm::umad {

namespace {

// A receive must have room for the largest MAD the port may deliver (OPA: 2048 bytes): a read
// into less fails with EINVAL and leaves the MAD at the head of the queue, so every later read
// would fail the same way.
constexpr size_t kLargestMad = 2048;

class LibUmadPort final : public UmadPort {
 public:
  explicit LibUmadPort(int fd) : fd_(fd), buf_(umad_size() + kLargestMad) {}
  ~LibUmadPort() override { umad_close_port(fd_); }

  int fd() const override { return umad_get_fd(fd_); }

  Expected<uint32_t, int> register_agent(uint8_t mgmt_class, uint8_t class_version,
                                         std::span<const uint8_t> methods) override {
    umad_reg_attr attr{};
    attr.mgmt_class = mgmt_class;
    attr.mgmt_class_version = class_version;
    for (uint8_t m : methods) attr.method_mask[m / 64] |= uint64_t{1} << (m % 64);
    uint32_t id = 0;
    int rc = umad_register2(fd_, &attr, &id);  // returns the errno itself
    if (rc != 0) return Unexpected{rc};
    return id;
  }

  int receive(UmadMad& out) override {
    ssize_t n = ::read(fd_, buf_.data(), buf_.size());
    if (n < 0) return errno;
    const auto hdr = static_cast<ssize_t>(umad_size());
    out.length = static_cast<int32_t>(n - hdr);
    if (n < hdr) return 0;  // the caller counts it as malformed
    const auto* u = reinterpret_cast<const ib_user_mad*>(buf_.data());
    out.agent_id = u->agent_id;
    out.status = u->status;
    const ib_mad_addr& a = u->addr;
    out.addr.qpn = be32toh(a.qpn);
    out.addr.qkey = be32toh(a.qkey);
    out.addr.lid = be16toh(a.lid);
    out.addr.sl = a.sl;
    out.addr.path_bits = a.path_bits;
    out.addr.grh_present = a.grh_present != 0;
    out.addr.gid_index = a.gid_index;
    out.addr.hop_limit = a.hop_limit;
    out.addr.traffic_class = a.traffic_class;
    std::memcpy(out.addr.gid.data(), a.gid, 16);
    out.addr.flow_label = be32toh(a.flow_label);
    out.addr.pkey_index = static_cast<uint16_t>(umad_get_pkey(buf_.data()));
    size_t copy = std::min<size_t>(static_cast<size_t>(out.length), out.mad.size());
    std::memcpy(out.mad.data(), umad_get_mad(buf_.data()), copy);
    return 0;
  }

  int send(const UmadMad& m) override {
    const size_t hdr = umad_size();
    std::fill_n(buf_.begin(), hdr, 0);
    auto* u = reinterpret_cast<ib_user_mad*>(buf_.data());
    u->agent_id = m.agent_id;
    u->timeout_ms = m.timeout_ms;
    u->retries = m.retries;
    ib_mad_addr& a = u->addr;
    a.qpn = htobe32(m.addr.qpn);
    a.qkey = htobe32(m.addr.qkey);
    a.lid = htobe16(m.addr.lid);
    a.sl = m.addr.sl;
    a.path_bits = m.addr.path_bits;
    a.grh_present = m.addr.grh_present;
    a.gid_index = m.addr.gid_index;
    a.hop_limit = m.addr.hop_limit;
    a.traffic_class = m.addr.traffic_class;
    std::memcpy(a.gid, m.addr.gid.data(), 16);
    a.flow_label = htobe32(m.addr.flow_label);
    umad_set_pkey(buf_.data(), m.addr.pkey_index);
    size_t len = std::min<size_t>(static_cast<size_t>(std::max(m.length, 0)), m.mad.size());
    std::memcpy(umad_get_mad(buf_.data()), m.mad.data(), len);
    ssize_t n = ::write(fd_, buf_.data(), hdr + len);
    if (n < 0) return errno;
    return n == static_cast<ssize_t>(hdr + len) ? 0 : EIO;
  }

 private:
  int fd_;
  std::vector<uint8_t> buf_;
};

std::string open_failure(const std::string& device, uint8_t port, int rc, int err) {
  std::string where = device + " port " + std::to_string(port);
  if (rc == -EOPNOTSUPP)
    return "cannot open the umad device of " + where +
           ": the kernel has no umad ABI (load the ib_umad module: modprobe ib_umad)";
  if (rc == -EINVAL || rc == -ENODEV)
    return "no umad device for " + where + " (is the ib_umad module loaded?)";
  std::string m = "cannot open the umad device of " + where + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM)
    m += " (/dev/infiniband/umad* is root's: run as root or grant access to it)";
  else if (err == ENOENT)
    m += " (is the ib_umad module loaded?)";
  return m;
}

}  // namespace

Expected<std::unique_ptr<UmadPort>, UmadError> open_libibumad_port(const std::string& device,
                                                                   uint8_t port) {
  // libibumad would warn on stderr as well as fail: the one line is ours.
  if (::access(IB_UMAD_ABI_DIR "/" IB_UMAD_ABI_FILE, R_OK) != 0)
    return Unexpected{
        UmadError{UmadErrorKind::UmadUnavailable, open_failure(device, port, -EOPNOTSUPP, errno)}};
  umad_init();
  errno = 0;
  int fd = umad_open_port(device.c_str(), port);
  if (fd < 0) {
    int err = errno;
    return Unexpected{
        UmadError{UmadErrorKind::UmadUnavailable, open_failure(device, port, fd, err)}};
  }
  return std::unique_ptr<UmadPort>(new LibUmadPort(fd));
}

}  // namespace ibcm::umad
