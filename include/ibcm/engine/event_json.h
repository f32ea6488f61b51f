/// @file
/// One JSON object per consumer event, as `ibcm --json` prints them: {"t":..,"event":"..",...}.
#pragma once

#include <string>

#include "ibcm/api.h"
#include "ibcm/engine/events.h"

IBCM_API_BEGIN

namespace ibcm {

/// t is the event's time in seconds; extra is inserted verbatim after "event" (e.g.
/// "\"node\":\"A\"").
std::string event_to_json(double t, const Event& e, const std::string& extra = {});

}  // namespace ibcm

IBCM_API_END
