// The pages of docs/ that show what the code holds (docs/engine.md's state tables, docs/wire.md's
// field tables) hold it between two marker lines, rendered by a test from the code. The test
// compares that region of the page with its rendering, so that the page cannot drift from the
// code; with IBCM_UPDATE_DOCS=1 it writes the rendering into the page instead (then commit it).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace ibcm::test {

// A rendered region: the page, and what its markers say. The region is the lines between
//   <!-- WHAT: rendered from SOURCE by TEST -->
//   <!-- end of the WHAT -->
struct DocRegion {
  std::string page;    // under docs/, e.g. "wire.md"
  std::string what;    // e.g. "field tables"
  std::string source;  // what the test renders, e.g. "include/ibcm/wire/schema.h"
  std::string test;    // the test's file, e.g. "tests/wire/field_table_doc_test.cpp"
};

// The region is `rendered`: checked, or written into the page with IBCM_UPDATE_DOCS=1.
inline void check_doc_region(const DocRegion& r, const std::string& rendered) {
  const std::string path = std::string(IBCM_VECTORS_DIR) + "/../../docs/" + r.page;
  const std::string begin = "<!-- " + r.what + ": rendered from " + r.source + " by " + r.test +
                            " -->\n",
                    end = "<!-- end of the " + r.what + " -->\n";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t first = text.find(begin), last = text.find(end);
  ASSERT_NE(first, std::string::npos) << "no line " << begin << "in " << path;
  ASSERT_NE(last, std::string::npos) << "no line " << end << "in " << path;
  ASSERT_LT(first, last);
  const size_t from = first + begin.size();
  if (std::getenv("IBCM_UPDATE_DOCS")) {
    text.replace(from, last - from, rendered);
    std::ofstream(path) << text;
    GTEST_SKIP() << "wrote the " << r.what << " into " << path;
  }
  // How to run this test again: tests/LAYER/... is in build/tests/LAYER_tests.
  const size_t layer = r.test.find('/') + 1;
  const std::string suite =
      ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name();
  EXPECT_EQ(text.substr(from, last - from), rendered)
      << "docs/" << r.page << "'s " << r.what << " differ from " << r.source
      << ": run IBCM_UPDATE_DOCS=1 build/tests/"
      << r.test.substr(layer, r.test.find('/', layer) - layer) << "_tests --gtest_filter='" << suite
      << ".*' and commit the page";
}

}  // namespace ibcm::test
