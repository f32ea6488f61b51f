#include <CLI/CLI.hpp>
#include <cstdio>

#include "ibcm/commands.h"

namespace ibcm::cli {

void add_decode(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("decode", "Decode the CM MADs in a RoCEv2 pcap capture");
  static std::string file;
  static bool json = false;
  cmd->add_option("FILE", file, "classic pcap, Ethernet link type")->required();
  cmd->add_flag("--json", json, "one JSON object per MAD");
  cmd->callback([&run] {
    run = [] {
      std::fprintf(stderr, "decode: not built yet\n");
      return 1;
    };
  });
}

}  // namespace ibcm::cli
