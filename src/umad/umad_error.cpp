#include "ibcm/umad/umad_error.h"

namespace ibcm::umad {

std::string_view to_string(UmadErrorKind k) {
  switch (k) {
    case UmadErrorKind::NoDevice:
      return "no_device";
    case UmadErrorKind::NoPort:
      return "no_port";
    case UmadErrorKind::PortNotActive:
      return "port_not_active";
    case UmadErrorKind::NoGid:
      return "no_gid";
    case UmadErrorKind::NoPkey:
      return "no_pkey";
    case UmadErrorKind::UmadUnavailable:
      return "umad_unavailable";
    case UmadErrorKind::ClassInUse:
      return "class_in_use";
    case UmadErrorKind::RegisterFailed:
      return "register_failed";
  }
  return "unknown";
}

}  // namespace ibcm::umad
