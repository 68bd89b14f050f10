// server/node/wal_recovery.h: where raft's apply resumes after a restart, and the operator's notices
// about a lost log tail.
#include "server/node/wal_recovery.h"

#include <gtest/gtest.h>

namespace cairn::server::node {
namespace {

raft::Entry normal(raft::Index i) {
  return raft::Entry{1, i, raft::EntryType::kNormal, "x"};
}
raft::Entry conf(raft::Index i) {
  return raft::Entry{1, i, raft::EntryType::kConfChange, "c"};
}

TEST(RaftAppliedAtStart, TheStoresIndexButNeverAboveTheCommitIndex) {
  const std::vector<raft::Entry> log = {normal(4), normal(5), normal(6), normal(7)};
  EXPECT_EQ(raft_applied_at_start(5, raft::HardState{2, 1, 7}, 3, log), 5u);
  // A store that applied entries whose hard state (commit index) a crash lost.
  EXPECT_EQ(raft_applied_at_start(7, raft::HardState{2, 1, 6}, 3, log), 6u);
}

TEST(RaftAppliedAtStart, ResumesBeforeAConfChangeTheMembershipDoesNotReflect) {
  // The metadata (membership) reflects conf changes up to 3; the store applied through 7, conf change 6
  // included: the metadata record saved after applying 6 was lost with the WAL's tail.
  const std::vector<raft::Entry> log = {normal(4), normal(5), conf(6), normal(7)};
  EXPECT_EQ(raft_applied_at_start(7, raft::HardState{2, 1, 7}, 3, log), 5u);
  // The membership reflects 6: nothing to hand out again.
  EXPECT_EQ(raft_applied_at_start(7, raft::HardState{2, 1, 7}, 6, log), 7u);
  // A conf change not yet applied by the store is handed out anyway.
  EXPECT_EQ(raft_applied_at_start(5, raft::HardState{2, 1, 7}, 3, log), 5u);
  // Metadata of the first layout has no conf index: the store is trusted.
  EXPECT_EQ(raft_applied_at_start(7, raft::HardState{2, 1, 7}, 0, log), 7u);
}

TEST(LostTailNotices, TellTheOperatorWhatWasCutAndWhenTheMemberCaughtUp) {
  LostTailNotices n;
  wal::RecoveredState clean;
  EXPECT_FALSE(n.at_start(clean));
  EXPECT_FALSE(n.on_hard_state(raft::HardState{1, 1, 3}));

  LostTailNotices r;
  wal::RecoveredState st;
  st.hard_state.lost_tail = true;
  st.tail_repair =
      wal::TailRepair{"wal/0000000000000001-0000000000000001.wal", 4096, 120, "crc mismatch", 41};
  auto start = r.at_start(st);
  ASSERT_TRUE(start);
  EXPECT_NE(start->find("cut 120 bytes at offset 4096"), std::string::npos) << *start;
  EXPECT_NE(start->find("ends at index 41"), std::string::npos) << *start;
  EXPECT_NE(start->find("votes for no one"), std::string::npos) << *start;
  EXPECT_FALSE(r.on_hard_state(raft::HardState{2, 0, 41, true}));  // still catching up: nothing new
  auto done = r.on_hard_state(raft::HardState{2, 0, 50, false});
  ASSERT_TRUE(done);
  EXPECT_NE(done->find("caught up"), std::string::npos);
  EXPECT_FALSE(r.on_hard_state(raft::HardState{2, 0, 51, false}));
  // A loss found through the protocol (no repair saw it).
  auto found = r.on_hard_state(raft::HardState{3, 0, 51, true});
  ASSERT_TRUE(found);
  EXPECT_NE(found->find("no WAL repair saw"), std::string::npos);
}

}  // namespace
}  // namespace cairn::server::node
