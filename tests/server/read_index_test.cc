// ReadIndexBatcher (server/node/read_index.h): batching into rounds, confirmation by raft's ReadState,
// serving at the applied index, deadlines, the bound. No node, no ports.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/node/read_index.h"

namespace cairn::server::node {
namespace {

using Clock = std::chrono::steady_clock;

struct Answers {
  std::vector<std::string> got;
  ErrorDone done(const std::string& name) {
    return [this, name](std::optional<EtcdError> e) { got.push_back(name + (e ? ":" + e->message : ":ok")); };
  }
};

TEST(ReadIndexBatcher, ReadsWaitingTogetherShareOneRoundAndAreServedOnceApplied) {
  Answers a;
  ReadIndexBatcher b(7, 100);
  const auto later = Clock::now() + std::chrono::hours(1);
  for (const char* n : {"r1", "r2"}) {
    auto d = a.done(n);
    ASSERT_TRUE(b.add(d, later));
  }
  auto ctx = b.start_round(true);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(*ctx, "7/1");
  EXPECT_FALSE(b.start_round(true)) << "nothing waits";
  b.on_read_state(raft::ReadState{10, "other"});
  b.serve(100);
  EXPECT_TRUE(a.got.empty()) << "only its own round's ReadState confirms a read";
  b.on_read_state(raft::ReadState{10, *ctx});
  b.serve(9);
  EXPECT_TRUE(a.got.empty()) << "not before the store applied the read index";
  b.serve(10);
  EXPECT_EQ(a.got, (std::vector<std::string>{"r1:ok", "r2:ok"}));
}

TEST(ReadIndexBatcher, NoLeaderDeadlinesBoundAndStop) {
  Answers a;
  ReadIndexBatcher b(7, 2);
  const auto now = Clock::now();
  auto d1 = a.done("r1");
  ASSERT_TRUE(b.add(d1, now));
  EXPECT_FALSE(b.start_round(false));
  EXPECT_EQ(a.got, (std::vector<std::string>{"r1:etcdserver: no leader"}));
  a.got.clear();
  auto d2 = a.done("r2"), d3 = a.done("r3"), d4 = a.done("r4");
  ASSERT_TRUE(b.add(d2, now));
  ASSERT_TRUE(b.add(d3, now + std::chrono::hours(1)));
  EXPECT_FALSE(b.add(d4, now)) << "over the bound";
  EXPECT_TRUE(d4) << "a refused read's callback stays with the caller";
  auto ctx = b.start_round(true);
  ASSERT_TRUE(ctx);
  b.expire(now);
  ASSERT_EQ(a.got.size(), 2u) << "a round times out as a whole (by its first read's deadline)";
  a.got.clear();
  auto d5 = a.done("r5");
  ASSERT_TRUE(b.add(d5, now + std::chrono::hours(1)));
  b.fail_all(err_stopped());
  ASSERT_EQ(a.got.size(), 1u);
}

}  // namespace
}  // namespace cairn::server::node
