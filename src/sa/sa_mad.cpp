#include "ibcm/sa/sa_mad.h"

#include <algorithm>

#include "sa/table_codec.h"

namespace ibcm::sa {

std::string_view to_string(SaStatus s) {
  switch (s) {
    case SaStatus::Success:
      return "success";
    case SaStatus::NoResources:
      return "ERR_NO_RESOURCES";
    case SaStatus::ReqInvalid:
      return "ERR_REQ_INVALID";
    case SaStatus::NoRecords:
      return "ERR_NO_RECORDS";
    case SaStatus::TooManyRecords:
      return "ERR_TOO_MANY_RECORDS";
    case SaStatus::ReqInvalidGid:
      return "ERR_REQ_INVALID_GID";
    case SaStatus::ReqInsufficientComponents:
      return "ERR_REQ_INSUFFICIENT_COMPONENTS";
    case SaStatus::ReqDenied:
      return "ERR_REQ_DENIED";
  }
  return "";
}

std::string_view to_string(SaDecodeError e) {
  switch (e) {
    case SaDecodeError::ShortBuffer:
      return "short buffer";
    case SaDecodeError::LongBuffer:
      return "long buffer";
    case SaDecodeError::BaseVersion:
      return "bad base version";
    case SaDecodeError::MgmtClass:
      return "not the SA class";
    case SaDecodeError::ClassVersion:
      return "bad class version";
  }
  return "?";
}

void encode_header(const SaHeader& h, std::span<uint8_t, wire::kMadSize> out) {
  std::fill_n(out.begin(), kSaHeaderSize, 0);  // reserved bytes are zero
  encode_table(wire::Schema<wire::MadHeader>::fields, h.mad, out.data());
  encode_table(wire::Schema<SaHeader>::fields, h, out.data());
}

std::optional<SaDecodeError> decode_header(std::span<const uint8_t> in, SaHeader& out) {
  out = SaHeader{};
  if (in.size() < wire::kMadSize) return SaDecodeError::ShortBuffer;
  if (in.size() > wire::kMadSize) return SaDecodeError::LongBuffer;
  decode_table(wire::Schema<wire::MadHeader>::fields, in.data(), out.mad);
  decode_table(wire::Schema<SaHeader>::fields, in.data(), out);
  if (out.mad.base_version != wire::kBaseVersion) return SaDecodeError::BaseVersion;
  if (out.mad.mgmt_class != kSaClass) return SaDecodeError::MgmtClass;
  if (out.mad.class_version != kSaClassVersion) return SaDecodeError::ClassVersion;
  return std::nullopt;
}

}  // namespace ibcm::sa
