// The change events apply() records (last_applied_events) and the history read (events), which the
// watch hub is built on: order within an entry, what a DELETE carries, compaction, bounds, and that
// the history read replays exactly what apply() reported, entry after entry.
#include <gtest/gtest.h>

#include "tests/storage/harness.h"
#include "tests/storage/workload.h"

namespace cairn::storage::testing {
namespace {

class EventsTest : public ::testing::TestWithParam<EngineKind> {};

std::string describe(const std::vector<Event>& evs) {
  std::string s;
  for (const Event& e : evs) {
    s += e.type == Event::Type::kPut ? "PUT " : "DEL ";
    s += e.kv.key + "@" + std::to_string(e.kv.mod_revision);
    if (e.type == Event::Type::kPut) s += "=" + e.kv.value + " v" + std::to_string(e.kv.version);
    s += ";";
  }
  return s;
}

TEST_P(EventsTest, AppliedEventsFollowEtcdOrderAndAreClearedByTheNextApply) {
  Harness h(GetParam());
  ASSERT_TRUE(h.apply(put("b", "1")));
  EXPECT_EQ(describe(h.store().last_applied_events()), "PUT b@2=1 v1;");
  const Event& e = h.store().last_applied_events().front();
  EXPECT_EQ(e.kv.create_revision, 2);

  // A txn's changes in op order (not key order), nested txns depth-first.
  TxnRequest inner;
  inner.success.push_back(RequestOp{put("a", "n")});
  TxnRequest t;
  t.success.push_back(RequestOp{put("c", "1")});
  t.success.push_back(RequestOp{Box<TxnRequest>(inner)});
  t.success.push_back(RequestOp{put("b", "2")});
  t.success.push_back(RequestOp{get("b")});
  ASSERT_TRUE(h.apply(t));
  EXPECT_EQ(describe(h.store().last_applied_events()), "PUT c@3=1 v1;PUT a@3=n v1;PUT b@3=2 v2;");

  // A delete range deletes by key; a DELETE has only key and mod_revision.
  ASSERT_TRUE(h.apply(del("a", "z")));
  EXPECT_EQ(describe(h.store().last_applied_events()), "DEL a@4;DEL b@4;DEL c@4;");
  for (const Event& d : h.store().last_applied_events()) {
    EXPECT_EQ(d.kv.create_revision, 0);
    EXPECT_EQ(d.kv.version, 0);
    EXPECT_EQ(d.kv.lease, 0);
    EXPECT_TRUE(d.kv.value.empty());
  }

  // Entries that change nothing, refused entries and lease revokes in key order.
  ASSERT_TRUE(h.apply(del("nothing")));
  EXPECT_TRUE(h.store().last_applied_events().empty());
  ASSERT_TRUE(h.apply(LeaseGrantRequest{60, 9}));
  EXPECT_TRUE(h.store().last_applied_events().empty());
  ASSERT_TRUE(h.apply(put("y", "1", 9)));
  EXPECT_EQ(h.store().last_applied_events().front().kv.lease, 9);
  ASSERT_TRUE(h.apply(put("x", "1", 9)));
  ASSERT_FALSE(h.apply(PutRequest{"missing", "", 0, false, true, false}));
  EXPECT_TRUE(h.store().last_applied_events().empty());
  ASSERT_TRUE(h.apply(LeaseRevokeRequest{9}));
  EXPECT_EQ(describe(h.store().last_applied_events()), "DEL x@7;DEL y@7;");
  ASSERT_TRUE(h.apply(CompactionRequest{5, false}));
  EXPECT_TRUE(h.store().last_applied_events().empty());
}

TEST_P(EventsTest, HistoryReadSelectsKeysRevisionsAndStopsBetweenRevisions) {
  Harness h(GetParam());
  ASSERT_TRUE(h.apply(put("a", "1")));   // 2
  ASSERT_TRUE(h.apply(put("ab", "1")));  // 3
  ASSERT_TRUE(h.apply(put("b", "1")));   // 4
  TxnRequest t;                          // 5: three changes in one revision
  t.success.push_back(RequestOp{put("a", "2")});
  t.success.push_back(RequestOp{put("ac", "1")});
  t.success.push_back(RequestOp{del("b")});
  ASSERT_TRUE(h.apply(t));
  ASSERT_TRUE(h.apply(del("a")));  // 6

  auto single = h.store().events("a", "", 1, 0);
  ASSERT_TRUE(single);
  EXPECT_EQ(describe(single->events), "PUT a@2=1 v1;PUT a@5=2 v2;DEL a@6;");
  EXPECT_EQ(single->next_revision, 7);

  auto prefix = h.store().events("a", prefix_end("a"), 3, 5);
  ASSERT_TRUE(prefix);
  EXPECT_EQ(describe(prefix->events), "PUT ab@3=1 v1;PUT a@5=2 v2;PUT ac@5=1 v1;");
  EXPECT_EQ(prefix->next_revision, 6);

  auto from_key = h.store().events("ab", std::string(1, '\0'), 1, 0);
  ASSERT_TRUE(from_key);
  EXPECT_EQ(describe(from_key->events), "PUT ab@3=1 v1;PUT b@4=1 v1;PUT ac@5=1 v1;DEL b@5;");

  // events_max = 1 still returns the whole of revision 5 once it has started it.
  auto bounded = h.store().events("a", std::string(1, '\0'), 5, 0, 1);
  ASSERT_TRUE(bounded);
  EXPECT_EQ(describe(bounded->events), "PUT a@5=2 v2;PUT ac@5=1 v1;DEL b@5;");
  EXPECT_EQ(bounded->next_revision, 6);
  auto bounded2 = h.store().events("a", std::string(1, '\0'), 2, 0, 2);
  ASSERT_TRUE(bounded2);
  EXPECT_EQ(describe(bounded2->events), "PUT a@2=1 v1;PUT ab@3=1 v1;");
  EXPECT_EQ(bounded2->next_revision, 4);
  // Scanning bound: stops after revision 2's record even though nothing matched "b" there.
  auto scan_bounded = h.store().events("b", "", 2, 0, 0, 0, 1);
  ASSERT_TRUE(scan_bounded);
  EXPECT_TRUE(scan_bounded->events.empty());
  EXPECT_EQ(scan_bounded->next_revision, 3);

  auto future = h.store().events("a", "", 7, 0);
  ASSERT_TRUE(future);
  EXPECT_TRUE(future->events.empty());
  EXPECT_EQ(future->next_revision, 7);

  // Compaction at 5: reading from 5 works (what it kept), from 4 is compacted.
  ASSERT_TRUE(h.apply(CompactionRequest{5, false}));
  EXPECT_EQ(h.store().events("a", "", 4, 0).error().code, Errc::kCompacted);
  auto at = h.store().events("a", "", 5, 0);
  ASSERT_TRUE(at);
  EXPECT_EQ(describe(at->events), "PUT a@5=2 v2;DEL a@6;");
}

// Property: over a random workload (txns, delete ranges, revokes, compactions, failures), replaying
// history entry by entry gives exactly what apply() reported, and reopening does not change it.
TEST_P(EventsTest, HistoryEqualsTheAppliedEventsOfEveryEntry) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    Harness h(GetParam());
    std::vector<Event> reported;
    int64_t compacted = -1;
    for (const ApplyRequest& r : make_workload(seed, 200)) {
      const int64_t before = h.store().revision();
      auto res = h.apply(r);
      const auto& evs = h.store().last_applied_events();
      if (h.store().revision() == before) {
        EXPECT_TRUE(evs.empty());
      } else {
        ASSERT_FALSE(evs.empty());
        for (const Event& e : evs)
          EXPECT_EQ(e.kv.mod_revision, h.store().revision());
      }
      reported.insert(reported.end(), evs.begin(), evs.end());
      if (std::holds_alternative<CompactionRequest>(r) && res)
        compacted = std::get<CompactionRequest>(r).revision;
    }
    h.reopen();
    const int64_t from = std::max<int64_t>(compacted + 1, 2);
    std::erase_if(reported, [&](const Event& e) { return e.kv.mod_revision < from; });
    std::vector<Event> replayed;
    for (int64_t rev = from; rev <= h.store().revision();) {
      auto b = h.store().events("", std::string(1, '\0'), rev, 0, 7);
      ASSERT_TRUE(b) << b.error().message();
      ASSERT_GT(b->next_revision, rev);
      replayed.insert(replayed.end(), b->events.begin(), b->events.end());
      rev = b->next_revision;
    }
    EXPECT_EQ(describe(replayed), describe(reported)) << "seed " << seed;
    EXPECT_EQ(replayed, reported) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, EventsTest, ::testing::Values(EngineKind::kMemory, EngineKind::kRocks),
                         [](const auto& info) { return std::string(engine_name(info.param)); });

}  // namespace
}  // namespace cairn::storage::testing
