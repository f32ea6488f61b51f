// docs/engine.md shows the state machine as the code has it: the tables of state_table.h and
// what each action does, rendered here and compared with the page (doc_region.h), so that the page
// cannot drift from the code. IBCM_UPDATE_DOCS=1 writes the rendering into the page instead (then
// commit it).
#include <gtest/gtest.h>

#include <ostream>
#include <sstream>
#include <string>

#include "doc_region.h"
#include "engine/state_table.h"

namespace {

using namespace ibcm;
using namespace ibcm::engine;

constexpr const char* kInputNames[] = {"REQ",  "MRA", "REJ", "REP",         "RTU",  "DREQ",
                                       "DREP", "LAP", "APR", "stale claim", "timer"};
static_assert(std::size(kInputNames) == kInputs);
constexpr const char* kLapStateNames[] = {"idle", "LAP_SENT", "LAP_RCVD", "MRA_LAP_SENT",
                                          "MRA_LAP_RCVD"};
static_assert(std::size(kLapStateNames) == kLapStates);
constexpr const char* kLapInputNames[] = {"LAP", "APR", "MRA", "REJ", "timer"};
static_assert(std::size(kLapInputNames) == kLapInputs);
constexpr const char* kCallNames[] = {"accept",    "reject",     "send_mra",  "send_rtu",
                                      "establish", "disconnect", "send_drep", "load_alternate_path",
                                      "send_apr",  "migrate",    "destroy"};
static_assert(std::size(kCallNames) == kCalls);
constexpr const char* kLapCallNames[] = {"send_mra", "load_alternate_path", "send_apr"};

// One state table as markdown: a row per state, a column per input, each cell the action's name.
template <size_t kInputCount>
void render_table(std::ostream& o, const char* corner, const char* const (&inputs)[kInputCount],
                  size_t states, auto state_name, auto action_name) {
  o << "| " << corner << " |";
  for (const char* in : inputs) o << " " << in << " |";
  o << "\n|---|";
  for (size_t i = 0; i < kInputCount; ++i) o << "---|";
  o << "\n";
  for (size_t s = 0; s < states; ++s) {
    o << "| " << state_name(s) << " |";
    for (size_t i = 0; i < kInputCount; ++i) o << " " << action_name(s, i) << " |";
    o << "\n";
  }
}

std::string render() {
  std::ostringstream o;
  o << "Connection states (rows) and inputs (columns); each cell is the action `act()` takes.\n\n";
  render_table(
      o, "state", kInputNames, kStates, [](size_t s) { return to_string(static_cast<State>(s)); },
      [](size_t s, size_t i) { return kActDocs[static_cast<size_t>(kTable[s][i])].name; });
  o << "\nThe alternate-path sub-states of an ESTABLISHED connection (`lap_act()`):\n\n";
  render_table(
      o, "LAP state", kLapInputNames, kLapStates, [](size_t s) { return kLapStateNames[s]; },
      [](size_t s, size_t i) { return kLapActDocs[static_cast<size_t>(kLapTable[s][i])].name; });
  o << "\nThe consumer's calls (columns) in each state (`call_act()`): Refuse fails with "
       "InvalidState and changes nothing.\n\n";
  render_table(
      o, "state", kCallNames, kStates, [](size_t s) { return to_string(static_cast<State>(s)); },
      [](size_t s, size_t i) { return kCallActDocs[static_cast<size_t>(kCallTable[s][i])].name; });
  o << "\nThe alternate-path calls of an ESTABLISHED connection, by its LAP sub-state:\n\n";
  render_table(
      o, "LAP state", kLapCallNames, kLapStates, [](size_t s) { return kLapStateNames[s]; },
      [](size_t s, size_t i) {
        return kCallActDocs[static_cast<size_t>(kLapCallTable[s][i])].name;
      });
  o << "\n| action | what it does |\n|---|---|\n";
  for (const ActDoc& a : kActDocs) o << "| " << a.name << " | " << a.what << " |\n";
  o << "\n| LAP action | what it does |\n|---|---|\n";
  for (const ActDoc& a : kLapActDocs) o << "| " << a.name << " | " << a.what << " |\n";
  o << "\n| call action | what it does |\n|---|---|\n";
  for (const ActDoc& a : kCallActDocs) o << "| " << a.name << " | " << a.what << " |\n";
  return o.str();
}

TEST(StateTableDoc, TheEnginePageShowsTheTablesAsTheCodeHasThem) {
  test::check_doc_region({"engine.md", "state tables", "src/engine/state_table.h",
                          "tests/engine/state_table_doc_test.cpp"},
                         render());
}

// The action names the page shows are the enum's, in its order (the docs array is kept by hand).
TEST(StateTableDoc, ActionNamesFollowTheEnum) {
  EXPECT_STREQ(kActDocs[static_cast<size_t>(Act::Drop)].name, "Drop");
  EXPECT_STREQ(kActDocs[static_cast<size_t>(Act::RejStale)].name, "RejStale");
  EXPECT_STREQ(kActDocs[static_cast<size_t>(Act::RetryDreq)].name, "RetryDreq");
  EXPECT_STREQ(kActDocs[static_cast<size_t>(Act::Lap)].name, "Lap");
  EXPECT_STREQ(kLapActDocs[static_cast<size_t>(LapAct::PeerAbandoned)].name, "PeerAbandoned");
  EXPECT_STREQ(kLapActDocs[static_cast<size_t>(LapAct::RetryLap)].name, "RetryLap");
  EXPECT_STREQ(kCallActDocs[static_cast<size_t>(CallAct::Refuse)].name, "Refuse");
  EXPECT_STREQ(kCallActDocs[static_cast<size_t>(CallAct::DreqOnceTimeWait)].name,
               "DreqOnceTimeWait");
  EXPECT_STREQ(kCallActDocs[static_cast<size_t>(CallAct::MraLap)].name, "MraLap");
}

}  // namespace
