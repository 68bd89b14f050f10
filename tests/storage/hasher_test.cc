// MvccStore::Hasher (storage/mvcc_store.h): hash() and hash_kv() in bounded steps give the answer of the
// one-call functions at their start, whatever the store applies and deletes between two steps; a
// compaction between steps starts the hash again over it, or refuses a revision it covered.
#include <gtest/gtest.h>

#include "tests/storage/harness.h"

namespace cairn::storage::testing {
namespace {

class HasherTest : public ::testing::TestWithParam<EngineKind> {};

// 30 keys written 10 times each, some deleted, then compacted: records waiting for deletion included.
void history(Harness& h) {
  for (int round = 0; round < 10; ++round) {
    for (int k = 0; k < 30; ++k)
      ASSERT_TRUE(h.apply(put(numbered("k", k), numbered("v", round))));
    ASSERT_TRUE(h.apply(del(numbered("k", round))));
  }
  ASSERT_TRUE(h.apply(LeaseGrantRequest{60, 7}));
  ASSERT_TRUE(h.apply(CompactionRequest{h.store().revision() - 40, false}));
  ASSERT_GT(h.store().compaction_backlog(), 100u);
}

// Runs the hasher 5 records a step; between steps `between` may change the store.
template <class Between>
Expected<uint32_t, Error> stepped(Expected<MvccStore::Hasher, Error> h, Between between) {
  if (!h) return unexpected(h.error());
  for (int steps = 0;; ++steps) {
    auto done = h->step(5);
    if (!done) return unexpected(done.error());
    if (*done) return h->kv().hash;
    between(steps);
  }
}

TEST_P(HasherTest, StepsGiveTheAnswerAtTheStartWhileWritesAndDeletionsGoOn) {
  Harness h(GetParam());
  history(h);
  const auto want_kv = h.store().hash_kv(0);
  const auto want_all = h.store().hash();
  ASSERT_TRUE(want_kv && want_all);
  int writes = 0;
  auto churn = [&](int step) {
    ASSERT_TRUE(h.apply(put(numbered("k", step % 30), "later")));
    ASSERT_TRUE(h.apply(LeaseGrantRequest{60, 100 + writes}));
    ASSERT_TRUE(h.store().compact_step(3));
    ++writes;
  };
  auto kv = stepped(h.store().start_hash_kv(0), churn);
  ASSERT_TRUE(kv);
  EXPECT_EQ(*kv, want_kv->hash);
  EXPECT_GT(writes, 20);
  const auto all_now = h.store().hash();  // what changed since is visible to a new hash...
  auto all = stepped(h.store().start_hash(), churn);
  ASSERT_TRUE(all && all_now);
  EXPECT_EQ(*all, all_now->hash);  // ...and to a stepped one started then, not what came after
  EXPECT_NE(*all, want_all->hash);
}

TEST_P(HasherTest, ACompactionBetweenStepsRestartsOverItOrRefusesACoveredRevision) {
  Harness h(GetParam());
  history(h);
  const int64_t at = h.store().revision() - 5;
  auto restarted = stepped(h.store().start_hash_kv(at), [&](int step) {
    if (step == 3) {
      ASSERT_TRUE(h.apply(CompactionRequest{at - 10, false}));
    }
  });
  ASSERT_TRUE(restarted);
  auto fresh = h.store().hash_kv(at);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(*restarted, fresh->hash);
  EXPECT_EQ(fresh->compact_revision, at - 10);
  auto covered = stepped(h.store().start_hash_kv(at), [&](int step) {
    if (step == 3) {
      ASSERT_TRUE(h.apply(CompactionRequest{at, false}));
    }
  });
  ASSERT_FALSE(covered);
  EXPECT_EQ(covered.error().code, Errc::kCompacted);
}

INSTANTIATE_TEST_SUITE_P(Engines, HasherTest, ::testing::Values(EngineKind::kMemory, EngineKind::kRocks),
                         [](const auto& info) { return std::string(engine_name(info.param)); });

}  // namespace
}  // namespace cairn::storage::testing
