// The ibcm CLI as a user runs it: `ibcm decode` on a real Linux capture, on a capture of all
// twelve CM messages with random field values, and on a capture with broken frames, checked by
// parsing every JSON line strictly (one object, unique keys).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "ibcm/wire/mad.h"
#include "ibcm/wire/pcap.h"
#include "ibcm/wire/print.h"
#include "ibcm/wire/roce.h"
#include "ibcm/wire/schema.h"
#include "tools/cli_run.h"
#include "wire/testkit.h"

using namespace ibcm::wire;
using Run = ibcm::test::CliRun;
using ibcm::test::run;

namespace {

// A strict parser for the flat JSON objects the CLI prints: string, unsigned integer and boolean
// values. Values come back as text (strings unescaped). nullopt unless the whole line is one
// well-formed object with unique keys.
class FlatJson {
 public:
  static std::optional<std::map<std::string, std::string>> parse(const std::string& s) {
    FlatJson p{s};
    std::map<std::string, std::string> out;
    if (!p.eat('{')) return std::nullopt;
    if (!p.eat('}')) {
      do {
        auto key = p.string();
        if (!key || !p.eat(':')) return std::nullopt;
        auto value = p.value();
        if (!value || !out.emplace(*key, *value).second) return std::nullopt;
      } while (p.eat(','));
      if (!p.eat('}')) return std::nullopt;
    }
    if (p.i_ != s.size()) return std::nullopt;
    return out;
  }

 private:
  explicit FlatJson(const std::string& s) : s_(s) {}
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  std::optional<std::string> string() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
      if (c == '\\') {
        if (i_ >= s_.size()) return std::nullopt;
        char e = s_[i_++];
        if (e != '"' && e != '\\' && e != '/') return std::nullopt;  // the CLI needs no others
        c = e;
      }
      out += c;
    }
    if (!eat('"')) return std::nullopt;
    return out;
  }
  std::optional<std::string> value() {
    if (i_ < s_.size() && s_[i_] == '"') return string();
    for (const char* lit : {"true", "false"}) {
      if (s_.compare(i_, std::strlen(lit), lit) == 0) {
        i_ += std::strlen(lit);
        return std::string(lit);
      }
    }
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    if (i_ == start || (s_[start] == '0' && i_ - start > 1)) return std::nullopt;
    return s_.substr(start, i_ - start);
  }
  const std::string& s_;
  size_t i_ = 0;
};

using Object = std::map<std::string, std::string>;

std::vector<Object> parse_all(const Run& r) {
  std::vector<Object> out;
  for (const auto& line : r.lines) {
    auto o = FlatJson::parse(line);
    EXPECT_TRUE(o.has_value()) << line;
    if (o) out.push_back(std::move(*o));
  }
  return out;
}

// The key of a header field on the line of an M: its spec name, or "MAD.<name>" when M has a
// field of that name too (SIDR_REP's Status, ClassPortInfo's BaseVersion and ClassVersion).
template <class M>
std::string header_key(std::string_view name) {
  return (field_named<M>(name) ? "MAD." : "") + std::string(name);
}

template <class M>
void expect_every_field(const Object& o) {
  for (const auto& f : Schema<MadHeader>::fields)
    EXPECT_TRUE(o.count(header_key<M>(f.name))) << f.name;
  for (const auto& f : Schema<M>::fields) EXPECT_TRUE(o.count(std::string(f.name))) << f.name;
}

// A field's value as the JSON line must show it: a number in decimal, a GID as IPv6 text, other
// bytes as lowercase hex.
template <class R>
std::string json_value(const Field<R>& f, const R& r) {
  if (f.is_number()) return std::to_string(f.get(r));
  auto bytes = f.bytes(r);
  if (f.kind == FieldKind::Gid) {
    Gid g{};
    std::copy(bytes.begin(), bytes.end(), g.begin());
    return gid_to_string(g);
  }
  std::string hex;
  char buf[3];
  for (uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  return hex;
}

// The line of a MAD holds the message's name, every header and message field with its value,
// and nothing else but the frame's keys.
template <class M>
void expect_every_field_with_its_value(const Object& o, const MadHeader& h, const M& m) {
  auto at = [&](const std::string& key) {
    auto it = o.find(key);
    return it == o.end() ? std::string("(missing)") : it->second;
  };
  EXPECT_EQ(at("message"), Schema<M>::name);
  for (const auto& f : Schema<MadHeader>::fields)
    EXPECT_EQ(at(header_key<M>(f.name)), json_value(f, h)) << header_key<M>(f.name);
  for (const auto& f : Schema<M>::fields)
    EXPECT_EQ(at(std::string(f.name)), json_value(f, m)) << f.name;
  const size_t frame_keys = 4;  // frame, src, dst, icrc_ok
  EXPECT_EQ(o.size(), frame_keys + 1 + Schema<MadHeader>::fields.size() + Schema<M>::fields.size());
}

class TempPcap {
 public:
  TempPcap() {
    char name[] = "/tmp/ibcm-decode-test-XXXXXX";
    int fd = mkstemp(name);
    if (fd >= 0) {
      close(fd);
      path_ = name;
    }
  }
  ~TempPcap() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<uint8_t> roce_frame(std::span<const uint8_t> payload) {
  roce::Datagram d;
  const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
  d.src_gid = roce::ipv4_mapped_gid(a);
  d.dst_gid = roce::ipv4_mapped_gid(b);
  d.payload = payload;
  std::vector<uint8_t> f(roce::kMaxFrameSize);
  f.resize(roce::build_ethernet_frame(d, f));
  return f;
}

}  // namespace

TEST(DecodeCli, JsonParserIsStrict) {
  EXPECT_TRUE(FlatJson::parse(R"({"a":1,"b":"x\"y","c":true})").has_value());
  EXPECT_EQ((*FlatJson::parse(R"({"b":"x\"y"})"))["b"], "x\"y");
  for (const char* bad : {"", "{", R"({"a":1,})", R"({"a":1}x)", R"({"a":01})", R"({"a":1,"a":2})",
                          R"({a:1})", R"({"a":tru})"})
    EXPECT_FALSE(FlatJson::parse(bad).has_value()) << bad;
}

TEST(DecodeCli, JsonLinesOfTheStaleAnswerCapture) {
  auto r = run(std::string("decode --json ") + IBCM_VECTORS_DIR + "/linux61-stale-answer.pcap");
  EXPECT_EQ(r.exit_code, 0);
  auto objs = parse_all(r);
  ASSERT_EQ(objs.size(), 10u);
  const char* names[] = {"REQ", "REP", "RTU", "REQ", "REJ", "DREQ", "DREP", "REQ", "REP", "RTU"};
  for (size_t i = 0; i < objs.size(); ++i) {
    auto& o = objs[i];
    EXPECT_EQ(o["frame"], std::to_string(i + 1));
    EXPECT_EQ(o["message"], names[i]);
    EXPECT_EQ(o["icrc_ok"], "true");
    EXPECT_EQ(o.count("error"), 0u) << i;
    bool from_linux = i == 1 || i == 4 || i == 5 || i == 8;
    EXPECT_EQ(o["src"], from_linux ? "198.51.100.2" : "198.51.100.1");
    EXPECT_EQ(o["dst"], from_linux ? "198.51.100.1" : "198.51.100.2");
  }
  auto &req = objs[0], &req2 = objs[3], &rej = objs[4], &dreq = objs[5];
  expect_every_field<Req>(req);
  expect_every_field<Rej>(rej);
  expect_every_field<Dreq>(dreq);
  EXPECT_EQ(req["ServiceID"], "17177606");  // 0x1061C06: rdma_cm TCP port 7174
  EXPECT_EQ(req["PrimaryLocalPortGID"], "::ffff:198.51.100.1");
  EXPECT_EQ(req["PrimaryLocalPortLID"], "65535");
  EXPECT_EQ(req["MaxCMRetries"], "15");
  EXPECT_EQ(req["AttributeID"], "16");
  EXPECT_EQ(rej["Reason"], "10");
  EXPECT_EQ(rej["MessageRejected"], "0");
  EXPECT_EQ(rej["LocalCommID"], "0");
  EXPECT_EQ(rej["RemoteCommID"], req2["LocalCommID"]);
  EXPECT_EQ(rej["TransactionID"], req2["TransactionID"]);
  EXPECT_EQ(dreq["RemoteQPN"], req["LocalQPN"]);
  EXPECT_EQ(dreq["RemoteQPN"], "291");
}

// All twelve messages, every header and message field a random value of its width (valid for
// decode()), each once: every line parses with unique keys and shows every field's value.
TEST(DecodeCli, JsonLinesOfAllTwelveMessagesHoldEveryFieldOnceWithItsValue) {
  std::mt19937_64 rng(0xdec0'de12);
  std::vector<Mad> mads;
  for (size_t i = 0; i < std::variant_size_v<Message>; ++i)
    mads.push_back(testkit::valid_mad(testkit::message_of_index(i), rng));
  ASSERT_EQ(mads.size(), 12u);
  // The names that the header shares, with values unlike the header's.
  for (auto& mad : mads) {
    if (auto* s = std::get_if<SidrRep>(&mad.message)) {
      mad.header.status = 0x001c;
      s->status = SidrStatus::NoQp;  // 3
    }
    if (auto* c = std::get_if<ClassPortInfo>(&mad.message)) {
      c->base_version = 0x5a;
      c->class_version = 0x3c;
    }
  }
  TempPcap tmp;
  ASSERT_FALSE(tmp.path().empty());
  {
    pcap::Writer w;
    ASSERT_EQ(w.open(tmp.path()), "");
    uint64_t t = 1'000;
    for (const auto& mad : mads) ASSERT_EQ(w.write(t += 1'000, roce_frame(encode(mad))), "");
    ASSERT_EQ(w.close(), "");
  }
  auto r = run("decode --json " + tmp.path());
  EXPECT_EQ(r.exit_code, 0);
  auto objs = parse_all(r);
  ASSERT_EQ(objs.size(), mads.size());
  for (size_t i = 0; i < mads.size(); ++i) {
    SCOPED_TRACE(r.lines[i]);
    EXPECT_EQ(objs[i]["frame"], std::to_string(i + 1));
    EXPECT_EQ(objs[i]["icrc_ok"], "true");
    EXPECT_EQ(objs[i].count("error"), 0u);
    std::visit(
        [&](const auto& m) { expect_every_field_with_its_value(objs[i], mads[i].header, m); },
        mads[i].message);
  }
  // The shared names spelled out: the message's field keeps the plain name.
  const Object& sidr_rep = objs[Message{SidrRep{}}.index()];
  EXPECT_EQ(sidr_rep.at("MAD.Status"), "28");
  EXPECT_EQ(sidr_rep.at("Status"), "3");
  const Object& cpi = objs[Message{ClassPortInfo{}}.index()];
  EXPECT_EQ(cpi.at("MAD.BaseVersion"), "1");
  EXPECT_EQ(cpi.at("BaseVersion"), "90");
  EXPECT_EQ(cpi.at("MAD.ClassVersion"), "2");
  EXPECT_EQ(cpi.at("ClassVersion"), "60");
  EXPECT_EQ(cpi.at("MgmtClass"), "7");  // only the shared names are prefixed
  for (const auto& [key, value] : objs[Message{Req{}}.index()])
    EXPECT_NE(key.rfind("MAD.", 0), 0u) << key;
}

TEST(DecodeCli, TextHasOneLinePerMadWithFieldsBySpecName) {
  auto r = run(std::string("decode ") + IBCM_VECTORS_DIR + "/linux61-req-unanswered.pcap");
  EXPECT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.lines.size(), 16u);
  for (size_t i = 0; i < r.lines.size(); ++i) {
    const auto& l = r.lines[i];
    EXPECT_EQ(l.rfind(std::to_string(i + 1) + " 198.51.100.2 > 198.51.100.1 REQ ", 0), 0u) << l;
    EXPECT_NE(l.find(" LocalCommID=0x98f1a23f "), std::string::npos) << l;  // IDs are hex
    EXPECT_NE(l.find(" ServiceID=0x1061c06 "), std::string::npos) << l;
    EXPECT_NE(l.find(" MaxCMRetries=15 "), std::string::npos) << l;
    EXPECT_NE(l.find(" PrimaryFlowLabel=741129 "), std::string::npos) << l;
    EXPECT_EQ(l.find("error"), std::string::npos) << l;
  }
}

TEST(DecodeCli, BrokenFramesAreReportedOnTheirOwnLineAndDecodingGoesOn) {
  TempPcap tmp;
  ASSERT_FALSE(tmp.path().empty());
  Dreq dreq;
  dreq.local_comm_id = 7;
  dreq.remote_qpn = 0x42;
  auto good = encode(make_mad(dreq, 1));
  auto not_cm = good;
  not_cm[1] = 0x81;  // MgmtClass: not the CM
  {
    pcap::Writer w;
    ASSERT_EQ(w.open(tmp.path()), "");
    auto flipped = roce_frame(good);
    flipped[100] ^= 0x01;
    auto cut = roce_frame(good);
    cut.resize(100);
    for (const auto& [t, frame] : std::vector<std::pair<uint64_t, std::vector<uint8_t>>>{
             {1'000, roce_frame(good)},                // 1: fine
             {2'000, std::vector<uint8_t>(60, 0x06)},  // 2: EtherType 0x0606, not IP
             {3'000, flipped},                         // 3: ICRC mismatch
             {4'000, roce_frame(not_cm)},              // 4: RoCE, but not a CM MAD
             {5'000, cut},                             // 5: cut short
             {6'000, roce_frame(encode(make_mad(Rtu{8, 9, {}}, 2)))},  // 6: fine
         })
      ASSERT_EQ(w.write(t, frame), "");
    ASSERT_EQ(w.close(), "");
  }
  // Frame 5 as a snap length would cut it: 100 bytes captured of 322 sent.
  {
    FILE* f = std::fopen(tmp.path().c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    long off = 24;
    for (int rec = 0; rec < 4; ++rec) {
      uint8_t h[16];
      ASSERT_EQ(std::fseek(f, off, SEEK_SET), 0);
      ASSERT_EQ(std::fread(h, 1, 16, f), 16u);
      off += 16 + (h[8] | h[9] << 8 | h[10] << 16 | h[11] << 24);
    }
    const uint8_t orig[4] = {322 & 0xff, 322 >> 8, 0, 0};
    ASSERT_EQ(std::fseek(f, off + 12, SEEK_SET), 0);
    ASSERT_EQ(std::fwrite(orig, 1, 4, f), 4u);
    std::fclose(f);
  }
  auto r = run("decode --json " + tmp.path());
  EXPECT_EQ(r.exit_code, 0);
  auto objs = parse_all(r);
  ASSERT_EQ(objs.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(objs[i]["frame"], std::to_string(i + 1));

  EXPECT_EQ(objs[0]["message"], "DREQ");
  EXPECT_EQ(objs[0]["RemoteQPN"], "66");
  EXPECT_EQ(objs[0]["src"], "10.0.0.1");
  EXPECT_EQ(objs[0].count("error"), 0u);

  EXPECT_EQ(objs[1].size(), 2u);  // {"frame":2,"error":...}
  EXPECT_EQ(objs[1]["error"], roce::to_string(roce::ParseError::NotIp));

  EXPECT_EQ(objs[2]["icrc_ok"], "false");
  EXPECT_EQ(objs[2]["error"].rfind("ICRC mismatch", 0), 0u) << objs[2]["error"];
  EXPECT_EQ(objs[2]["message"], "DREQ");  // still decoded: the damage may be the point

  EXPECT_EQ(objs[3]["icrc_ok"], "true");
  EXPECT_EQ(objs[3]["error"], "MAD: " + std::string(to_string(DecodeError::MgmtClass)));
  EXPECT_EQ(objs[3].count("message"), 0u);

  EXPECT_EQ(objs[4].size(), 2u);
  EXPECT_EQ(objs[4]["error"], std::string(roce::to_string(roce::ParseError::BadLength)) +
                                  " (captured 100 of 322 bytes)");

  EXPECT_EQ(objs[5]["message"], "RTU");
  EXPECT_EQ(objs[5]["RemoteCommID"], "9");

  // The text form has the same lines, errors in place.
  auto t = run("decode " + tmp.path());
  EXPECT_EQ(t.exit_code, 0);
  ASSERT_EQ(t.lines.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(t.lines[i].rfind(std::to_string(i + 1) + " ", 0), 0u) << t.lines[i];
    bool broken = i >= 1 && i <= 4;
    EXPECT_EQ(t.lines[i].find(" error: ") != std::string::npos, broken) << t.lines[i];
  }
}

TEST(DecodeCli, UnreadableFilesAreAClearErrorAndNonZeroExit) {
  auto r = run("decode /nonexistent.pcap 2>&1");
  EXPECT_NE(r.exit_code, 0);
  ASSERT_FALSE(r.lines.empty());
  EXPECT_NE(r.lines[0].find("cannot open"), std::string::npos);
  auto bad = run(std::string("decode ") + IBCM_VECTORS_DIR + "/README.md 2>&1");
  EXPECT_NE(bad.exit_code, 0);
  ASSERT_FALSE(bad.lines.empty());
  EXPECT_NE(bad.lines[0].find("magic"), std::string::npos) << bad.lines[0];
}
