// --max-wals (server/node/wal_retention.h): how far the WAL is released so the newest segments stay.
#include "server/node/wal_retention.h"

#include <gtest/gtest.h>

namespace cairn::server::node {
namespace {

TEST(WalRetention, KeepsTheNewestSegments) {
  const std::vector<uint64_t> first{1, 101, 201, 301, 401, 501, 601};  // 7 segments
  // Keep 5: segments from 201 on stay, so release to 200 (deletes the two oldest).
  EXPECT_EQ(wal_release_index(first, 10'000, 5), 200u);
  // Never past the snapshot.
  EXPECT_EQ(wal_release_index(first, 150, 5), 150u);
  // Few enough segments, or 0 (keep all): nothing is released.
  EXPECT_EQ(wal_release_index(first, 10'000, 7), 0u);
  EXPECT_EQ(wal_release_index(first, 10'000, 0), 0u);
  // Keep 1: everything before the last segment.
  EXPECT_EQ(wal_release_index(first, 10'000, 1), 600u);
}

}  // namespace
}  // namespace cairn::server::node
