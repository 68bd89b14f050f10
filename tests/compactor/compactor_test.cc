// The auto-compaction schedule (etcd's periodic and revision modes) on a fake clock.
#include <gtest/gtest.h>

#include "server/compactor/compactor.h"

namespace cairn::server::compactor {
namespace {

using namespace std::chrono_literals;

TEST(AutoCompactor, OffWhenRetentionIsZero) {
  Clock::time_point t0{};
  AutoCompactor c(0ms, 0, t0);
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(c.on_tick(t0 + std::chrono::hours(i), 1000 + i, 0, true));
}

TEST(AutoCompactor, PeriodicKeepsAtLeastTheRetentionWindow) {
  Clock::time_point t0{};
  AutoCompactor c(10min, 0, t0);  // samples every minute, compacts every 10 minutes
  // Revision grows by 100 per minute; ticks every 10 s.
  std::vector<std::pair<Clock::time_point, int64_t>> compactions;
  int64_t compacted = -1;
  for (auto t = 0s; t <= 45min; t += 10s) {
    int64_t rev = 1 + 100 * (t / 1min);
    if (auto r = c.on_tick(t0 + t, rev, compacted, true)) {
      compactions.emplace_back(t0 + t, *r);
      compacted = *r;
    }
  }
  ASSERT_EQ(compactions.size(), 4u);  // at 10, 20, 30, 40 minutes
  for (auto& [when, rev] : compactions) {
    auto minutes = std::chrono::duration_cast<std::chrono::minutes>(when - t0).count();
    EXPECT_EQ(minutes % 10, 0);
    // The compaction revision was current about 10 minutes before: never newer than that.
    EXPECT_LE(rev, 1 + 100 * (minutes - 10) + 100);
    EXPECT_GE(rev, 1 + 100 * (minutes - 11));
  }
}

TEST(AutoCompactor, PeriodicOnlyOnTheLeader) {
  Clock::time_point t0{};
  AutoCompactor c(1h, 0, t0);
  int64_t compacted = -1;
  for (auto t = 0min; t <= 3h; t += 1min)
    EXPECT_FALSE(c.on_tick(t0 + t, 10 + t.count(), compacted, false));
  // Leadership arrives: history sampled as a follower is used at once.
  auto r = c.on_tick(t0 + 3h + 1min, 500, compacted, true);
  ASSERT_TRUE(r);
  EXPECT_LE(*r, 10 + 121 + 6);  // about an hour before
  EXPECT_GE(*r, 10 + 114);
}

TEST(AutoCompactor, LongRetentionCompactsHourly) {
  Clock::time_point t0{};
  AutoCompactor c(std::chrono::hours(5), 0, t0);
  int n = 0;
  int64_t compacted = -1;
  for (auto t = 0min; t <= 8h; t += 1min) {
    if (auto r = c.on_tick(t0 + t, 1 + t.count(), compacted, true)) {
      ++n;
      compacted = *r;
      EXPECT_LE(*r, 1 + (t - 5h).count() + 6);
    }
  }
  EXPECT_EQ(n, 4);  // at 5, 6, 7 and 8 hours
}

TEST(AutoCompactor, RevisionModeEveryFiveMinutes) {
  Clock::time_point t0{};
  AutoCompactor c(0ms, 1000, t0);
  EXPECT_FALSE(c.on_tick(t0 + 1min, 5000, -1, true));  // not due yet
  auto r = c.on_tick(t0 + 5min, 5000, -1, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 4000);
  EXPECT_FALSE(c.on_tick(t0 + 6min, 9000, 4000, true));   // next one at 10 minutes
  EXPECT_FALSE(c.on_tick(t0 + 10min, 4500, 4000, true));  // 3500 is behind: nothing to do
  r = c.on_tick(t0 + 15min, 9000, 4000, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 8000);
  EXPECT_FALSE(c.on_tick(t0 + 25min, 9000, 8000, false));  // not the leader
}

TEST(AutoCompactor, RetryAfterAFailedProposal) {
  Clock::time_point t0{};
  AutoCompactor c(0ms, 10, t0);
  auto r = c.on_tick(t0 + 5min, 100, -1, true);
  ASSERT_TRUE(r);
  c.retry_soon(t0 + 5min);
  EXPECT_FALSE(c.on_tick(t0 + 5min + 500ms, 100, -1, true));
  r = c.on_tick(t0 + 5min + 1s, 100, -1, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 90);
}

}  // namespace
}  // namespace cairn::server::compactor
