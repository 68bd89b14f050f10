// The gateway watch's request splitter: whole JSON objects out of a body that arrives in pieces.
#include <gtest/gtest.h>

#include "server/watch/gateway.h"

namespace cairn::server::watch {
namespace {

using R = JsonObjectSplitter::Result;

TEST(JsonObjectSplitter, ObjectsSplitAcrossPiecesAndStrings) {
  JsonObjectSplitter s(1024);
  std::string out;
  s.append(" {\"a\":{\"b\":\"}{\\\"\"}");
  EXPECT_EQ(s.next(out), R::kNeedMore);
  s.append("}\n{\"c\":[1,{}]}{");
  ASSERT_EQ(s.next(out), R::kObject);
  EXPECT_EQ(out, "{\"a\":{\"b\":\"}{\\\"\"}}");
  ASSERT_EQ(s.next(out), R::kObject);
  EXPECT_EQ(out, "{\"c\":[1,{}]}");
  EXPECT_EQ(s.next(out), R::kNeedMore);
  s.append("}");
  ASSERT_EQ(s.next(out), R::kObject);
  EXPECT_EQ(out, "{}");
  EXPECT_EQ(s.next(out), R::kNeedMore);
}

TEST(JsonObjectSplitter, RejectsNonObjectsAndOversizedObjects) {
  JsonObjectSplitter s(8);
  std::string out;
  s.append("[1]");
  EXPECT_EQ(s.next(out), R::kBad);
  EXPECT_FALSE(s.too_large());
  JsonObjectSplitter t(8);
  t.append("{\"key\":\"0123456789\"");
  EXPECT_EQ(t.next(out), R::kBad);
  EXPECT_TRUE(t.too_large());
}

}  // namespace
}  // namespace cairn::server::watch
