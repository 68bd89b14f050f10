// --force-new-cluster (server/node/force_new_cluster.h): the entries a survivor appends to become a
// one-member cluster.
#include "server/node/force_new_cluster.h"

#include <gtest/gtest.h>

namespace cairn::server::node {
namespace {

raft::Entry conf_entry(uint64_t index, uint64_t term, raft::ConfChangeType type, uint64_t id) {
  raft::ConfChange cc;
  cc.type = type;
  cc.node_id = id;
  return raft::Entry{term, index, raft::EntryType::kConfChange, cc.encode()};
}

raft::Entry normal(uint64_t index, uint64_t term) {
  return raft::Entry{term, index, raft::EntryType::kNormal, "x"};
}

std::vector<std::pair<raft::ConfChangeType, uint64_t>> changes(const ForcedRestart& f) {
  std::vector<std::pair<raft::ConfChangeType, uint64_t>> out;
  for (const auto& e : f.entries) {
    auto cc = raft::ConfChange::decode(e.data);
    EXPECT_TRUE(cc);
    EXPECT_EQ(e.type, raft::EntryType::kConfChange);
    out.emplace_back(cc->type, cc->node_id);
  }
  return out;
}

TEST(ForceNewCluster, RemovesTheOthersAfterTheCommittedLog) {
  // Voters 1,2,3 (conf index 3); entries 4..9 in term 5, committed up to 7: 8 and 9 were never committed.
  std::vector<raft::Entry> log;
  for (uint64_t i = 4; i <= 9; ++i)
    log.push_back(normal(i, 5));
  raft::HardState hs{5, 2, 7};
  auto f = force_new_cluster(log, hs, 3, 2, raft::ConfState{{1, 2, 3}, {}}, 3, 1);
  ASSERT_TRUE(f);
  EXPECT_EQ(changes(*f),
            (std::vector<std::pair<raft::ConfChangeType, uint64_t>>{{raft::ConfChangeType::kRemoveNode, 2},
                                                                    {raft::ConfChangeType::kRemoveNode, 3}}));
  EXPECT_EQ(f->entries.front().index, 8u);  // overwrite the uncommitted tail
  EXPECT_EQ(f->entries.back().index, 9u);
  EXPECT_EQ(f->entries.front().term, 5u);
  EXPECT_EQ(f->hard_state, (raft::HardState{5, 2, 9}));
}

TEST(ForceNewCluster, CommittedConfChangesAfterTheMetadataCount) {
  // Member 4 was added (as a learner, then promoted) by committed entries the metadata does not show yet;
  // an uncommitted add of 5 does not count.
  std::vector<raft::Entry> log{conf_entry(11, 4, raft::ConfChangeType::kAddLearnerNode, 4),
                               conf_entry(12, 4, raft::ConfChangeType::kAddNode, 4),
                               conf_entry(13, 4, raft::ConfChangeType::kRemoveNode, 3),
                               conf_entry(14, 4, raft::ConfChangeType::kAddNode, 5)};
  auto f = force_new_cluster(log, raft::HardState{4, 1, 13}, 10, 4, raft::ConfState{{1, 2, 3}, {}}, 10, 2);
  ASSERT_TRUE(f);
  EXPECT_EQ(changes(*f),
            (std::vector<std::pair<raft::ConfChangeType, uint64_t>>{{raft::ConfChangeType::kRemoveNode, 1},
                                                                    {raft::ConfChangeType::kRemoveNode, 4}}));
  EXPECT_EQ(f->entries.front().index, 14u);
}

TEST(ForceNewCluster, ALearnerSurvivorAddsItselfAndTermOneIsAvoided) {
  // Still in the bootstrap term: forced entries must not look like bootstrap entries (term 1).
  auto f = force_new_cluster({}, raft::HardState{1, 1, 3}, 0, 0, raft::ConfState{{1, 2}, {3}}, 3, 3);
  ASSERT_TRUE(f);
  EXPECT_EQ(changes(*f),
            (std::vector<std::pair<raft::ConfChangeType, uint64_t>>{{raft::ConfChangeType::kRemoveNode, 1},
                                                                    {raft::ConfChangeType::kRemoveNode, 2},
                                                                    {raft::ConfChangeType::kAddNode, 3}}));
  EXPECT_EQ(f->entries.front().term, 2u);
  EXPECT_EQ(f->hard_state.term, 2u);
  EXPECT_EQ(f->hard_state.vote, raft::kNone);
}

TEST(ForceNewCluster, AloneAlready) {
  EXPECT_FALSE(force_new_cluster({}, raft::HardState{3, 1, 9}, 9, 3, raft::ConfState{{1}, {}}, 9, 1));
}

}  // namespace
}  // namespace cairn::server::node
