// MvccStore behaviour beyond the transcripts: atomic failure, idempotent apply, quota and the
// NOSPACE alarm, hashes and state chains across members, snapshots taken during writes, validation limits,
// errors.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "storage/crc32c.h"
#include "storage/revision.h"
#include "tests/storage/harness.h"
#include "tests/storage/workload.h"

namespace cairn::storage::testing {
namespace {

class StoreTest : public ::testing::TestWithParam<EngineKind> {};

TEST_P(StoreTest, FailedTxnChangesNothingButStillCountsAsApplied) {
  Harness h(GetParam());
  ASSERT_TRUE(h.apply(put("a", "1")));
  ASSERT_TRUE(h.apply(LeaseGrantRequest{60, 5}));
  const std::string before = fingerprint(h.store());
  const uint64_t applied = h.store().applied().index;
  // The failure is found after a put and a delete that would have succeeded on their own.
  TxnRequest t;
  t.success.push_back(RequestOp{put("b", "2", 5)});
  t.success.push_back(RequestOp{del("a")});
  t.success.push_back(RequestOp{PutRequest{"c", "", 0, false, true, false}});
  auto r = h.apply(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "etcdserver: key not found");
  EXPECT_EQ(fingerprint(h.store()), before);
  EXPECT_EQ(h.store().applied().index, applied + 1);
  EXPECT_TRUE(h.store().lease(5)->keys.empty());
  h.reopen();
  EXPECT_EQ(fingerprint(h.store()), before);
}

TEST_P(StoreTest, ReapplyingAtOrBelowTheAppliedIndexIsANoop) {
  Harness h(GetParam());
  ASSERT_TRUE(h.store().apply(10, 2, put("a", "1")));
  const std::string before = fingerprint(h.store());
  for (uint64_t index : {1u, 9u, 10u}) {
    auto r = h.store().apply(index, 2, put("a", "2"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kAlreadyApplied);
  }
  EXPECT_EQ(fingerprint(h.store()), before);
  EXPECT_EQ(h.store().applied(), (AppliedIndex{10, 2}));
  ASSERT_TRUE(h.store().apply(12, 3, NoopRequest{}));  // gaps are allowed: other entry kinds
  EXPECT_EQ(h.store().applied(), (AppliedIndex{12, 3}));
  EXPECT_EQ(h.store().revision(), 2);
}

TEST_P(StoreTest, QuotaRaisesNoSpaceThenServesReadsAndDeletesOnly) {
  StoreOptions opts;
  opts.quota_backend_bytes = 2000;
  Harness h(GetParam(), opts);
  int written = 0;
  Expected<ApplyResponse, Error> last = ApplyResponse{};
  for (; written < 100; ++written) {
    last = h.apply(put(numbered("k", written), std::string(100, 'x')));
    if (!last) break;
  }
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().message(), "etcdserver: mvcc: database space exceeded");
  EXPECT_EQ(grpc_code(last.error().code), GrpcCode::kResourceExhausted);
  EXPECT_GT(written, 5);
  EXPECT_LE(h.store().logical_size_bytes(), opts.quota_backend_bytes);
  EXPECT_EQ(h.store().alarms(), (std::vector<AlarmMember>{{0, AlarmType::kNoSpace}}));

  // Reads and deletes still work; writes (even small ones, even after the delete) do not.
  ASSERT_TRUE(h.range(get("k0")));
  ASSERT_TRUE(h.apply(del("k0", "k3")));
  EXPECT_EQ(h.apply(put("tiny", "")).error().code, Errc::kNoSpace);
  TxnRequest t;
  t.success.push_back(RequestOp{put("x", "y")});
  EXPECT_EQ(h.apply(t).error().code, Errc::kNoSpace);
  EXPECT_EQ(h.apply(LeaseGrantRequest{10, 1}).error().code, Errc::kNoSpace);
  TxnRequest read_only;
  read_only.success.push_back(RequestOp{get("k5")});
  EXPECT_TRUE(h.apply(read_only));

  // The alarm survives a restart (it is persisted with the entry that raised it).
  h.reopen();
  EXPECT_EQ(h.store().alarms().size(), 1u);
  EXPECT_EQ(h.apply(put("tiny", "")).error().code, Errc::kNoSpace);

  // Compact away history, disarm: writes work again.
  ASSERT_TRUE(h.apply(CompactionRequest{h.store().revision(), false}));
  ASSERT_TRUE(h.apply(AlarmRequest{AlarmRequest::Action::kDeactivate, AlarmType::kNoSpace}));
  EXPECT_TRUE(h.store().alarms().empty());
  EXPECT_TRUE(h.apply(put("tiny", "")));
}

// The cluster's quota from the log (QuotaRequest) holds on every member whatever its own option, so two
// members with different --quota-backend-bytes refuse the same put and stay identical; it survives a
// restart and is in the store's meta (it travels with snapshots).
TEST_P(StoreTest, TheQuotaFromTheLogHoldsWhateverTheMembersOwn) {
  StoreOptions small, large;
  small.quota_backend_bytes = 700;
  large.quota_backend_bytes = 1 << 20;
  Harness a(GetParam(), small), b(GetParam(), large);
  EXPECT_FALSE(a.store().quota_replicated());
  EXPECT_EQ(a.store().quota_bytes(), 700u) << "until the log sets one, the member's own";
  EXPECT_EQ(a.apply(QuotaRequest{0}).error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(a.store().quota_replicated()) << "a refused quota changes nothing";
  for (Harness* h : {&a, &b}) {
    ASSERT_TRUE(h->apply(QuotaRequest{2000}));
    EXPECT_TRUE(h->store().quota_replicated());
    EXPECT_EQ(h->store().quota_bytes(), 2000u);
  }
  int refused_at[2] = {-1, -1};
  for (int i = 0; i < 40; ++i) {
    for (int m = 0; m < 2; ++m) {
      Harness& h = m == 0 ? a : b;
      auto r = h.apply(put(numbered("k", i), std::string(100, 'x')));
      if (!r && refused_at[m] < 0) refused_at[m] = i;
    }
  }
  EXPECT_GT(refused_at[0], 5);
  EXPECT_EQ(refused_at[0], refused_at[1]);
  EXPECT_EQ(fingerprint(a.store()), fingerprint(b.store()));
  EXPECT_EQ(a.store().alarms(), b.store().alarms());
  b.reopen();
  EXPECT_TRUE(b.store().quota_replicated());
  EXPECT_EQ(b.store().quota_bytes(), 2000u) << "the option (1 MiB) does not win after a restart";
  auto meta = read_store_meta(b.store().engine());
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->quota, std::optional<uint64_t>(2000));
  // Raising it lets writes through once the alarm is disarmed (as etcd's operators do).
  ASSERT_TRUE(b.apply(QuotaRequest{1 << 20}));
  EXPECT_EQ(b.apply(put("after", "x")).error().code, Errc::kNoSpace) << "the alarm stays until disarmed";
  ASSERT_TRUE(b.apply(AlarmRequest{AlarmRequest::Action::kDeactivate, AlarmType::kNoSpace}));
  EXPECT_TRUE(b.apply(put("after", "x")));
}

// The CORRUPT alarm (raised by the server's corruption check): writes fail with etcd's "corrupt cluster",
// reads and read-only transactions go on, the alarm survives a restart and can be cleared.
TEST_P(StoreTest, CorruptAlarmRefusesWritesUntilCleared) {
  Harness h(GetParam());
  ASSERT_TRUE(h.apply(put("a", "1")));
  ASSERT_TRUE(h.apply(AlarmRequest{AlarmRequest::Action::kActivate, AlarmType::kCorrupt}));
  EXPECT_EQ(h.store().alarms(), (std::vector<AlarmMember>{{0, AlarmType::kCorrupt}}));
  h.reopen();
  EXPECT_EQ(h.store().alarms(), (std::vector<AlarmMember>{{0, AlarmType::kCorrupt}}));
  auto refused = h.apply(put("b", "2"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "etcdserver: corrupt cluster");
  EXPECT_EQ(grpc_code(refused.error().code), GrpcCode::kDataLoss);
  EXPECT_EQ(h.apply(del("a")).error().code, Errc::kCorrupt);
  EXPECT_EQ(h.apply(LeaseGrantRequest{10, 1}).error().code, Errc::kCorrupt);
  RangeRequest get_a;
  get_a.key = "a";
  TxnRequest read_only;
  read_only.success.push_back(RequestOp{get_a});
  EXPECT_TRUE(h.apply(read_only));
  EXPECT_EQ(h.store().range(get_a)->kvs.size(), 1u);
  ASSERT_TRUE(h.apply(AlarmRequest{AlarmRequest::Action::kDeactivate, AlarmType::kCorrupt}));
  EXPECT_TRUE(h.store().alarms().empty());
  EXPECT_TRUE(h.apply(put("b", "2")));
}

// Alarms are etcd's AlarmMembers: each member's raised and cleared on its own, the effect the cluster's.
TEST_P(StoreTest, AlarmsBelongToMembers) {
  StoreOptions opts;
  opts.quota_backend_bytes = 600;
  Harness h(GetParam(), opts);
  using A = AlarmRequest::Action;
  auto answer = [](const Expected<ApplyResponse, Error>& r) {
    return r ? std::get<AlarmResponse>(*r).alarms : std::vector<AlarmMember>{{999, AlarmType::kNone}};
  };
  EXPECT_EQ(answer(h.apply(AlarmRequest{A::kActivate, AlarmType::kCorrupt, 7})),
            (std::vector<AlarmMember>{{7, AlarmType::kCorrupt}}));
  EXPECT_EQ(answer(h.apply(AlarmRequest{A::kActivate, AlarmType::kCorrupt, 9})),
            (std::vector<AlarmMember>{{9, AlarmType::kCorrupt}}));
  EXPECT_EQ(answer(h.apply(AlarmRequest{A::kActivate, AlarmType::kNone, 9})), std::vector<AlarmMember>{});
  EXPECT_EQ(answer(h.apply(AlarmRequest{A::kDeactivate, AlarmType::kCorrupt, 8})), std::vector<AlarmMember>{})
      << "member 8 has none: nothing cleared";
  h.reopen();
  EXPECT_EQ(answer(h.apply(AlarmRequest{A::kGet, AlarmType::kNone, 0})),
            (std::vector<AlarmMember>{{7, AlarmType::kCorrupt}, {9, AlarmType::kCorrupt}}));
  EXPECT_EQ(answer(h.apply(AlarmRequest{A::kDeactivate, AlarmType::kCorrupt, 7})),
            (std::vector<AlarmMember>{{7, AlarmType::kCorrupt}}));
  EXPECT_EQ(h.apply(put("a", "1")).error().code, Errc::kCorrupt) << "member 9 still has it";
  ASSERT_TRUE(h.apply(AlarmRequest{A::kDeactivate, AlarmType::kCorrupt, 9}));
  EXPECT_TRUE(h.store().alarms().empty());

  // The quota raises NOSPACE for the member that proposed the entry.
  Expected<ApplyResponse, Error> last = ApplyResponse{};
  for (int i = 0; i < 100 && last; ++i)
    last = h.apply_as(0xabc, put(numbered("k", i), std::string(100, 'x')));
  ASSERT_FALSE(last);
  EXPECT_EQ(h.store().alarms(), (std::vector<AlarmMember>{{0xabc, AlarmType::kNoSpace}}));
  EXPECT_TRUE(h.store().alarmed(0xabc, AlarmType::kNoSpace));
  EXPECT_FALSE(h.store().alarmed(0xabd, AlarmType::kNoSpace));
  h.reopen();
  EXPECT_TRUE(h.store().alarmed(AlarmType::kNoSpace));
  EXPECT_FALSE(h.store().alarmed(AlarmType::kCorrupt));

  // A store written before alarms had members kept one flag per type: it reads as member 0's.
  WriteBatch legacy;
  legacy.put(Space::kMeta, "alarm/corrupt", "");
  ASSERT_TRUE(h.store().engine().write(legacy, WriteOptions{}));
  h.reopen();
  EXPECT_EQ(h.store().alarms(),
            (std::vector<AlarmMember>{{0, AlarmType::kCorrupt}, {0xabc, AlarmType::kNoSpace}}));
  ASSERT_TRUE(h.apply(AlarmRequest{A::kDeactivate, AlarmType::kCorrupt, 0}));
  h.reopen();
  EXPECT_EQ(h.store().alarms(), (std::vector<AlarmMember>{{0xabc, AlarmType::kNoSpace}}));
}

TEST_P(StoreTest, LeaseRevokeDeletesAllKeysInOneRevision) {
  Harness h(GetParam());
  ASSERT_TRUE(h.apply(LeaseGrantRequest{30, 77}));
  for (const char* k : {"c", "a", "b"})
    ASSERT_TRUE(h.apply(put(k, "v", 77)));
  ASSERT_TRUE(h.apply(put("other", "v")));
  const int64_t before = h.store().revision();
  auto r = h.apply(LeaseRevokeRequest{77});
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<LeaseRevokeResponse>(*r).header.revision, before + 1);
  EXPECT_EQ(h.store().revision(), before + 1);
  RangeRequest all = get("a", std::string(1, '\0'));
  EXPECT_EQ(h.range(all)->count, 1);
  all.revision = before;
  EXPECT_EQ(h.range(all)->count, 4);
  EXPECT_FALSE(h.store().lease(77));
  // Keys are deleted in key order with increasing sub-revisions: a, b, c.
  auto it = h.store().engine().scan(Space::kKeys, encode_revision_prefix(before + 1), "");
  std::string order;
  for (; it->valid(); it->next())
    order += decode_kv_record(it->value())->key;
  EXPECT_EQ(order, "abc");
}

TEST_P(StoreTest, SnapshotDuringWritesRestoresToAConsistentAppliedIndex) {
  Harness h(GetParam());
  const auto log = make_workload(5, 300);
  // Reference fingerprints per applied index.
  std::vector<std::string> ref;
  {
    auto s = MvccStore::open(std::make_unique<MemoryEngine>());
    ref.push_back(fingerprint(**s));
    for (size_t i = 0; i < log.size(); ++i) {
      auto r = (*s)->apply(i + 1, 1, log[i]);
      (void)r;
      ref.push_back(fingerprint(**s));
    }
  }
  TempDir snaps;
  std::atomic<int> taken{0};
  std::atomic<bool> stop{false};
  std::thread snapshotter([&] {
    while (!stop.load() && taken.load() < 3) {
      if (h.store().snapshot(snaps.sub(numbered("s", taken.load())))) ++taken;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (size_t i = 0; i < log.size(); ++i) {
    auto r = h.store().apply(i + 1, 1, log[i]);
    (void)r;
    if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  stop = true;
  snapshotter.join();
  ASSERT_GT(taken.load(), 0);
  for (int s = 0; s < taken.load(); ++s) {
    std::unique_ptr<KvEngine> engine;
    const std::string snap = snaps.sub(numbered("s", s));
    if (GetParam() == EngineKind::kMemory) {
      auto m = MemoryEngine::open_dir(snap);
      ASSERT_TRUE(m);
      engine = std::move(m).value();
    } else {
      const std::string data = snaps.sub(numbered("restored", s));
      ASSERT_TRUE(RocksEngine::restore(snap, data));
      engine = make_engine(EngineKind::kRocks, data);
    }
    auto restored = MvccStore::open(std::move(engine));
    ASSERT_TRUE(restored) << restored.error().message();
    const uint64_t idx = (*restored)->applied().index;
    ASSERT_LE(idx, log.size());
    EXPECT_EQ(fingerprint(**restored), ref[idx]) << "snapshot " << s << " at applied index " << idx;
  }
}

TEST_P(StoreTest, DefragmentKeepsData) {
  Harness h(GetParam());
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(h.apply(put(numbered("k", i % 20), std::string(50, 'v'))));
  ASSERT_TRUE(h.apply(CompactionRequest{h.store().revision(), true}));
  const std::string before = fingerprint(h.store());
  ASSERT_TRUE(h.store().defragment());
  EXPECT_EQ(fingerprint(h.store()), before);
  EXPECT_GT(h.store().db_size_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreTest, ::testing::Values(EngineKind::kMemory, EngineKind::kRocks),
                         [](const auto& info) { return std::string(engine_name(info.param)); });

TEST(StoreHashTest, MembersWithTheSameHistoryAgreeAndDivergenceShows) {
  Harness a(EngineKind::kMemory), b(EngineKind::kRocks), c(EngineKind::kMemory);
  const auto log = make_workload(9, 120);
  for (const auto& e : log) {
    auto ra = a.apply(e), rb = b.apply(e), rc = c.apply(e);
    (void)ra, (void)rb, (void)rc;
  }
  ASSERT_TRUE(c.apply(put("extra", "diverged")));
  for (int64_t rev : {int64_t{0}, a.store().revision() - 1}) {
    auto ha = a.store().hash_kv(rev), hb = b.store().hash_kv(rev);
    if (!ha) continue;  // that revision may be compacted in this history
    ASSERT_TRUE(hb);
    EXPECT_EQ(ha->hash, hb->hash);
    EXPECT_EQ(ha->compact_revision, hb->compact_revision);
  }
  EXPECT_EQ(a.store().hash()->hash, b.store().hash()->hash);
  EXPECT_NE(a.store().hash_kv(0)->hash, c.store().hash_kv(0)->hash);
  // HashKV at an older revision is unaffected by later writes.
  const int64_t old_rev = a.store().revision();
  auto old_hash = a.store().hash_kv(old_rev);
  ASSERT_TRUE(old_hash);
  ASSERT_TRUE(a.apply(put("later", "x")));
  EXPECT_EQ(a.store().hash_kv(old_rev)->hash, old_hash->hash);
  Harness fresh(EngineKind::kMemory);
  EXPECT_EQ(fresh.store().hash_kv(0)->compact_revision, -1);
}

// The state chain (mvcc_store.h "State chain"): what the continuous corruption check compares.
TEST(StoreChainTest, IsTheCrcOfEveryRecordWrittenInRevisionOrder) {
  Harness h(EngineKind::kMemory);
  EXPECT_EQ(h.store().state_chain(), std::optional<uint32_t>(0));  // an empty store is the seed
  ASSERT_TRUE(h.apply(put("a", "1")));
  KeyValue a;
  a.key = "a";
  a.value = "1";
  a.create_revision = a.mod_revision = 2;
  a.version = 1;
  uint32_t want = crc32c(encode_revision_key(Revision{2, 0}, false) + encode_kv_record(a));
  EXPECT_EQ(h.store().state_chain(), std::optional<uint32_t>(want));
  ASSERT_TRUE(h.apply(del("a")));
  KeyValue tomb;
  tomb.key = "a";
  tomb.mod_revision = 3;
  want = crc32c_extend(want, encode_revision_key(Revision{3, 0}, true) + encode_kv_record(tomb));
  EXPECT_EQ(h.store().state_chain(), std::optional<uint32_t>(want));
  EXPECT_EQ(
      h.store().state_chain_at(2),
      std::optional<uint32_t>(crc32c(encode_revision_key(Revision{2, 0}, false) + encode_kv_record(a))));
  // Entries that change no key leave it alone: a refused txn, a lease grant, a compaction.
  TxnRequest refused;
  refused.success.push_back(RequestOp{put("b", "1")});
  refused.success.push_back(RequestOp{put("b", "2")});  // duplicate key: refused
  EXPECT_FALSE(h.apply(refused));
  ASSERT_TRUE(h.apply(LeaseGrantRequest{7, 60}));
  ASSERT_TRUE(h.apply(CompactionRequest{3, true}));
  EXPECT_EQ(h.store().state_chain(), std::optional<uint32_t>(want));
  EXPECT_EQ(h.store().revision(), 3);
}

TEST(StoreChainTest, MembersAgreeAtEveryRevisionAndADivergenceStays) {
  Harness a(EngineKind::kMemory), b(EngineKind::kRocks), c(EngineKind::kMemory);
  const auto log = make_workload(11, 200);
  int64_t diverged_at = 0;
  for (size_t i = 0; i < log.size(); ++i) {
    const bool applied = a.apply(log[i]).has_value();
    (void)b.apply(log[i]);
    const auto* p = std::get_if<PutRequest>(&log[i]);
    if (i >= log.size() / 2 && p && applied && diverged_at == 0) {
      PutRequest altered = *p;
      altered.value += "~";
      ASSERT_TRUE(c.apply(altered));
      diverged_at = c.store().revision();
    } else {
      (void)c.apply(log[i]);
    }
    ASSERT_EQ(a.store().revision(), b.store().revision());
    ASSERT_EQ(a.store().state_chain(), b.store().state_chain()) << "entry " << i;
    if (diverged_at == 0) {
      ASSERT_EQ(a.store().state_chain(), c.store().state_chain()) << "entry " << i;
    } else {
      ASSERT_NE(a.store().state_chain(), c.store().state_chain()) << "entry " << i;
    }
  }
  ASSERT_GT(diverged_at, 0);
  for (int64_t rev = 1; rev <= a.store().revision(); ++rev) {
    ASSERT_TRUE(a.store().state_chain_at(rev)) << rev;
    EXPECT_EQ(a.store().state_chain_at(rev), b.store().state_chain_at(rev)) << rev;
    // (c's later history may differ from a's, e.g. a txn comparing the altered value: its revisions too.)
    if (rev > c.store().revision()) continue;
    EXPECT_EQ(a.store().state_chain_at(rev) == c.store().state_chain_at(rev), rev < diverged_at) << rev;
  }
}

TEST(StoreChainTest, SurvivesReopenAndKeepsABoundedWindow) {
  Harness h(EngineKind::kRocks);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(h.apply(put(numbered("k", i % 3), "v")));
  const auto chain = h.store().state_chain();
  const int64_t rev = h.store().revision();
  h.reopen();
  EXPECT_EQ(h.store().state_chain(), chain);
  EXPECT_EQ(h.store().state_chain_at(rev), chain);
  EXPECT_FALSE(h.store().state_chain_at(rev - 1));  // the window restarts at the revision it opened at
  EXPECT_FALSE(h.store().state_chain_at(rev + 1));
  const auto n = static_cast<int>(MvccStore::kChainRecent) + 5;
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(h.apply(put("k", "v")));
  const int64_t now = h.store().revision();
  EXPECT_TRUE(h.store().state_chain_at(now - static_cast<int64_t>(MvccStore::kChainRecent) + 1));
  EXPECT_FALSE(h.store().state_chain_at(now - static_cast<int64_t>(MvccStore::kChainRecent)));
  EXPECT_EQ(h.store().state_chain_at(now), h.store().state_chain());
}

TEST(StoreChainTest, AStoreWrittenWithoutAChainHasNone) {
  Harness h(EngineKind::kMemory);
  ASSERT_TRUE(h.apply(put("a", "1")));
  WriteBatch drop;
  drop.erase(Space::kMeta, "chain");
  ASSERT_TRUE(h.store().engine().write(drop, WriteOptions{}));
  h.reopen();
  EXPECT_FALSE(h.store().state_chain());
  ASSERT_TRUE(h.apply(put("b", "2")));
  EXPECT_FALSE(h.store().state_chain());
  EXPECT_FALSE(h.store().state_chain_at(h.store().revision()));
}

TEST(StoreValidateTest, TxnLimitsAndDuplicateRulesFollowEtcd) {
  StoreOptions opts;
  opts.txn_ops_max = 3;
  auto ops = [](int n, const std::string& prefix) {
    std::vector<RequestOp> v;
    for (int i = 0; i < n; ++i)
      v.push_back(RequestOp{put(prefix + std::to_string(i), "v")});
    return v;
  };
  TxnRequest ok;
  ok.success = ops(3, "s");
  ok.failure = ops(3, "s");  // branches are independent
  EXPECT_FALSE(MvccStore::validate(ok, opts));
  TxnRequest too_many;
  too_many.success = ops(4, "s");
  EXPECT_EQ(MvccStore::validate(too_many, opts)->code, Errc::kTooManyOps);
  // A nested txn only gets what its parent left: 3 - 2 = 1 op.
  TxnRequest nested;
  nested.success = ops(2, "s");
  TxnRequest inner;
  inner.success = ops(2, "i");
  nested.success.push_back(RequestOp{Box<TxnRequest>(inner)});
  EXPECT_EQ(MvccStore::validate(nested, opts)->code, Errc::kTooManyOps);
  // Duplicates: a nested put under an outer delete range.
  TxnRequest dup;
  dup.success.push_back(RequestOp{del("a", "c")});
  TxnRequest inner2;
  inner2.success.push_back(RequestOp{put("b", "v")});
  dup.success.push_back(RequestOp{Box<TxnRequest>(inner2)});
  EXPECT_EQ(MvccStore::validate(dup, StoreOptions{})->code, Errc::kDuplicateKey);
  // Put/ignore rules.
  EXPECT_EQ(MvccStore::validate(PutRequest{"k", "v", 0, false, true, false}, opts)->code,
            Errc::kValueProvided);
  EXPECT_EQ(MvccStore::validate(PutRequest{"k", "", 3, false, false, true}, opts)->code,
            Errc::kLeaseProvided);
  EXPECT_EQ(MvccStore::validate(DeleteRangeRequest{}, opts)->code, Errc::kEmptyKey);
  EXPECT_FALSE(MvccStore::validate(CompactionRequest{5, false}, opts));
}

TEST(StoreErrorsTest, MessagesAndGrpcCodesMatchEtcd) {
  struct Row {
    Errc code;
    const char* message;
    GrpcCode grpc;
  };
  const Row rows[] = {
      {Errc::kEmptyKey, "etcdserver: key is not provided", GrpcCode::kInvalidArgument},
      {Errc::kKeyNotFound, "etcdserver: key not found", GrpcCode::kInvalidArgument},
      {Errc::kValueProvided, "etcdserver: value is provided", GrpcCode::kInvalidArgument},
      {Errc::kLeaseProvided, "etcdserver: lease is provided", GrpcCode::kInvalidArgument},
      {Errc::kTooManyOps, "etcdserver: too many operations in txn request", GrpcCode::kInvalidArgument},
      {Errc::kDuplicateKey, "etcdserver: duplicate key given in txn request", GrpcCode::kInvalidArgument},
      {Errc::kCompacted, "etcdserver: mvcc: required revision has been compacted", GrpcCode::kOutOfRange},
      {Errc::kFutureRev, "etcdserver: mvcc: required revision is a future revision", GrpcCode::kOutOfRange},
      {Errc::kNoSpace, "etcdserver: mvcc: database space exceeded", GrpcCode::kResourceExhausted},
      {Errc::kLeaseNotFound, "etcdserver: requested lease not found", GrpcCode::kNotFound},
      {Errc::kLeaseExist, "etcdserver: lease already exists", GrpcCode::kFailedPrecondition},
      {Errc::kLeaseTtlTooLarge, "etcdserver: too large lease TTL", GrpcCode::kOutOfRange},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(make_error(r.code).message(), r.message);
    EXPECT_EQ(grpc_code(r.code), r.grpc) << r.message;
  }
  EXPECT_EQ(static_cast<int>(GrpcCode::kOutOfRange), 11);
  EXPECT_EQ(static_cast<int>(GrpcCode::kResourceExhausted), 8);
}

TEST(StoreOpenTest, RejectsCorruptRecords) {
  auto disk = std::make_shared<MemoryDisk>();
  {
    auto s = MvccStore::open(std::make_unique<MemoryEngine>(disk));
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->apply(1, 1, put("a", "1")));
  }
  MemoryEngine e(disk);
  WriteBatch b;
  b.put(Space::kKeys, encode_revision_key({2, 0}, false), "garbage");
  ASSERT_TRUE(e.write(b, WriteOptions{}));
  auto s = MvccStore::open(std::make_unique<MemoryEngine>(disk));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kCorruption);
}

// A range of more than one read batch (256 keys) reads past RocksDB's block cache, so a large list does
// not evict what point reads live on; a small range still fills it.
TEST(RocksStore, LargeRangesDoNotFillTheBlockCache) {
  TempDir dir;
  RocksOptions ro;
  ro.block_cache_size_bytes = 32ull << 20;
  auto engine = RocksEngine::open(dir.sub("db"), ro);
  ASSERT_TRUE(engine) << engine.error().detail;
  RocksEngine* rocks = engine->get();
  auto store = MvccStore::open(std::move(*engine));
  ASSERT_TRUE(store) << store.error().detail;
  const std::string value(1024, 'v');
  for (int i = 0; i < 2000; ++i)
    ASSERT_TRUE(
        (*store)->apply(static_cast<uint64_t>(i + 1), 1, ApplyRequest{put(numbered("k", 10000 + i), value)}));
  ASSERT_TRUE((*store)->engine().compact_storage());  // into SST files: reads go through the block cache
  const uint64_t before = rocks->block_cache_usage_bytes();
  RangeRequest all;
  all.key = "k";
  all.range_end = "l";
  auto big = (*store)->range(all);
  ASSERT_TRUE(big);
  ASSERT_EQ(big->kvs.size(), 2000u);
  const uint64_t after_big = rocks->block_cache_usage_bytes();
  EXPECT_LT(after_big - before, 256u * 1024) << "2 MB of values read, the cache must not take them";
  RangeRequest some;
  some.key = numbered("k", 10100);
  some.range_end = numbered("k", 10300);
  auto small = (*store)->range(some);
  ASSERT_TRUE(small);
  ASSERT_EQ(small->kvs.size(), 200u);
  EXPECT_GT(rocks->block_cache_usage_bytes() - after_big, 150u * 1024) << "a small range is cached";
}

}  // namespace
}  // namespace cairn::storage::testing
