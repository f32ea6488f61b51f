// The ibcm command: each subcommand registers itself from its own file (commands.h).
#include <CLI/CLI.hpp>

#include "ibcm/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ibcm — the InfiniBand Communication Manager in user space"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  ibcm::cli::Runner run;
  ibcm::cli::add_commands(app, run);
  CLI11_PARSE(app, argc, argv);
  return run ? run() : 0;
}
