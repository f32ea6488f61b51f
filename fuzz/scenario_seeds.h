// Engine-fuzzer inputs recorded from the simulator's scenarios (`ibcm sim --all`): each
// scenario's run read back from its trace and written as the operations of fuzz/engine_ops.h
// that make the fuzzer's two CMs exchange the same MADs in the same order. The consumer calls
// that sent the first copy of a message (connect, accept, RTU, MRA, reject, disconnect, DREP)
// become calls, each copy's fate becomes deliver / duplicate / drop at its arrival, the clock
// advances to every send and arrival (to the next timer exactly, where a timer sent it), and a
// crash becomes a reboot. What the engine sends by itself (retries, REJ 10 and the stale DREQ,
// DREP for an unknown DREQ, REJ 4 on a timeout) it sends again in the fuzzer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ibcm::fuzz {

struct ScenarioSeed {
  std::string name;            // the scenario's
  std::vector<uint8_t> input;  // engine_fuzz input; empty if the scenario could not be recorded
  std::string why_not;         // what made it impossible (a message the fuzzer cannot call up)
};

// One per scenario of ibcm::sim::scenarios(), run with seed 1.
std::vector<ScenarioSeed> scenario_seeds();

}  // namespace ibcm::fuzz
