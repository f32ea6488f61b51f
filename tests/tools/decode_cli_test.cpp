// The ibcm CLI as a user runs it: decode a real Linux capture to JSON lines.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {
std::vector<std::string> run(const std::string& cmd, int* status) {
  std::vector<std::string> lines;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return lines;
  char buf[65536];
  while (fgets(buf, sizeof buf, p)) lines.emplace_back(buf);
  *status = pclose(p);
  return lines;
}
}  // namespace

TEST(DecodeCli, JsonLinesCarryEveryFieldBySpecName) {
  int status = -1;
  auto lines = run(
      std::string(IBCM_CLI) + " decode --json " + IBCM_VECTORS_DIR + "/linux61-stale-answer.pcap",
      &status);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_NE(lines[0].find("\"frame\":1,"), std::string::npos);
  EXPECT_NE(lines[0].find("\"message\":\"REQ\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"ServiceID\":17177606"), std::string::npos);  // 0x1061C06
  EXPECT_NE(lines[0].find("\"PrimaryFlowLabel\":"), std::string::npos);
  EXPECT_NE(lines[0].find("\"icrc_ok\":true"), std::string::npos);
  EXPECT_NE(lines[4].find("\"message\":\"REJ\""), std::string::npos);
  EXPECT_NE(lines[4].find("\"Reason\":10"), std::string::npos);
  EXPECT_NE(lines[5].find("\"RemoteQPN\":291"), std::string::npos);
}

TEST(DecodeCli, MissingFileIsAClearError) {
  int status = -1;
  auto lines = run(std::string(IBCM_CLI) + " decode /nonexistent.pcap 2>&1", &status);
  EXPECT_NE(status, 0);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("cannot open"), std::string::npos);
}
