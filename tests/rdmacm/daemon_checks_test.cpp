// The daemon acts for a program only on that program's own IDs: a raw protocol client (another
// program, as far as the daemon knows: another connection on its socket) naming an ID of the
// test process is refused, counted and logged, and the ID is untouched; a record of the wrong
// size is dropped and counted without ending the program's session.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "daemon/protocol.h"
#include "rdmacm/cma_state.h"
#include "rdmacm/program_fixture.h"

namespace ibcm::rdmacm::test {
namespace {

namespace proto = daemon::proto;

// A program speaking the daemon's protocol by hand.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send_bytes(const void* data, size_t len) {
    return ::send(fd_, data, len, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
  }
  // Sends r and returns the daemon's reply (err = -1 when none came).
  proto::Reply ask(proto::Request r) {
    r.seq = ++seq_;
    proto::Reply out;
    out.err = -1;
    if (!send_bytes(&r, sizeof r)) return out;
    timeval limit{10, 0};
    (void)::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (::recv(fd_, &out, sizeof out, 0) != sizeof out) out.err = -1;
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  uint32_t seq_ = 0;
};

proto::Request hello() {
  proto::Request r;
  r.op = proto::Op::Hello;
  r.arg = static_cast<int32_t>(proto::kVersion);
  return r;
}

using DaemonChecks = ProgramTest;

TEST_F(DaemonChecks, AnotherProgramsIdIsRefusedAndCounted) {
  rdma_cm_id* id = new_id();
  ASSERT_NE(id, nullptr);
  // The library's handle for the ID: what a program that guessed it would name.
  uint32_t handle = reinterpret_cast<IdPriv*>(id)->handle;

  RawClient other(nodes().a->socket());
  ASSERT_TRUE(other.connected());
  ASSERT_EQ(other.ask(hello()).err, 0);
  uint64_t bad = nodes().a->counters().bad_requests;
  for (proto::Op op : {proto::Op::DestroyId, proto::Op::Disconnect, proto::Op::Listen}) {
    proto::Request r;
    r.op = op;
    r.id = handle;
    EXPECT_EQ(other.ask(r).err, EINVAL) << static_cast<int>(op);
  }
  EXPECT_EQ(nodes().a->counters().bad_requests, bad + 3);
  std::vector<std::string> log = nodes().a->log();
  std::string said = "named ID " + std::to_string(handle) + ", which is not its own";
  EXPECT_TRUE(std::any_of(log.begin(), log.end(), [&](const std::string& l) {
    return l.find(said) != std::string::npos;
  })) << ::testing::PrintToString(log);

  // The ID is still the test's, and whole: it resolves.
  ASSERT_NO_FATAL_FAILURE(resolve(id, 7901));
}

TEST_F(DaemonChecks, WrongSizedRecordDroppedSessionGoesOn) {
  RawClient other(nodes().a->socket());
  ASSERT_TRUE(other.connected());
  uint64_t bad = nodes().a->counters().bad_requests;
  const char junk[3] = {1, 2, 3};
  ASSERT_TRUE(other.send_bytes(junk, sizeof junk));
  // No reply for the junk: the next reply is the Hello's (its seq), so the session is intact.
  proto::Reply r = other.ask(hello());
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(r.seq, 1u);
  EXPECT_EQ(nodes().a->counters().bad_requests, bad + 1);
}

}  // namespace
}  // namespace ibcm::rdmacm::test
