// Deterministic tests of the leader's lessor (server/lease/lessor.h) on a simulated clock: expiry only on
// the primary, the revoke rate limit, promotion grace, checkpoints and their reset on renew, and the
// minimum TTL.
#include "server/lease/lessor.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cairn::server::lease {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LessorConfig config() {
  LessorConfig c;
  c.election_timeout = milliseconds(1000);
  c.check_interval = milliseconds(500);
  c.revokes_per_check_max = 500;
  c.checkpoint_interval = std::chrono::minutes(5);
  c.checkpoint_remaining_min = seconds(2);
  c.checkpoints_per_check_max = 1000;
  return c;
}

// Advances the clock in check-sized steps, collecting every revoke handed out.
std::vector<int64_t> run_for(SimClock& clock, Lessor& l, milliseconds d,
                             std::vector<storage::LeaseCheckpoint>* cps = nullptr) {
  std::vector<int64_t> out;
  for (milliseconds t{0}; t < d; t += milliseconds(100)) {
    clock.advance(milliseconds(100));
    auto w = l.poll();
    out.insert(out.end(), w.revoke.begin(), w.revoke.end());
    if (cps) cps->insert(cps->end(), w.checkpoint.begin(), w.checkpoint.end());
  }
  return out;
}

TEST(MinTtl, IsCeilOfOneAndAHalfElectionTimeouts) {
  EXPECT_EQ(min_ttl_seconds(milliseconds(1000)), 2);  // etcd default: 1.5 s -> 2 s
  EXPECT_EQ(min_ttl_seconds(milliseconds(500)), 1);   // 0.75 s -> 1 s
  EXPECT_EQ(min_ttl_seconds(milliseconds(2000)), 3);
  EXPECT_EQ(min_ttl_seconds(milliseconds(2001)), 4);  // 3.0015 s -> 4 s
  EXPECT_EQ(min_ttl_seconds(milliseconds(10)), 1);
}

TEST(Lessor, FollowerNeverExpires) {
  SimClock clock;
  Lessor l(clock, config());
  l.granted({1, 5, 0});  // ignored: not primary
  EXPECT_EQ(l.size(), 0u);
  EXPECT_TRUE(run_for(clock, l, seconds(60)).empty());
  EXPECT_EQ(l.renew({1, 5, 0}), Lessor::RenewOutcome::kNotPrimary);
  EXPECT_FALSE(l.remaining(1).has_value());
}

TEST(Lessor, GrantedLeaseExpiresAfterItsTtlNotBefore) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({7, 5, 0});
  EXPECT_TRUE(run_for(clock, l, milliseconds(4900)).empty());
  EXPECT_EQ(l.remaining(7), milliseconds(100));
  auto revoked = run_for(clock, l, milliseconds(600));
  ASSERT_EQ(revoked, std::vector<int64_t>{7});
  EXPECT_TRUE(l.revoking(7));
  EXPECT_EQ(l.remaining(7), milliseconds(0));
  // Handed out once: not again while the revoke is in flight.
  EXPECT_TRUE(run_for(clock, l, seconds(5)).empty());
  l.revoked(7);
  EXPECT_EQ(l.size(), 0u);
}

TEST(Lessor, FailedRevokeIsRetried) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({7, 2, 0});
  ASSERT_EQ(run_for(clock, l, milliseconds(2600)), std::vector<int64_t>{7});
  l.revoke_failed(7);
  EXPECT_FALSE(l.revoking(7));
  EXPECT_EQ(run_for(clock, l, milliseconds(600)), std::vector<int64_t>{7});
}

TEST(Lessor, DemoteForgetsExpiries) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({1, 2, 0});
  l.demote();
  EXPECT_FALSE(l.primary());
  EXPECT_TRUE(run_for(clock, l, seconds(10)).empty());
}

TEST(Lessor, RenewPushesExpiryAFullTtlAhead) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({1, 10, 0});
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(run_for(clock, l, seconds(3)).empty());  // a client renewing every TTL/3
    EXPECT_EQ(l.renew({1, 10, 0}), Lessor::RenewOutcome::kRenewed);
    EXPECT_EQ(l.remaining(1), seconds(10));
  }
  EXPECT_TRUE(run_for(clock, l, milliseconds(9900)).empty());
  EXPECT_EQ(run_for(clock, l, milliseconds(600)), std::vector<int64_t>{1});
}

TEST(Lessor, ExpiredLeaseIsNotRenewed) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({1, 2, 0});
  clock.advance(milliseconds(2001));  // expired, the check has not run yet
  EXPECT_EQ(l.renew({1, 2, 0}), Lessor::RenewOutcome::kExpired);
  EXPECT_EQ(run_for(clock, l, milliseconds(500)), std::vector<int64_t>{1});
  EXPECT_EQ(l.renew({1, 2, 0}), Lessor::RenewOutcome::kExpired);  // revoke in flight
}

TEST(Lessor, RenewOfUntrackedLeaseTracksIt) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  EXPECT_EQ(l.renew({3, 6, 0}), Lessor::RenewOutcome::kRenewed);
  EXPECT_EQ(l.remaining(3), seconds(6));
}

TEST(Lessor, RevokesAreRateLimitedPerCheck) {
  SimClock clock;
  LessorConfig c = config();
  Lessor l(clock, c);
  l.promote({});
  for (int64_t id = 1; id <= 1200; ++id)
    l.granted({id, 2, 0});
  clock.advance(seconds(3));
  auto w1 = l.poll();
  EXPECT_EQ(w1.revoke.size(), 500u);
  EXPECT_TRUE(l.poll().revoke.empty());  // same check interval: nothing more
  clock.advance(milliseconds(499));
  EXPECT_TRUE(l.poll().revoke.empty());
  clock.advance(milliseconds(1));
  EXPECT_EQ(l.poll().revoke.size(), 500u);
  clock.advance(milliseconds(500));
  EXPECT_EQ(l.poll().revoke.size(), 200u);
  clock.advance(milliseconds(500));
  EXPECT_TRUE(l.poll().revoke.empty());
}

TEST(Lessor, PromotionGivesRemainingTtlPlusElectionTimeout) {
  SimClock clock;
  Lessor l(clock, config());
  // Lease 1 never checkpointed: full TTL + grace. Lease 2 checkpointed with 4 s left: 4 s + grace.
  l.promote({{1, 10, 0}, {2, 60, 4}});
  EXPECT_EQ(l.remaining(1), seconds(11));
  EXPECT_EQ(l.remaining(2), seconds(5));
  EXPECT_TRUE(run_for(clock, l, milliseconds(4900)).empty());
  EXPECT_EQ(run_for(clock, l, milliseconds(600)), std::vector<int64_t>{2});
  EXPECT_TRUE(run_for(clock, l, milliseconds(5400)).empty());
  EXPECT_EQ(run_for(clock, l, milliseconds(700)), std::vector<int64_t>{1});
}

TEST(Lessor, AbandonedLeaseIsCheckpointedSoPromotionDoesNotRenewIt) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({1, 20, 0});
  std::vector<storage::LeaseCheckpoint> cps;
  EXPECT_TRUE(run_for(clock, l, seconds(11), &cps).empty());
  // Half of the TTL passed without a renew: the remaining 10 s were checkpointed once.
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].id, 1);
  EXPECT_EQ(cps[0].remaining_ttl, 10);
  // The leader changes; the new leader sees the checkpoint: 10 s + 1 s grace, not 20 s.
  Lessor next(clock, config());
  next.promote({{1, 20, cps.back().remaining_ttl}});
  EXPECT_EQ(next.remaining(1), seconds(11));
}

TEST(Lessor, CheckpointsRepeatWhileEnoughIsLeft) {
  SimClock clock;
  LessorConfig c = config();
  c.checkpoint_interval = seconds(30);
  Lessor l(clock, c);
  l.promote({});
  l.granted({1, 600, 0});
  std::vector<storage::LeaseCheckpoint> cps;
  EXPECT_TRUE(run_for(clock, l, seconds(95), &cps).empty());
  ASSERT_EQ(cps.size(), 3u);  // at 30, 60, 90 s
  EXPECT_EQ(cps[0].remaining_ttl, 570);
  EXPECT_EQ(cps[2].remaining_ttl, 510);
  // Checkpoints never claim less than what is really left (rounded up).
  for (const auto& cp : cps)
    EXPECT_GE(cp.remaining_ttl, 1);
}

TEST(Lessor, KeptAliveLeaseIsNeverCheckpointed) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({1, 9, 0});
  std::vector<storage::LeaseCheckpoint> cps;
  for (int i = 0; i < 20; ++i) {
    run_for(clock, l, seconds(3), &cps);
    ASSERT_EQ(l.renew({1, 9, 0}), Lessor::RenewOutcome::kRenewed);
  }
  EXPECT_TRUE(cps.empty());
}

TEST(Lessor, RenewResetsAStoredCheckpoint) {
  SimClock clock;
  Lessor l(clock, config());
  // Promoted with a stored remaining TTL of 5 s; a renew must clear it (checkpoint {id, 0}) so that the
  // next leader does not cut the renewed lease short.
  l.promote({{1, 30, 5}});
  EXPECT_EQ(l.renew({1, 30, 5}), Lessor::RenewOutcome::kRenewed);
  EXPECT_EQ(l.renew({1, 30, 5}), Lessor::RenewOutcome::kRenewed);  // store not applied yet: one reset
  clock.advance(milliseconds(500));
  auto w = l.poll();
  ASSERT_EQ(w.checkpoint.size(), 1u);
  EXPECT_EQ(w.checkpoint[0].id, 1);
  EXPECT_EQ(w.checkpoint[0].remaining_ttl, 0);
  clock.advance(milliseconds(500));
  EXPECT_TRUE(l.poll().checkpoint.empty());
  EXPECT_EQ(l.renew({1, 30, 0}), Lessor::RenewOutcome::kRenewed);
  clock.advance(milliseconds(500));
  EXPECT_TRUE(l.poll().checkpoint.empty());
}

TEST(Lessor, ReconcileAddsStoreLeasesAndDropsGoneOnes) {
  SimClock clock;
  Lessor l(clock, config());
  l.promote({});
  l.granted({1, 10, 0});
  std::map<int64_t, LeaseRecord> store{{2, {2, 5, 0}}, {3, {3, 50, 8}}};
  auto lookup = [&](int64_t id) -> std::optional<LeaseRecord> {
    auto it = store.find(id);
    if (it == store.end()) return std::nullopt;
    return it->second;
  };
  l.reconcile({2, 3}, lookup);
  EXPECT_EQ(l.size(), 2u);
  EXPECT_FALSE(l.remaining(1).has_value());
  EXPECT_EQ(l.remaining(2), seconds(5));
  EXPECT_EQ(l.remaining(3), seconds(8));  // a checkpointed remaining TTL is honoured
  // A tracked lease keeps its expiry on later reconciles.
  clock.advance(seconds(2));
  l.reconcile({2, 3}, lookup);
  EXPECT_EQ(l.remaining(2), seconds(3));
}

TEST(Lessor, ChecksRunAtMostOncePerInterval) {
  SimClock clock;
  Lessor l(clock, config());
  EXPECT_FALSE(l.check_due());  // follower
  l.promote({});
  EXPECT_TRUE(l.check_due());
  (void)l.poll();
  EXPECT_FALSE(l.check_due());
  clock.advance(milliseconds(499));
  EXPECT_FALSE(l.check_due());
  clock.advance(milliseconds(1));
  EXPECT_TRUE(l.check_due());
}

}  // namespace
}  // namespace cairn::server::lease
