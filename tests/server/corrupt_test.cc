// The corruption checks' rules (server/corrupt/verdict.h), as etcd's corrupt.go applies them.
#include "server/corrupt/verdict.h"

#include <gtest/gtest.h>

namespace cairn::server::corrupt {
namespace {

TEST(CorruptVerdict, InitialCheckComparesOnlyAtTheSameCompaction) {
  LocalHash local{0xabc, 100, 50};
  auto v = judge_initial(local, {PeerHash{2, 0xabc, 120, 50},    // same
                                 PeerHash{3, 0xdef, 110, 50},    // differs at the same compaction
                                 PeerHash{4, 0x123, 130, 80}});  // compacted further: not comparable
  EXPECT_EQ(v.mismatched, (std::vector<uint64_t>{3}));
  ASSERT_EQ(v.notes.size(), 1u);
  EXPECT_NE(v.notes[0].find("different compact revisions"), std::string::npos);
  EXPECT_TRUE(judge_initial(local, {}).mismatched.empty());  // alone, or nobody answered
}

TEST(CorruptVerdict, PeriodicCheckOnTheLeader) {
  LocalHash before{0xabc, 100, 50}, after{0xabc, 105, 50};
  EXPECT_TRUE(judge_periodic(before, after, 1, {PeerHash{2, 0xabc, 101, 50}}).empty());
  // A follower with another hash at the leader's compaction.
  EXPECT_EQ(judge_periodic(before, after, 1, {PeerHash{2, 0xabc, 101, 50}, PeerHash{3, 0xdef, 100, 50}}),
            (std::vector<uint64_t>{3}));
  // A follower ahead of the leader (revision or compaction): it cannot be, so it is corrupt.
  EXPECT_EQ(judge_periodic(before, after, 1, {PeerHash{2, 0xabc, 200, 50}}), (std::vector<uint64_t>{2}));
  EXPECT_EQ(judge_periodic(before, after, 1, {PeerHash{2, 0x999, 101, 60}}), (std::vector<uint64_t>{2}));
  // The leader's own hash changed while its revision and compaction did not.
  EXPECT_EQ(judge_periodic(before, LocalHash{0x111, 100, 50}, 1, {}), (std::vector<uint64_t>{1}));
  // A follower that compacted less than the leader cannot be compared.
  EXPECT_TRUE(judge_periodic(before, after, 1, {PeerHash{2, 0x999, 101, 40}}).empty());
}

}  // namespace
}  // namespace cairn::server::corrupt
