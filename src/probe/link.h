// A connection the probe makes to the remote (REQ, REP, RTU) and ends again (DREQ, DREP), for the
// checks that need one to stand on.
#pragma once

#include <optional>
#include <string>

#include "probe/conversation.h"

namespace ibcm::probe {

struct Link {
  uint32_t ours = 0;    // our communication ID
  uint32_t theirs = 0;  // the remote's
  uint32_t qpn = 0;     // our QPN, as the REQ named it
  uint32_t their_qpn = 0;
  uint64_t tid = 0;  // the REQ's transaction ID (the REP's, which copies it)
};

// REQ from `qpn` (a fresh one if 0), the remote's REP (after an MRA, if it sends one), our RTU.
// Without a REP: nullopt, and `why` says what came instead; a REQ left unanswered is withdrawn
// with a REJ, so the remote holds nothing.
std::optional<Link> open_link(Conversation& c, std::string& why, uint32_t qpn = 0);

// Our RTU for the remote's REP to our REQ `ours` from `qpn`: the connection it makes.
Link accept_rep(Conversation& c, uint32_t ours, uint32_t qpn, const Got& rep);

// DREQ, and its DREP (the DREQ sent again while none comes, as a CM would; a DREQ of the
// remote's that crosses ours is answered instead). False when the remote never answered: it may
// still hold the connection.
bool close_link(Conversation& c, const Link& l);

// REJ with reason 4 (timeout) from us for `msg`, its ARI our CA GUID, as the spec fills it (the
// Linux CM finds the connection by that GUID and our comm ID, not by its own comm ID).
wire::Rej timeout_rej(const Conversation& c, uint32_t ours, uint32_t theirs, wire::MsgRef msg);

// Ends a connection the remote accepted that the check did not mean to make: a REJ (consumer
// defined) for its REP to our REQ `ours`.
void reject_rep(Conversation& c, uint32_t ours, const Got& rep);

// Answers a DREQ from the remote (DREP with the comm IDs swapped).
void answer_dreq(Conversation& c, const wire::Mad& dreq);

// How long the remote may take to answer one try of ours, with what our REQs advertise: two
// packet lifetimes and the remote's response time we allow, and the probe's own margin.
Time one_try(const Conversation& c);

}  // namespace ibcm::probe
