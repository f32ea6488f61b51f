// libFuzzer target for the MAD codec on its own. Any input decodes or fails cleanly; a failure
// reports the header as decode_header reads it; what decodes re-encodes to the input with its
// reserved bits zeroed and decodes again to the same MAD; printing never fails; an rdma_cm
// private-data header in a REQ or SIDR_REQ survives its own round trip.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/print.h"
#include "ibcm/wire/rdma_cm.h"
#include "wire/testkit.h"

using namespace ibcm::wire;

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "mad_decode_fuzz: %s\n", what);
    std::abort();
  }
}

void check_rdma_cm(std::span<const uint8_t> private_data) {
  auto h = rdma_cm::decode_header(private_data);
  if (!h) return;
  std::array<uint8_t, rdma_cm::kHeaderSize> out;
  rdma_cm::encode_header(*h, out);
  auto again = rdma_cm::decode_header(out);
  require(again.has_value() && *again == *h, "rdma_cm header round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  MadHeader header;
  require(decode_header(in, header) == (size >= kMadHeaderSize), "decode_header length check");

  auto mad = decode(in);
  if (!mad) {
    if (size >= kMadHeaderSize) require(mad.error().header == header, "failure header");
    return 0;
  }
  require(size == kMadSize, "decoded a MAD that is not 256 bytes");
  require(mad->header == header, "decode and decode_header disagree");

  const MadBytes once = encode(*mad);
  const MadBytes mask = testkit::field_mask(mad->message);
  for (size_t i = 0; i < kMadSize; ++i)
    require(once[i] == (in[i] & mask[i]), "encode(decode(x)) != x outside reserved bits");
  auto again = decode(once);
  require(again.has_value() && *again == *mad, "decode(encode(decode(x))) != decode(x)");

  require(!to_text(*mad).empty() && !to_json(*mad).empty(), "printing");
  if (auto* req = std::get_if<Req>(&mad->message)) check_rdma_cm(req->private_data);
  if (auto* sidr = std::get_if<SidrReq>(&mad->message)) check_rdma_cm(sidr->private_data);
  return 0;
}
