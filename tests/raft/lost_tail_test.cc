// Recovery of a member whose log lost a tail it had acknowledged (raft/lost_tail.h): the LostTail
// sub-state machine, and the Raft rules it drives, each test naming the rule it checks. The rules follow
// protocol-aware recovery (Alagappan et al., FAST'18): a member that knows its storage lost data must not
// act on the data it no longer has (it votes for no one), tells the leader what it really holds, and
// gets the rest back from the copies the protocol guarantees.
#include <gtest/gtest.h>

#include <algorithm>

#include "raft/lost_tail.h"
#include "tests/raft/harness.h"

namespace cairn::raft::test {
namespace {

// ---- the sub-state machine -----------------------------------------------------------------------

TEST(LostTailState, IntactUntilALossIsFound) {
  LostTail lt(false);
  EXPECT_FALSE(lt.active());
  EXPECT_FALSE(lt.report_due());
  EXPECT_FALSE(lt.on_matched(100));
  lt.on_loss_found();
  EXPECT_EQ(lt.state(), LostTail::State::kAwaitingTarget);
  EXPECT_TRUE(lt.active());
  EXPECT_TRUE(lt.report_due());
  // Until the leader answers, matching proves nothing: the member does not know how far to go.
  EXPECT_FALSE(lt.on_matched(1000));
  EXPECT_TRUE(lt.active());
}

TEST(LostTailState, AnAnswerCountsOnlyWithThisIncarnationsNonce) {
  LostTail lt(true);
  lt.set_nonce(0xabc);
  lt.on_report_sent();
  EXPECT_TRUE(lt.report_due()) << "awaiting a target, every leader contact reports";
  lt.on_answer(0xdef, 10);  // an answer to another incarnation's report
  EXPECT_EQ(lt.state(), LostTail::State::kAwaitingTarget);
  lt.on_answer(0, 10);
  EXPECT_EQ(lt.state(), LostTail::State::kAwaitingTarget);
  lt.on_answer(0xabc, 10);
  EXPECT_EQ(lt.state(), LostTail::State::kCatchingUp);
  EXPECT_EQ(lt.target(), 10u);
  EXPECT_FALSE(lt.report_due());
  // A second answer of the same term keeps the first target (it already covers what was lost).
  lt.on_answer(0xabc, 20);
  EXPECT_EQ(lt.target(), 10u);
}

TEST(LostTailState, CaughtUpOnceMatchedThroughTheTarget) {
  LostTail lt(true);
  lt.set_nonce(7);
  lt.on_answer(7, 10);
  EXPECT_FALSE(lt.on_matched(9));
  EXPECT_TRUE(lt.active());
  EXPECT_TRUE(lt.on_matched(10));
  EXPECT_FALSE(lt.active());
  EXPECT_FALSE(lt.on_matched(11)) << "already intact";
}

TEST(LostTailState, ANewLossWhileCatchingUpReportsAgainAndKeepsTheTarget) {
  LostTail lt(true);
  lt.set_nonce(7);
  lt.on_answer(7, 10);
  lt.on_loss_found();  // a leader counted a stale acknowledgement again
  EXPECT_EQ(lt.state(), LostTail::State::kCatchingUp);
  EXPECT_TRUE(lt.report_due());
  lt.on_report_sent();
  EXPECT_FALSE(lt.report_due());
  EXPECT_EQ(lt.target(), 10u);
}

TEST(LostTailState, ANewTermAsksTheNextLeader) {
  LostTail lt(true);
  lt.set_nonce(7);
  lt.on_answer(7, 50);
  lt.on_new_term();
  EXPECT_EQ(lt.state(), LostTail::State::kAwaitingTarget);
  EXPECT_EQ(lt.target(), 0u);
  EXPECT_TRUE(lt.report_due());
  LostTail intact(false);
  intact.on_new_term();
  EXPECT_FALSE(intact.active());
}

TEST(LostTailState, TheNonceTravelsInTheContext) {
  EXPECT_EQ(LostTail::decode_nonce(LostTail::encode_nonce(0x0123456789abcdefULL)), 0x0123456789abcdefULL);
  EXPECT_EQ(LostTail::decode_nonce("short"), 0u);
  EXPECT_EQ(LostTail::decode_nonce("0123456789abcdeX"), 0u);
}

// ---- the rules -----------------------------------------------------------------------------------

// The member's storage lost every entry after `keep` and the hard states written after them, but not
// its term and vote (the WAL's vote record keeps those); it restarts marked, as after a WAL repair.
void lose_tail(TestNode& n, Index keep) {
  MemoryStorage& s = n.storage;
  const Snapshot snap = *s.snapshot();
  std::vector<Entry> ents;
  if (keep >= s.first_index()) ents = *s.entries(s.first_index(), keep + 1, UINT64_MAX);
  HardState hs = s.hard_state();
  hs.commit = std::min(hs.commit, keep);
  hs.lost_tail = true;
  const ConfState cs = s.initial_state().conf_state;
  s = MemoryStorage();
  if (!snap.empty()) {
    s.apply_snapshot(snap);
  } else {
    s.set_conf_state(cs);
  }
  s.append(ents);
  s.set_hard_state(hs);
  n.restart();
}

// Leader 1 commits entry 2 with node 2's acknowledgement alone (node 3 is cut off), then is gone; node 2
// loses entry 2. Returns the cluster with 1 isolated and 2-3 connected.
std::unique_ptr<Cluster> committed_then_lost(Config (*cfg)(NodeId) = plain_config) {
  auto c = Cluster::voters(3, cfg);
  c->elect(1);
  c->isolate(3);
  EXPECT_TRUE((*c)[1].node->propose("acknowledged").has_value());
  c->stabilize();
  EXPECT_EQ((*c)[1].raft().log().committed(), 2u);
  EXPECT_EQ((*c)[3].raft().log().last_index(), 1u);
  c->heal();
  c->isolate(1);
  lose_tail((*c)[2], 1);
  return c;
}

// Raft §5.4.1 grants a vote to a candidate whose log is "at least as up-to-date" as the voter's; a voter
// that lost acknowledged entries can no longer tell. A candidate lacking a committed entry would win with
// its vote, so it grants none until it has caught up (protocol-aware recovery, lost_tail.h).
TEST(LostTail, S5_4_1_AMemberThatLostItsTailGrantsNoVoteUntilCaughtUp) {
  auto c = committed_then_lost();
  ASSERT_TRUE((*c)[2].raft().lost_tail().active());
  (*c)[3].node->campaign();
  c->stabilize();
  EXPECT_NE((*c)[3].raft().role(), StateRole::kLeader);
  // The committed entry survives on node 1: once it is back, only a leader holding it can be elected
  // (node 3 lacks it, node 2 votes for no one), and node 2 catches up from it.
  c->heal();
  for (int i = 0; i < 200 && (*c)[2].raft().lost_tail().active(); ++i) {
    for (NodeId id : c->ids())
      c->tick(id);
    c->stabilize();
  }
  EXPECT_FALSE((*c)[2].raft().lost_tail().active());
  EXPECT_EQ((*c)[2].raft().log().zero_term_on_error(2), 1u) << "the committed entry is back";
  EXPECT_EQ((*c)[3].raft().log().zero_term_on_error(2), 1u);
}

#if CAIRN_INVARIANTS
// The same history with the rule switched off: the candidate that lacks the committed entry wins. This is
// what the simulator's leader-completeness check catches (tests/sim, TestingBreak::kLostTailVotes).
TEST(LostTail, S5_4_1_WithTheRuleOffACandidateLackingACommittedEntryWins) {
  auto c = committed_then_lost(+[](NodeId id) {
    Config cfg = plain_config(id);
    cfg.testing_break = TestingBreak::kLostTailVotes;
    return cfg;
  });
  (*c)[3].node->campaign();
  c->stabilize();
  ASSERT_EQ((*c)[3].raft().role(), StateRole::kLeader);
  EXPECT_LT((*c)[3].raft().log().last_index(), 3u);
  EXPECT_NE((*c)[2].raft().log().zero_term_on_error(2), 1u) << "committed entry 2 (term 1) was overwritten";
}
#endif

TEST(LostTail, AMemberThatLostItsTailDoesNotCampaign) {
  auto c = committed_then_lost();
  for (int i = 0; i < 4 * (*c)[2].config().election_timeout_ticks; ++i)
    c->tick(2);
  auto msgs = (*c)[2].flush();
  EXPECT_TRUE(of_type(msgs, MessageType::kVote).empty()) << describe_all(msgs);
  EXPECT_EQ((*c)[2].raft().role(), StateRole::kFollower);
  // Nor does a leader's TimeoutNow make it campaign.
  Message t;
  t.type = MessageType::kTimeoutNow;
  t.from = 1;
  t.to = 2;
  t.term = (*c)[2].raft().term();
  (void)(*c)[2].node->step(t);
  EXPECT_TRUE(of_type((*c)[2].flush(), MessageType::kVote).empty());
}

// A commit index beyond the local log from a peer is a protocol event, never an abort: the leader
// counted acknowledgements this member's storage has lost (it did not know: no WAL repair saw it).
TEST(LostTail, ACommitIndexBeyondTheLogIsAProtocolEventNotAnAbort) {
  auto c = Cluster::plain(3);
  c->elect(1);
  TestNode& f = (*c)[2];
  Message hb;
  hb.type = MessageType::kHeartbeat;
  hb.from = 1;
  hb.to = 2;
  hb.term = f.raft().term();
  hb.commit = f.raft().log().last_index() + 5;
  ASSERT_TRUE(f.node->step(hb).has_value());
  EXPECT_EQ(f.raft().log().committed(), f.raft().log().last_index());
  EXPECT_TRUE(f.raft().lost_tail().active());
  Ready rd = f.node->ready();
  ASSERT_TRUE(rd.hard_state);
  EXPECT_TRUE(rd.hard_state->lost_tail);
  EXPECT_TRUE(rd.must_sync) << "the mark keeps the member from voting: durable before anything else";
  // The report states the durable log's end, so it waits for the persistence step.
  auto reports = of_type(rd.messages_after_persist, MessageType::kLostTail);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].to, 1u);
  EXPECT_EQ(reports[0].index, f.raft().log().last_index());
  EXPECT_EQ(reports[0].log_term, f.raft().log().last_term());
  EXPECT_TRUE(of_type(rd.messages, MessageType::kLostTail).empty());
}

Message lost_tail_report(NodeId from, NodeId to, Term term, Index index, Term log_term, uint64_t nonce) {
  Message m;
  m.type = MessageType::kLostTail;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = index;
  m.log_term = log_term;
  m.context = LostTail::encode_nonce(nonce);
  return m;
}

// The leader "resets that follower's progress instead of sending a commit index beyond it" (issue 21),
// and names its last index as the target (lost_tail.h: not the commit index).
TEST(LostTail, TheLeaderResetsTheFollowersProgressAndAnswersWithItsLastIndex) {
  auto c = Cluster::plain(3);
  c->elect(1);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*c)[1].node->propose("e" + std::to_string(i)).has_value());
  c->stabilize();
  TestNode& l = (*c)[1];
  const Index last = l.raft().log().last_index();  // 6
  ASSERT_EQ(l.raft().tracker().progress(2)->match_index, last);
  // Uncommitted entries of the leader: the target covers them too.
  c->isolate(1);
  ASSERT_TRUE(l.node->propose("uncommitted").has_value());
  l.flush();
  const Index leader_last = l.raft().log().last_index();
  ASSERT_GT(leader_last, l.raft().log().committed());
  (void)l.node->step(lost_tail_report(2, 1, l.raft().term(), 3, 1, 42));
  const Progress* pr = l.raft().tracker().progress(2);
  EXPECT_EQ(pr->state, ProgressState::kProbe);
  EXPECT_EQ(pr->match_index, 3u) << "the logs agree at (3, term 1): they agree up to it";
  EXPECT_EQ(pr->next_index, 4u);
  auto msgs = l.flush();
  auto answers = of_type(msgs, MessageType::kLostTailResp);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].index, leader_last);
  EXPECT_EQ(LostTail::decode_nonce(answers[0].context), 42u);
  auto apps = of_type(msgs, MessageType::kApp);
  ASSERT_FALSE(apps.empty());
  EXPECT_EQ(apps[0].index, 3u) << "probing from the follower's real end";
  EXPECT_LE(apps[0].commit, l.raft().log().committed());
  // A report whose last entry does not match ours keeps only what its old acknowledgements prove.
  (void)l.node->step(lost_tail_report(3, 1, l.raft().term(), 5, 7, 43));
  EXPECT_EQ(l.raft().tracker().progress(3)->match_index, 5u) << "min(old match 6, its end 5)";
  (void)l.node->step(lost_tail_report(3, 1, l.raft().term(), 50, 1, 44));
  EXPECT_EQ(l.raft().tracker().progress(3)->next_index, leader_last + 1) << "never beyond our log";
}

// End to end: the follower's lost entries come back from the leader, it drops the mark (durably) and
// votes again.
TEST(LostTail, TheFollowerGetsTheLostEntriesFromTheLeaderAndVotesAgain) {
  auto c = Cluster::plain(3);
  c->elect(1);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE((*c)[1].node->propose("e" + std::to_string(i)).has_value());
  c->stabilize();
  const auto want = (*c)[1].raft().log().all_entries();
  lose_tail((*c)[2], 2);
  EXPECT_TRUE((*c)[2].raft().lost_tail().active());
  EXPECT_EQ((*c)[2].raft().log().last_index(), 2u);
  c->tick(1);  // a heartbeat: the commit index runs past node 2's log; it reports
  c->stabilize();
  EXPECT_FALSE((*c)[2].raft().lost_tail().active());
  EXPECT_EQ((*c)[2].raft().log().all_entries(), want);
  EXPECT_FALSE((*c)[2].storage.hard_state().lost_tail) << "the mark was cleared durably";
  // It votes again: node 3 campaigns in a new term with an up-to-date log and wins with its vote.
  c->isolate(1);
  (*c)[3].node->campaign();
  c->stabilize();
  EXPECT_EQ((*c)[3].raft().role(), StateRole::kLeader);
}

// An answer counts only for a report of this incarnation: the report of an earlier one may have been
// answered before acknowledgements that a later crash lost were sent.
TEST(LostTail, AnAnswerToAnEarlierIncarnationsReportIsIgnored) {
  auto c = Cluster::plain(3);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  lose_tail((*c)[2], 1);
  c->tick(1);
  c->flush(1);
  c->deliver(2);
  c->flush(2);  // node 2's report
  c->deliver(1);
  c->flush(1);
  auto answers = of_type(c->take(2), MessageType::kLostTailResp);
  ASSERT_EQ(answers.size(), 1u);
  // Node 2 restarts (another incarnation, another nonce) before the answer arrives.
  Config cfg = (*c)[2].config();
  cfg.rng_seed = 99;
  (*c)[2].node = std::make_unique<RawNode>(cfg, &(*c)[2].storage);
  (void)(*c)[2].node->step(answers[0]);
  EXPECT_EQ((*c)[2].raft().lost_tail().state(), LostTail::State::kAwaitingTarget);
}

TEST(LostTail, TheOnlyVoterCampaignsWithALostTail) {
  auto c = Cluster::plain(1);
  c->elect(1);
  ASSERT_TRUE((*c)[1].node->propose("x").has_value());
  c->stabilize();
  lose_tail((*c)[1], 1);
  ASSERT_TRUE((*c)[1].raft().lost_tail().active());
  c->elect(1);  // nobody else has what it lost: it leads on without it
  EXPECT_EQ((*c)[1].raft().role(), StateRole::kLeader);
  EXPECT_FALSE((*c)[1].raft().lost_tail().active());
}

}  // namespace
}  // namespace cairn::raft::test
