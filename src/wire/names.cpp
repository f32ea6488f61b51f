#include "ibcm/wire/types.h"

namespace ibcm::wire {

std::string_view to_string(AttrId v) {
  switch (v) {
    case AttrId::ClassPortInfo:
      return "ClassPortInfo";
    case AttrId::Req:
      return "REQ";
    case AttrId::Mra:
      return "MRA";
    case AttrId::Rej:
      return "REJ";
    case AttrId::Rep:
      return "REP";
    case AttrId::Rtu:
      return "RTU";
    case AttrId::Dreq:
      return "DREQ";
    case AttrId::Drep:
      return "DREP";
    case AttrId::SidrReq:
      return "SIDR_REQ";
    case AttrId::SidrRep:
      return "SIDR_REP";
    case AttrId::Lap:
      return "LAP";
    case AttrId::Apr:
      return "APR";
  }
  return "?";
}

std::string_view to_string(RejReason v) {
  switch (v) {
    case RejReason::NoQp:
      return "NoQp";
    case RejReason::NoEec:
      return "NoEec";
    case RejReason::NoResources:
      return "NoResources";
    case RejReason::Timeout:
      return "Timeout";
    case RejReason::Unsupported:
      return "Unsupported";
    case RejReason::InvalidCommId:
      return "InvalidCommId";
    case RejReason::InvalidCommInstance:
      return "InvalidCommInstance";
    case RejReason::InvalidServiceId:
      return "InvalidServiceId";
    case RejReason::InvalidTransportType:
      return "InvalidTransportType";
    case RejReason::StaleConnection:
      return "StaleConnection";
    case RejReason::RdcNotExist:
      return "RdcNotExist";
    case RejReason::InvalidGid:
      return "InvalidGid";
    case RejReason::InvalidLid:
      return "InvalidLid";
    case RejReason::InvalidSl:
      return "InvalidSl";
    case RejReason::InvalidTrafficClass:
      return "InvalidTrafficClass";
    case RejReason::InvalidHopLimit:
      return "InvalidHopLimit";
    case RejReason::InvalidPacketRate:
      return "InvalidPacketRate";
    case RejReason::InvalidAltGid:
      return "InvalidAltGid";
    case RejReason::InvalidAltLid:
      return "InvalidAltLid";
    case RejReason::InvalidAltSl:
      return "InvalidAltSl";
    case RejReason::InvalidAltTrafficClass:
      return "InvalidAltTrafficClass";
    case RejReason::InvalidAltHopLimit:
      return "InvalidAltHopLimit";
    case RejReason::InvalidAltPacketRate:
      return "InvalidAltPacketRate";
    case RejReason::PortCmRedirect:
      return "PortCmRedirect";
    case RejReason::PortRedirect:
      return "PortRedirect";
    case RejReason::InvalidMtu:
      return "InvalidMtu";
    case RejReason::InsufficientRespResources:
      return "InsufficientRespResources";
    case RejReason::ConsumerDefined:
      return "ConsumerDefined";
    case RejReason::InvalidRnrRetry:
      return "InvalidRnrRetry";
    case RejReason::DuplicateLocalCommId:
      return "DuplicateLocalCommId";
    case RejReason::InvalidClassVersion:
      return "InvalidClassVersion";
    case RejReason::InvalidFlowLabel:
      return "InvalidFlowLabel";
    case RejReason::InvalidAltFlowLabel:
      return "InvalidAltFlowLabel";
    case RejReason::VendorOptionNotSupported:
      return "VendorOptionNotSupported";
  }
  return "?";
}

std::string_view to_string(SidrStatus v) {
  switch (v) {
    case SidrStatus::Success:
      return "Success";
    case SidrStatus::ServiceIdNotSupported:
      return "ServiceIdNotSupported";
    case SidrStatus::Rejected:
      return "Rejected";
    case SidrStatus::NoQp:
      return "NoQp";
    case SidrStatus::Redirect:
      return "Redirect";
    case SidrStatus::UnsupportedClassVersion:
      return "UnsupportedClassVersion";
  }
  return "?";
}

std::string_view to_string(ApStatus v) {
  switch (v) {
    case ApStatus::Success:
      return "Success";
    case ApStatus::InvalidCommId:
      return "InvalidCommId";
    case ApStatus::Unsupported:
      return "Unsupported";
    case ApStatus::Rejected:
      return "Rejected";
    case ApStatus::Redirect:
      return "Redirect";
    case ApStatus::PathIsCurrent:
      return "PathIsCurrent";
    case ApStatus::InvalidQpn:
      return "InvalidQpn";
    case ApStatus::InvalidLid:
      return "InvalidLid";
    case ApStatus::InvalidGid:
      return "InvalidGid";
    case ApStatus::InvalidFlowLabel:
      return "InvalidFlowLabel";
    case ApStatus::InvalidTrafficClass:
      return "InvalidTrafficClass";
    case ApStatus::InvalidHopLimit:
      return "InvalidHopLimit";
    case ApStatus::InvalidPacketRate:
      return "InvalidPacketRate";
    case ApStatus::InvalidSl:
      return "InvalidSl";
  }
  return "?";
}

std::string_view to_string(TransportType v) {
  switch (v) {
    case TransportType::RC:
      return "RC";
    case TransportType::UC:
      return "UC";
    case TransportType::RD:
      return "RD";
    case TransportType::Extended:
      return "Extended";
  }
  return "?";
}

std::string_view to_string(MsgRef v) {
  switch (v) {
    case MsgRef::Req:
      return "Req";
    case MsgRef::Rep:
      return "Rep";
    case MsgRef::Other:
      return "Other";
  }
  return "?";
}

}  // namespace ibcm::wire
