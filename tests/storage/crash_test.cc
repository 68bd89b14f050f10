// Crash tests: every applied entry is one engine batch. Crashing before each batch in turn (memory
// disk fault injection) and reopening must give exactly the state after the acknowledged entries,
// never a partial entry; re-applying the log must skip what was applied and converge. A real process
// crash (fork + _exit) on RocksDB must recover the same way.
#include <gtest/gtest.h>

#include <cstdlib>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/storage/harness.h"
#include "tests/storage/workload.h"

namespace cairn::storage::testing {
namespace {

constexpr int kEntries = 80;
constexpr uint64_t kTerm = 3;

struct Reference {
  std::vector<std::string> fingerprints;  // [i] = state after entries 1..i
  std::vector<Expected<ApplyResponse, Error>> responses;
};

Reference reference(const std::vector<ApplyRequest>& log) {
  Reference ref;
  auto s = MvccStore::open(std::make_unique<MemoryEngine>());
  EXPECT_TRUE(s);
  ref.fingerprints.push_back(fingerprint(**s));
  for (size_t i = 0; i < log.size(); ++i) {
    ref.responses.push_back((*s)->apply(i + 1, kTerm, log[i]));
    ref.fingerprints.push_back(fingerprint(**s));
  }
  return ref;
}

::testing::AssertionResult same_outcome(const Expected<ApplyResponse, Error>& a,
                                        const Expected<ApplyResponse, Error>& b) {
  if (a.has_value() != b.has_value()) return ::testing::AssertionFailure() << "ok vs error";
  if (!a) {
    if (a.error().code == b.error().code) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << a.error().message() << " vs " << b.error().message();
  }
  if (*a == *b) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "responses differ";
}

TEST(CrashTest, CrashBeforeEveryBatchRecoversExactlyTheAcknowledgedEntries) {
  for (uint64_t seed : {11u, 12u}) {
    const auto log = make_workload(seed, kEntries);
    const Reference ref = reference(log);
    for (int k = 0; k <= kEntries; ++k) {
      auto disk = std::make_shared<MemoryDisk>();
      auto opened = MvccStore::open(std::make_unique<MemoryEngine>(disk));
      ASSERT_TRUE(opened);
      auto store = std::move(opened).value();
      disk->crash_after_writes(static_cast<uint64_t>(k));
      uint64_t acknowledged = 0;
      for (size_t i = 0; i < log.size(); ++i) {
        auto r = store->apply(i + 1, kTerm, log[i]);
        if (!r && r.error().code == Errc::kIo) break;
        ASSERT_TRUE(same_outcome(r, ref.responses[i])) << "seed " << seed << " entry " << i + 1;
        acknowledged = i + 1;
      }
      ASSERT_EQ(acknowledged, static_cast<uint64_t>(std::min(k, kEntries)));
      if (k < kEntries) {
        // A store whose engine failed refuses all further work instead of serving a guess.
        EXPECT_EQ(store->apply(acknowledged + 2, kTerm, NoopRequest{}).error().code, Errc::kIo);
        EXPECT_FALSE(store->range(get("k0")));
      }
      store.reset();
      disk->restart();

      auto reopened = MvccStore::open(std::make_unique<MemoryEngine>(disk));
      ASSERT_TRUE(reopened) << reopened.error().message();
      store = std::move(reopened).value();
      ASSERT_EQ(store->applied().index, acknowledged) << "seed " << seed << " crash at " << k;
      if (acknowledged > 0) {
        EXPECT_EQ(store->applied().term, kTerm);
      }
      ASSERT_EQ(fingerprint(*store), ref.fingerprints[acknowledged]) << "seed " << seed << " crash at " << k;

      // Replaying the whole log: applied entries are no-ops, the rest apply as in the reference.
      for (size_t i = 0; i < log.size(); ++i) {
        auto r = store->apply(i + 1, kTerm, log[i]);
        if (i + 1 <= acknowledged) {
          ASSERT_FALSE(r);
          ASSERT_EQ(r.error().code, Errc::kAlreadyApplied);
        } else {
          ASSERT_TRUE(same_outcome(r, ref.responses[i])) << "seed " << seed << " entry " << i + 1;
        }
      }
      ASSERT_EQ(fingerprint(*store), ref.fingerprints.back());
    }
  }
}

TEST(CrashTest, RocksReopenKeepsEverythingAndReapplyIsIdempotent) {
  const auto log = make_workload(21, kEntries);
  const Reference ref = reference(log);
  TempDir dir;
  for (int round = 0; round < 2; ++round) {
    auto store = MvccStore::open(make_engine(EngineKind::kRocks, dir.sub("db")));
    ASSERT_TRUE(store);
    const uint64_t from = (*store)->applied().index;
    EXPECT_EQ(from, round == 0 ? 0u : static_cast<uint64_t>(kEntries / 2));
    EXPECT_EQ(fingerprint(**store), ref.fingerprints[from]);
    const size_t upto = round == 0 ? kEntries / 2 : kEntries;
    for (size_t i = 0; i < upto; ++i) {
      auto r = (*store)->apply(i + 1, kTerm, log[i]);
      if (i + 1 <= from) {
        ASSERT_EQ(r.error().code, Errc::kAlreadyApplied);
      } else {
        ASSERT_TRUE(same_outcome(r, ref.responses[i])) << "entry " << i + 1;
      }
    }
  }
  auto store = MvccStore::open(make_engine(EngineKind::kRocks, dir.sub("db")));
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->applied().index, static_cast<uint64_t>(kEntries));
  EXPECT_EQ(fingerprint(**store), ref.fingerprints.back());
}

// An engine whose k-th read fails, to hit every read inside apply (index lookups for prev_kv,
// ignore_value, compaction sizes, txn ranges) after the entry may already have changed the
// in-memory index. The store must refuse further work, and a reopen must show exactly the
// applied prefix.
class FailingReadEngine final : public KvEngine {
 public:
  FailingReadEngine(std::shared_ptr<MemoryDisk> disk, int64_t fail_at)
      : inner_(std::move(disk)), left_(fail_at) {}
  Expected<std::optional<std::string>, Error> get(Space s, std::string_view k) override {
    if (left_-- == 0) return unexpected(make_error(Errc::kIo, "injected read failure"));
    return inner_.get(s, k);
  }
  std::unique_ptr<EngineIterator> scan(Space s, std::string_view a, std::string_view b) override {
    return inner_.scan(s, a, b);
  }
  Expected<Unit, Error> write(const WriteBatch& b, WriteOptions o) override { return inner_.write(b, o); }
  Expected<Unit, Error> checkpoint(const std::string& d) override { return inner_.checkpoint(d); }
  uint64_t size_bytes() override { return inner_.size_bytes(); }
  Expected<Unit, Error> compact_storage() override { return Unit{}; }
  bool fired() const { return left_ < 0; }
  void fail_next_read() { left_ = 0; }

 private:
  MemoryEngine inner_;
  int64_t left_;
};

TEST(CrashTest, EngineReadFailureMidApplyLeavesNoPartialEntry) {
  // A workload where reads happen during apply: prev_kv puts, ignore_value, compactions.
  std::vector<ApplyRequest> log;
  for (int i = 0; i < 30; ++i) {
    PutRequest p = put(numbered("k", i % 4), numbered("v", i));
    p.prev_kv = true;
    log.push_back(p);
    if (i % 5 == 4) log.push_back(CompactionRequest{i, false});
    if (i % 7 == 6) {
      TxnRequest t;
      t.success.push_back(RequestOp{put("k9", "t")});
      t.success.push_back(RequestOp{PutRequest{"k1", "", 0, true, true, false}});
      t.success.push_back(RequestOp{get("k0", "k9")});
      log.push_back(t);
    }
  }
  const Reference ref = reference(log);
  int fired = 0;
  for (int64_t k = 0;; ++k) {
    auto disk = std::make_shared<MemoryDisk>();
    auto engine = std::make_unique<FailingReadEngine>(disk, k);
    FailingReadEngine* raw = engine.get();
    auto opened = MvccStore::open(std::move(engine));
    if (!opened) {  // the failure hit open()'s own reads: refusing to open is the right answer
      EXPECT_EQ(opened.error().code, Errc::kIo);
      continue;
    }
    auto store = std::move(opened).value();
    uint64_t acknowledged = 0;
    for (size_t i = 0; i < log.size(); ++i) {
      auto r = store->apply(i + 1, kTerm, log[i]);
      if (!r && r.error().code == Errc::kIo) break;
      ASSERT_TRUE(same_outcome(r, ref.responses[i])) << "entry " << i + 1;
      acknowledged = i + 1;
    }
    if (!raw->fired()) break;  // k is past the last read: every read position has been tried
    ++fired;
    EXPECT_EQ(store->apply(acknowledged + 1, kTerm, NoopRequest{}).error().code, Errc::kIo);
    store.reset();
    auto reopened = MvccStore::open(std::make_unique<MemoryEngine>(disk));
    ASSERT_TRUE(reopened);
    ASSERT_EQ((*reopened)->applied().index, acknowledged);
    ASSERT_EQ(fingerprint(**reopened), ref.fingerprints[acknowledged]) << "read failure " << k;
    for (size_t i = acknowledged; i < log.size(); ++i) {
      ASSERT_TRUE(same_outcome((*reopened)->apply(i + 1, kTerm, log[i]), ref.responses[i]));
    }
    ASSERT_EQ(fingerprint(**reopened), ref.fingerprints.back());
  }
  EXPECT_GT(fired, 20);
}

// A real crash: a child process applies entries with synced writes and dies with _exit (no
// destructors, no RocksDB shutdown) after acknowledging some; the parent reopens the directory.
TEST(CrashTest, RocksProcessKilledMidLogRecoversAConsistentPrefix) {
  const auto log = make_workload(31, kEntries);
  const Reference ref = reference(log);
  for (int stop_after : {9, 53}) {
    TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto engine = RocksEngine::open(dir.sub("db"));
      if (!engine) ::_exit(2);
      StoreOptions opts;
      opts.sync_writes = true;
      auto store = MvccStore::open(std::move(engine).value(), opts);
      if (!store) ::_exit(3);
      for (int i = 0; i < stop_after; ++i) {
        auto r = (*store)->apply(static_cast<uint64_t>(i) + 1, kTerm, log[static_cast<size_t>(i)]);
        if (!r && r.error().code == Errc::kIo) ::_exit(4);
        const uint32_t acked = static_cast<uint32_t>(i + 1);
        if (::write(fds[1], &acked, sizeof(acked)) != sizeof(acked)) ::_exit(5);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    uint32_t acked = 0, v = 0;
    while (::read(fds[0], &v, sizeof(v)) == sizeof(v))
      acked = v;
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);

    auto store = MvccStore::open(make_engine(EngineKind::kRocks, dir.sub("db")));
    ASSERT_TRUE(store) << store.error().message();
    const uint64_t applied = (*store)->applied().index;
    EXPECT_GE(applied, acked);  // nothing acknowledged is lost
    ASSERT_LE(applied, log.size());
    EXPECT_EQ(fingerprint(**store), ref.fingerprints[applied]);  // and nothing is half-applied
  }
}

// The node's mode (StoreOptions::engine_log off): applied batches skip RocksDB's WAL and live in
// memtables until a flush. A child process applies entries, syncs the engine once (which flushes),
// keeps applying with tiny memtables so RocksDB also flushes on its own, then dies with _exit. The
// reopened store must hold at least what was synced and exactly the state at its applied index: an
// atomic flush of every column family never leaves one batch half on disk. The child is this test
// binary re-executed (a forked child of a process whose RocksDB thread pools already exist would have
// no flush threads and stall).
constexpr int kUnloggedEntries = 1500;
constexpr const char* kUnloggedChildEnv = "CAIRN_UNLOGGED_CRASH_CHILD";  // "<db dir>:<sync at>:<fd>"

[[noreturn]] void unlogged_child(const std::string& spec) {
  const size_t a = spec.find(':'), b = spec.rfind(':');
  const std::string dir = spec.substr(0, a);
  const int sync_at = std::atoi(spec.substr(a + 1, b - a - 1).c_str());
  const int fd = std::atoi(spec.substr(b + 1).c_str());
  const auto log = make_workload(47, kUnloggedEntries);
  RocksOptions ro;
  ro.write_buffer_size_bytes = 64 << 10;  // flush often on its own
  auto engine = RocksEngine::open(dir, ro);
  if (!engine) ::_exit(2);
  StoreOptions opts;
  opts.sync_writes = false;
  opts.engine_log = false;
  auto store = MvccStore::open(std::move(engine).value(), opts);
  if (!store) ::_exit(3);
  for (int i = 0; i < kUnloggedEntries; ++i) {
    auto r = (*store)->apply(static_cast<uint64_t>(i) + 1, kTerm, log[static_cast<size_t>(i)]);
    if (!r && r.error().code == Errc::kIo) ::_exit(4);
    if (i + 1 == sync_at) {
      if (!(*store)->engine().sync()) ::_exit(5);
      const uint32_t synced = static_cast<uint32_t>(i + 1);
      if (::write(fd, &synced, sizeof(synced)) != sizeof(synced)) ::_exit(6);
    }
  }
  ::_exit(0);
}

TEST(CrashTest, RocksUnloggedWritesRecoverAConsistentPrefixAfterProcessDeath) {
  if (const char* spec = std::getenv(kUnloggedChildEnv)) unlogged_child(spec);
  const auto log = make_workload(47, kUnloggedEntries);
  const Reference ref = reference(log);
  for (int sync_at : {0, 300}) {
    TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string spec = dir.sub("db") + ":" + std::to_string(sync_at) + ":" + std::to_string(fds[1]);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      ::setenv(kUnloggedChildEnv, spec.c_str(), 1);
      const char* argv[] = {
          "storage_tests",
          "--gtest_filter=CrashTest.RocksUnloggedWritesRecoverAConsistentPrefixAfterProcessDeath", nullptr};
      ::execv("/proc/self/exe", const_cast<char* const*>(argv));
      ::_exit(7);
    }
    ::close(fds[1]);
    uint32_t synced = 0, v = 0;
    while (::read(fds[0], &v, sizeof(v)) == sizeof(v))
      synced = v;
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_EQ(synced, static_cast<uint32_t>(sync_at));

    auto store = MvccStore::open(make_engine(EngineKind::kRocks, dir.sub("db")));
    ASSERT_TRUE(store) << store.error().message();
    const uint64_t applied = (*store)->applied().index;
    EXPECT_GE(applied, synced);      // a sync made everything before it durable
    EXPECT_GT(applied, 0u);          // memtables filled up and were flushed on their own
    EXPECT_LT(applied, log.size());  // and the unflushed tail was really lost: there is no WAL
    ASSERT_EQ(fingerprint(**store), ref.fingerprints[applied]) << "applied " << applied;
    for (size_t i = applied; i < log.size(); ++i)  // the caller re-applies the rest (raft's replay)
      ASSERT_TRUE(same_outcome((*store)->apply(i + 1, kTerm, log[i]), ref.responses[i])) << i;
    EXPECT_EQ(fingerprint(**store), ref.fingerprints.back());
  }
}

// A history with every shape compaction drops: superseded puts, whole generations ended by a delete,
// keys deleted and created again.
std::vector<ApplyRequest> long_history() {
  std::vector<ApplyRequest> log;
  for (int round = 0; round < 6; ++round) {
    for (int k = 0; k < 12; ++k)
      log.push_back(put(numbered("k", k), numbered("v", round * 100 + k)));
    log.push_back(del(numbered("k", round), numbered("k", round + 3)));
  }
  return log;
}

size_t key_records(MvccStore& store) {
  size_t n = 0;
  for (auto it = store.engine().scan(Space::kKeys, "", ""); it->valid(); it->next())
    ++n;
  return n;
}

TEST(CompactionTest, ApplyReadsNoRecordAndStepsDeleteInBoundedBatches) {
  auto log = long_history();
  auto engine = std::make_unique<FailingReadEngine>(std::make_shared<MemoryDisk>(), 1'000'000);
  FailingReadEngine* raw = engine.get();
  auto store = std::move(MvccStore::open(std::move(engine))).value();
  for (size_t i = 0; i < log.size(); ++i)
    ASSERT_TRUE(store->apply(i + 1, kTerm, log[i]));
  const size_t before = key_records(*store);
  raw->fail_next_read();  // the compaction's apply must not read a single record
  ASSERT_TRUE(store->apply(log.size() + 1, kTerm, CompactionRequest{store->revision() - 5, false}));
  EXPECT_FALSE(raw->fired());
  const size_t backlog = store->compaction_backlog();
  ASSERT_GT(backlog, 20u);
  EXPECT_EQ(key_records(*store), before);  // nothing deleted yet, but nothing visible either
  const std::string fp = fingerprint(*store);
  size_t steps = 0;
  while (store->compaction_pending()) {
    auto n = store->compact_step(10);
    ASSERT_TRUE(n);
    EXPECT_LE(*n, 10u);
    ++steps;
    EXPECT_EQ(fingerprint(*store), fp) << "after step " << steps;
  }
  EXPECT_EQ(steps, (backlog + 9) / 10);
  EXPECT_EQ(key_records(*store), before - backlog);
}

TEST(RangeTest, AKeysOnlyListOfThePresentReadsNoRecordAndMatchesTheFullOne) {
  auto engine = std::make_unique<FailingReadEngine>(std::make_shared<MemoryDisk>(), 1'000'000);
  FailingReadEngine* raw = engine.get();
  auto store = std::move(MvccStore::open(std::move(engine))).value();
  uint64_t index = 0;
  ASSERT_TRUE(store->apply(++index, kTerm, LeaseGrantRequest{60, 9}));
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(
        store->apply(++index, kTerm, put(numbered("k", i % 100), numbered("v", i), i % 3 == 0 ? 9 : 0)));
  ASSERT_TRUE(store->apply(++index, kTerm, del(numbered("k", 5))));
  RangeRequest all = get("k", prefix_end("k"));
  auto full = store->range(all);
  ASSERT_TRUE(full);
  all.keys_only = true;
  raw->fail_next_read();
  auto keys = store->range(all);
  ASSERT_TRUE(keys) << keys.error().message();
  EXPECT_FALSE(raw->fired());
  ASSERT_EQ(keys->kvs.size(), 99u);
  for (size_t i = 0; i < keys->kvs.size(); ++i) {
    KeyValue want = full->kvs[i];
    want.value.clear();
    EXPECT_EQ(keys->kvs[i], want) << i;
  }
  EXPECT_EQ(keys->kvs[1].key, "k1");
  EXPECT_EQ(keys->kvs[1].lease, 9);       // k1's newest put (i = 201) carries the lease
  all.revision = store->revision() - 50;  // the past: leases of old records are only in the records
  auto past = store->range(all);
  EXPECT_TRUE(raw->fired());
  EXPECT_FALSE(past);
}

TEST(CompactionTest, CrashBetweenStepsLosesNothingAndOpenResumesTheDeletions) {
  auto log = long_history();
  log.push_back(CompactionRequest{40, false});
  for (int k = 0; k < 12; ++k)
    log.push_back(put(numbered("k", k), "after"));
  log.push_back(CompactionRequest{70, false});  // a second compaction while the first is pending
  const Reference ref = reference(log);
  size_t clean_records = 0;
  {
    auto s = std::move(MvccStore::open(std::make_unique<MemoryEngine>())).value();
    for (size_t i = 0; i < log.size(); ++i)
      ASSERT_TRUE(s->apply(i + 1, kTerm, log[i]));
    while (s->compaction_pending())
      ASSERT_TRUE(s->compact_step(1000));
    clean_records = key_records(*s);
  }
  for (uint64_t crash_at = 0;; ++crash_at) {
    auto disk = std::make_shared<MemoryDisk>();
    auto store = std::move(MvccStore::open(std::make_unique<MemoryEngine>(disk))).value();
    for (size_t i = 0; i < log.size(); ++i)
      ASSERT_TRUE(store->apply(i + 1, kTerm, log[i]));
    disk->crash_after_writes(crash_at);
    bool crashed = false;
    while (store->compaction_pending()) {
      if (!store->compact_step(7)) {
        crashed = true;
        break;
      }
    }
    store.reset();
    disk->restart();
    auto reopened = std::move(MvccStore::open(std::make_unique<MemoryEngine>(disk))).value();
    EXPECT_EQ(fingerprint(*reopened), ref.fingerprints.back()) << "crash after " << crash_at << " steps";
    EXPECT_EQ(reopened->compaction_pending(), crashed);
    while (reopened->compaction_pending())
      ASSERT_TRUE(reopened->compact_step(7));
    EXPECT_EQ(key_records(*reopened), clean_records);
    EXPECT_EQ(fingerprint(*reopened), ref.fingerprints.back());
    if (!crashed) break;
  }
}

}  // namespace
}  // namespace cairn::storage::testing
