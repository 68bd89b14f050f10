// Progress (probe / replicate / snapshot) transitions and the Inflights window bounded by count and
// bytes (raft/progress.h).
#include "raft/progress.h"

#include <gtest/gtest.h>

namespace cairn::raft {
namespace {

TEST(Inflights, FullByCount) {
  Inflights in(3, 0);
  EXPECT_FALSE(in.full());
  in.add(1, 100);
  in.add(2, 100);
  EXPECT_FALSE(in.full());
  in.add(5, 100);
  EXPECT_TRUE(in.full());
  EXPECT_EQ(in.count(), 3u);
  EXPECT_EQ(in.bytes(), 300u);
}

TEST(Inflights, FullByBytes) {
  Inflights in(100, 250);
  in.add(1, 100);
  in.add(2, 100);
  EXPECT_FALSE(in.full()) << "200 of 250 bytes";
  in.add(3, 50);
  EXPECT_TRUE(in.full()) << "exactly at the byte bound";
  in.free_le(1);
  EXPECT_FALSE(in.full());
  EXPECT_EQ(in.bytes(), 150u);
  // A single message larger than the whole budget is still admitted (progress over perfection), and
  // then fills the window on its own.
  Inflights big(100, 10);
  big.add(1, 1000);
  EXPECT_TRUE(big.full());
}

TEST(Inflights, FreeLeFreesEverythingUpToAndIncludingIndex) {
  Inflights in(10, 0);
  for (Index i : {3, 5, 7, 9})
    in.add(i, i);
  in.free_le(4);  // frees 3
  EXPECT_EQ(in.count(), 3u);
  EXPECT_EQ(in.bytes(), 5u + 7 + 9);
  in.free_le(7);  // frees 5 and 7
  EXPECT_EQ(in.count(), 1u);
  EXPECT_EQ(in.bytes(), 9u);
  in.free_le(2);  // stale acknowledgement: nothing to free
  EXPECT_EQ(in.count(), 1u);
  in.free_le(100);
  EXPECT_EQ(in.count(), 0u);
  EXPECT_EQ(in.bytes(), 0u);
}

TEST(Inflights, ResetEmptiesTheWindow) {
  Inflights in(2, 0);
  in.add(1, 10);
  in.add(2, 10);
  ASSERT_TRUE(in.full());
  in.reset();
  EXPECT_FALSE(in.full());
  EXPECT_EQ(in.count(), 0u);
  EXPECT_EQ(in.bytes(), 0u);
}

Progress make(Index match, Index next, ProgressState st = ProgressState::kProbe, size_t max_msgs = 4) {
  Progress p(next, max_msgs, 0, false);
  p.match_index = match;
  if (st == ProgressState::kReplicate) {
    p.become_replicate();
    p.next_index = next;
  } else if (st == ProgressState::kSnapshot) {
    p.become_snapshot(next);
  }
  return p;
}

TEST(Progress, ProbeSendsOneAppendThenPauses) {
  Progress p = make(0, 5);
  EXPECT_FALSE(p.is_paused());
  p.sent_entries(7, 30);
  EXPECT_TRUE(p.is_paused()) << "a probe waits for its answer";
  EXPECT_EQ(p.next_index, 5u) << "probing does not move next optimistically";
  EXPECT_EQ(p.inflights.count(), 0u);
  // The answer (a successful update) unpauses.
  EXPECT_TRUE(p.maybe_update(7));
  EXPECT_FALSE(p.is_paused());
  EXPECT_EQ(p.match_index, 7u);
  EXPECT_EQ(p.next_index, 8u);
}

TEST(Progress, ReplicateStreamsOptimisticallyWithinTheWindow) {
  Progress p = make(4, 5, ProgressState::kReplicate, 2);
  p.sent_entries(6, 10);
  EXPECT_EQ(p.next_index, 7u);
  EXPECT_FALSE(p.is_paused());
  p.sent_entries(9, 10);
  EXPECT_EQ(p.next_index, 10u);
  EXPECT_TRUE(p.is_paused()) << "window of 2 messages is full";
  // An empty append (heartbeat-like) does not take a slot.
  Progress q = make(4, 5, ProgressState::kReplicate, 2);
  q.sent_entries(4, 0);
  EXPECT_EQ(q.inflights.count(), 0u);
  EXPECT_EQ(q.next_index, 5u);
}

TEST(Progress, MaybeUpdateIgnoresStaleAcks) {
  Progress p = make(5, 9, ProgressState::kReplicate);
  EXPECT_FALSE(p.maybe_update(3));
  EXPECT_EQ(p.match_index, 5u);
  EXPECT_EQ(p.next_index, 9u);
  EXPECT_TRUE(p.maybe_update(10));
  EXPECT_EQ(p.match_index, 10u);
  EXPECT_EQ(p.next_index, 11u) << "next never trails match";
}

TEST(Progress, ReplicateRejectionFallsBackToMatchPlusOne) {
  Progress p = make(5, 12, ProgressState::kReplicate);
  EXPECT_FALSE(p.maybe_decr_to(4, 4)) << "rejecting something at or below match is stale";
  EXPECT_FALSE(p.maybe_decr_to(5, 3));
  EXPECT_EQ(p.next_index, 12u);
  EXPECT_TRUE(p.maybe_decr_to(9, 7));
  EXPECT_EQ(p.next_index, 6u);
}

TEST(Progress, ProbeRejectionUsesHintButNeverGoesBelowMatch) {
  // Only the rejection of the last probe (at next-1) counts.
  Progress p = make(0, 10);
  EXPECT_FALSE(p.maybe_decr_to(7, 3)) << "stale: we probed at 9, not 7";
  EXPECT_EQ(p.next_index, 10u);
  EXPECT_TRUE(p.maybe_decr_to(9, 3));
  EXPECT_EQ(p.next_index, 4u) << "jump to hint+1 in one step";
  EXPECT_FALSE(p.is_paused()) << "a rejection answers the probe";

  Progress q = make(5, 10);
  EXPECT_TRUE(q.maybe_decr_to(9, 2));
  EXPECT_EQ(q.next_index, 6u) << "never below match+1";

  Progress r = make(0, 10);
  EXPECT_TRUE(r.maybe_decr_to(9, 20));
  EXPECT_EQ(r.next_index, 9u) << "a hint beyond the rejected index cannot move next forward";
}

TEST(Progress, TransitionsResetTheWindowAndPause) {
  Progress p = make(5, 6, ProgressState::kReplicate, 2);
  p.sent_entries(7, 10);
  p.sent_entries(8, 10);
  ASSERT_TRUE(p.is_paused());
  p.become_probe();
  EXPECT_EQ(p.state, ProgressState::kProbe);
  EXPECT_EQ(p.next_index, 6u);
  EXPECT_EQ(p.inflights.count(), 0u);
  EXPECT_FALSE(p.is_paused());
  p.sent_entries(8, 20);
  ASSERT_TRUE(p.is_paused());
  p.become_replicate();
  EXPECT_EQ(p.state, ProgressState::kReplicate);
  EXPECT_EQ(p.next_index, 6u);
  EXPECT_FALSE(p.is_paused());
}

TEST(Progress, SnapshotStateIsPausedAndResumesAfterTheSnapshot) {
  Progress p = make(2, 3);
  p.become_snapshot(20);
  EXPECT_EQ(p.state, ProgressState::kSnapshot);
  EXPECT_EQ(p.pending_snapshot, 20u);
  EXPECT_TRUE(p.is_paused());
  // Snapshot delivered: probe from just after it, even before the follower acknowledged it.
  p.become_probe();
  EXPECT_EQ(p.state, ProgressState::kProbe);
  EXPECT_EQ(p.next_index, 21u);
  EXPECT_EQ(p.pending_snapshot, 0u);

  // A failed snapshot (pending cleared first, as the leader does on MsgSnapStatus reject) resumes
  // probing right after the match.
  Progress q = make(2, 3);
  q.become_snapshot(20);
  q.pending_snapshot = 0;
  q.become_probe();
  EXPECT_EQ(q.next_index, 3u);

  // A follower that got ahead of the snapshot in the meantime resumes after its match.
  Progress r = make(2, 3);
  r.become_snapshot(20);
  r.match_index = 25;
  r.become_probe();
  EXPECT_EQ(r.next_index, 26u);
}

TEST(Progress, DescribeNamesStateAndIndexes) {
  Progress p = make(3, 4, ProgressState::kReplicate);
  EXPECT_EQ(p.describe(), "StateReplicate match=3 next=4");
  Progress s = make(3, 4);
  s.become_snapshot(9);
  EXPECT_EQ(s.describe(), "StateSnapshot match=3 next=4 pendingSnap=9");
}

}  // namespace
}  // namespace cairn::raft
