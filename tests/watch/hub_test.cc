// The watch hub against a real MvccStore (memory engine), without a node or a network: entries are
// applied to the store and announced with Hub::on_applied exactly as the node thread does; each test
// "client" is one stream whose Outbox the test reads (or does not read) like the stream's writer.
#include <gtest/gtest.h>

// GCC 12 at -O2 reports a false maybe-uninitialized inside std::variant's move of a RequestOp
// holding a Box<TxnRequest> when RequestOps are built inline here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/watch/watch_hub.h"
#include "storage/memory_engine.h"
#include "storage/mvcc_store.h"

namespace cairn::server::watch {
namespace {

using etcdserverpb::WatchResponse;
using storage::MvccStore;

constexpr uint64_t kClusterId = 0x1111;
constexpr uint64_t kMemberId = 0x2222;
constexpr uint64_t kTerm = 3;

class Env {
 public:
  explicit Env(HubLimits limits = {})
      : store_(MvccStore::open(std::make_unique<storage::MemoryEngine>()).value()),
        hub_([this]() -> MvccStore& { return *store_; },
             [](etcdserverpb::ResponseHeader* h) {
               h->set_cluster_id(kClusterId);
               h->set_member_id(kMemberId);
               h->set_raft_term(kTerm);
             },
             limits) {}

  // Applies one entry and tells the hub, like Node::apply_entry.
  void apply(const storage::ApplyRequest& r, bool notify = true) {
    auto res = store_->apply(++index_, 1, r);
    ASSERT_TRUE(res || res.error().code != storage::Errc::kIo);
    if (notify) hub_.on_applied();
  }
  void put(const std::string& k, const std::string& v) {
    apply(storage::PutRequest{k, v, 0, false, false, false});
  }
  void del(const std::string& k, const std::string& end = {}) {
    apply(storage::DeleteRangeRequest{k, end, false});
  }
  void tick() {
    now_ += std::chrono::milliseconds(100);
    hub_.on_tick(now_);
  }
  void advance(std::chrono::milliseconds d) { now_ += d; }
  Hub::Clock::time_point now() const { return now_; }

  Hub& hub() { return hub_; }
  MvccStore& store() { return *store_; }
  int64_t rev() const { return store_->revision(); }

 private:
  std::unique_ptr<MvccStore> store_;
  Hub hub_;
  uint64_t index_ = 0;
  Hub::Clock::time_point now_{};
};

class Client {
 public:
  explicit Client(Env& env, size_t soft = 1 << 20, size_t hard = 16 << 20, bool require_leader = false)
      : env_(env), out_(std::make_shared<Outbox>(soft, hard)) {
    env_.hub().open_stream(out_, require_leader);
  }
  ~Client() { env_.hub().close_stream(out_.get()); }

  void send(const etcdserverpb::WatchRequest& r) { env_.hub().handle(out_.get(), r); }
  void create(const std::string& key, const std::string& end = {}, int64_t start = 0, int64_t id = 0,
              bool prev_kv = false, std::vector<etcdserverpb::WatchCreateRequest::FilterType> filters = {},
              bool progress = false, bool fragment = false) {
    etcdserverpb::WatchRequest r;
    auto* c = r.mutable_create_request();
    c->set_key(key);
    c->set_range_end(end);
    c->set_start_revision(start);
    c->set_watch_id(id);
    c->set_prev_kv(prev_kv);
    c->set_progress_notify(progress);
    c->set_fragment(fragment);
    for (auto f : filters)
      c->add_filters(f);
    send(r);
  }
  void cancel(int64_t id) {
    etcdserverpb::WatchRequest r;
    r.mutable_cancel_request()->set_watch_id(id);
    send(r);
  }
  void progress() {
    etcdserverpb::WatchRequest r;
    r.mutable_progress_request();
    send(r);
  }
  // Reads everything queued, like the stream's writer (including the resume request).
  std::vector<WatchResponse> read() {
    Outbox::Batch b = out_->take();
    std::vector<WatchResponse> got;
    for (const std::string& m : b.messages) {
      WatchResponse r;
      EXPECT_TRUE(r.ParseFromString(m));
      got.push_back(r);
    }
    closed_ = closed_ || b.closed.has_value();
    if (b.resume) env_.hub().resume(out_.get());
    return got;
  }
  Outbox& outbox() { return *out_; }
  bool closed() const { return closed_; }

 private:
  Env& env_;
  std::shared_ptr<Outbox> out_;
  bool closed_ = false;
};

// "P key=value@rev" / "D key@rev" per event; responses separated by " | ".
std::string events_of(const WatchResponse& r) {
  std::string s;
  for (const auto& e : r.events()) {
    if (!s.empty()) s += ",";
    if (e.type() == mvccpb::Event::PUT) {
      s += "P " + e.kv().key() + "=" + e.kv().value() + "@" + std::to_string(e.kv().mod_revision());
    } else {
      s += "D " + e.kv().key() + "@" + std::to_string(e.kv().mod_revision());
    }
    if (e.has_prev_kv()) s += "(prev " + e.prev_kv().value() + ")";
  }
  return s;
}

std::string summary(const std::vector<WatchResponse>& rs) {
  std::string s;
  for (const auto& r : rs) {
    if (!s.empty()) s += " | ";
    s += "#" + std::to_string(r.watch_id()) + " ";
    if (r.created()) s += "created ";
    if (r.canceled()) s += "canceled ";
    if (r.compact_revision() != 0) s += "compact=" + std::to_string(r.compact_revision()) + " ";
    if (!r.cancel_reason().empty()) s += "reason=" + r.cancel_reason() + " ";
    if (r.fragment()) s += "fragment ";
    s += "rev=" + std::to_string(r.header().revision());
    if (r.events_size() > 0) s += " " + events_of(r);
  }
  return s;
}

// Revisions of every event received for `watch_id` (for ordering / exactly-once checks).
std::vector<int64_t> revisions(const std::vector<WatchResponse>& rs, int64_t watch_id) {
  std::vector<int64_t> out;
  for (const auto& r : rs) {
    if (r.watch_id() != watch_id) continue;
    for (const auto& e : r.events())
      out.push_back(e.kv().mod_revision());
  }
  return out;
}

TEST(WatchHub, CreatedFirstThenFutureEventsOnlyWithHeaders) {
  Env env;
  env.put("a", "0");  // rev 2: before the watcher, not sent
  Client c(env);
  c.create("a");
  env.put("a", "1");
  env.put("b", "x");
  env.del("a");
  auto got = c.read();
  EXPECT_EQ(summary(got), "#0 created rev=2 | #0 rev=3 P a=1@3 | #0 rev=5 D a@5");
  for (const auto& r : got) {
    EXPECT_EQ(r.header().cluster_id(), kClusterId);
    EXPECT_EQ(r.header().member_id(), kMemberId);
    EXPECT_EQ(r.header().raft_term(), kTerm);
  }
  // A DELETE carries only key and mod_revision.
  const auto& d = got[2].events(0).kv();
  EXPECT_EQ(d.create_revision(), 0);
  EXPECT_EQ(d.version(), 0);
  EXPECT_TRUE(d.value().empty());
  // A PUT carries the whole key-value.
  const auto& p = got[1].events(0).kv();
  EXPECT_EQ(p.create_revision(), 2);
  EXPECT_EQ(p.version(), 2);
}

TEST(WatchHub, WatchIdsPerStreamFromZeroAndDuplicateIdIsRefused) {
  Env env;
  Client c1(env);
  Client c2(env);
  c1.create("a");            // 0
  c1.create("a", {}, 0, 2);  // client-chosen 2
  c1.create("a");            // 1
  c1.create("a");            // 3 (2 is taken)
  c1.create("a", {}, 0, 2);  // duplicate
  c2.create("a");            // another stream: 0 again
  EXPECT_EQ(summary(c1.read()),
            "#0 created rev=1 | #2 created rev=1 | #1 created rev=1 | #3 created rev=1 | "
            "#-1 created canceled reason=mvcc: duplicate watch ID provided on the WatchStream rev=1");
  EXPECT_EQ(summary(c2.read()), "#0 created rev=1");
  // An empty range is refused the same way.
  c2.create("b", "a");
  EXPECT_EQ(summary(c2.read()), "#-1 created canceled reason=mvcc: watcher range is empty rev=1");
  EXPECT_EQ(env.hub().stats().watchers, 5u);
}

TEST(WatchHub, MultiKeyRevisionIsOneResponseInEtcdOrder) {
  Env env;
  Client c(env);
  c.create("k", "l");                   // [k, l)
  c.create("a", std::string(1, '\0'));  // every key >= a
  storage::TxnRequest t;
  t.success.push_back(storage::RequestOp{storage::PutRequest{"k2", "x", 0, false, false, false}});
  t.success.push_back(storage::RequestOp{storage::PutRequest{"k1", "y", 0, false, false, false}});
  t.success.push_back(storage::RequestOp{storage::PutRequest{"z", "z", 0, false, false, false}});
  env.apply(t);
  env.del("k", "l");
  auto got = c.read();
  ASSERT_EQ(got.size(), 6u);
  std::map<int64_t, std::string> by_id;
  for (size_t i = 2; i < got.size(); ++i)
    by_id[got[i].watch_id()] += summary({got[i]}) + ";";
  EXPECT_EQ(by_id[0], "#0 rev=2 P k2=x@2,P k1=y@2;#0 rev=3 D k1@3,D k2@3;");
  EXPECT_EQ(by_id[1], "#1 rev=2 P k2=x@2,P k1=y@2,P z=z@2;#1 rev=3 D k1@3,D k2@3;");
}

TEST(WatchHub, HistoryReplayInBatchesThenLiveWithoutGapOrDuplicate) {
  HubLimits limits;
  limits.history_events_per_response_max = 3;
  Env env(limits);
  for (int i = 0; i < 10; ++i)
    env.put("h", std::to_string(i));  // revs 2..11
  env.put("other", "x");              // 12
  Client c(env);
  c.create("h", {}, 4);
  env.put("h", "live");  // 13
  auto got = c.read();
  EXPECT_EQ(summary(got),
            "#0 created rev=12 | #0 rev=12 P h=2@4,P h=3@5,P h=4@6 | #0 rev=12 P h=5@7,P h=6@8,P h=7@9 | "
            "#0 rev=12 P h=8@10,P h=9@11 | #0 rev=13 P h=live@13");
  // start_revision in the future: nothing until then.
  c.create("h", {}, 15);
  env.put("h", "14");
  env.put("h", "15");
  EXPECT_EQ(summary(c.read()),
            "#1 created rev=13 | #0 rev=14 P h=14@14 | #0 rev=15 P h=15@15 | #1 rev=15 P h=15@15");
}

// A watcher that must catch up over many small sync passes while writes keep coming sees every
// revision exactly once, in order.
TEST(WatchHub, CatchUpUnderConcurrentWritesIsExactlyOnceInOrder) {
  HubLimits limits;
  limits.history_events_per_response_max = 2;
  limits.sync_records_scanned_per_pass_max = 3;
  Env env(limits);
  for (int i = 0; i < 40; ++i)
    env.put(i % 2 ? "w" : "x", std::to_string(i));  // revs 2..41
  Client c(env);
  c.create("w", {}, 2);
  c.create("", std::string(1, '\0'), 10);  // everything from 10
  std::vector<WatchResponse> all;
  for (int i = 0; i < 60; ++i) {
    env.put(i % 3 ? "w" : "y", "live" + std::to_string(i));
    if (i % 2 == 0) env.tick();
    auto got = c.read();
    all.insert(all.end(), got.begin(), got.end());
  }
  for (int i = 0; i < 300 && env.hub().stats().unsynced > 0; ++i)
    env.tick();
  auto got = c.read();
  all.insert(all.end(), got.begin(), got.end());
  EXPECT_EQ(env.hub().stats().unsynced, 0u);

  std::vector<int64_t> want_w, want_all;
  auto h = env.store().events("", std::string(1, '\0'), 2, 0);
  ASSERT_TRUE(h);
  for (const auto& e : h->events) {
    if (e.kv.key == "w") want_w.push_back(e.kv.mod_revision);
    if (e.kv.mod_revision >= 10) want_all.push_back(e.kv.mod_revision);
  }
  EXPECT_EQ(revisions(all, 0), want_w);
  EXPECT_EQ(revisions(all, 1), want_all);
}

TEST(WatchHub, CompactedStartRevisionCancelsWithCompactRevision) {
  Env env;
  for (int i = 0; i < 5; ++i)
    env.put("c", std::to_string(i));  // 2..6
  env.apply(storage::CompactionRequest{5, false});
  Client c(env);
  c.create("c", {}, 4);  // below the compaction point
  c.create("c", {}, 5);  // at it: allowed
  auto got = c.read();
  EXPECT_EQ(summary(got),
            "#0 created rev=6 | #0 canceled compact=5 rev=0 | #1 created rev=6 | #1 rev=6 P c=3@5,P c=4@6");
  EXPECT_EQ(got[1].header().cluster_id(), kClusterId);
  // The canceled watcher is gone: later events reach only #1.
  env.put("c", "x");
  EXPECT_EQ(summary(c.read()), "#1 rev=7 P c=x@7");
  EXPECT_EQ(env.hub().stats().watchers, 1u);
}

TEST(WatchHub, LaggingWatcherOvertakenByCompactionIsCanceled) {
  Env env;
  Client slow(env, /*soft=*/1, /*hard=*/1 << 20);  // any queued byte means "full"
  slow.create("s");
  env.put("s", "1");  // 2: outbox holds the created response, the watcher falls behind at 2
  env.put("s", "2");  // 3
  env.apply(storage::CompactionRequest{3, false});
  auto got = slow.read();  // drains, asks for a resume: next_rev 2 < 3 -> canceled
  got = slow.read();
  EXPECT_EQ(summary(got), "#0 canceled compact=3 rev=0");
}

// A stream that never reads holds up neither applies nor other streams, its memory stays bounded,
// and once it reads again it gets every event exactly once, in order.
TEST(WatchHub, SlowStreamDoesNotBlockOthersAndLosesNothing) {
  Env env;
  Client slow(env, /*soft=*/512, /*hard=*/64 << 10);
  Client fast(env);
  slow.create("k", "l");
  fast.create("k", "l");
  std::vector<WatchResponse> fast_got;
  for (int i = 0; i < 300; ++i) {
    env.put("k" + std::to_string(i % 7), std::string(50, 'v'));
    if (i % 10 == 0) env.tick();
    auto got = fast.read();
    fast_got.insert(fast_got.end(), got.begin(), got.end());
  }
  std::vector<int64_t> want;
  for (int64_t r = 2; r <= env.rev(); ++r)
    want.push_back(r);
  EXPECT_EQ(revisions(fast_got, 0), want);
  EXPECT_LT(slow.outbox().bytes(), 2048u);  // soft limit + one response, not 300 events
  EXPECT_EQ(env.hub().stats().unsynced, 1u);

  std::vector<WatchResponse> slow_got = slow.read();  // drains; the resume starts the catch-up
  env.put("k1", "during catch-up");
  want.push_back(env.rev());
  for (int i = 0; i < 100; ++i) {
    auto got = slow.read();
    slow_got.insert(slow_got.end(), got.begin(), got.end());
    env.tick();
  }
  EXPECT_EQ(env.hub().stats().unsynced, 0u);
  EXPECT_EQ(revisions(slow_got, 0), want);
  EXPECT_FALSE(slow.closed());
}

TEST(WatchHub, FiltersAndPrevKv) {
  Env env;
  Client c(env);
  c.create("f", {}, 0, 0, /*prev_kv=*/true);
  c.create("f", {}, 0, 0, false, {etcdserverpb::WatchCreateRequest::NOPUT});
  c.create("f", {}, 0, 0, false, {etcdserverpb::WatchCreateRequest::NODELETE});
  env.put("f", "1");
  env.put("f", "2");
  env.del("f");
  env.put("f", "3");
  auto got = c.read();
  std::map<int64_t, std::string> by_id;
  for (const auto& r : got) {
    if (!r.created()) by_id[r.watch_id()] += events_of(r) + ";";
  }
  EXPECT_EQ(by_id[0], "P f=1@2;P f=2@3(prev 1);D f@4(prev 2);P f=3@5;");
  EXPECT_EQ(by_id[1], "D f@4;");
  EXPECT_EQ(by_id[2], "P f=1@2;P f=2@3;P f=3@5;");
  // prev_kv below the compaction point is omitted.
  env.put("f", "4");  // 6
  env.apply(storage::CompactionRequest{6, false});
  c.create("f", {}, 6, 0, true);
  EXPECT_EQ(summary(c.read()),
            "#0 rev=6 P f=4@6(prev 3) | #2 rev=6 P f=4@6 | #3 created rev=6 | #3 rev=6 P f=4@6");
}

TEST(WatchHub, ProgressNotifyAndProgressRequest) {
  HubLimits limits;
  limits.progress_notify_interval = std::chrono::milliseconds(1000);
  Env env(limits);
  Client c(env);
  c.create("p", {}, 0, 0, false, {}, /*progress=*/true);
  c.create("q", {}, 0, 0, false, {}, true);
  c.create("r");  // no progress_notify
  env.tick();     // arms the timer
  c.read();
  env.put("p", "x");  // #0 had events since the last notification
  env.advance(std::chrono::milliseconds(1000));
  env.tick();
  EXPECT_EQ(summary(c.read()), "#0 rev=2 P p=x@2 | #1 rev=2");
  env.advance(std::chrono::milliseconds(1000));
  env.tick();
  auto got = c.read();
  ASSERT_EQ(got.size(), 2u);
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.watch_id() < b.watch_id(); });
  EXPECT_EQ(summary(got), "#0 rev=2 | #1 rev=2");
  // What clientv3's IsProgressNotify() tests.
  EXPECT_FALSE(got[0].created() || got[0].canceled() || got[0].compact_revision() != 0);
  EXPECT_EQ(got[0].events_size(), 0);
  c.progress();
  EXPECT_EQ(summary(c.read()), "#-1 rev=2");
}

TEST(WatchHub, ProgressRequestWaitsUntilEveryWatcherIsSynced) {
  Env env;
  for (int i = 0; i < 5; ++i)
    env.put("a", std::to_string(i));
  Client c(env, /*soft=*/1, 1 << 20);
  c.create("a", {}, 2);  // the outbox is "full" after created: stays unsynced
  c.progress();
  auto got = c.read();  // resume: catch-up, then the progress answer
  EXPECT_EQ(summary(got), "#0 created rev=6");
  got = c.read();
  EXPECT_EQ(summary(got), "#0 rev=6 P a=0@2,P a=1@3,P a=2@4,P a=3@5,P a=4@6 | #-1 rev=6");
}

// etcd 3.6: a stream without watchers gets no answer, and the request is not kept for later.
TEST(WatchHub, ProgressRequestOnStreamWithoutWatchersIsNotAnswered) {
  Env env;
  env.put("a", "1");
  Client c(env);
  c.progress();
  EXPECT_EQ(summary(c.read()), "");
  c.create("a");
  env.put("a", "2");
  EXPECT_EQ(summary(c.read()), "#0 created rev=2 | #0 rev=3 P a=2@3");
}

// #17507: a watcher whose catch-up finds no event of its own still lets the bookmark through, at the
// revision it caught up to; requests made while one is pending get one answer.
TEST(WatchHub, ProgressRequestAnsweredForCaughtUpWatcherWithoutEvents) {
  Env env;
  for (int i = 0; i < 4; ++i)
    env.put("a", std::to_string(i));
  Client c(env, /*soft=*/1, 1 << 20);
  c.create("b", {}, 2);  // unsynced after created: the outbox is "full"
  c.progress();
  c.progress();
  EXPECT_EQ(summary(c.read()), "#0 created rev=5");
  EXPECT_EQ(summary(c.read()), "#-1 rev=5");
  EXPECT_EQ(summary(c.read()), "");
}

// #20221 (etcd 3.6.2): a watcher created from a revision this member has not reached yet (its client
// listed from a member further ahead) must not get a bookmark below its start: the answer, and the
// periodic notification, wait until the store is at start - 1.
TEST(WatchHub, ProgressWaitsForWatcherStartingAheadOfTheStore) {
  HubLimits limits;
  limits.progress_notify_interval = std::chrono::milliseconds(1000);
  Env env(limits);
  env.put("a", "1");  // rev 2
  Client c(env);
  c.create("a", {}, /*start=*/5, 0, false, {}, /*progress=*/true);
  env.tick();  // arms the timer
  EXPECT_EQ(summary(c.read()), "#0 created rev=2");
  c.progress();
  env.advance(std::chrono::milliseconds(1000));
  env.tick();
  EXPECT_EQ(summary(c.read()), "");
  env.put("x", "1");  // rev 3: events from 5 on are still owed
  EXPECT_EQ(summary(c.read()), "");
  env.put("x", "2");  // rev 4: everything below 5 is now known to be nothing for #0
  EXPECT_EQ(summary(c.read()), "#-1 rev=4");
  env.advance(std::chrono::milliseconds(1000));
  env.tick();
  EXPECT_EQ(summary(c.read()), "#0 rev=4");
}

// Cancelling the watcher that held a bookmark back answers the pending request at once.
TEST(WatchHub, CancelOfTheBlockingWatcherAnswersPendingProgress) {
  Env env;
  env.put("a", "1");  // rev 2
  Client c(env);
  c.create("a");
  c.create("b", {}, /*start=*/10);
  c.progress();
  EXPECT_EQ(summary(c.read()), "#0 created rev=2 | #1 created rev=2");
  c.cancel(1);
  EXPECT_EQ(summary(c.read()), "#1 canceled rev=2 | #-1 rev=2");
}

TEST(WatchHub, CancelActiveIdAnswersUnknownIdDoesNot) {
  Env env;
  Client c(env);
  c.create("x");
  c.create("x");
  c.cancel(0);
  c.cancel(42);
  env.put("x", "1");
  EXPECT_EQ(summary(c.read()), "#0 created rev=1 | #1 created rev=1 | #0 canceled rev=1 | #1 rev=2 P x=1@2");
  EXPECT_EQ(env.hub().stats().watchers, 1u);
}

TEST(WatchHub, FragmentsOnlyWhenAskedAndLarge) {
  HubLimits limits;
  limits.fragment_bytes = 2500;
  Env env(limits);
  Client c(env);
  c.create("g", "h", 0, 0, false, {}, false, /*fragment=*/true);
  c.create("g", "h");
  storage::TxnRequest t;
  for (const char* k : {"g1", "g2", "g3"})
    t.success.push_back(
        storage::RequestOp{storage::PutRequest{k, std::string(1000, 'x'), 0, false, false, false}});
  env.apply(t);
  auto got = c.read();
  std::vector<std::string> shape;
  for (const auto& r : got) {
    if (!r.created())
      shape.push_back(std::to_string(r.watch_id()) + ":" + std::to_string(r.events_size()) +
                      (r.fragment() ? "f" : ""));
  }
  std::sort(shape.begin(), shape.end());
  EXPECT_EQ(shape, (std::vector<std::string>{"0:1", "0:2f", "1:3"}));
}

TEST(WatchHub, StoreRestoredAndMissedAppliesAreReadFromHistory) {
  Env env;
  Client c(env);
  c.create("r");
  env.put("r", "1");
  env.apply(storage::PutRequest{"r", "2", 0, false, false, false}, /*notify=*/false);  // e.g. a snapshot
  env.apply(storage::PutRequest{"r", "3", 0, false, false, false}, false);
  env.hub().on_store_restored();
  env.put("r", "4");
  EXPECT_EQ(revisions(c.read(), 0), (std::vector<int64_t>{2, 3, 4, 5}));
  // A missed apply without a restore is noticed at the next apply.
  env.apply(storage::PutRequest{"r", "5", 0, false, false, false}, false);
  env.put("r", "6");
  EXPECT_EQ(revisions(c.read(), 0), (std::vector<int64_t>{6, 7}));
}

TEST(WatchHub, NeverReadingFloodOfCreatesEndsTheStreamOnly) {
  Env env;
  Client flood(env, /*soft=*/64, /*hard=*/1024);
  Client other(env);
  other.create("o");
  for (int i = 0; i < 100; ++i)
    flood.create("o");
  env.put("o", "1");
  auto got = flood.read();
  EXPECT_TRUE(flood.closed());
  EXPECT_EQ(summary(other.read()), "#0 created rev=1 | #0 rev=2 P o=1@2");
  EXPECT_EQ(env.hub().stats().streams, 1u);
  EXPECT_EQ(env.hub().stats().watchers, 1u);
}

TEST(WatchHub, WaitForDeleteInProcess) {
  Env env;
  std::vector<int64_t> fired;
  env.hub().wait_for_delete("absent", [&](int64_t rev) { fired.push_back(rev); });
  EXPECT_EQ(fired, (std::vector<int64_t>{1}));
  env.put("lock/1", "x");
  env.hub().wait_for_delete("lock/1", [&](int64_t rev) { fired.push_back(rev); });
  const uint64_t t = env.hub().wait_for_delete("lock/1", [&](int64_t) { fired.push_back(-1); });
  env.hub().cancel_wait(t);
  env.put("lock/1", "y");
  EXPECT_EQ(fired.size(), 1u);
  env.del("lock/1");
  EXPECT_EQ(fired, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(env.hub().stats().delete_waiters, 0u);
}

// etcd's monitorLeader: streams that asked for a leader end after 3 election timeouts without one;
// the others keep their watchers.
TEST(WatchHub, RequireLeaderStreamsEndAfterNoLeaderTimeout) {
  HubLimits limits;
  limits.no_leader_cancel_after = std::chrono::milliseconds(300);
  Env env(limits);
  env.hub().on_leader_change(1, env.now());
  Client strict(env, 1 << 20, 16 << 20, /*require_leader=*/true);
  Client lax(env);
  strict.create("a");
  lax.create("a");
  for (int i = 0; i < 10; ++i)
    env.tick();  // a leader: nothing happens
  EXPECT_FALSE((strict.read(), strict.closed()));
  env.hub().on_leader_change(0, env.now());
  env.tick();
  env.tick();
  EXPECT_FALSE((strict.read(), strict.closed()));  // 200 ms without a leader
  env.hub().on_leader_change(2, env.now());        // a new leader resets the clock
  env.hub().on_leader_change(0, env.now());
  env.tick();
  env.tick();
  EXPECT_FALSE((strict.read(), strict.closed()));
  env.tick();
  env.tick();
  strict.read();
  EXPECT_TRUE(strict.closed());
  EXPECT_FALSE((lax.read(), lax.closed()));
  EXPECT_EQ(env.hub().stats().streams, 1u);
  env.put("a", "1");
  EXPECT_EQ(summary(lax.read()), "#0 rev=2 P a=1@2");
}

TEST(WatchHub, StopEndsEveryStream) {
  Env env;
  Client c(env);
  c.create("a");
  env.hub().stop();
  c.read();
  EXPECT_TRUE(c.closed());
  env.put("a", "1");  // no crash, nothing sent
  EXPECT_TRUE(c.read().empty());
}

}  // namespace
}  // namespace cairn::server::watch
