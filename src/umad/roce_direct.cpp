#include "umad/roce_direct.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "ibcm/transport/roce_sender.h"
#include "umad/address_map.h"

namespace ibcm::umad {

namespace {

// Peers whose locality is remembered; past this many the memory starts again (a new peer costs
// one bind() to find out).
constexpr size_t kRememberedPeers = 4096;

class RoceDirect final : public DirectSender {
 public:
  explicit RoceDirect(std::unique_ptr<RoceSender> sender) : sender_(std::move(sender)) {}

  int send(const MadAddress& to, const wire::MadBytes& mad) override {
    return sender_->send(endpoint_of(to.gid, 0), mad, RocePath{to.hop_limit, to.traffic_class});
  }

  bool is_local(const wire::Gid& gid) override {
    if (auto it = local_.find(gid); it != local_.end()) return it->second;
    if (local_.size() >= kRememberedPeers) local_.clear();
    // An address of this host is one a socket can bind to. Any answer but "not here" keeps the
    // MAD on umad, which reaches every address the device has.
    IpEndpoint ep = endpoint_of(gid, 0);
    int fd = ::socket(ep.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool local = fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) == 0 ||
                 errno != EADDRNOTAVAIL;
    if (fd >= 0) ::close(fd);
    return local_[gid] = local;
  }

 private:
  std::unique_ptr<RoceSender> sender_;
  std::map<wire::Gid, bool> local_;
};

}  // namespace

std::unique_ptr<DirectSender> roce_direct_sender(const LocalPort& port) {
  if (port.link_layer != LinkLayer::Ethernet || !port.roce_v2) return nullptr;
  auto sender =
      RoceSender::open(endpoint_of(port.gid, 0), pkey_at(port.pkeys, port.pkey_index), port.netdev);
  if (!sender) return nullptr;
  return std::make_unique<RoceDirect>(std::move(*sender));
}

}  // namespace ibcm::umad
