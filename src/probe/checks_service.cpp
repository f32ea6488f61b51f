// Checks that need no connection: ClassPortInfo, and requests for a service nobody listens on.
#include "ibcm/wire/rdma_cm.h"
#include "probe/checks.h"
#include "probe/link.h"

namespace ibcm::probe {

namespace {

// An rdma_cm port the remote surely does not listen on: not the probed one.
uint16_t unused_port(const Conversation& c) {
  return c.options().port == 1 ? 2 : 1;
}

}  // namespace

Outcome check_class_port_info(Conversation& c) {
  uint64_t tid = c.new_tid();
  c.send(wire::ClassPortInfo{}, tid);
  auto got = c.wait(
      [tid](const wire::Mad& m) {
        return m.header.transaction_id == tid &&
               std::holds_alternative<wire::ClassPortInfo>(m.message);
      },
      c.options().answer_wait);
  if (!got) return deviation("no GetResp within " + secs(c.options().answer_wait));
  const auto& info = std::get<wire::ClassPortInfo>(got->mad.message);
  std::string what = "GetResp at " + secs(got->at) + ": class version " +
                     std::to_string(info.class_version) + ", response time " +
                     std::to_string(info.resp_time_value);
  if (got->mad.header.method != static_cast<uint8_t>(wire::Method::GetResp))
    return deviation("method " + std::to_string(got->mad.header.method) + " instead of " + what);
  if (got->mad.header.status != 0)
    return deviation(what + ", MAD status " + std::to_string(got->mad.header.status));
  if (info.class_version != wire::kCmClassVersion) return deviation(what);
  return pass(what);
}

Outcome check_unknown_service(Conversation& c) {
  uint32_t id = c.new_comm_id();
  wire::Req req = c.req(id, c.new_qpn());
  req.service_id = wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::TCP, unused_port(c));
  c.send(req, c.new_tid());
  auto got = c.wait(answers_req(id), c.options().answer_wait);
  if (!got) return deviation("no answer within " + secs(c.options().answer_wait));
  const auto* rej = std::get_if<wire::Rej>(&got->mad.message);
  if (rej && rej->reason == wire::RejReason::InvalidServiceId)
    return pass("REJ(8) at " + secs(got->at));
  Outcome o = deviation(describe(got->mad) + " at " + secs(got->at));
  // A listener after all: end what it opened.
  if (std::holds_alternative<wire::Rep>(got->mad.message)) reject_rep(c, id, *got);
  return o;
}

Outcome check_sidr_unknown_service(Conversation& c) {
  wire::SidrReq req;
  req.request_id = c.new_comm_id();
  req.partition_key = 0xFFFF;
  req.service_id = wire::rdma_cm::service_id(wire::rdma_cm::PortSpace::UDP, unused_port(c));
  uint64_t tid = c.new_tid();
  c.send(req, tid);
  auto got = c.wait(
      [&req](const wire::Mad& m) {
        const auto* rep = std::get_if<wire::SidrRep>(&m.message);
        return rep && rep->request_id == req.request_id;
      },
      c.options().answer_wait);
  if (!got) return deviation("no SIDR_REP within " + secs(c.options().answer_wait));
  const auto& rep = std::get<wire::SidrRep>(got->mad.message);
  std::string what = describe(got->mad) + " at " + secs(got->at);
  return rep.status == wire::SidrStatus::ServiceIdNotSupported ? pass(what) : deviation(what);
}

}  // namespace ibcm::probe
