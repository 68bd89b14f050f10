// Unit tests of the watch check (watch_check.h): hand-made watcher logs that must pass or be rejected.
#include "tests/fault/watch_check.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace cairn::tests::fault {
namespace {

Op put(int client, std::string key, std::string value, std::int64_t invoke, std::int64_t complete,
       Outcome outcome = Outcome::kOk) {
  Op op;
  op.client = client;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.invoke_ns = invoke;
  op.complete_ns = complete;
  op.outcome = outcome;
  return op;
}

// Three writes, sequential in real time: a=1 (rev 2), b=2 (rev 3), delete a (rev 4), a=3 (rev 5).
struct Fixture {
  std::vector<Op> history = {put(0, "k/a", "v1", 0, 10), put(1, "k/b", "v2", 20, 30),
                             put(0, "k/a", "v3", 60, 70)};
  std::vector<WatchEvent> events = {
      {2, true, "k/a", "v1"}, {3, true, "k/b", "v2"}, {4, false, "k/a", ""}, {5, true, "k/a", "v3"}};
  Fixture() {
    Op del;
    del.kind = OpKind::kDelete;
    del.key = "k/a";
    del.invoke_ns = 40;
    del.complete_ns = 50;
    del.deleted = true;
    history.push_back(del);
  }
  WatcherLog watcher(std::vector<WatchEvent> ev) const {
    WatcherLog w;
    w.start = 2;
    w.events = std::move(ev);
    return w;
  }
};

bool mentions(const WatchCheckResult& r, const std::string& what) {
  for (const auto& a : r.anomalies)
    if (a.find(what) != std::string::npos) return true;
  return false;
}

TEST(WatchCheck, CompleteOrderedStreamsPass) {
  Fixture f;
  auto r = check_watch({f.watcher(f.events), f.watcher(f.events)}, f.history, 5);
  EXPECT_TRUE(r.anomalies.empty()) << r.anomalies.front();
  EXPECT_EQ(r.events, 8u);
  EXPECT_EQ(r.revisions, 4u);
  EXPECT_EQ(r.writes_placed, 3u);
}

TEST(WatchCheck, AWatcherStartingLaterCoversOnlyItsPart) {
  Fixture f;
  WatcherLog late = f.watcher({f.events[2], f.events[3]});
  late.start = 4;
  auto r = check_watch({f.watcher(f.events), late}, f.history, 5);
  EXPECT_TRUE(r.anomalies.empty());
}

TEST(WatchCheck, GapIsRejected) {
  Fixture f;
  auto r = check_watch({f.watcher({f.events[0], f.events[2], f.events[3]})}, f.history, 5);
  EXPECT_TRUE(mentions(r, "gap"));
}

TEST(WatchCheck, DuplicateIsRejected) {
  Fixture f;
  auto r = check_watch({f.watcher({f.events[0], f.events[1], f.events[1], f.events[2], f.events[3]})},
                       f.history, 5);
  EXPECT_TRUE(mentions(r, "out of order or duplicate"));
}

TEST(WatchCheck, ReorderIsRejected) {
  Fixture f;
  auto r = check_watch({f.watcher({f.events[1], f.events[0], f.events[2], f.events[3]})}, f.history, 5);
  EXPECT_FALSE(r.anomalies.empty());
}

TEST(WatchCheck, StoppingShortOfTheFinalRevisionIsRejected) {
  Fixture f;
  auto r = check_watch({f.watcher({f.events[0], f.events[1]})}, f.history, 5);
  EXPECT_TRUE(mentions(r, "reached revision 3 of 5"));
}

TEST(WatchCheck, WatchersDisagreeingIsRejected) {
  Fixture f;
  auto other = f.events;
  other[1].value = "v9";
  auto r = check_watch({f.watcher(f.events), f.watcher(other)}, f.history, 5);
  EXPECT_TRUE(mentions(r, "differs between watchers"));
}

TEST(WatchCheck, LostAcknowledgedWriteIsRejected) {
  Fixture f;
  f.history.push_back(put(2, "k/b", "v-lost", 80, 90));
  auto r = check_watch({f.watcher(f.events)}, f.history, 5);
  EXPECT_TRUE(mentions(r, "never seen by a watcher"));
}

TEST(WatchCheck, UnknownWriteMayBeMissing) {
  Fixture f;
  f.history.push_back(put(2, "k/b", "v-maybe", 80, 0, Outcome::kUnknown));
  auto r = check_watch({f.watcher(f.events)}, f.history, 5);
  EXPECT_TRUE(r.anomalies.empty());
}

TEST(WatchCheck, PhantomValueIsRejected) {
  Fixture f;
  auto ev = f.events;
  ev.push_back({6, true, "k/b", "nobody-wrote-this"});
  auto r = check_watch({f.watcher(ev)}, f.history, 6);
  EXPECT_TRUE(mentions(r, "that no client wrote"));
}

TEST(WatchCheck, WrongKeyIsRejected) {
  Fixture f;
  auto ev = f.events;
  ev[0].key = "k/b";
  auto r = check_watch({f.watcher(ev)}, f.history, 5);
  EXPECT_TRUE(mentions(r, "seen on key k/b"));
}

TEST(WatchCheck, RevisionsAgainstRealTimeOrderAreRejected) {
  Fixture f;
  // v1 (acknowledged at 10) and v2 (invoked at 20) with swapped revisions: v2 before v1.
  auto ev = f.events;
  std::swap(ev[0].key, ev[1].key);
  std::swap(ev[0].value, ev[1].value);
  auto r = check_watch({f.watcher(ev)}, f.history, 5);
  EXPECT_TRUE(mentions(r, "revision below that of a write acknowledged before"));
}

TEST(WatchCheck, ConcurrentWritesMayTakeEitherOrder) {
  Fixture f;
  f.history[1].invoke_ns = 5;  // v2 overlaps v1: either revision order is fine
  auto ev = f.events;
  std::swap(ev[0].key, ev[1].key);
  std::swap(ev[0].value, ev[1].value);
  auto r = check_watch({f.watcher(ev)}, f.history, 5);
  EXPECT_TRUE(r.anomalies.empty()) << r.anomalies.front();
}

TEST(WatchCheck, WatcherProblemsAreReported) {
  Fixture f;
  WatcherLog w = f.watcher(f.events);
  w.problems.push_back("watch canceled: compacted");
  auto r = check_watch({w}, f.history, 5);
  EXPECT_TRUE(mentions(r, "watch canceled"));
}

// Multi-key reads against the fixture's changes: rev 2 a=v1, rev 3 b=v2, rev 4 a deleted, rev 5 a=v3.
MultiRead mread(std::int64_t revision, std::optional<std::string> a, std::optional<std::string> b,
                std::int64_t invoke, std::int64_t complete) {
  MultiRead r;
  r.keys = {"k/a", "k/b"};
  r.values = {std::move(a), std::move(b)};
  r.revision = revision;
  r.invoke_ns = invoke;
  r.complete_ns = complete;
  return r;
}

TEST(MultiRead, ConsistentSnapshotsPass) {
  Fixture f;
  std::vector<WatcherLog> w = {f.watcher(f.events)};
  EXPECT_TRUE(check_multi_reads(w, {mread(3, "v1", "v2", 31, 35)}, f.history).empty());
  EXPECT_TRUE(check_multi_reads(w, {mread(4, std::nullopt, "v2", 51, 55)}, f.history).empty());
  EXPECT_TRUE(check_multi_reads(w, {mread(2, "v1", std::nullopt, 11, 15)}, f.history).empty());
}

TEST(MultiRead, TornSnapshotIsRejected) {
  Fixture f;
  // a from revision 5 with b's absence from revision 2: no single revision had both.
  auto bad = check_multi_reads({f.watcher(f.events)}, {mread(5, "v3", std::nullopt, 71, 75)}, f.history);
  ASSERT_FALSE(bad.empty());
  EXPECT_NE(bad[0].find("k/b = (absent), but at that revision it was v2"), std::string::npos) << bad[0];
}

TEST(MultiRead, StaleRevisionIsRejected) {
  Fixture f;
  // Consistent with revision 3, but invoked after the write of revision 5 was acknowledged.
  auto bad = check_multi_reads({f.watcher(f.events)}, {mread(3, "v1", "v2", 80, 85)}, f.history);
  ASSERT_FALSE(bad.empty());
  EXPECT_NE(bad[0].find("misses a write at revision 5"), std::string::npos) << bad[0];
}

TEST(MultiRead, SeeingTheFutureIsRejected) {
  Fixture f;
  // Completed at 15, before v2 (revision 3) was invoked at 20, yet answered at revision 3.
  auto bad = check_multi_reads({f.watcher(f.events)}, {mread(3, "v1", "v2", 11, 15)}, f.history);
  ASSERT_FALSE(bad.empty());
  EXPECT_NE(bad[0].find("invoked after the read completed"), std::string::npos) << bad[0];
}

// The naive check (every revision and every write scanned per read), which check_multi_reads replaced
// with binary searches: both must find the same anomalies on random histories, valid or not.
std::vector<std::string> naive_multi_reads(const std::vector<WatchEvent>& events,
                                           const std::vector<MultiRead>& reads,
                                           const std::vector<Op>& history) {
  std::vector<std::string> out;
  for (const auto& r : reads) {
    const std::string what =
        "multi-key read by client " + std::to_string(r.client) + " at revision " + std::to_string(r.revision);
    for (std::size_t i = 0; i < r.keys.size(); ++i) {
      std::optional<std::string> state;
      for (const auto& e : events)
        if (e.revision <= r.revision && e.key == r.keys[i])
          state = e.put ? std::optional(e.value) : std::nullopt;
      if (state != r.values[i]) out.push_back(what + " value " + r.keys[i]);
    }
    for (const auto& op : history) {
      if (op.kind != OpKind::kPut || op.outcome != Outcome::kOk) continue;
      std::int64_t rev = -1;
      for (const auto& e : events)
        if (e.put && e.value == op.value) rev = e.revision;
      if (rev < 0) continue;
      if (op.complete_ns < r.invoke_ns && rev > r.revision)
        out.push_back(what + " misses " + std::to_string(rev));
      if (op.invoke_ns > r.complete_ns && rev <= r.revision)
        out.push_back(what + " future " + std::to_string(rev));
    }
  }
  return out;
}

TEST(MultiRead, AgreesWithTheNaiveCheckOnRandomHistories) {
  std::mt19937_64 rng(5);
  int anomalous = 0;
  for (int round = 0; round < 200; ++round) {
    // Sequential puts and deletes on 3 keys, one per revision from 2, at times 10*rev .. 10*rev+5.
    std::vector<WatchEvent> events;
    std::vector<Op> history;
    for (std::int64_t rev = 2; rev < 40; ++rev) {
      const bool put = rng() % 4 != 0;
      const std::string key = "k/" + std::to_string(rng() % 3), value = "v" + std::to_string(rev);
      events.push_back({rev, put, key, put ? value : ""});
      if (!put) continue;
      Op op;
      op.kind = OpKind::kPut;
      op.key = key;
      op.value = value;
      op.outcome = Outcome::kOk;
      op.invoke_ns = 10 * rev;
      op.complete_ns = 10 * rev + 5;
      history.push_back(op);
    }
    WatcherLog w;
    w.start = 2;
    w.events = events;
    std::vector<MultiRead> reads;
    for (int i = 0; i < 10; ++i) {
      MultiRead r;
      r.revision = 2 + static_cast<std::int64_t>(rng() % 38);
      r.keys = {"k/" + std::to_string(rng() % 3), "k/" + std::to_string(rng() % 3)};
      // Mostly the true state, sometimes a stale or wrong one; times around the revision's own.
      for (const auto& k : r.keys) {
        std::optional<std::string> v;
        for (const auto& e : events)
          if (e.revision <= r.revision && e.key == k) v = e.put ? std::optional(e.value) : std::nullopt;
        if (rng() % 8 == 0) v = "v" + std::to_string(rng() % 40);
        r.values.push_back(v);
      }
      r.invoke_ns = 10 * r.revision + static_cast<std::int64_t>(rng() % 30) - 15;
      r.complete_ns = r.invoke_ns + 1 + static_cast<std::int64_t>(rng() % 20);
      reads.push_back(r);
    }
    const auto fast = check_multi_reads({w}, reads, history);
    const auto naive = naive_multi_reads(events, reads, history);
    EXPECT_EQ(fast.size(), naive.size()) << "round " << round;
    if (!naive.empty()) ++anomalous;
  }
  EXPECT_GT(anomalous, 20);  // the random histories do contain anomalies
}

}  // namespace
}  // namespace cairn::tests::fault
