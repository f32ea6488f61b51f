// Subcommands of the ibcm CLI. Each add_* registers one subcommand and sets `run` when chosen.
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace ibcm::cli {

using Runner = std::function<int()>;

// `ibcm probe`'s status when it cannot run (its others count deviations, 0 to 100).
inline constexpr int kProbeCannotRun = 101;

void add_decode(CLI::App& app, Runner& run);
void add_connect(CLI::App& app, Runner& run);
void add_listen(CLI::App& app, Runner& run);
void add_sidr(CLI::App& app, Runner& run);
void add_probe(CLI::App& app, Runner& run);
void add_sim(CLI::App& app, Runner& run);
void add_bench(CLI::App& app, Runner& run);
void add_daemon(CLI::App& app, Runner& run);
void add_run(CLI::App& app, Runner& run);
void add_man(CLI::App& app, Runner& run);         // hidden: the build writes the man pages
void add_completion(CLI::App& app, Runner& run);  // hidden: the build writes bash completion

inline void add_commands(CLI::App& app, Runner& run) {
  add_decode(app, run);
  add_connect(app, run);
  add_listen(app, run);
  add_sidr(app, run);
  add_probe(app, run);
  add_sim(app, run);
  add_bench(app, run);
  add_daemon(app, run);
  add_run(app, run);
  add_man(app, run);
  add_completion(app, run);
}

}  // namespace ibcm::cli
