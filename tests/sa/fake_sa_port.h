// A fake umad port for the SA client, on the umad tests' fake port state (tests/umad/
// fake_umad.h): registration and reads as there; sends recorded as the kernel's MAD layer takes
// an SA request — upper 32 TID bits replaced by the agent's, and held open for a response, which
// the CM's fake port refuses. The test queues what the port reads: an SA's answer under the TID of
// a send, a send report, anything malformed.
#pragma once

#include <cerrno>
#include <memory>

#include "sa/sa_vectors.h"
#include "umad/fake_umad.h"

namespace ibcm::sa::test {

using umad::test::FakePortState;

// The SA's answer to sent[index]: `answer` under that send's TID, from the SM's LID on QP1.
inline void answer(FakePortState& port, const wire::MadBytes& answer, size_t index,
                   uint16_t sm_lid = 1) {
  umad::UmadMad m;
  m.mad = answer;
  umad::test::set_tid(m.mad, umad::test::tid_of(port.sent.at(index).mad));
  m.length = static_cast<int32_t>(wire::kMadSize);
  m.addr.lid = sm_lid;
  port.push(m);
}

inline std::shared_ptr<FakePortState> fake_ib_port() {
  auto s = std::make_shared<FakePortState>();
  s->link = umad::LinkLayer::InfiniBand;
  s->lid = 3;
  s->hi_tid = 0x1c;
  return s;
}

class FakeSaPort final : public umad::UmadPort {
 public:
  explicit FakeSaPort(std::shared_ptr<FakePortState> s) : s_(s), port_(std::move(s)) {}
  int fd() const override { return port_.fd(); }
  Expected<uint32_t, int> register_agent(uint8_t mgmt_class, uint8_t class_version,
                                         std::span<const uint8_t> methods) override {
    return port_.register_agent(mgmt_class, class_version, methods);
  }
  int receive(umad::UmadMad& out) override { return port_.receive(out); }
  int send(const umad::UmadMad& m) override {
    int rc = s_->send_errno                                  ? s_->send_errno
             : !s_->registered || m.agent_id != s_->agent_id ? EIO  // no such agent
                                                             : 0;
    s_->send_codes.push_back(rc);
    if (rc) return rc;
    umad::UmadMad out = m;
    umad::test::set_tid(out.mad,
                        uint64_t{s_->hi_tid} << 32 | (umad::test::tid_of(out.mad) & 0xFFFFFFFF));
    s_->sent.push_back(out);
    return 0;
  }

 private:
  std::shared_ptr<FakePortState> s_;
  umad::test::FakeUmadPort port_;
};

}  // namespace ibcm::sa::test
