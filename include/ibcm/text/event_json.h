/// @file
/// A consumer event as one line, in the two forms `ibcm` prints: a JSON object
/// ({"t":..,"event":"..",...}, with --json) or `key=value` text, the same fields in both.
/// Identifiers (comm IDs, CA GUIDs, service IDs, SIDR request IDs) are hex, zero-padded to their
/// width ("0x9219076e"), and JSON strings; other numbers (QPNs, PSNs, Q_Keys, reasons) are decimal.
#pragma once

#include <string>

#include "ibcm/api.h"
#include "ibcm/engine/events.h"

IBCM_API_BEGIN

namespace ibcm {

/// t is the event's time in seconds; extra is inserted verbatim after "event" (e.g.
/// "\"node\":\"A\"").
std::string event_to_json(double t, const Event& e, const std::string& extra = {});
/// The same fields as text: "t=0.000010 event=req_received local_comm_id=0x9219076e ...". A value
/// that is empty or holds a space, '=' or '"' is a JSON string literal (wire::text_value), so an
/// address such as from=\::ffff:127.0.0.1 stays as it is and every line splits back into pairs.
std::string event_to_text(double t, const Event& e);

}  // namespace ibcm

IBCM_API_END
