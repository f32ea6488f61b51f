// SA MADs as they cross the wire, written out byte by byte from the layouts of IBTA Vol 1 15.2.1
// (SA MAD) and 15.2.5.16 (PathRecord) and from what OpenSM 3.3 (osm_sa.c, osm_sa_path_record.c)
// puts in each field, since no SA runs where these tests do. Not produced by ibcm's encoder: the
// codec is tested against them.
//
// The fabric: our port, GUID 0x248a07030049d4f0 (GID fe80::248a:703:49:d4f0), LID 3; the peer,
// GUID 0x248a07030049d4f8, LID 5; the SM at LID 1; 4x EDR links, MTU 4096, default partition
// only; OpenSM with its defaults (SL 0, subnet_timeout 18). Our SA agent's number in the upper
// TID bits, as the MAD layer writes it, is 0x1c.
#pragma once

#include <cstdint>
#include <string_view>

#include "ibcm/sa/path_record.h"

namespace ibcm::sa::test {

// 256 bytes from rows of hex digits (spaces ignored); short text leaves zeros behind it.
inline wire::MadBytes mad_from_hex(std::string_view hex) {
  wire::MadBytes out{};
  size_t n = 0;
  int high = -1;
  for (char c : hex) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      if (n < out.size()) out[n++] = static_cast<uint8_t>(high << 4 | v);
      high = -1;
    }
  }
  return out;
}

inline constexpr uint64_t kAgentTidHigh = 0x0000001cull << 32;
inline const wire::Gid kOurGid{0xfe, 0x80, 0,    0,    0,    0,    0,    0,
                               0x24, 0x8a, 0x07, 0x03, 0x00, 0x49, 0xd4, 0xf0};
inline const wire::Gid kPeerGid{0xfe, 0x80, 0,    0,    0,    0,    0,    0,
                                0x24, 0x8a, 0x07, 0x03, 0x00, 0x49, 0xd4, 0xf8};
inline constexpr uint64_t kServiceId = 0x000000000106'1d2full;  // rdma_cm, TCP port 7471

// The query kPathGetRequest asks: our port to the peer's, for the rdma_cm service.
inline PathRequest our_request() {
  PathRequest q;
  q.sgid = kOurGid;
  q.dgid = kPeerGid;
  q.service_id = kServiceId;
  return q;
}

// The SubnAdmGet(PathRecord) a connect to the peer asks, as it leaves the port (TID 0x1c:1):
// ComponentMask ServiceID | DGID | SGID | Reversible | NumbPath | P_Key = 0x380f, the components
// Linux's rdma_cm gives (cma_query_ib_route); Reversible 1, NumbPath 1, P_Key 0xffff.
inline const wire::MadBytes kPathGetRequest = mad_from_hex(
    // BaseVersion 1, class 0x03, version 2, SubnAdmGet; Status 0; TID
    "01 03 02 01 0000 0000  0000001c 00000001"
    // AttributeID 0x0035, reserved, modifier 0; RMPP header: none (12 bytes)
    "0035 0000 00000000  00 00 00 00 00000000 00000000"
    // SM_Key 0; AttributeOffset 0; reserved; ComponentMask
    "0000000000000000  0000 0000  000000000000380f"
    // PathRecord: ServiceID; DGID; SGID
    "000000000106 1d2f  fe80000000000000 248a07030049d4f8  fe80000000000000 248a07030049d4f0"
    // DLID 0, SLID 0; RawTraffic, FlowLabel, HopLimit 0; TClass 0; Reversible 1 NumbPath 1;
    // P_Key; the rest 0
    "0000 0000  00000000  00 81 ffff");

// OpenSM's answer to it: the request's first 56 bytes with the R bit, SM_Key 0 and
// AttributeOffset 8 (one 64-byte record, osm_sa_respond); a record built afresh
// (pr_rcv_build_pr): ServiceID 0, the GIDs, DLID 5 and SLID 3, HopLimit 0 (the peer is in the
// subnet), FlowLabel and TClass 0, Reversible 1 with NumbPath 0, P_Key 0xffff, SL 0, and MTU 5
// (4096), Rate 16 (100 Gb/s) and PacketLifeTime 18, each with selector 2 (exactly).
inline const wire::MadBytes kPathGetResp = mad_from_hex(
    "01 03 02 81 0000 0000  0000001c 00000001"
    "0035 0000 00000000  00 00 00 00 00000000 00000000"
    "0000000000000000  0008 0000  000000000000380f"
    "0000000000000000  fe80000000000000 248a07030049d4f8  fe80000000000000 248a07030049d4f0"
    // DLID 5, SLID 3; 0; TClass 0; 0x80; P_Key; QoSClass/SL 0; MTU 0x85, Rate 0x90, PLT 0x92
    "0005 0003  00000000  00 80 ffff  0000 85 90 92 00 000000000000");

// OpenSM's answer to a query for a port that shares no partition with ours (GUID
// 0x248a07030049d4e0, TID 0x1c:2): no path qualifies, and to a SubnAdmGet that finds none
// osm_sa_send_error copies the whole request back — header, ComponentMask and the record as
// asked — with the R bit, SM_Key 0 and Status ERR_NO_RECORDS (3 in the upper byte).
inline const wire::MadBytes kPathGetNoRecords = mad_from_hex(
    "01 03 02 81 0300 0000  0000001c 00000002"
    "0035 0000 00000000  00 00 00 00 00000000 00000000"
    "0000000000000000  0000 0000  000000000000380f"
    "000000000106 1d2f  fe80000000000000 248a07030049d4e0  fe80000000000000 248a07030049d4f0"
    "0000 0000  00000000  00 81 ffff");

// A SubnAdmGetTable(PathRecord) for the same pair (SGID | DGID | P_Key | NumbPath | Reversible,
// NumbPath 1, TID 0x1c:3) answered with the one record: OpenSM marks it RMPP-active and the
// kernel's RMPP sender (mad_rmpp.c) makes it the one DATA segment — RMPPVersion 1, type DATA,
// flags Active | First | Last, SegmentNumber 1, PayloadLength 20 + 64 = 84.
inline const wire::MadBytes kPathGetTableResp = mad_from_hex(
    "01 03 02 92 0000 0000  0000001c 00000003"
    "0035 0000 00000000  01 01 07 00 00000001 00000054"
    "0000000000000000  0008 0000  000000000000380c"
    "0000000000000000  fe80000000000000 248a07030049d4f8  fe80000000000000 248a07030049d4f0"
    "0005 0003  00000000  00 80 ffff  0000 85 90 92 00 000000000000");

}  // namespace ibcm::sa::test
