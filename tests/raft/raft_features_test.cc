// Tests of the Raft core's features beyond the basic paper algorithm: pre-vote, check-quorum, progress
// tracking and flow control, fast log backtracking, snapshots, ReadIndex, leadership transfer,
// proposal forwarding, membership changes, the RawNode driving contract, and a small randomized
// safety check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "raft/bootstrap.h"
#include "raft/rng.h"
#include "tests/raft/harness.h"

namespace cairn::raft::test {
namespace {

Config pv_cq_config(NodeId id) {
  Config c = plain_config(id);
  c.pre_vote = true;
  c.check_quorum = true;
  return c;
}

Config cq_config(NodeId id) {
  Config c = plain_config(id);
  c.check_quorum = true;
  return c;
}

ConfChange cc(ConfChangeType t, NodeId id) {
  ConfChange c;
  c.type = t;
  c.node_id = id;
  return c;
}

std::string progress_of(TestNode& leader, NodeId id) {
  return leader.node->status().progress[id];
}

// Ticks the leader for one heartbeat interval and lets the cluster settle.
void heartbeat(Cluster& c, NodeId leader) {
  c.tick(leader, c[leader].config().heartbeat_interval_ticks);
  c.stabilize();
}

// Ticks `id` until it starts an election (at most 2T ticks).
void tick_until_campaign(Cluster& c, NodeId id) {
  Term t = c[id].raft().term();
  StateRole r = c[id].raft().role();
  for (int i = 0; i < 2 * c[id].config().election_timeout_ticks; ++i) {
    c.tick(id);
    if (c[id].raft().term() != t || c[id].raft().role() != r) return;
  }
}

// ---- Pre-vote (thesis §9.6) ----------------------------------------------------------------------

TEST(PreVote, CampaignDoesNotChangeTermUntilPreElectionWon) {
  auto c = Cluster::voters(3, pv_cq_config);
  (*c)[1].node->campaign();
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kPreCandidate);
  EXPECT_EQ((*c)[1].raft().term(), 0u);
  EXPECT_EQ((*c)[1].raft().vote(), kNone);
  Ready rd = (*c)[1].node->ready();
  // Pre-vote requests change no durable state, so they may leave at once.
  auto pv = of_type(rd.messages, MessageType::kPreVote);
  ASSERT_EQ(pv.size(), 2u);
  for (const auto& m : pv)
    EXPECT_EQ(m.term, 1u) << "asks about the next term";
  EXPECT_TRUE(rd.messages_after_persist.empty());
  (*c)[1].node->advance(rd.number);
  c->send(rd.messages);
  c->deliver(2);
  // The voter's term and vote are untouched by a pre-vote.
  EXPECT_EQ((*c)[2].raft().term(), 0u);
  EXPECT_EQ((*c)[2].raft().vote(), kNone);
  c->stabilize();
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  EXPECT_EQ((*c)[1].raft().term(), 1u);
}

TEST(PreVote, PartitionedNodeDoesNotRaiseTermAndRejoinsWithoutDisruption) {
  auto c = Cluster::voters(3, pv_cq_config);
  c->elect(1);
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  c->isolate(3);
  for (int i = 0; i < 100; ++i) {
    c->tick(3);
    c->stabilize();
  }
  EXPECT_EQ((*c)[3].raft().term(), 1u) << "pre-elections it cannot win never raise the term";
  EXPECT_NE((*c)[3].raft().role(), StateRole::kLeader);
  c->heal();
  heartbeat(*c, 1);
  c->tick(3);
  c->stabilize();
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  EXPECT_EQ((*c)[1].raft().term(), 1u);
  EXPECT_EQ((*c)[3].raft().role(), StateRole::kFollower);
  EXPECT_EQ((*c)[3].raft().lead(), 1u);
}

// The control experiment: without pre-vote and check-quorum the same partition makes the returning
// node depose a perfectly healthy leader.
TEST(PreVote, WithoutPreVoteAPartitionedNodeDisruptsOnReturn) {
  auto c = Cluster::plain(3);
  c->elect(1);
  c->isolate(3);
  for (int i = 0; i < 100; ++i) {
    c->tick(3);
    c->stabilize();
  }
  EXPECT_GT((*c)[3].raft().term(), 2u);
  c->heal();
  heartbeat(*c, 1);  // plain Raft: 3 silently ignores the stale heartbeat...
  tick_until_campaign(*c, 3);
  c->stabilize();  // ...and its next vote request carries the inflated term
  EXPECT_NE((*c)[1].raft().role(), StateRole::kLeader) << "the higher term deposed the leader";
  EXPECT_GT((*c)[1].raft().term(), 1u);
}

TEST(PreVote, DeniedWhenCandidateLogIsBehind) {
  auto c = Cluster::voters(3, pv_cq_config);
  c->elect(1);
  c->isolate(3);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  // The leader fails: 3 (behind) cannot win the pre-election against 2's longer log; 2 can.
  c->heal();
  c->isolate(1);
  tick_until_campaign(*c, 3);
  c->stabilize();
  EXPECT_NE((*c)[3].raft().role(), StateRole::kLeader);
  EXPECT_EQ((*c)[3].raft().term(), 1u);
  EXPECT_EQ((*c)[2].raft().term(), 1u) << "a denied pre-vote leaves the voter's term alone";
}

// A member whose durable term is still 0 while its log holds entries (its first hard state write was
// lost, say) must turn down a pre-vote from a candidate with a shorter log without tripping over the
// "vote message without a term" assertion: a rejection at term 0 would be meaningless anyway.
TEST(PreVote, MemberAtTermZeroDeniesPreVoteWithoutCrashing) {
  auto n = std::make_unique<TestNode>(pv_cq_config(1), ConfState{{1, 2, 3}, {}});
  set_log(*n, {1, 1}, 0);
  Message m;
  m.type = MessageType::kPreVote;
  m.from = 2;
  m.to = 1;
  m.term = 1;
  (void)n->node->step(m);
  for (const Message& out : n->flush()) {
    EXPECT_TRUE(out.type != MessageType::kPreVoteResp || out.reject) << describe(out);
  }
  EXPECT_EQ(n->raft().term(), 0u);
}

// ---- Check-quorum (thesis §6.2) and leader stickiness (§4.2.3) ----------------------------------

TEST(CheckQuorum, LeaderWithoutMajorityStepsDownWithinTwoElectionTimeouts) {
  auto c = Cluster::voters(3, cq_config);
  c->elect(1);
  c->isolate(1);
  const int t = (*c)[1].config().election_timeout_ticks;
  c->tick(1, t - 1);
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  c->tick(1, t + 1);  // the first check still saw the answers from before the partition
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kFollower);
  EXPECT_EQ((*c)[1].raft().term(), 1u);
  EXPECT_EQ((*c)[1].raft().lead(), kNone);
}

TEST(CheckQuorum, LeaderHearingFromMajorityStaysLeader) {
  auto c = Cluster::voters(5, cq_config);
  c->elect(1);
  c->partition({1, 2, 3});
  for (int i = 0; i < 50; ++i)
    heartbeat(*c, 1);
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kLeader);
}

TEST(CheckQuorum, FollowerInLeaseIgnoresVoteRequestsFromHigherTerm) {
  auto c = Cluster::voters(3, cq_config);
  c->elect(1);
  Message v;
  v.type = MessageType::kVote;
  v.from = 3;
  v.to = 2;
  v.term = 5;
  v.index = 100;
  v.log_term = 5;
  (void)(*c)[2].node->step(v);
  EXPECT_EQ((*c)[2].raft().term(), 1u);
  EXPECT_EQ((*c)[2].raft().lead(), 1u);
  EXPECT_TRUE((*c)[2].flush().empty()) << "no answer at all";
  // Once the lease expired (no word from the leader for an election timeout), it listens again.
  c->tick(2, (*c)[2].config().election_timeout_ticks);
  (*c)[2].flush();
  if ((*c)[2].raft().term() < 5) {
    (void)(*c)[2].node->step(v);
    EXPECT_EQ((*c)[2].raft().term(), 5u);
  }
}

// ---- Progress tracking and flow control ---------------------------------------------------------

TEST(ProgressFlow, FollowerMovesFromProbeToReplicateAfterFirstAck) {
  auto c = Cluster::plain(3);
  (*c)[1].node->campaign();
  // Deliver votes only: the leader is elected but has not heard any append response yet.
  for (int i = 0; i < 3 && (*c)[1].raft().role() != StateRole::kLeader; ++i) {
    c->flush(1);
    c->deliver(2);
    c->deliver(3);
    c->flush(2);
    c->flush(3);
    c->deliver(1);
  }
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  EXPECT_EQ(progress_of((*c)[1], 2).rfind("StateProbe", 0), 0u) << progress_of((*c)[1], 2);
  c->stabilize();
  EXPECT_EQ(progress_of((*c)[1], 2), "StateReplicate match=1 next=2");
}

TEST(ProgressFlow, InflightWindowBoundsMessagesInFlight) {
  auto c = Cluster::voters(3, [](NodeId id) {
    Config cfg = plain_config(id);
    cfg.inflight_msgs_max = 2;
    return cfg;
  });
  c->elect(1);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*c)[1].node->propose("e" + std::to_string(i)).has_value());
    c->flush(1);
  }
  EXPECT_EQ(c->pending(2), 2u) << "only two appends may be in flight";
  EXPECT_EQ(progress_of((*c)[1], 2), "StateReplicate match=1 next=4 inflight=2");
  c->stabilize();
  for (NodeId id : {2, 3})
    EXPECT_EQ((*c)[id].raft().log().last_index(), 6u);
  EXPECT_EQ((*c)[1].raft().log().committed(), 6u);
}

TEST(ProgressFlow, InflightWindowBoundedByBytes) {
  const uint64_t entry_bytes = Entry{0, 0, EntryType::kNormal, std::string(100, 'x')}.size_bytes();
  auto c = Cluster::voters(3, [&](NodeId id) {
    Config cfg = plain_config(id);
    cfg.inflight_bytes_max = 3 * entry_bytes;
    return cfg;
  });
  c->elect(1);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE((*c)[1].node->propose(std::string(100, 'x')).has_value());
    c->flush(1);
  }
  EXPECT_EQ(c->pending(2), 3u) << "three 124-byte appends fill a 372-byte window";
  c->stabilize();
  EXPECT_EQ((*c)[2].raft().log().last_index(), 7u);
}

// Config::uncommitted_bytes_max (etcd-io/raft's MaxUncommittedEntriesSize): while a leader cannot commit,
// proposals fill the budget and are then refused; commits give the bytes back.
TEST(ProgressFlow, UncommittedBytesBudgetRefusesProposalsUntilCommitted) {
  auto c = Cluster::voters(3, [](NodeId id) {
    Config cfg = plain_config(id);
    cfg.uncommitted_bytes_max = 1000;
    return cfg;
  });
  c->elect(1);
  RawNode& leader = *(*c)[1].node;
  c->isolate(1);  // nothing commits from here on
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(leader.propose(std::string(100, 'a' + i)).has_value()) << i;
    c->flush(1);
  }
  EXPECT_EQ((*c)[1].raft().uncommitted_bytes(), 1000u);
  auto refused = leader.propose("x");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), Error::kUncommittedBytesExceeded);
  const Index last = (*c)[1].raft().log().last_index();
  c->flush(1);
  EXPECT_EQ((*c)[1].raft().log().last_index(), last) << "a refused proposal must not reach the log";

  c->heal();
  for (int i = 0; i < 3; ++i)
    heartbeat(*c, 1);  // the lost appends go again once the followers answer a heartbeat
  EXPECT_EQ((*c)[1].raft().log().committed(), last);
  EXPECT_EQ((*c)[1].raft().uncommitted_bytes(), 0u) << "committed entries give their bytes back";
  EXPECT_TRUE(leader.propose("x").has_value());
}

// An entry larger than the whole budget still goes through when nothing is uncommitted (as in etcd-io/raft),
// so no proposal is refused forever; empty entries never count.
TEST(ProgressFlow, UncommittedBytesBudgetAdmitsOneOversizedEntry) {
  auto c = Cluster::voters(3, [](NodeId id) {
    Config cfg = plain_config(id);
    cfg.uncommitted_bytes_max = 100;
    return cfg;
  });
  c->elect(1);
  c->isolate(1);
  ASSERT_TRUE((*c)[1].node->propose(std::string(500, 'b')).has_value());
  c->flush(1);
  EXPECT_EQ((*c)[1].raft().uncommitted_bytes(), 500u);
  auto refused = (*c)[1].node->propose("y");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), Error::kUncommittedBytesExceeded);
  c->heal();
  for (int i = 0; i < 3; ++i)
    heartbeat(*c, 1);
  EXPECT_EQ((*c)[1].raft().uncommitted_bytes(), 0u);
}

// A new leader starts its term with an empty budget (entries of an earlier term are not counted).
TEST(ProgressFlow, UncommittedBytesBudgetResetsWithTheTerm) {
  auto c = Cluster::voters(3, [](NodeId id) {
    Config cfg = plain_config(id);
    cfg.uncommitted_bytes_max = 300;
    return cfg;
  });
  c->elect(1);
  c->isolate(1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*c)[1].node->propose(std::string(100, 'c')).has_value());
    c->flush(1);
  }
  ASSERT_FALSE((*c)[1].node->propose("z").has_value());
  c->heal();
  c->elect(2);
  EXPECT_EQ((*c)[2].raft().uncommitted_bytes(), 0u);
  EXPECT_EQ((*c)[1].raft().uncommitted_bytes(), 0u);
  EXPECT_TRUE((*c)[2].node->propose(std::string(300, 'd')).has_value());
}

// If every append filling the window is lost, heartbeat responses (proof the follower is alive) must
// restart the flow; otherwise the follower stalls forever even though it is reachable.
TEST(ProgressFlow, FollowerRecoversWhenWholeInflightWindowIsLost) {
  auto c = Cluster::voters(3, [](NodeId id) {
    Config cfg = plain_config(id);
    cfg.inflight_msgs_max = 2;
    return cfg;
  });
  c->elect(1);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE((*c)[1].node->propose("e" + std::to_string(i)).has_value());
    c->flush(1);
  }
  ASSERT_EQ(c->pending(2), 2u);
  (void)c->take(2);  // both appends to 2 are lost
  c->stabilize();
  ASSERT_LT((*c)[2].raft().log().last_index(), 5u);
  for (int i = 0; i < 5; ++i)
    heartbeat(*c, 1);
  EXPECT_EQ((*c)[2].raft().log().last_index(), 5u);
  EXPECT_EQ((*c)[2].raft().log().committed(), 5u);
}

TEST(ProgressFlow, AppendsRespectMaxBytesPerMessage) {
  const uint64_t entry_bytes = Entry{0, 0, EntryType::kNormal, std::string(100, 'x')}.size_bytes();
  auto c = Cluster::voters(3, [&](NodeId id) {
    Config cfg = plain_config(id);
    cfg.append_bytes_max = 3 * entry_bytes;
    return cfg;
  });
  c->elect(1);
  c->isolate(3);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE((*c)[1].node->propose(std::string(100, 'x')).has_value());
  c->stabilize();
  c->heal();
  size_t apps = 0;
  c->observer = [&](const Message& m) {
    if (m.type != MessageType::kApp || m.to != 3 || m.entries.empty()) return;
    ++apps;
    uint64_t bytes = 0;
    for (const auto& e : m.entries)
      bytes += e.size_bytes();
    EXPECT_TRUE(bytes <= 3 * entry_bytes || m.entries.size() == 1) << describe(m);
  };
  for (int i = 0; i < 10 && (*c)[3].raft().log().last_index() < 11; ++i)
    heartbeat(*c, 1);
  EXPECT_EQ((*c)[3].raft().log().last_index(), 11u);
  EXPECT_GE(apps, 4u) << "10 entries at <= 3 per message";
}

// Raft thesis §5.3 / etcd: a follower with a long divergent tail tells the leader, in its rejection,
// the last index at which its term is <= the probed term, so the leader skips whole terms instead of
// retreating one entry per round trip.
TEST(ProgressFlow, FastBacktrackingFixesLongDivergentTailInFewRoundTrips) {
  auto c = Cluster::plain(3);
  std::vector<Term> leader(5, 1), follower(5, 1);
  leader.insert(leader.end(), 20, 3);
  follower.insert(follower.end(), 50, 2);
  set_log((*c)[1], leader, 3);
  set_log((*c)[2], follower, 2);
  set_log((*c)[3], std::vector<Term>(5, 1), 3);
  size_t rejections = 0, apps_to_2 = 0;
  c->observer = [&](const Message& m) {
    if (m.type == MessageType::kAppResp && m.from == 2 && m.reject) ++rejections;
    if (m.type == MessageType::kApp && m.to == 2) ++apps_to_2;
  };
  c->elect(1);
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  EXPECT_EQ(log_terms((*c)[2]), log_terms((*c)[1]));
  EXPECT_LE(rejections, 2u) << "a 50-entry divergent tail must not cost 45 round trips";
  EXPECT_LE(apps_to_2, 4u);
}

TEST(ProgressFlow, FastBacktrackingWhenFollowerHasHigherTermTail) {
  // The follower's tail is of a *later* term than the leader's (it was a leader of a term whose
  // entries never committed, Figure 7 (d)-like); the hint then comes from the leader's side.
  auto c = Cluster::plain(3);
  std::vector<Term> leader(3, 1), follower(3, 1);
  for (int i = 0; i < 30; ++i)
    leader.push_back(2 + i / 10);  // terms 2,3,4
  follower.insert(follower.end(), 5, 5);
  set_log((*c)[1], leader, 5);
  set_log((*c)[2], follower, 5);
  set_log((*c)[3], std::vector<Term>(3, 1), 5);
  size_t rejections = 0;
  c->observer = [&](const Message& m) {
    if (m.type == MessageType::kAppResp && m.from == 2 && m.reject) ++rejections;
  };
  (*c)[1].node->campaign();
  c->stabilize();
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  EXPECT_EQ(log_terms((*c)[2]), log_terms((*c)[1]));
  EXPECT_LE(rejections, 3u);
}

// ---- Snapshots ----------------------------------------------------------------------------------

struct SnapshotSetup {
  std::unique_ptr<Cluster> c;
  Index snap_index = 0;
};

// Leader 1 compacts its log while 3 is away; 3 comes back behind the leader's first index.
// Runs heartbeat traffic step by step until the leader's MsgSnap to 3 is queued (not delivered).
Message queue_snapshot_to_3(Cluster& c) {
  c.tick(1);
  for (int i = 0; i < 10; ++i) {
    c.flush(1);
    auto to3 = c.take(3);
    for (const auto& m : to3) {
      if (m.type == MessageType::kSnap) return m;
    }
    c.send(to3);
    c.deliver(3);
    c.flush(3);
    c.deliver(1);
  }
  ADD_FAILURE() << "no snapshot sent";
  return {};
}

SnapshotSetup lagging_follower_behind_compaction() {
  SnapshotSetup s;
  s.c = Cluster::plain(3);
  Cluster& c = *s.c;
  c.elect(1);
  c.isolate(3);
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(c[1].node->propose("v" + std::to_string(i)).has_value());
  c.stabilize();
  s.snap_index = c[1].applied_index();
  EXPECT_EQ(s.snap_index, 11u);
  ConfState cs{{1, 2, 3}, {}};
  EXPECT_TRUE(c[1].storage.create_snapshot(s.snap_index, &cs, "sm@11").has_value());
  EXPECT_TRUE(c[1].storage.compact(s.snap_index).has_value());
  c.heal();
  return s;
}

TEST(Snapshot, FollowerBehindFirstIndexGetsSnapshotAndCatchesUp) {
  auto s = lagging_follower_behind_compaction();
  Cluster& c = *s.c;
  std::vector<Message> snaps;
  c.observer = [&](const Message& m) {
    if (m.type == MessageType::kSnap) snaps.push_back(m);
  };
  heartbeat(c, 1);
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].to, 3u);
  EXPECT_EQ(snaps[0].snapshot.metadata.index, s.snap_index);
  EXPECT_EQ(snaps[0].snapshot.data, "sm@11");
  EXPECT_EQ(c[3].storage.snapshot()->metadata.index, s.snap_index);
  EXPECT_EQ(c[3].raft().log().committed(), s.snap_index);
  EXPECT_EQ(c[3].storage.initial_state().conf_state, (ConfState{{1, 2, 3}, {}}));
  EXPECT_EQ(progress_of(c[1], 3), "StateReplicate match=11 next=12");
  ASSERT_TRUE(c[1].node->propose("after").has_value());
  c.stabilize();
  EXPECT_EQ(c[3].raft().log().last_index(), 12u);
  ASSERT_FALSE(c[3].applied.empty());
  EXPECT_EQ(c[3].applied.back().data, "after");
}

TEST(Snapshot, FailedSnapshotReportResumesProbingAndResends) {
  auto s = lagging_follower_behind_compaction();
  Cluster& c = *s.c;
  Message lost = queue_snapshot_to_3(c);  // and lost
  ASSERT_EQ(lost.snapshot.metadata.index, 11u);
  ASSERT_EQ(progress_of(c[1], 3), "StateSnapshot match=1 next=2 pendingSnap=11");
  c[1].node->report_snapshot(3, false);
  EXPECT_EQ(progress_of(c[1], 3), "StateProbe match=1 next=2 paused");
  size_t snaps = 0;
  c.observer = [&](const Message& m) { snaps += m.type == MessageType::kSnap; };
  heartbeat(c, 1);
  EXPECT_EQ(snaps, 1u) << "the snapshot is sent again after the next heartbeat";
  EXPECT_EQ(c[3].raft().log().committed(), s.snap_index);
}

TEST(Snapshot, SuccessfulSnapshotReportProbesAfterTheSnapshot) {
  auto s = lagging_follower_behind_compaction();
  Cluster& c = *s.c;
  queue_snapshot_to_3(c);
  c[1].node->report_snapshot(3, true);
  EXPECT_EQ(progress_of(c[1], 3), "StateProbe match=1 next=12 paused");
}

// The leader compacts past a snapshot that is still in flight. The follower installs the old snapshot
// and acknowledges it, but the leader's log no longer continues from there, so the member stays in
// StateSnapshot until the transport reports the snapshot (raw_node.h: report_snapshot); then the
// leader probes, finds the entries compacted, and sends its newer snapshot.
TEST(Snapshot, LeaderThatCompactedPastAnInFlightSnapshotSendsANewerOne) {
  auto s = lagging_follower_behind_compaction();
  Cluster& c = *s.c;
  Message old_snap = queue_snapshot_to_3(c);
  ASSERT_EQ(old_snap.snapshot.metadata.index, 11u);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(c[1].node->propose("more").has_value());
  c.isolate(3);
  c.stabilize();
  ConfState cs{{1, 2, 3}, {}};
  ASSERT_TRUE(c[1].storage.create_snapshot(14, &cs, "sm@14").has_value());
  ASSERT_TRUE(c[1].storage.compact(14).has_value());
  c.heal();
  c.send({old_snap});
  c.deliver(3);
  c.flush(3);
  c.deliver(1);  // 3 acknowledges index 11
  EXPECT_EQ(progress_of(c[1], 3), "StateSnapshot match=11 next=12 pendingSnap=11");
  c[1].node->report_snapshot(3, true);
  std::vector<Index> sent;
  c.observer = [&](const Message& m) {
    if (m.type == MessageType::kSnap) sent.push_back(m.snapshot.metadata.index);
  };
  heartbeat(c, 1);
  EXPECT_EQ(sent, (std::vector<Index>{14}));
  EXPECT_EQ(c[3].raft().log().committed(), 14u);
  EXPECT_EQ(progress_of(c[1], 3), "StateReplicate match=14 next=15");
}

TEST(Snapshot, FollowerIgnoresSnapshotOlderThanItsCommitIndex) {
  auto c = Cluster::plain(3);
  c->elect(1);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  Message m;
  m.type = MessageType::kSnap;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.snapshot.metadata.index = 2;
  m.snapshot.metadata.term = 1;
  m.snapshot.metadata.conf_state = ConfState{{1, 2, 3}, {}};
  (void)(*c)[2].node->step(m);
  auto out = of_type((*c)[2].flush(), MessageType::kAppResp);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].index, 4u) << "answers with its commit index";
  EXPECT_EQ((*c)[2].raft().log().last_index(), 4u);
  EXPECT_EQ((*c)[2].storage.first_index(), 1u) << "log not replaced";
}

// ---- ReadIndex (thesis §6.4) --------------------------------------------------------------------

TEST(ReadIndex, SafeModeAnswersOnlyAfterHeartbeatQuorum) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  (*c)[1].node->read_index("ctx1");
  Ready rd = (*c)[1].node->ready();
  EXPECT_TRUE(rd.read_states.empty());
  auto hbs = of_type(rd.messages, MessageType::kHeartbeat);
  ASSERT_EQ(hbs.size(), 2u);
  for (const auto& m : hbs)
    EXPECT_EQ(m.context, "ctx1");
  (*c)[1].node->advance(rd.number);
  c->send(rd.messages);
  c->deliver(2);
  c->flush(2);
  c->deliver(1);  // one follower + the leader = a majority of 3
  c->flush(1);
  ASSERT_EQ((*c)[1].read_states.size(), 1u);
  EXPECT_EQ((*c)[1].read_states[0], (ReadState{2, "ctx1"}));
}

TEST(ReadIndex, LeaderDefersReadsUntilItCommitsAnEntryOfItsTerm) {
  auto c = Cluster::plain(3);
  (*c)[1].node->campaign();
  // Elect without letting the no-op commit: deliver only vote traffic.
  for (int i = 0; i < 3 && (*c)[1].raft().role() != StateRole::kLeader; ++i) {
    c->flush(1);
    c->deliver(2);
    c->deliver(3);
    c->flush(2);
    c->flush(3);
    c->deliver(1);
  }
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  ASSERT_EQ((*c)[1].raft().log().committed(), 0u);
  (*c)[1].node->read_index("early");
  auto msgs = (*c)[1].flush();
  for (const auto& m : msgs)
    EXPECT_NE(m.context, "early") << "no confirmation round before the no-op commits";
  EXPECT_TRUE((*c)[1].read_states.empty());
  c->send(msgs);
  c->stabilize();
  ASSERT_EQ((*c)[1].read_states.size(), 1u);
  EXPECT_EQ((*c)[1].read_states[0], (ReadState{1, "early"}));
}

TEST(ReadIndex, FollowerForwardsToLeaderAndGetsTheLeadersCommitIndex) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  (*c)[2].node->read_index("f");
  auto out = (*c)[2].flush();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MessageType::kReadIndex);
  EXPECT_EQ(out[0].to, 1u);
  c->send(out);
  c->stabilize();
  ASSERT_EQ((*c)[2].read_states.size(), 1u);
  EXPECT_EQ((*c)[2].read_states[0], (ReadState{2, "f"}));
  EXPECT_TRUE((*c)[1].read_states.empty());
}

TEST(ReadIndex, FollowerWithoutLeaderDropsTheRequest) {
  auto c = Cluster::plain(3);
  (*c)[2].node->read_index("f");
  EXPECT_TRUE((*c)[2].flush().empty());
  EXPECT_TRUE((*c)[2].read_states.empty());
}

TEST(ReadIndex, LeaseBasedModeAnswersWithoutAHeartbeatRound) {
  auto c = Cluster::voters(3, [](NodeId id) {
    Config cfg = cq_config(id);
    cfg.read_only_option = ReadOnlyOption::kLeaseBased;
    return cfg;
  });
  c->elect(1);
  (*c)[1].node->read_index("lease");
  Ready rd = (*c)[1].node->ready();
  ASSERT_EQ(rd.read_states.size(), 1u);
  EXPECT_EQ(rd.read_states[0], (ReadState{1, "lease"}));
  EXPECT_TRUE(of_type(rd.messages, MessageType::kHeartbeat).empty());
  (*c)[1].node->advance(rd.number);
}

TEST(ReadIndex, DeposedLeaderCannotConfirmReads) {
  auto c = Cluster::voters(3, pv_cq_config);
  c->elect(1);
  c->isolate(1);
  // 2 and 3 stop hearing from 1; once their leases expire they elect a new leader.
  for (int i = 0;
       i < 100 && (*c)[2].raft().role() != StateRole::kLeader && (*c)[3].raft().role() != StateRole::kLeader;
       ++i) {
    c->tick(2);
    c->tick(3);
    c->stabilize();
  }
  ASSERT_TRUE((*c)[2].raft().role() == StateRole::kLeader || (*c)[3].raft().role() == StateRole::kLeader);
  NodeId new_leader = (*c)[2].raft().role() == StateRole::kLeader ? 2 : 3;
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader) << "the old leader does not know yet";
  (*c)[1].node->read_index("stale");
  c->stabilize();
  EXPECT_TRUE((*c)[1].read_states.empty());
  // Its read can never be answered: the partition heals, it learns the new term and steps down.
  c->heal();
  heartbeat(*c, new_leader);
  heartbeat(*c, 1);
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kFollower);
  EXPECT_TRUE((*c)[1].read_states.empty());
}

// ---- Leadership transfer (thesis §3.10) ---------------------------------------------------------

TEST(LeaderTransfer, UpToDateTransfereeGetsTimeoutNowAndWins) {
  auto c = Cluster::voters(3, pv_cq_config);
  c->elect(1);
  (*c)[1].node->transfer_leader(2);
  auto out = (*c)[1].flush();
  ASSERT_EQ(of_type(out, MessageType::kTimeoutNow).size(), 1u);
  c->send(out);
  c->stabilize();
  EXPECT_EQ((*c)[2].raft().role(), StateRole::kLeader);
  EXPECT_EQ((*c)[2].raft().term(), 2u) << "skips pre-vote and overrides the others' leader lease";
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kFollower);
  EXPECT_EQ((*c)[1].raft().lead(), 2u);
}

TEST(LeaderTransfer, LaggingTransfereeIsCaughtUpFirst) {
  auto c = Cluster::plain(3);
  c->elect(1);
  c->isolate(3);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  c->heal();
  (*c)[1].node->transfer_leader(3);
  auto out = (*c)[1].flush();
  EXPECT_TRUE(of_type(out, MessageType::kTimeoutNow).empty()) << "not before 3 has the whole log";
  c->send(out);
  c->stabilize();
  EXPECT_EQ((*c)[3].raft().role(), StateRole::kLeader);
  EXPECT_EQ((*c)[3].raft().log().committed(), 5u) << "its own no-op (after 1 + 3 entries) commits";
}

TEST(LeaderTransfer, ProposalsDroppedDuringTransferAndAcceptedAfterAbort) {
  auto c = Cluster::plain(3);
  c->elect(1);
  c->isolate(3);
  (*c)[1].node->transfer_leader(3);
  EXPECT_EQ((*c)[1].node->status().lead_transferee, 3u);
  auto r = (*c)[1].node->propose("during");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kProposalDropped);
  c->tick(1, (*c)[1].config().election_timeout_ticks);
  EXPECT_EQ((*c)[1].node->status().lead_transferee, kNone) << "aborted after an election timeout";
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  EXPECT_TRUE((*c)[1].node->propose("after").has_value());
}

TEST(LeaderTransfer, IgnoredForSelfLearnerAndUnknownNode) {
  auto c = std::make_unique<Cluster>();
  ConfState cs{{1, 2, 3}, {4}};
  for (NodeId id = 1; id <= 4; ++id)
    c->add(plain_config(id), cs);
  c->elect(1);
  for (NodeId target : {NodeId{1}, NodeId{4}, NodeId{9}}) {
    (*c)[1].node->transfer_leader(target);
    EXPECT_EQ((*c)[1].node->status().lead_transferee, kNone) << target;
    EXPECT_TRUE(of_type((*c)[1].flush(), MessageType::kTimeoutNow).empty());
  }
}

TEST(LeaderTransfer, FollowerForwardsRequestToLeader) {
  auto c = Cluster::voters(3, pv_cq_config);
  c->elect(1);
  (*c)[3].node->transfer_leader(3);
  c->stabilize();
  EXPECT_EQ((*c)[3].raft().role(), StateRole::kLeader);
  EXPECT_EQ((*c)[3].raft().term(), 2u);
}

// ---- Proposals -----------------------------------------------------------------------------------

TEST(Proposal, FollowerForwardsToLeader) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[2].node->propose("fwd").has_value());
  auto out = (*c)[2].flush();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, MessageType::kProp);
  EXPECT_EQ(out[0].to, 1u);
  c->send(out);
  c->stabilize();
  for (NodeId id : {1, 2, 3}) {
    ASSERT_FALSE((*c)[id].applied.empty());
    EXPECT_EQ((*c)[id].applied.back().data, "fwd");
  }
}

TEST(Proposal, DroppedWithoutLeaderByCandidateAndWhenForwardingDisabled) {
  auto c = Cluster::plain(3);
  auto r = (*c)[2].node->propose("x");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kProposalDropped);
  (*c)[3].node->campaign();
  r = (*c)[3].node->propose("x");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kProposalDropped);

  auto d = Cluster::voters(3, [](NodeId id) {
    Config cfg = plain_config(id);
    cfg.disable_proposal_forwarding = true;
    return cfg;
  });
  d->elect(1);
  r = (*d)[2].node->propose("x");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kProposalDropped);
  EXPECT_TRUE((*d)[2].flush().empty());
  EXPECT_TRUE((*d)[1].node->propose("x").has_value()) << "the leader itself still accepts";
}

// ---- Membership changes (single-server changes, thesis §4.1) ------------------------------------

TEST(Membership, AddVoterChangesTheQuorum) {
  auto c = Cluster::plain(3);
  c->elect(1);
  c->add(plain_config(4), ConfState{{1, 2, 3}, {}});
  ASSERT_TRUE((*c)[1].node->propose_conf_change(cc(ConfChangeType::kAddNode, 4)).has_value());
  c->stabilize();
  for (NodeId id = 1; id <= 4; ++id) {
    ASSERT_FALSE((*c)[id].conf_states_applied.empty()) << id;
    EXPECT_EQ((*c)[id].conf_states_applied.back(), (ConfState{{1, 2, 3, 4}, {}})) << id;
  }
  EXPECT_TRUE((*c)[4].raft().tracker().is_voter(4));
  // Four voters need three acks: the leader and one follower are no longer enough.
  c->partition({1, 2});
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  Index last = (*c)[1].raft().log().last_index();
  EXPECT_LT((*c)[1].raft().log().committed(), last);
  c->heal();
  heartbeat(*c, 1);
  EXPECT_EQ((*c)[1].raft().log().committed(), last);
}

TEST(Membership, LearnerReplicatesButNeverVotesCampaignsOrCountsForCommit) {
  auto c = std::make_unique<Cluster>();
  ConfState cs{{1, 2, 3}, {4}};
  for (NodeId id = 1; id <= 4; ++id)
    c->add(plain_config(id), cs);
  c->elect(1);
  EXPECT_EQ((*c)[4].raft().log().committed(), 1u) << "the learner receives the log";
  // It never campaigns, however long it waits.
  for (int i = 0; i < 100; ++i)
    c->tick(4);
  EXPECT_EQ((*c)[4].raft().role(), StateRole::kFollower);
  EXPECT_EQ((*c)[4].raft().term(), 1u);
  // Candidates do not ask it for votes.
  (*c)[2].node->campaign();
  auto votes = of_type((*c)[2].flush(), MessageType::kVote);
  std::set<NodeId> to;
  for (const auto& m : votes)
    to.insert(m.to);
  EXPECT_EQ(to, (std::set<NodeId>{1, 3}));
  // Leader + learner are not a majority.
  auto d = std::make_unique<Cluster>();
  for (NodeId id = 1; id <= 4; ++id)
    d->add(plain_config(id), cs);
  d->elect(1);
  d->partition({1, 4});
  ASSERT_TRUE((*d)[1].node->propose("x").has_value());
  d->stabilize();
  EXPECT_EQ((*d)[4].raft().log().last_index(), 2u);
  EXPECT_EQ((*d)[1].raft().log().committed(), 1u);
}

TEST(Membership, AddLearnerThenPromoteToVoter) {
  auto c = Cluster::plain(3);
  c->elect(1);
  c->add(plain_config(4), ConfState{{1, 2, 3}, {}});
  ASSERT_TRUE((*c)[1].node->propose_conf_change(cc(ConfChangeType::kAddLearnerNode, 4)).has_value());
  c->stabilize();
  EXPECT_EQ((*c)[1].conf_states_applied.back(), (ConfState{{1, 2, 3}, {4}}));
  EXPECT_EQ(progress_of((*c)[1], 4), "StateReplicate match=2 next=3 learner");
  ASSERT_TRUE((*c)[1].node->propose_conf_change(cc(ConfChangeType::kAddNode, 4)).has_value());
  c->stabilize();
  for (NodeId id = 1; id <= 4; ++id) {
    EXPECT_EQ((*c)[id].conf_states_applied.back(), (ConfState{{1, 2, 3, 4}, {}})) << id;
  }
  // The promoted member can now win an election.
  c->isolate(1);
  tick_until_campaign(*c, 4);
  c->stabilize();
  EXPECT_EQ((*c)[4].raft().role(), StateRole::kLeader);
}

TEST(Membership, RemoveVoterShrinksTheQuorum) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose_conf_change(cc(ConfChangeType::kRemoveNode, 3)).has_value());
  c->stabilize();
  EXPECT_EQ((*c)[1].conf_states_applied.back(), (ConfState{{1, 2}, {}}));
  EXPECT_EQ((*c)[1].node->status().progress.count(3), 0u);
  c->isolate(3);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  size_t to3 = 0;
  c->observer = [&](const Message& m) { to3 += m.to == 3; };
  c->stabilize();
  EXPECT_EQ((*c)[1].raft().log().committed(), (*c)[1].raft().log().last_index());
  c->heal();
  heartbeat(*c, 1);
  EXPECT_EQ(to3, 0u) << "nothing is sent to a removed member";
}

TEST(Membership, LeaderRemovingItselfStepsDownAndOthersElectALeader) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose_conf_change(cc(ConfChangeType::kRemoveNode, 1)).has_value());
  c->stabilize();
  EXPECT_EQ((*c)[1].conf_states_applied.back(), (ConfState{{2, 3}, {}}));
  EXPECT_NE((*c)[1].raft().role(), StateRole::kLeader);
  NodeId leader = kNone;
  for (int i = 0; i < 100 && leader == kNone; ++i) {
    for (NodeId id : {1, 2, 3})
      c->tick(id);
    c->stabilize();
    for (NodeId id : {2, 3}) {
      if ((*c)[id].raft().role() == StateRole::kLeader) leader = id;
    }
  }
  ASSERT_NE(leader, kNone);
  EXPECT_EQ((*c)[leader].raft().tracker().config().voters, (std::set<NodeId>{2, 3}));
  EXPECT_NE((*c)[1].raft().role(), StateRole::kLeader);
}

// Removing a voter shrinks the quorum the moment the change is applied: an entry that was waiting for
// the removed member's acknowledgement commits right away.
TEST(Membership, RemovingAVoterCommitsEntriesWaitingForIt) {
  auto n = std::make_unique<TestNode>(plain_config(1), ConfState{{1, 2}, {}});
  win_election(*n);
  ASSERT_EQ(n->raft().role(), StateRole::kLeader);
  auto ack = [&](Index i) {
    Message m;
    m.type = MessageType::kAppResp;
    m.from = 2;
    m.to = 1;
    m.term = n->raft().term();
    m.index = i;
    (void)n->node->step(m);
    n->flush();
  };
  n->flush();
  ack(1);  // the no-op
  ASSERT_TRUE(n->node->propose_conf_change(cc(ConfChangeType::kRemoveNode, 2)).has_value());
  Ready rd = n->handle_ready();  // persists the change; not committed yet
  ASSERT_EQ(rd.entries.size(), 1u);
  ASSERT_TRUE(n->node->propose("x").has_value());
  ack(2);  // commits the change; flush() applies it, which commits x on the leader's vote alone
  EXPECT_EQ(n->raft().tracker().config().voters, (std::set<NodeId>{1}));
  EXPECT_EQ(n->raft().log().committed(), 3u);
  ASSERT_FALSE(n->applied.empty());
  EXPECT_EQ(n->applied.back().data, "x");
}

// Raft thesis §4.1 / etcd: a member that has a committed but not yet applied configuration change does
// not campaign: the configuration it would campaign under may be about to change.
TEST(Membership, NoCampaignWhileCommittedConfChangeIsUnapplied) {
  auto n = std::make_unique<TestNode>(plain_config(2), ConfState{{1, 2, 3}, {}});
  Message m;
  m.type = MessageType::kApp;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.entries = {Entry{1, 1, EntryType::kConfChange, cc(ConfChangeType::kAddLearnerNode, 4).encode()}};
  m.commit = 1;
  (void)n->node->step(m);
  // Persist the entry but do not apply it: take the Ready by hand and keep the next one (which
  // carries the committed entry) outstanding.
  Ready rd = n->node->ready();
  n->storage.append(rd.entries);
  n->storage.set_hard_state(*rd.hard_state);
  n->node->advance(rd.number);
  Ready pending = n->node->ready();
  ASSERT_EQ(pending.committed_entries.size(), 1u);
  for (int i = 0; i < 3 * n->config().election_timeout_ticks; ++i)
    n->node->tick();
  EXPECT_EQ(n->raft().role(), StateRole::kFollower);
  EXPECT_EQ(n->raft().term(), 1u);
  // Once applied, the member campaigns normally.
  (void)n->node->apply_conf_change(*ConfChange::decode(pending.committed_entries[0].data));
  n->node->advance(pending.number);
  for (int i = 0; i < 2 * n->config().election_timeout_ticks; ++i)
    n->node->tick();
  EXPECT_EQ(n->raft().role(), StateRole::kCandidate);
}

TEST(Membership, OneChangeAtATime) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose_conf_change(cc(ConfChangeType::kAddLearnerNode, 4)).has_value());
  auto r = (*c)[1].node->propose_conf_change(cc(ConfChangeType::kAddLearnerNode, 5));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kConfChangePending);
  EXPECT_TRUE((*c)[1].node->propose("normal entries are fine").has_value());
  c->stabilize();
  EXPECT_TRUE((*c)[1].node->propose_conf_change(cc(ConfChangeType::kAddLearnerNode, 5)).has_value())
      << "allowed once the first change is applied";
}

TEST(Membership, NewLeaderTreatsUnappliedEntriesAsPendingConfChange) {
  auto c = Cluster::plain(3);
  for (NodeId id : {1, 2, 3})
    set_log((*c)[id], {1, 1}, 1);
  win_election((*c)[1]);
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  auto r = (*c)[1].node->propose_conf_change(cc(ConfChangeType::kAddLearnerNode, 4));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kConfChangePending);
}

TEST(Membership, RemovingTheLastVoterIsRefused) {
  auto c = Cluster::plain(1);
  c->elect(1);
  ASSERT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  auto r = (*c)[1].node->propose_conf_change(cc(ConfChangeType::kRemoveNode, 1));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kInvalidConfChange);
  // Applying such a change anyway leaves the configuration as it was.
  ConfState cs = (*c)[1].node->apply_conf_change(cc(ConfChangeType::kRemoveNode, 1));
  EXPECT_EQ(cs, (ConfState{{1}, {}}));
  // Demoting a voter straight to learner is refused too.
  auto c3 = Cluster::plain(3);
  c3->elect(1);
  r = (*c3)[1].node->propose_conf_change(cc(ConfChangeType::kAddLearnerNode, 2));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kInvalidConfChange);
}

// ---- Bootstrap (raft/bootstrap.h) ----------------------------------------------------------------

TEST(Bootstrap, InitialMembershipIsWrittenAsCommittedConfChangeEntries) {
  BootstrapState st = bootstrap_state({3, 1, 2});
  ASSERT_EQ(st.entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(st.entries[i].term, 1u);
    EXPECT_EQ(st.entries[i].index, i + 1);
    ASSERT_EQ(st.entries[i].type, EntryType::kConfChange);
    auto c = ConfChange::decode(st.entries[i].data);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->type, ConfChangeType::kAddNode);
    EXPECT_EQ(c->node_id, i + 1) << "in id order";
  }
  EXPECT_EQ(st.hard_state, (HardState{1, kNone, 3}));
  EXPECT_EQ(st.conf_state, (ConfState{{1, 2, 3}, {}}));
}

// A member added later starts empty, replays the log from index 1 and so learns the whole membership
// history (no snapshot needed, nothing configured by hand on the new member).
TEST(Bootstrap, LateJoinerLearnsMembershipFromTheLog) {
  Cluster c;
  BootstrapState st = bootstrap_state({1, 2, 3});
  for (NodeId id = 1; id <= 3; ++id) {
    TestNode& n = c.add(plain_config(id), st.conf_state);
    n.storage.append(st.entries);
    n.storage.set_hard_state(st.hard_state);
    n.restart();
  }
  c.stabilize();  // apply the bootstrap entries (a member with unapplied conf changes won't campaign)
  c.elect(1);
  ASSERT_EQ(c[1].raft().role(), StateRole::kLeader);
  TestNode& joiner = c.add(plain_config(4), ConfState{});
  ASSERT_TRUE(c[1].node->propose_conf_change(cc(ConfChangeType::kAddNode, 4)).has_value());
  c.stabilize();
  EXPECT_TRUE(joiner.snapshots_installed.empty());
  ASSERT_FALSE(joiner.conf_states_applied.empty());
  EXPECT_EQ(joiner.conf_states_applied.back(), (ConfState{{1, 2, 3, 4}, {}}));
  EXPECT_EQ(log_terms(joiner), log_terms(c[1]));
  EXPECT_EQ(joiner.raft().log().committed(), c[1].raft().log().committed());
}

// ---- RawNode contract ---------------------------------------------------------------------------

TEST(RawNodeContract, ReadiesAreNumberedAndOneIsOutstandingAtATime) {
  auto c = Cluster::plain(1);
  TestNode& n = (*c)[1];
  n.node->campaign();
  ASSERT_TRUE(n.node->has_ready());
  Ready a = n.node->ready();
  EXPECT_FALSE(n.node->has_ready()) << "nothing new until the outstanding Ready is advanced";
  ASSERT_TRUE(n.node->propose("x").has_value());
  EXPECT_FALSE(n.node->has_ready());
  n.node->advance(a.number);
  ASSERT_TRUE(n.node->has_ready());
  Ready b = n.node->ready();
  EXPECT_EQ(b.number, a.number + 1);
  n.node->advance(b.number);
}

TEST(RawNodeContractDeathTest, AdvanceWithWrongNumberAborts) {
  auto n = std::make_unique<TestNode>(plain_config(1), ConfState{{1}, {}});
  n->node->campaign();
  Ready rd = n->node->ready();
  EXPECT_DEATH(n->node->advance(rd.number + 1), "advance\\(\\) of an unknown Ready");
}

TEST(RawNodeContract, CandidateVoteRequestsWaitForPersistence) {
  auto n = std::make_unique<TestNode>(plain_config(1), ConfState{{1, 2, 3}, {}});
  n->node->campaign();
  Ready rd = n->node->ready();
  EXPECT_TRUE(of_type(rd.messages, MessageType::kVote).empty());
  EXPECT_EQ(of_type(rd.messages_after_persist, MessageType::kVote).size(), 2u);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(*rd.hard_state, (HardState{1, 1, 0}));
  EXPECT_TRUE(rd.must_sync);
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->role, StateRole::kCandidate);
  n->node->advance(rd.number);
}

TEST(RawNodeContract, LeaderCountsItselfForCommitOnlyAfterAdvance) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  Ready rd = (*c)[1].node->ready();
  Index idx = rd.entries.back().index;
  c->send(rd.messages);
  (void)c->take(3);
  c->deliver(2);
  c->flush(2);
  c->deliver(1);  // follower 2 acknowledged, the leader's own write is not durable yet
  EXPECT_LT((*c)[1].raft().log().committed(), idx);
  (*c)[1].storage.append(rd.entries);
  (*c)[1].node->advance(rd.number);
  EXPECT_EQ((*c)[1].raft().log().committed(), idx);
  Ready next = (*c)[1].node->ready();
  ASSERT_EQ(next.committed_entries.size(), 1u);
  EXPECT_EQ(next.committed_entries[0].data, "x");
  EXPECT_FALSE(next.must_sync) << "a commit-index change alone needs no fsync";
  (*c)[1].node->advance(next.number);
}

TEST(RawNodeContract, CommittedEntriesOnlyHandedOutOnceDurableLocally) {
  auto n = std::make_unique<TestNode>(plain_config(2), ConfState{{1, 2, 3}, {}});
  Message m;
  m.type = MessageType::kApp;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.entries = {entry(1, 1, "a")};
  m.commit = 1;
  (void)n->node->step(m);
  Ready rd = n->node->ready();
  EXPECT_EQ(rd.entries.size(), 1u);
  EXPECT_TRUE(rd.committed_entries.empty()) << "committed but not yet durable here";
  EXPECT_EQ(rd.hard_state->commit, 1u);
  n->storage.append(rd.entries);
  n->storage.set_hard_state(*rd.hard_state);
  n->node->advance(rd.number);
  Ready next = n->node->ready();
  ASSERT_EQ(next.committed_entries.size(), 1u);
  EXPECT_EQ(next.committed_entries[0].data, "a");
  n->node->advance(next.number);
}

// ---- Asynchronous storage writes (raw_node.h) ----

Config async_config(NodeId id) {
  Config c = plain_config(id);
  c.async_storage_writes = true;
  return c;
}

// A leader's MsgApp (or, with a snapshot index, MsgSnap) to member 2.
Message to_member_2(MessageType type, NodeId from, Term term, std::vector<Entry> ents = {}) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = 2;
  m.term = term;
  m.entries = std::move(ents);
  return m;
}

// A leader takes further Readies while its first write is in flight, counts itself only at
// persisted(), and hands the entry out for apply only after that.
TEST(RawNodeAsync, ReadiesPipelineAndTheLeaderCountsItselfAtPersisted) {
  auto n = std::make_unique<TestNode>(async_config(1), ConfState{{1}, {}});
  n->node->campaign();
  while (n->node->has_ready()) {  // elected, its term's empty entry written and applied
    Ready rd = n->node->ready();
    n->node->advance(rd.number);
    n->storage.append(rd.entries);
    if (rd.hard_state) n->storage.set_hard_state(*rd.hard_state);
    n->node->persisted(rd.number);
  }
  ASSERT_EQ(n->raft().role(), StateRole::kLeader);
  ASSERT_TRUE(n->node->propose("x").has_value());
  Ready a = n->node->ready();
  ASSERT_EQ(a.entries.size(), 1u);
  n->node->advance(a.number);
  ASSERT_TRUE(n->node->propose("y").has_value());
  ASSERT_TRUE(n->node->has_ready()) << "the next Ready is taken while the first write is in flight";
  Ready b = n->node->ready();
  ASSERT_EQ(b.entries.size(), 1u);
  EXPECT_EQ(b.entries[0].data, "y");
  EXPECT_TRUE(b.committed_entries.empty()) << "nothing new is durable yet";
  n->node->advance(b.number);
  EXPECT_EQ(n->node->writes_in_flight(), 2u);
  EXPECT_LT(n->raft().log().committed(), a.entries[0].index) << "the leader counts itself only once durable";
  n->storage.append(a.entries);
  n->node->persisted(a.number);
  EXPECT_EQ(n->raft().log().committed(), a.entries[0].index);
  Ready c = n->node->ready();
  ASSERT_EQ(c.committed_entries.size(), 1u);
  EXPECT_EQ(c.committed_entries[0].data, "x") << "y is not durable yet";
  n->node->advance(c.number);
  n->storage.append(b.entries);
  n->node->persisted(b.number);
  n->node->persisted(c.number);
  Ready d = n->node->ready();
  ASSERT_EQ(d.committed_entries.size(), 1u);
  EXPECT_EQ(d.committed_entries[0].data, "y");
  n->node->advance(d.number);
  n->node->persisted(d.number);
}

TEST(RawNodeAsyncDeathTest, PersistedOutOfOrderAborts) {
  auto n = std::make_unique<TestNode>(async_config(1), ConfState{{1}, {}});
  n->node->campaign();
  Ready r1 = n->node->ready();
  n->node->advance(r1.number);
  EXPECT_DEATH(n->node->persisted(r1.number + 1), "persisted\\(\\) out of order");
}

// An entry replaced by a newer leader while its write was in flight is not marked durable by that
// write; the replacement is handed out and written after it.
TEST(RawNodeAsync, ReplacedEntriesInFlightAreWrittenAgain) {
  auto n = std::make_unique<TestNode>(async_config(2), ConfState{{1, 2, 3}, {}});
  (void)n->node->step(to_member_2(MessageType::kApp, 1, 1, {entry(1, 1, "a"), entry(1, 2, "b")}));
  Ready r1 = n->node->ready();
  ASSERT_EQ(r1.entries.size(), 2u);
  n->node->advance(r1.number);
  Message m2 = to_member_2(MessageType::kApp, 3, 2, {entry(2, 2, "c")});  // term 2, index 2
  m2.index = 1;
  m2.log_term = 1;
  m2.commit = 2;
  (void)n->node->step(m2);
  Ready r2 = n->node->ready();
  ASSERT_EQ(r2.entries.size(), 1u);
  EXPECT_EQ(r2.entries[0].data, "c");
  EXPECT_TRUE(r2.committed_entries.empty());
  n->node->advance(r2.number);
  n->storage.append(r1.entries);
  n->node->persisted(r1.number);
  EXPECT_EQ(n->raft().log().stable_last_index(), 0u) << "entry 2 of term 1 was replaced: not durable";
  n->storage.append(r2.entries);
  n->node->persisted(r2.number);
  EXPECT_EQ(n->raft().log().stable_last_index(), 2u);
  Ready r3 = n->node->ready();
  ASSERT_EQ(r3.committed_entries.size(), 2u);
  EXPECT_EQ(r3.committed_entries[1].data, "c");
  n->node->advance(r3.number);
  n->node->persisted(r3.number);
}

// A snapshot is handed out only once the writes before it are durable.
TEST(RawNodeAsync, SnapshotWaitsForTheWritesInFlight) {
  auto n = std::make_unique<TestNode>(async_config(2), ConfState{{1, 2, 3}, {}});
  (void)n->node->step(to_member_2(MessageType::kApp, 1, 1, {entry(1, 1, "a")}));
  Ready r1 = n->node->ready();
  n->node->advance(r1.number);
  Message s = to_member_2(MessageType::kSnap, 1, 1);
  s.snapshot.metadata.index = 10;
  s.snapshot.metadata.term = 1;
  s.snapshot.metadata.conf_state = ConfState{{1, 2, 3}, {}};
  (void)n->node->step(s);
  EXPECT_FALSE(n->node->has_ready()) << "the snapshot waits for the write of entry 1";
  n->storage.append(r1.entries);
  n->node->persisted(r1.number);
  ASSERT_TRUE(n->node->has_ready());
  Ready r2 = n->node->ready();
  EXPECT_EQ(r2.snapshot.metadata.index, 10u);
  EXPECT_FALSE(n->node->has_ready()) << "nothing follows a snapshot until it is advanced";
  n->storage.apply_snapshot(r2.snapshot);
  n->node->advance(r2.number);
  EXPECT_EQ(n->node->writes_in_flight(), 0u);
  EXPECT_EQ(n->raft().log().applied(), 10u);
}

// A follower that installs a snapshot acknowledges it (MsgAppResp in messages_after_persist), so the
// snapshot and the hard state committing to it must be fsynced before that ack leaves, just as
// entries are. An application that skips the fsync when must_sync is false could acknowledge a
// snapshot, crash, and restart with a durable HardState.commit beyond its durable log (or lose the
// snapshot the leader counts as replicated).
TEST(RawNodeContract, ReadyWithSnapshotMustSync) {
  auto n = std::make_unique<TestNode>(plain_config(2), ConfState{{1, 2, 3}, {}});
  Message m;
  m.type = MessageType::kSnap;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.snapshot.metadata.index = 10;
  m.snapshot.metadata.term = 1;
  m.snapshot.metadata.conf_state = ConfState{{1, 2, 3}, {}};
  (void)n->node->step(m);
  (void)n->flush();  // first Ready: term 1 from the message (already syncs)
  // A second snapshot in the same term: only the snapshot and the commit index change.
  m.snapshot.metadata.index = 20;
  (void)n->node->step(m);
  Ready rd = n->node->ready();
  ASSERT_FALSE(rd.snapshot.empty());
  ASSERT_EQ(of_type(rd.messages_after_persist, MessageType::kAppResp).size(), 1u);
  EXPECT_TRUE(rd.must_sync) << "the snapshot the follower is about to acknowledge must be durable";
  n->node->advance(rd.number);
}

TEST(RawNodeContract, StepRefusesLocalMessagesAndResponsesFromStrangers) {
  auto n = std::make_unique<TestNode>(plain_config(1), ConfState{{1, 2, 3}, {}});
  Message m;
  m.type = MessageType::kHup;
  m.from = 2;
  auto r = n->node->step(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kStepLocalMsg);
  EXPECT_EQ(n->raft().role(), StateRole::kFollower);
  m.type = MessageType::kAppResp;
  m.from = 9;
  m.term = 1;
  r = n->node->step(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kStepPeerNotFound);
}

// Found by tests/fuzz raft_message: a peer's MsgProp without entries reached the leader's
// "proposal without entries" assertion. Peer input is refused with an error, never an abort.
TEST(RawNodeContract, StepRefusesAProposalWithoutEntries) {
  auto n = std::make_unique<TestNode>(plain_config(1), ConfState{{1}, {}});
  n->node->campaign();
  n->flush();
  ASSERT_EQ(n->raft().role(), StateRole::kLeader);
  Index last = n->raft().log().last_index();
  Message m;
  m.type = MessageType::kProp;
  m.from = 2;
  auto r = n->node->step(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kMalformedMessage);
  EXPECT_EQ(n->raft().log().last_index(), last);
  EXPECT_EQ(n->raft().role(), StateRole::kLeader);
}

// Leader Completeness (§5.4): "the leader's log contains every committed entry", so an append that
// would rewrite a committed entry comes only from a faulty or hostile peer. It is answered as a stale
// append (with the follower's commit index) and the log is untouched: raft_log's "an append conflicts
// with a committed entry" assertion is not reachable from a peer.
TEST(RawNodeContract, StepRefusesAnAppendRewritingCommittedEntries) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  RaftLog& log = (*c)[2].raft().log();
  const Index committed = log.committed();
  const Term term = (*c)[2].raft().term();
  ASSERT_GE(committed, 2u);
  Message m;
  m.type = MessageType::kApp;
  m.from = 1;
  m.term = term + 1;
  m.index = committed - 1;
  m.log_term = *log.term(committed - 1);
  m.commit = committed;
  Entry e;
  e.index = committed;
  e.term = term + 1;
  e.data = "rewritten";
  m.entries.push_back(e);
  EXPECT_TRUE((*c)[2].node->step(m).has_value());
  EXPECT_EQ(log.committed(), committed);
  EXPECT_EQ(*log.term(committed), term) << "the committed entry is kept";
  EXPECT_EQ(log.last_index(), committed);
}

// A follower acknowledges only what the leader sent it: an acknowledgement past the leader's log would
// set a match index beyond it (and commit or slice past its end). Refused, progress untouched.
TEST(RawNodeContract, StepRefusesAnAcknowledgementPastTheLeadersLog) {
  auto c = Cluster::plain(3);
  c->elect(1);
  c->stabilize();
  const Index last = (*c)[1].raft().log().last_index();
  const Index match = (*c)[1].raft().tracker().progress(2)->match_index;
  Message m;
  m.type = MessageType::kAppResp;
  m.from = 2;
  m.term = (*c)[1].raft().term();
  m.index = last + 100;
  auto r = (*c)[1].node->step(m);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::kMalformedMessage);
  EXPECT_EQ((*c)[1].raft().tracker().progress(2)->match_index, match);
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kLeader);
}

TEST(RawNodeContract, RestartRecoversTermVoteCommitAndLog) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  HardState before = (*c)[2].raft().hard_state();
  auto ents = (*c)[2].raft().log().all_entries();
  (*c)[2].restart();
  EXPECT_EQ((*c)[2].raft().hard_state(), before);
  EXPECT_EQ((*c)[2].raft().log().all_entries(), ents);
  EXPECT_EQ((*c)[2].raft().role(), StateRole::kFollower);
  EXPECT_FALSE((*c)[2].node->has_ready() && !(*c)[2].node->ready().committed_entries.empty())
      << "entries already applied are not handed out again";
}

// ---- Randomized safety ---------------------------------------------------------------------------

// Drives small clusters through random ticks, message loss, partitions, crashes and proposals, checking the
// Figure 3 properties as it goes: Election Safety (one leader per term), State Machine Safety (no two
// members apply different entries at an index), and each member's internal invariants; then heals
// and checks a leader emerges and commits (liveness).
// CAIRN_RAFT_SEEDS=N runs N seeds instead of the default 24.
TEST(RandomizedSafety, FigureThreePropertiesHoldUnderRandomFaults) {
  const char* env = std::getenv("CAIRN_RAFT_SEEDS");
  const uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 24;
  size_t snapshots = 0, elections = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    Rng rng(seed);
    auto c = Cluster::voters(5, [&](NodeId id) {
      Config cfg = plain_config(id);
      cfg.pre_vote = seed % 2 == 0;
      cfg.check_quorum = seed % 3 == 0;
      cfg.rng_seed = seed;
      return cfg;
    });
    std::map<Term, NodeId> leader_of_term;
    int proposals = 0;
    for (int step = 0; step < 1500; ++step) {
      uint64_t r = rng.uniform(100);
      NodeId id = 1 + rng.uniform(5);
      if (r < 25) {
        for (NodeId n : c->ids())
          c->tick(n);  // the clock advances for everyone
      } else if (r < 60) {
        for (auto& m : c->take(id)) {
          if (rng.uniform(10) == 0) {
            c->lose(m);
            continue;
          }
          const NodeId from = m.from;
          const bool snap = m.type == MessageType::kSnap;
          (void)(*c)[id].node->step(std::move(m));
          // The transport reports a delivered snapshot, as raw_node.h asks (the leader pauses
          // appends to that member until it hears about it).
          if (snap) (*c)[from].node->report_snapshot(id, true);
        }
      } else if (r < 82) {
        c->flush(id);
      } else if (r < 86) {
        // Log compaction up to the applied index, so lagging members need snapshots.
        TestNode& t = (*c)[id];
        Index applied = t.raft().log().applied();
        if (applied > t.storage.first_index()) {
          ConfState cs = t.raft().tracker().config().to_conf_state();
          if (t.storage.create_snapshot(applied, &cs, "snap").has_value()) (void)t.storage.compact(applied);
        }
      } else if (r < 94) {
        // Mostly to whoever leads (so that something commits), sometimes to anyone.
        NodeId to = id;
        for (NodeId n : c->ids()) {
          if (rng.uniform(4) != 0 && (*c)[n].raft().role() == StateRole::kLeader) to = n;
        }
        (void)(*c)[to].node->propose("p" + std::to_string(proposals++));
      } else if (r < 96) {
        // Crash while a Ready is being persisted: its immediate messages may already be out (the
        // leader sends appends in parallel with its own write), nothing else of it is durable.
        TestNode& t = (*c)[id];
        if (t.node->has_ready()) c->send(t.node->ready().messages);
        t.restart();
      } else if (r < 98) {
        c->heal();
        c->isolate(id);
      } else {
        c->heal();
      }
      for (NodeId n : c->ids()) {
        const Raft& rf = (*c)[n].raft();
        rf.check_invariants();
        if (rf.role() == StateRole::kLeader) {
          auto [it, inserted] = leader_of_term.emplace(rf.term(), n);
          ASSERT_EQ(it->second, n) << "two leaders in term " << rf.term() << " seed " << seed;
        }
      }
    }
    // Liveness on the healed cluster: keep ticking until everyone follows one leader in one term
    // (without pre-vote/check-quorum a member stuck at a higher term only rejoins by campaigning).
    c->heal();
    NodeId leader = kNone;
    for (int i = 0; i < 500; ++i) {
      for (NodeId id : c->ids())
        c->tick(id);
      c->stabilize();
      leader = kNone;
      for (NodeId id : c->ids()) {
        if ((*c)[id].raft().role() == StateRole::kLeader) leader = id;
      }
      bool agreed = leader != kNone;
      for (NodeId id : c->ids()) {
        agreed = agreed && (*c)[id].raft().lead() == leader &&
                 (*c)[id].raft().term() == (*c)[leader].raft().term();
      }
      if (agreed) break;
    }
    ASSERT_NE(leader, kNone) << "seed " << seed;
    ASSERT_TRUE((*c)[leader].node->propose("final").has_value());
    c->stabilize();
    heartbeat(*c, leader);
    elections += leader_of_term.size();
    for (NodeId id : c->ids())
      snapshots += (*c)[id].snapshots_installed.size();
    std::map<Index, Entry> applied_at;
    if (std::getenv("CAIRN_DEBUG")) {
      for (NodeId id : c->ids()) {
        const Raft& rf = (*c)[id].raft();
        fprintf(stderr,
                "seed %lu node %lu role %s term %lu lead %lu commit %lu applied %lu last %lu first %lu "
                "napplied %zu\n",
                (unsigned long)seed, (unsigned long)id, to_string(rf.role()), (unsigned long)rf.term(),
                (unsigned long)rf.lead(), (unsigned long)rf.log().committed(),
                (unsigned long)rf.log().applied(), (unsigned long)rf.log().last_index(),
                (unsigned long)rf.log().first_index(), (*c)[id].applied.size());
      }
      for (const auto& [id, p] : (*c)[leader].node->status().progress)
        fprintf(stderr, "  %lu: %s\n", (unsigned long)id, p.c_str());
    }
    for (NodeId id : c->ids()) {
      const auto& ap = (*c)[id].applied;
      ASSERT_FALSE(ap.empty()) << "seed " << seed << " node " << id;
      EXPECT_EQ(ap.back().data, "final") << "seed " << seed << " node " << id;
      for (size_t i = 0; i < ap.size(); ++i) {
        if (i > 0) {
          // Entries are applied in order without gaps, except where a snapshot was installed.
          const auto& snaps = (*c)[id].snapshots_installed;
          bool snapshot_between = std::any_of(snaps.begin(), snaps.end(), [&](Index s) {
            return s >= ap[i - 1].index && s + 1 == ap[i].index;
          });
          ASSERT_TRUE(ap[i].index == ap[i - 1].index + 1 || snapshot_between)
              << "gap in apply at " << ap[i].index << ", seed " << seed;
        }
        auto [it, inserted] = applied_at.emplace(ap[i].index, ap[i]);
        ASSERT_EQ(it->second, ap[i]) << "members applied different entries at index " << ap[i].index
                                     << ", seed " << seed;
      }
    }
  }
  // The fault mix must actually exercise what it claims to.
  EXPECT_GT(snapshots, 0u) << "no snapshot was ever installed";
  EXPECT_GT(elections, seeds) << "too few elections";
  if (std::getenv("CAIRN_DEBUG")) fprintf(stderr, "snapshots %zu elections %zu\n", snapshots, elections);
}

// Like the test above, with membership changes thrown in: five processes, three of them voters at
// the start; the leader randomly adds learners, promotes, and removes members (one change at a time,
// as the core enforces). Pre-vote and check-quorum are on, as in production, so that members that
// were removed without learning it cannot disrupt the rest forever.
TEST(RandomizedSafety, MembershipChangesKeepFigureThreeProperties) {
  const char* env = std::getenv("CAIRN_RAFT_SEEDS");
  const uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 16;
  size_t changes_applied = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    Rng rng(seed * 7919);
    auto c = std::make_unique<Cluster>();
    for (NodeId id = 1; id <= 5; ++id) {
      Config cfg = pv_cq_config(id);
      cfg.rng_seed = seed;
      c->add(cfg, ConfState{{1, 2, 3}, {}});
    }
    std::map<Term, NodeId> leader_of_term;
    int proposals = 0;
    for (int step = 0; step < 1500; ++step) {
      uint64_t r = rng.uniform(100);
      NodeId id = 1 + rng.uniform(5);
      NodeId leader = kNone;
      for (NodeId n : c->ids()) {
        if ((*c)[n].raft().role() == StateRole::kLeader) leader = n;
      }
      if (r < 25) {
        for (NodeId n : c->ids())
          c->tick(n);
      } else if (r < 60) {
        for (auto& m : c->take(id)) {
          if (rng.uniform(10) == 0) {
            c->lose(m);
            continue;
          }
          const NodeId from = m.from;
          const bool snap = m.type == MessageType::kSnap;
          (void)(*c)[id].node->step(std::move(m));
          if (snap) (*c)[from].node->report_snapshot(id, true);
        }
      } else if (r < 84) {
        c->flush(id);
      } else if (r < 87) {
        TestNode& t = (*c)[id];
        Index applied = t.raft().log().applied();
        if (applied > t.storage.first_index()) {
          ConfState cs = t.raft().tracker().config().to_conf_state();
          if (t.storage.create_snapshot(applied, &cs, "snap").has_value()) (void)t.storage.compact(applied);
        }
      } else if (r < 93) {
        (void)(*c)[leader != kNone ? leader : id].node->propose("p" + std::to_string(proposals++));
      } else if (r < 96) {
        if (leader != kNone) {
          static const ConfChangeType kTypes[] = {ConfChangeType::kAddNode, ConfChangeType::kAddLearnerNode,
                                                  ConfChangeType::kRemoveNode};
          (void)(*c)[leader].node->propose_conf_change(cc(kTypes[rng.uniform(3)], 1 + rng.uniform(5)));
        }
      } else if (r < 97) {
        TestNode& t = (*c)[id];
        if (t.node->has_ready()) c->send(t.node->ready().messages);
        t.restart();
      } else if (r < 99) {
        c->heal();
        c->isolate(id);
      } else {
        c->heal();
      }
      for (NodeId n : c->ids()) {
        const Raft& rf = (*c)[n].raft();
        rf.check_invariants();
        if (rf.role() == StateRole::kLeader) {
          auto [it, inserted] = leader_of_term.emplace(rf.term(), n);
          ASSERT_EQ(it->second, n) << "two leaders in term " << rf.term() << " seed " << seed;
        }
      }
    }
    // Liveness: everyone in the leader's configuration follows it.
    c->heal();
    NodeId leader = kNone;
    for (int i = 0; i < 500; ++i) {
      for (NodeId id : c->ids())
        c->tick(id);
      c->stabilize();
      leader = kNone;
      for (NodeId id : c->ids()) {
        if ((*c)[id].raft().role() == StateRole::kLeader) leader = id;
      }
      bool agreed = leader != kNone;
      if (agreed) {
        for (NodeId id : c->ids()) {
          if (!(*c)[leader].raft().tracker().config().contains(id)) continue;
          agreed = agreed && (*c)[id].raft().lead() == leader &&
                   (*c)[id].raft().term() == (*c)[leader].raft().term();
        }
      }
      if (agreed) break;
    }
    ASSERT_NE(leader, kNone) << "seed " << seed;
    ASSERT_TRUE((*c)[leader].node->propose("final").has_value());
    c->stabilize();
    heartbeat(*c, leader);
    std::map<Index, Entry> applied_at;
    for (NodeId id : c->ids()) {
      changes_applied += (*c)[id].conf_states_applied.size();
      const auto& ap = (*c)[id].applied;
      if ((*c)[leader].raft().tracker().config().contains(id)) {
        ASSERT_FALSE(ap.empty()) << "seed " << seed << " node " << id;
        EXPECT_EQ(ap.back().data, "final") << "seed " << seed << " node " << id;
      }
      for (const Entry& e : ap) {
        auto [it, inserted] = applied_at.emplace(e.index, e);
        ASSERT_EQ(it->second, e) << "members applied different entries at index " << e.index << ", seed "
                                 << seed;
      }
    }
  }
  EXPECT_GT(changes_applied, seeds) << "the fault mix should apply membership changes";
}

}  // namespace
}  // namespace cairn::raft::test
