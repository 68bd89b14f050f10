// Quorum arithmetic (raft/quorum.h) checked against naive reference definitions, over many random voter
// sets, acknowledgement maps and vote maps (a property test in the style of etcd-io/raft
// quorum/quick_test.go: the optimised code against the obvious one).
#include "raft/quorum.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "raft/rng.h"

namespace cairn::raft::quorum {
namespace {

// Reference: the largest index i such that a majority of voters acknowledged at least i. Tried for
// every candidate value, largest first.
Index naive_committed(const std::set<NodeId>& voters, const std::map<NodeId, Index>& acked) {
  if (voters.empty()) return UINT64_MAX;
  std::set<Index> candidates = {0};
  for (NodeId id : voters) {
    auto it = acked.find(id);
    if (it != acked.end()) candidates.insert(it->second);
  }
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {
    size_t n = 0;
    for (NodeId id : voters) {
      auto a = acked.find(id);
      if (a != acked.end() && a->second >= *it) ++n;
    }
    if (2 * n > voters.size()) return *it;
  }
  return 0;
}

// Reference: won if granted votes alone are a majority; lost if even granting every missing vote
// would not make one; pending otherwise.
VoteResult naive_vote(const std::set<NodeId>& voters, const std::map<NodeId, bool>& votes) {
  if (voters.empty()) return VoteResult::kWon;
  size_t yes = 0, no = 0;
  for (NodeId id : voters) {
    auto it = votes.find(id);
    if (it == votes.end()) continue;
    (it->second ? yes : no)++;
  }
  if (2 * yes > voters.size()) return VoteResult::kWon;
  if (2 * (voters.size() - no) > voters.size()) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::set<NodeId> random_voters(Rng& rng, size_t max) {
  std::set<NodeId> v;
  size_t n = rng.uniform(max + 1);
  while (v.size() < n)
    v.insert(1 + rng.uniform(20));
  return v;
}

TEST(Quorum, CommittedIndexMatchesNaiveReference) {
  Rng rng(42);
  for (int iter = 0; iter < 5000; ++iter) {
    std::set<NodeId> voters = random_voters(rng, 9);
    std::map<NodeId, Index> acked;
    // Acks from some voters and also from non-voters (learners), which must not count.
    for (NodeId id = 1; id <= 20; ++id) {
      if (rng.uniform(4) != 0) acked[id] = rng.uniform(8);  // small range: many ties
    }
    Index got = committed_index(voters, [&](NodeId id) -> Index {
      auto it = acked.find(id);
      return it == acked.end() ? 0 : it->second;
    });
    ASSERT_EQ(got, naive_committed(voters, acked)) << "iteration " << iter;
  }
}

TEST(Quorum, VoteResultMatchesNaiveReference) {
  Rng rng(7);
  for (int iter = 0; iter < 5000; ++iter) {
    std::set<NodeId> voters = random_voters(rng, 9);
    std::map<NodeId, bool> votes;
    for (NodeId id = 1; id <= 20; ++id) {
      uint64_t r = rng.uniform(3);
      if (r == 1) votes[id] = true;
      if (r == 2) votes[id] = false;
    }
    ASSERT_EQ(vote_result(voters, votes), naive_vote(voters, votes)) << "iteration " << iter;
  }
}

TEST(Quorum, HasQuorumMatchesNaiveReference) {
  Rng rng(9);
  for (int iter = 0; iter < 5000; ++iter) {
    std::set<NodeId> voters = random_voters(rng, 9);
    if (voters.empty()) continue;  // no configuration has zero voters (the last one cannot be removed)
    std::set<NodeId> active;
    for (NodeId id = 1; id <= 20; ++id) {
      if (rng.uniform(2)) active.insert(id);
    }
    size_t n = 0;
    for (NodeId id : voters)
      n += active.count(id);
    bool want = 2 * n > voters.size();
    ASSERT_EQ(has_quorum(voters, [&](NodeId id) { return active.count(id) != 0; }), want)
        << "iteration " << iter;
  }
}

// A few hand-checked cases so a failure of the property tests has an obvious counterpart.
TEST(Quorum, CommittedIndexExamples) {
  auto ci = [](std::set<NodeId> voters, std::map<NodeId, Index> acked) {
    return committed_index(voters, [&](NodeId id) { return acked.count(id) ? acked[id] : 0; });
  };
  EXPECT_EQ(ci({1}, {{1, 5}}), 5u);
  EXPECT_EQ(ci({1, 2, 3}, {{1, 5}, {2, 3}, {3, 1}}), 3u);
  EXPECT_EQ(ci({1, 2, 3}, {{1, 5}}), 0u);
  EXPECT_EQ(ci({1, 2, 3, 4}, {{1, 5}, {2, 5}, {3, 2}, {4, 9}}), 5u);
  EXPECT_EQ(ci({1, 2, 3, 4}, {{1, 5}, {2, 4}, {3, 2}, {4, 1}}), 2u);  // 4 voters need 3 acks
  EXPECT_EQ(ci({}, {}), UINT64_MAX);
}

TEST(Quorum, VoteResultExamples) {
  EXPECT_EQ(vote_result({1, 2, 3}, {{1, true}}), VoteResult::kPending);
  EXPECT_EQ(vote_result({1, 2, 3}, {{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(vote_result({1, 2, 3}, {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(vote_result({1, 2, 3, 4}, {{1, true}, {2, true}, {3, false}}), VoteResult::kPending);
  EXPECT_EQ(vote_result({1, 2, 3, 4}, {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  // Votes from non-voters are ignored.
  EXPECT_EQ(vote_result({1, 2, 3}, {{1, true}, {4, true}, {5, true}}), VoteResult::kPending);
}

}  // namespace
}  // namespace cairn::raft::quorum
