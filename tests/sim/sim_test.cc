#include <gtest/gtest.h>

#include "tests/sim/simulation.h"

namespace cairn::sim {
namespace {

TEST(Simulation, SameSeedReplaysExactly) {
  SimOptions o;
  o.safety_steps = 1500;
  for (uint64_t seed : {3u, 17u, 99u}) {
    auto a = run_simulation(seed, o);
    auto b = run_simulation(seed, o);
    ASSERT_TRUE(a.ok) << a.failure;
    EXPECT_EQ(a.state_hash, b.state_hash) << "seed " << seed;
    EXPECT_EQ(a.messages, b.messages);
    EXPECT_EQ(a.fault_mix, b.fault_mix);
  }
}

TEST(Simulation, DifferentSeedsDiffer) {
  SimOptions o;
  o.safety_steps = 800;
  EXPECT_NE(run_simulation(1, o).state_hash, run_simulation(2, o).state_hash);
}

TEST(Simulation, MakesProgressUnderFaults) {
  SimOptions o;
  uint64_t committed = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto r = run_simulation(seed, o);
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure;
    committed += r.committed;
  }
  // Twenty runs of 3000 chaotic steps commit a substantial log in total.
  EXPECT_GT(committed, 20u * 10);
}

#if CAIRN_INVARIANTS
// The checkers can fail: break one Raft rule on purpose and require that some seed reports it.
int seeds_caught(raft::TestingBreak rule, const char* expect_substr, std::string* example) {
  SimOptions o;
  o.break_rule = rule;
  int caught = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    auto r = run_simulation(seed, o);
    if (!r.ok) {
      ++caught;
      if (example->empty()) *example = r.failure;
      EXPECT_NE(r.failure.find(expect_substr), std::string::npos) << r.failure;
    }
  }
  return caught;
}

// Raft §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the candidate".
TEST(Simulation, CatchesVotesGrantedWithoutTheLogCheck) {
  std::string example;
  EXPECT_GT(seeds_caught(raft::TestingBreak::kVoteIgnoringLog, "", &example), 0);
  std::printf("first violation: %s\n", example.c_str());
}

// Raft §5.2: "each server will vote for at most one candidate in a given term".
TEST(Simulation, CatchesDoubleVotes) {
  std::string example;
  EXPECT_GT(seeds_caught(raft::TestingBreak::kVoteTwice, "election safety", &example), 0);
  std::printf("first violation: %s\n", example.c_str());
}
#endif

}  // namespace
}  // namespace cairn::sim
