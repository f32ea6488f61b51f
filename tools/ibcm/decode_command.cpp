// ibcm decode: one line per CM MAD in a RoCEv2 pcap; malformed frames are reported in place.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "ibcm/commands.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/print.h"
#include "ibcm/wire/roce.h"

namespace ibcm::cli {

namespace {

int run_decode(const std::string& file, bool json) {
  auto records = wire::pcap::read_file(file);
  if (!records) {
    std::fprintf(stderr, "ibcm decode: %s: %s\n", file.c_str(), records.error().c_str());
    return 2;
  }
  size_t frame = 0;
  for (const auto& r : *records) {
    ++frame;
    auto report_error = [&](std::string_view what) {
      if (json)
        std::cout << "{\"frame\":" << frame << ",\"error\":" << wire::json_quote(what) << "}\n";
      else
        std::cout << frame << " error: " << what << "\n";
    };
    auto p = wire::roce::parse_ethernet_frame(r.data);
    if (!p) {
      report_error(wire::roce::to_string(p.error()));
      continue;
    }
    auto mad = wire::decode(p->dgram.payload);
    if (!mad) {
      report_error(wire::to_string(mad.error().error));
      continue;
    }
    std::string src = wire::gid_to_string(p->dgram.src_gid);
    std::string dst = wire::gid_to_string(p->dgram.dst_gid);
    if (json) {
      std::string body = wire::to_json(*mad);
      std::cout << "{\"frame\":" << frame << ",\"src\":" << wire::json_quote(src)
                << ",\"dst\":" << wire::json_quote(dst)
                << ",\"icrc_ok\":" << (p->icrc_ok ? "true" : "false") << "," << body.substr(1)
                << "\n";
    } else {
      std::cout << frame << " " << src << " > " << dst << (p->icrc_ok ? "" : " BAD-ICRC") << " "
                << wire::to_text(*mad) << "\n";
    }
  }
  std::cout.flush();
  return 0;
}

}  // namespace

void add_decode(CLI::App& app, Runner& run) {
  auto* cmd = app.add_subcommand("decode", "Decode the CM MADs in a RoCEv2 pcap capture");
  static std::string file;
  static bool json = false;
  cmd->add_option("FILE", file, "classic pcap, Ethernet link type")->required();
  cmd->add_flag("--json", json, "one JSON object per MAD");
  cmd->callback([&run] { run = [] { return run_decode(file, json); }; });
}

}  // namespace ibcm::cli
