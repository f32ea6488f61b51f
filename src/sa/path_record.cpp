#include "ibcm/sa/path_record.h"

#include <algorithm>

#include "sa/table_codec.h"

namespace ibcm::sa {

namespace {
constexpr uint8_t kRecordWords = kPathRecordSize / 8;  // AttributeOffset of one record
}  // namespace

void encode(const PathRecord& r, std::span<uint8_t, kPathRecordSize> out) {
  std::fill(out.begin(), out.end(), 0);
  encode_table(wire::Schema<PathRecord>::fields, r, out.data());
}

PathRecord decode_path_record(std::span<const uint8_t, kPathRecordSize> in) {
  PathRecord r;
  decode_table(wire::Schema<PathRecord>::fields, in.data(), r);
  return r;
}

uint64_t component_mask(const PathRequest& r) {
  uint64_t mask = path_mask::kSgid | path_mask::kDgid | path_mask::kPKey | path_mask::kNumbPath |
                  path_mask::kReversible;
  if (r.service_id) mask |= path_mask::kServiceId;
  if (r.qos_class) mask |= path_mask::kQosClass;
  if (r.traffic_class) mask |= path_mask::kTClass;
  return mask;
}

wire::MadBytes encode_path_get(const PathRequest& r, uint64_t tid) {
  SaHeader h;
  h.mad.method = static_cast<uint8_t>(SaMethod::Get);
  h.mad.transaction_id = tid;
  h.mad.attribute_id = kPathRecordAttr;
  h.component_mask = component_mask(r);
  PathRecord rec;
  rec.service_id = r.service_id.value_or(0);
  rec.sgid = r.sgid;
  rec.dgid = r.dgid;
  rec.pkey = r.pkey;
  rec.qos_class = r.qos_class.value_or(0) & 0xFFF;
  rec.traffic_class = r.traffic_class.value_or(0);
  rec.reversible = r.reversible;
  rec.numb_path = 1;
  wire::MadBytes out{};
  encode_header(h, out);
  encode(rec, std::span<uint8_t, kPathRecordSize>(out.data() + kSaHeaderSize, kPathRecordSize));
  return out;
}

std::string_view to_string(RecordsError e) {
  switch (e) {
    case RecordsError::Header:
      return "not an SA MAD";
    case RecordsError::NotPathRecord:
      return "not a PathRecord";
    case RecordsError::NotAResponse:
      return "not a GetResp or GetTableResp";
    case RecordsError::Status:
      return "status is not success";
    case RecordsError::Segmented:
      return "more than one RMPP segment";
    case RecordsError::AttributeOffset:
      return "AttributeOffset below one record";
    case RecordsError::PayloadLength:
      return "PayloadLength out of range";
  }
  return "?";
}

Expected<std::vector<PathRecord>, RecordsError> decode_path_records(std::span<const uint8_t> mad) {
  SaHeader h;
  if (decode_header(mad, h)) return Unexpected{RecordsError::Header};
  if (h.mad.attribute_id != kPathRecordAttr) return Unexpected{RecordsError::NotPathRecord};
  if (h.mad.status != 0) return Unexpected{RecordsError::Status};
  const uint8_t* data = mad.data() + kSaHeaderSize;
  auto record_at = [&](size_t offset) {
    return decode_path_record(
        std::span<const uint8_t, kPathRecordSize>(data + offset, kPathRecordSize));
  };
  if (h.mad.method == static_cast<uint8_t>(SaMethod::GetResp)) return std::vector{record_at(0)};
  if (h.mad.method != static_cast<uint8_t>(SaMethod::GetTableResp))
    return Unexpected{RecordsError::NotAResponse};
  // A table in one MAD: the RMPP DATA packet that is the first and the last. Longer tables need
  // RMPP reassembly (an agent registered for it), which this client never asks for.
  constexpr uint8_t kWhole = kRmppActive | kRmppFirst | kRmppLast;
  if ((h.rmpp_flags & kWhole) != kWhole || h.rmpp_type != static_cast<uint8_t>(RmppType::Data))
    return Unexpected{RecordsError::Segmented};
  if (h.payload_length < kSaFieldsSize || h.payload_length > kSaFieldsSize + kSaDataSize)
    return Unexpected{RecordsError::PayloadLength};
  const size_t bytes = h.payload_length - kSaFieldsSize;
  std::vector<PathRecord> out;
  if (bytes == 0) return out;  // an empty table: OpenSM sends AttributeOffset 0 with it
  if (h.attribute_offset < kRecordWords) return Unexpected{RecordsError::AttributeOffset};
  const size_t stride = size_t{h.attribute_offset} * 8;
  for (size_t at = 0; at + kPathRecordSize <= bytes; at += stride) out.push_back(record_at(at));
  return out;
}

std::optional<ResolvedPath> resolve(const PathRecord& r) {
  if (r.mtu < static_cast<uint8_t>(wire::Mtu::Mtu256) ||
      r.mtu > static_cast<uint8_t>(wire::Mtu::Mtu4096))
    return std::nullopt;
  ResolvedPath p;
  p.record = r;
  p.mtu = static_cast<wire::Mtu>(r.mtu);
  p.pkey = r.pkey;
  p.packet_life_time = r.packet_life_time;
  wire::PathInfo& i = p.path;
  i.local_lid = r.slid;
  i.remote_lid = r.dlid;
  i.local_gid = r.sgid;
  i.remote_gid = r.dgid;
  i.flow_label = r.flow_label;
  i.packet_rate = r.rate;
  i.traffic_class = r.traffic_class;
  i.hop_limit = r.hop_limit;
  i.sl = r.sl;
  // Within the subnet the SA gives HopLimit 0 (OpenSM sets 0xFF only through a router).
  i.subnet_local = r.hop_limit <= 1;
  // 5 bits; the record's lifetime has 6, and an exponent past 30 means "forever" either way.
  i.local_ack_timeout = static_cast<uint8_t>(std::min(31, r.packet_life_time + 1));
  return p;
}

void apply(const ResolvedPath& p, ConnectParams& params) {
  params.primary = p.path;
  params.mtu = p.mtu;
  params.pkey = p.pkey;
  params.packet_life_time = static_cast<uint8_t>(std::min<unsigned>(p.packet_life_time, 31));
}

}  // namespace ibcm::sa
