// The SA client over the umad seam: one agent, requests addressed to the SM's LID, every MAD read
// handed to PathQueries.
#include "ibcm/sa/path_client.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "umad/sysfs_file.h"

namespace ibcm::sa {

namespace {
constexpr uint16_t kFullDefaultPkey = 0xFFFF;
constexpr uint16_t kLimitedDefaultPkey = 0x7FFF;

std::optional<uint8_t> read_sm_sl(const std::string& sysfs_root, const umad::PortInfo& port) {
  auto line = umad::read_sysfs_line(std::filesystem::path(sysfs_root) / port.device / "ports" /
                                    std::to_string(port.port) / "sm_sl");
  unsigned sl = 0;
  if (!line || std::from_chars(line->data(), line->data() + line->size(), sl).ec != std::errc{} ||
      sl > 15)
    return std::nullopt;
  return static_cast<uint8_t>(sl);
}
}  // namespace

Expected<SaAddress, std::string> sa_address_of(const umad::PortInfo& port,
                                               const std::string& sysfs_root) {
  const std::string where = port.device + " port " + std::to_string(port.port);
  if (port.link_layer != umad::LinkLayer::InfiniBand)
    return Unexpected{where + " is not InfiniBand: there is no SA to ask for paths"};
  if (port.sm_lid == 0 || port.sm_lid >= 0xC000)
    return Unexpected{where + " knows no subnet manager (sm_lid " + std::to_string(port.sm_lid) +
                      ")"};
  SaAddress a;
  a.sm_lid = port.sm_lid;
  a.sm_sl = read_sm_sl(sysfs_root, port).value_or(0);
  std::optional<size_t> full, limited;
  for (size_t i = 0; i < port.pkeys.size(); ++i) {
    if (port.pkeys[i] == kFullDefaultPkey && !full) full = i;
    if (port.pkeys[i] == kLimitedDefaultPkey && !limited) limited = i;
  }
  a.pkey_index = static_cast<uint16_t>(full ? *full : limited.value_or(0));
  return a;
}

Expected<std::unique_ptr<PathClient>, umad::UmadError> PathClient::open(
    std::unique_ptr<umad::UmadPort> port, const SaAddress& sa, QueryOptions options) {
  std::unique_ptr<PathClient> c(new PathClient(std::move(port), sa, options));
  c->timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (c->timer_fd_ < 0)
    return Unexpected{umad::UmadError{
        umad::UmadErrorKind::RegisterFailed,
        std::string("cannot create the SA client's timer: ") + std::strerror(errno)}};
  // No methods: a client agent takes no requests; the MAD layer routes each answer to the agent
  // whose number is in its TID.
  auto agent = c->port_->register_agent(kSaClass, kSaClassVersion, {});
  if (!agent)
    return Unexpected{
        umad::UmadError{umad::UmadErrorKind::RegisterFailed,
                        std::string("cannot register an SA client agent (class 0x03): ") +
                            std::strerror(agent.error())}};
  c->agent_ = *agent;
  return c;
}

PathClient::~PathClient() {
  if (timer_fd_ >= 0) ::close(timer_fd_);
}

QueryId PathClient::resolve(Time now, const PathRequest& request) {
  QueryId id = queries_.start(now, request);
  flush(now);
  return id;
}

bool PathClient::cancel(QueryId id) {
  if (!queries_.cancel(id)) return false;
  // The timer stays set for the others; a wake with nothing due does nothing.
  if (queries_.running() == 0) set_timer(std::nullopt);
  return true;
}

void PathClient::on_readable(Time now) {
  while (port_->receive(rx_) == 0) {
    // A report on a send of ours (ETIMEDOUT: its response time passed) holds no SA answer.
    if (rx_.status != 0) {
      queries_.handle_send_report();
      continue;
    }
    // A read shorter than the umad header, or longer than one MAD (we never ask for RMPP
    // reassembly), is no answer; the buffer holds only its first 256 bytes.
    if (rx_.length < 0 || rx_.length > static_cast<int32_t>(wire::kMadSize)) {
      queries_.handle_malformed();
      continue;
    }
    queries_.handle_mad(now,
                        std::span<const uint8_t>(rx_.mad.data(), static_cast<size_t>(rx_.length)));
  }
  flush(now);
}

void PathClient::on_timer(Time now) {
  uint64_t expiries;
  (void)!::read(timer_fd_, &expiries, sizeof expiries);  // level-triggered: consume it
  queries_.handle_timeout(now);
  flush(now);
}

void PathClient::flush(Time now) {
  std::vector<SaSend>& sends = queries_.sends();
  for (const SaSend& s : sends) {
    tx_ = umad::UmadMad{};
    tx_.agent_id = agent_;
    tx_.timeout_ms = s.timeout_ms;
    tx_.retries = 0;  // the query retries on its own timer, under a new TID
    tx_.addr.qpn = 1;
    tx_.addr.qkey = kGsiQkey;
    tx_.addr.lid = sa_.sm_lid;
    tx_.addr.sl = sa_.sm_sl;
    tx_.addr.pkey_index = sa_.pkey_index;
    tx_.length = static_cast<int32_t>(wire::kMadSize);
    tx_.mad = s.mad;
    if (int rc = port_->send(tx_); rc != 0) queries_.send_failed(s.query, rc);
  }
  sends.clear();
  const auto next = queries_.next_timeout();
  set_timer(next ? std::optional<Time>(*next - now) : std::nullopt);
}

void PathClient::set_timer(std::optional<Time> delay) {
  itimerspec when{};  // zero: disarmed
  if (delay) {
    // At least 1 ns: a zero it_value would disarm a timer that is already due.
    const int64_t ns = std::max<int64_t>(delay->count(), 1);
    when.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    when.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  ::timerfd_settime(timer_fd_, 0, &when, nullptr);
}

}  // namespace ibcm::sa
