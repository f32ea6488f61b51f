// ibcm decode: one line per frame of a RoCEv2 pcap, each CM MAD with every field by its spec
// name (a header field whose name the message has too as "MAD.<name>", see wire/print.h). A frame
// that is not a good CM MAD gets an error on its own line, and decoding goes on: a capture is most
// interesting exactly where something is wrong.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "ibcm/commands.h"
#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/print.h"
#include "ibcm/wire/roce.h"

namespace ibcm::cli {

namespace {

// RoCEv2 over IPv4 carries IPv4-mapped GIDs; show the address the IP header actually had.
std::string ip_text(const wire::Gid& gid) {
  std::string s = wire::gid_to_string(gid);
  if (wire::roce::is_ipv4_mapped(gid) && s.rfind("::ffff:", 0) == 0) s.erase(0, 7);
  return s;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

class LineWriter {
 public:
  explicit LineWriter(bool json) : json_(json) {}

  // A frame that is not RoCEv2 at all: only its number and what is wrong.
  void bad_frame(size_t frame, std::string_view error) {
    if (json_)
      std::cout << "{\"frame\":" << frame << ",\"error\":" << wire::json_quote(error) << "}\n";
    else
      std::cout << frame << " error: " << error << "\n";
  }

  // A RoCEv2 frame; `mad` is null when its payload is not a CM MAD, `error` empty when all is
  // well.
  void frame(size_t frame, const wire::roce::Parsed& p, const wire::Mad* mad,
             std::string_view error) {
    std::string src = ip_text(p.dgram.src_gid), dst = ip_text(p.dgram.dst_gid);
    if (json_) {
      std::cout << "{\"frame\":" << frame << ",\"src\":" << wire::json_quote(src)
                << ",\"dst\":" << wire::json_quote(dst)
                << ",\"icrc_ok\":" << (p.icrc_ok ? "true" : "false");
      if (!error.empty()) std::cout << ",\"error\":" << wire::json_quote(error);
      // to_json's object without its opening brace continues this one.
      if (mad)
        std::cout << "," << wire::to_json(*mad).substr(1);
      else
        std::cout << "}";
      std::cout << "\n";
    } else {
      std::cout << frame << " " << src << " > " << dst;
      if (!error.empty()) std::cout << " error: " << error << (mad ? ";" : "");
      if (mad) std::cout << " " << wire::to_text(*mad);
      std::cout << "\n";
    }
  }

 private:
  bool json_;
};

int run_decode(const std::string& file, bool json) {
  auto records = wire::pcap::read_file(file);
  if (!records) {
    std::fprintf(stderr, "ibcm decode: %s: %s\n", file.c_str(), records.error().c_str());
    return 2;
  }
  LineWriter out(json);
  size_t number = 0;
  for (const auto& r : *records) {
    ++number;
    auto p = wire::roce::parse_ethernet_frame(r.data);
    if (!p) {
      std::string error(wire::roce::to_string(p.error()));
      if (r.data.size() < r.original_length)
        error += " (captured " + std::to_string(r.data.size()) + " of " +
                 std::to_string(r.original_length) + " bytes)";
      out.bad_frame(number, error);
      continue;
    }
    auto mad = wire::decode(p->dgram.payload);
    if (!mad) {
      out.frame(number, *p, nullptr, "MAD: " + std::string(wire::to_string(mad.error().error)));
      continue;
    }
    std::string error;
    if (!p->icrc_ok)
      error = "ICRC mismatch (received " + hex32(p->icrc) + ", computed " +
              hex32(p->icrc_computed) + ")";
    out.frame(number, *p, &*mad, error);
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
  cmd->add_flag("--json", json, "one JSON object per frame");
  cmd->callback([&run] { run = [] { return run_decode(file, json); }; });
}

}  // namespace ibcm::cli
