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
int seeds_caught(raft::TestingBreak rule, const char* expect_substr, std::string* example,
                 uint64_t seeds = 200, SimOptions o = {}) {
  o.break_rule = rule;
  int caught = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
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

SimOptions with_lost_tails() {
  SimOptions o;
  o.lost_tail = SimOptions::LostTail::kAlways;
  return o;
}

// raft/lost_tail.h: a member whose log lost acknowledged entries votes for no one until it has caught
// up. With the rule off, a candidate lacking an entry committed with the lost acknowledgement wins
// (leader completeness, §5.4.1); the simulator's lost-tail fault must find such a history.
TEST(Simulation, CatchesVotesOfAMemberThatLostItsTail) {
  std::string example;
  int completeness = 0;
  SimOptions o = with_lost_tails();
  o.break_rule = raft::TestingBreak::kLostTailVotes;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    auto r = run_simulation(seed, o);
    if (r.ok || r.failure.find("leader completeness") == std::string::npos) continue;
    if (example.empty()) example = r.failure;
    ++completeness;
  }
  EXPECT_GT(completeness, 0);
  std::printf("%d seeds of 400 violated leader completeness; first: %s\n", completeness, example.c_str());
}

// The leader must reset the progress of a member that reports a lost tail and answer it: with the
// reports ignored, the member never catches up (and never votes again), which the liveness phase reports.
TEST(Simulation, CatchesALeaderThatIgnoresLostTailReports) {
  std::string example;
  EXPECT_GT(
      seeds_caught(raft::TestingBreak::kLostTailIgnored, "never caught up", &example, 60, with_lost_tails()),
      0);
  std::printf("first violation: %s\n", example.c_str());
}

// raw_node.h: with pipelined Readies, a Ready's acknowledgements wait for its write. Sending them
// with the Ready's other messages lets a crash lose an entry a quorum was counted for.
TEST(Simulation, CatchesAcknowledgementsSentBeforeTheWrite) {
  SimOptions o;
  o.async_writes = SimOptions::AsyncWrites::kAlways;
  std::string example;
  EXPECT_GT(seeds_caught(raft::TestingBreak::kAckBeforePersist, "", &example, 200, o), 0);
  std::printf("first violation: %s\n", example.c_str());
}
#endif

// Pipelined Readies (raft/raw_node.h) keep every rule, with every member writing asynchronously.
TEST(Simulation, AsynchronousWritesHold) {
  SimOptions o;
  o.async_writes = SimOptions::AsyncWrites::kAlways;
  uint64_t committed = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    auto r = run_simulation(seed, o);
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure;
    committed += r.committed;
  }
  EXPECT_GT(committed, 40u * 10);
}

// The lost-tail fault is exercised and holds (the CLI's --lost-tail always runs thousands more).
TEST(Simulation, LostTailsAreRecoveredSafely) {
  SimOptions o;
  o.lost_tail = SimOptions::LostTail::kAlways;
  uint64_t lost = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    auto r = run_simulation(seed, o);
    ASSERT_TRUE(r.ok) << "seed " << seed << ": " << r.failure;
    lost += r.lost_tails;
  }
  EXPECT_GT(lost, 20u);
}

}  // namespace
}  // namespace cairn::sim
