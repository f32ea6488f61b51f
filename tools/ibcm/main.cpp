// The ibcm command: each subcommand registers itself from its own file (commands.h).
#include <CLI/CLI.hpp>

#include "exit_status.h"
#include "ibcm/commands.h"
#include "ibcm/version.h"

int main(int argc, char** argv) {
  CLI::App app{"The InfiniBand Communication Manager in user space", "ibcm"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.set_version_flag("--version", "ibcm " IBCM_VERSION);
  app.footer(ibcm::cli::kExitStatus);
  ibcm::cli::Runner run;
  ibcm::cli::add_commands(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end parsing with status 0; anything else is a usage error, which
    // `ibcm probe` reports above its deviation counts.
    if (app.exit(e) == 0) return 0;
    for (const CLI::App* sub : app.get_subcommands())
      if (sub->get_name() == "probe") return ibcm::cli::kProbeCannotRun;
    return 2;
  }
  return run ? run() : 0;
}
