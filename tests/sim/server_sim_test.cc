// The whole-server simulator's own tests: it passes the server as built, catches the server when one
// rule is broken on purpose, and replays a seed exactly.
#include <gtest/gtest.h>

#include "tests/sim/server_sim.h"

namespace cairn::sim {
namespace {

ServerSimOptions short_run(uint64_t seed) {
  ServerSimOptions o;
  o.seed = seed;
  o.duration = std::chrono::milliseconds(5'000);
  return o;
}

TEST(ServerSim, TheServerAsBuiltPassesWithFaults) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    ServerSimResult r = run_server_sim(short_run(seed));
    EXPECT_TRUE(r.ok) << "seed " << seed << ": " << r.failure;
    EXPECT_GT(r.ops_ok, 0u) << "seed " << seed;
    EXPECT_GT(r.applied_index, 0u) << "seed " << seed;
  }
}

TEST(ServerSim, WithoutFaultsAlmostEveryOperationSucceeds) {
  ServerSimOptions o = short_run(11);
  o.faults = false;
  ServerSimResult r = run_server_sim(o);
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.crashes, 0u);
  EXPECT_EQ(r.dropped, 0u);
  // Only the operations before the first leader is elected (about a second of five) may fail.
  EXPECT_GT(r.ops_ok, r.ops * 3 / 4) << r.ops_ok << " of " << r.ops;
}

// Linearizable gets answered without ReadIndex (NodeConfig::debug_unsafe_skip_read_index): a member
// serves what it has applied, which lags the leader. A stale read needs a get on a lagging member just
// after a write elsewhere, which most seeds draw (7 of seeds 1-10 when this was written): at least 5
// must be caught, and only by the linearizability check.
TEST(ServerSim, ReadsWithoutReadIndexAreCaught) {
  int caught = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    ServerSimOptions o = short_run(seed);
    o.break_read_index = true;
    ServerSimResult r = run_server_sim(o);
    if (r.ok) continue;
    ++caught;
    EXPECT_NE(r.failure.find("not linearizable"), std::string::npos) << "seed " << seed << ": " << r.failure;
  }
  EXPECT_GE(caught, 5);
}

// No lease service on any member: the leases clients grant and never keep alive are never revoked.
TEST(ServerSim, LeasesNobodyRevokesAreCaught) {
  ServerSimOptions o = short_run(1);
  o.break_lessor = true;
  ServerSimResult r = run_server_sim(o);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("leased keys"), std::string::npos) << r.failure;
}

TEST(ServerSim, ASeedReplaysExactly) {
  ServerSimResult a = run_server_sim(short_run(5));
  ServerSimResult b = run_server_sim(short_run(5));
  ServerSimResult c = run_server_sim(short_run(6));
  ASSERT_TRUE(a.ok) << a.failure;
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.ops, b.ops);
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.applied_index, b.applied_index);
  EXPECT_NE(a.trace, c.trace);
}

}  // namespace
}  // namespace cairn::sim
