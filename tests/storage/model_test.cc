// Property test: random operations over a small key set, checked against a naive model that keeps
// a full copy of the key space at every revision. Runs many seeds on the memory engine and a few
// on RocksDB; the two engines must also agree on HashKV for the same history.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "tests/storage/harness.h"
#include "tests/storage/transcript.h"

namespace cairn::storage::testing {
namespace {

using State = std::map<std::string, KeyValue>;

// The naive reference: state snapshots per revision, no index, no engine.
class Model {
 public:
  Model() { history_.push_back({}), history_.push_back({}); }  // revisions 0 and 1: empty

  int64_t rev() const { return static_cast<int64_t>(history_.size()) - 1; }
  const State& now() const { return history_.back(); }

  Expected<RangeResponse, Error> range(const RangeRequest& r, const State* view, int64_t view_rev) const {
    if (r.key.empty()) return unexpected(make_error(Errc::kEmptyKey));
    int64_t at = r.revision;
    if (at > view_rev) return unexpected(make_error(Errc::kFutureRev));
    if (at <= 0) at = view_rev;
    if (at < compacted_) return unexpected(make_error(Errc::kCompacted));
    const State& s = at == view_rev ? *view : history_[static_cast<size_t>(at)];
    RangeResponse resp;
    resp.header.revision = view_rev;
    for (const auto& [k, kv] : s) {
      if (in_range(k, r.key, r.range_end)) resp.kvs.push_back(kv);
    }
    resp.count = static_cast<int64_t>(resp.kvs.size());
    if (r.count_only) {
      resp.kvs.clear();
      return resp;
    }
    std::erase_if(resp.kvs, [&](const KeyValue& kv) {
      return (r.min_mod_revision && kv.mod_revision < r.min_mod_revision) ||
             (r.max_mod_revision && kv.mod_revision > r.max_mod_revision) ||
             (r.min_create_revision && kv.create_revision < r.min_create_revision) ||
             (r.max_create_revision && kv.create_revision > r.max_create_revision);
    });
    // etcd quirk kept on purpose: only an explicit sort order (or a filter) fetches everything;
    // a non-key target with order NONE sorts just the first limit+1 keys.
    const bool no_filter =
        !r.min_mod_revision && !r.max_mod_revision && !r.min_create_revision && !r.max_create_revision;
    if (r.sort_order == SortOrder::kNone && no_filter && r.limit > 0 &&
        static_cast<int64_t>(resp.kvs.size()) > r.limit + 1) {
      resp.kvs.resize(static_cast<size_t>(r.limit + 1));
    }
    SortOrder order = r.sort_order;
    if (order == SortOrder::kNone && r.sort_target != SortTarget::kKey) order = SortOrder::kAscend;
    auto field = [&](const KeyValue& kv) -> std::string {
      char buf[32];
      auto num = [&](int64_t v) {
        std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(v));
        return std::string(buf);
      };
      switch (r.sort_target) {
        case SortTarget::kKey:
          return kv.key;
        case SortTarget::kVersion:
          return num(kv.version);
        case SortTarget::kCreate:
          return num(kv.create_revision);
        case SortTarget::kMod:
          return num(kv.mod_revision);
        case SortTarget::kValue:
          return kv.value;
      }
      return {};
    };
    if (order == SortOrder::kAscend) {
      std::stable_sort(resp.kvs.begin(), resp.kvs.end(),
                       [&](const KeyValue& a, const KeyValue& b) { return field(a) < field(b); });
    } else if (order == SortOrder::kDescend) {
      std::stable_sort(resp.kvs.begin(), resp.kvs.end(),
                       [&](const KeyValue& a, const KeyValue& b) { return field(a) > field(b); });
    }
    if (r.limit > 0 && static_cast<int64_t>(resp.kvs.size()) > r.limit) {
      resp.kvs.resize(static_cast<size_t>(r.limit));
      resp.more = true;
    }
    if (r.keys_only) {
      for (auto& kv : resp.kvs)
        kv.value.clear();
    }
    return resp;
  }

  static bool in_range(const std::string& k, const std::string& key, const std::string& end) {
    if (end.empty()) return k == key;
    if (end == std::string(1, '\0')) return k >= key;
    return k >= key && k < end;
  }

  // One write entry: ops run against `work`, then commit() records the new revision if it changed.
  struct Work {
    State state;
    int64_t begin;
    bool changed = false;
    int64_t read_rev() const { return changed ? begin + 1 : begin; }
  };
  Work begin() const { return Work{now(), rev()}; }
  void commit(const Work& w) {
    if (w.changed) history_.push_back(w.state);
  }

  Expected<PutResponse, Error> put(Work& w, const PutRequest& p) {
    if (p.lease != 0 && !leases_.count(p.lease)) return unexpected(make_error(Errc::kLeaseNotFound));
    PutResponse resp;
    KeyValue kv;
    auto it = w.state.find(p.key);
    kv.key = p.key;
    kv.value = p.value;
    kv.lease = p.lease;
    kv.mod_revision = w.begin + 1;
    kv.create_revision = it == w.state.end() ? w.begin + 1 : it->second.create_revision;
    kv.version = it == w.state.end() ? 1 : it->second.version + 1;
    if (p.prev_kv && it != w.state.end()) resp.prev_kv = it->second;
    w.state[p.key] = kv;
    w.changed = true;
    resp.header.revision = w.begin + 1;
    return resp;
  }

  DeleteRangeResponse del(Work& w, const DeleteRangeRequest& d) {
    DeleteRangeResponse resp;
    for (auto it = w.state.begin(); it != w.state.end();) {
      if (in_range(it->first, d.key, d.range_end)) {
        if (d.prev_kv) resp.prev_kvs.push_back(it->second);
        ++resp.deleted;
        w.changed = true;
        it = w.state.erase(it);
      } else {
        ++it;
      }
    }
    resp.header.revision = w.read_rev();
    return resp;
  }

  bool compare(const Compare& c) const {
    bool any = false;
    for (const auto& [k, kv] : now()) {
      if (!in_range(k, c.key, c.range_end)) continue;
      any = true;
      if (!cmp_one(c, kv)) return false;
    }
    if (!any) return c.target == Compare::Target::kValue ? false : cmp_one(c, KeyValue{});
    return true;
  }
  static bool cmp_one(const Compare& c, const KeyValue& kv) {
    int r = 0;
    auto three = [](auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); };
    switch (c.target) {
      case Compare::Target::kValue:
        r = three(kv.value, c.value);
        break;
      case Compare::Target::kVersion:
        r = three(kv.version, c.version);
        break;
      case Compare::Target::kCreate:
        r = three(kv.create_revision, c.create_revision);
        break;
      case Compare::Target::kMod:
        r = three(kv.mod_revision, c.mod_revision);
        break;
      case Compare::Target::kLease:
        r = three(kv.lease, c.lease);
        break;
    }
    switch (c.result) {
      case Compare::Result::kEqual:
        return r == 0;
      case Compare::Result::kNotEqual:
        return r != 0;
      case Compare::Result::kGreater:
        return r > 0;
      case Compare::Result::kLess:
        return r < 0;
    }
    return false;
  }

  Expected<CompactionResponse, Error> compact(int64_t at) {
    if (at <= compacted_) return unexpected(make_error(Errc::kCompacted));
    if (at > rev()) return unexpected(make_error(Errc::kFutureRev));
    compacted_ = at;
    CompactionResponse r;
    r.header.revision = rev();
    return r;
  }

  std::map<int64_t, int64_t> leases_;  // id -> ttl
  std::vector<State> history_;
  int64_t compacted_ = -1;
};

const std::vector<std::string> kKeys = {"a", "ab", "b", "ba", "c", "d"};

std::string pick_key(std::mt19937_64& rng) {
  return kKeys[rng() % kKeys.size()];
}

std::string pick_end(std::mt19937_64& rng, const std::string& key) {
  switch (rng() % 5) {
    case 0:
      return {};
    case 1:
      return std::string(1, '\0');
    case 2:
      return prefix_end(key);
    default:
      return pick_key(rng);  // may be <= key: empty range
  }
}

template <typename T>
::testing::AssertionResult same(const Expected<T, Error>& got, const Expected<T, Error>& want,
                                const char* what, int step) {
  if (got.has_value() != want.has_value()) {
    return ::testing::AssertionFailure()
           << what << " at step " << step << ": got " << (got ? "ok" : got.error().message()) << ", want "
           << (want ? "ok" : want.error().message());
  }
  if (!got) {
    if (got.error().code == want.error().code) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << what << " at step " << step << ": " << got.error().message()
                                         << " vs " << want.error().message();
  }
  if (*got == *want) return ::testing::AssertionSuccess();
  auto f = ::testing::AssertionFailure();
  f << what << " response differs at step " << step;
  if constexpr (std::is_same_v<T, RangeResponse>) {
    for (const auto* r : {&*got, &*want}) {
      f << "\n  rev=" << r->header.revision << " count=" << r->count << " more=" << r->more;
      for (const KeyValue& kv : r->kvs)
        f << "\n    " << format_kv(kv);
    }
  }
  return f;
}

void run_seed(uint64_t seed, std::vector<Harness*> stores, int steps) {
  std::mt19937_64 rng(seed);
  Model m;
  int64_t next_lease = 100;
  for (int step = 0; step < steps; ++step) {
    const int kind = static_cast<int>(rng() % 100);
    if (kind < 30) {  // put
      PutRequest p;
      p.key = pick_key(rng);
      p.value = numbered("v", rng() % 5);
      p.prev_kv = rng() % 2;
      if (rng() % 4 == 0 && !m.leases_.empty()) {
        auto it = m.leases_.begin();
        std::advance(it, static_cast<long>(rng() % m.leases_.size()));
        p.lease = rng() % 5 == 0 ? 99999 : it->first;
      }
      Model::Work w = m.begin();
      auto want = m.put(w, p);
      if (want) m.commit(w);
      for (Harness* h : stores) {
        auto got = h->apply(p);
        Expected<PutResponse, Error> g = got ? Expected<PutResponse, Error>(std::get<PutResponse>(*got))
                                             : Expected<PutResponse, Error>(unexpected(got.error()));
        ASSERT_TRUE(same(g, want, "put", step)) << "seed " << seed << " engine " << engine_name(h->kind());
      }
    } else if (kind < 42) {  // delete
      DeleteRangeRequest d;
      d.key = pick_key(rng);
      d.range_end = pick_end(rng, d.key);
      d.prev_kv = rng() % 2;
      Model::Work w = m.begin();
      Expected<DeleteRangeResponse, Error> want = m.del(w, d);
      m.commit(w);
      for (Harness* h : stores) {
        auto got = h->apply(d);
        ASSERT_TRUE(got) << got.error().message();
        ASSERT_TRUE(same(Expected<DeleteRangeResponse, Error>(std::get<DeleteRangeResponse>(*got)), want,
                         "del", step))
            << "seed " << seed;
      }
    } else if (kind < 60) {  // txn: compare one key, then put+range / else delete+range
      TxnRequest t;
      Compare c;
      c.key = pick_key(rng);
      if (rng() % 3 == 0) c.range_end = pick_end(rng, c.key);
      c.target = static_cast<Compare::Target>(rng() % 5);
      c.result = static_cast<Compare::Result>(rng() % 4);
      c.version = static_cast<int64_t>(rng() % 3);
      c.create_revision = m.rev() - static_cast<int64_t>(rng() % 4);
      c.mod_revision = m.rev() - static_cast<int64_t>(rng() % 4);
      c.value = numbered("v", rng() % 5);
      t.compare.push_back(c);
      std::string k1 = pick_key(rng), k2 = pick_key(rng);
      while (k2 == k1)
        k2 = pick_key(rng);
      RangeRequest all;
      all.key = "a";
      all.range_end = std::string(1, '\0');
      t.success.push_back(RequestOp{PutRequest{k1, numbered("t", step), 0, true, false, false}});
      t.success.push_back(RequestOp{all});
      t.success.push_back(RequestOp{PutRequest{k2, "u", 0, false, false, false}});
      t.failure.push_back(RequestOp{DeleteRangeRequest{k1, {}, true}});
      t.failure.push_back(RequestOp{all});
      // Model execution.
      Model::Work w = m.begin();
      TxnResponse want;
      want.succeeded = m.compare(c);
      for (const RequestOp& op : want.succeeded ? t.success : t.failure) {
        ResponseOp out;
        if (const auto* p = std::get_if<PutRequest>(&op.request)) {
          out.response = *m.put(w, *p);
        } else if (const auto* d = std::get_if<DeleteRangeRequest>(&op.request)) {
          out.response = m.del(w, *d);
        } else {
          out.response = *m.range(std::get<RangeRequest>(op.request), &w.state, w.read_rev());
        }
        want.responses.push_back(std::move(out));
      }
      want.header.revision = w.read_rev();
      m.commit(w);
      for (Harness* h : stores) {
        auto got = h->apply(t);
        ASSERT_TRUE(got) << got.error().message();
        ASSERT_TRUE(same(Expected<TxnResponse, Error>(std::get<TxnResponse>(*got)),
                         Expected<TxnResponse, Error>(want), "txn", step))
            << "seed " << seed;
      }
    } else if (kind < 88) {  // range
      RangeRequest r;
      r.key = pick_key(rng);
      r.range_end = pick_end(rng, r.key);
      if (rng() % 3 == 0) r.revision = static_cast<int64_t>(rng() % static_cast<uint64_t>(m.rev() + 2));
      if (rng() % 3 == 0) r.limit = static_cast<int64_t>(rng() % 4);
      if (rng() % 3 == 0) {
        r.sort_order = static_cast<SortOrder>(rng() % 3);
        r.sort_target = static_cast<SortTarget>(rng() % 5);
      }
      r.keys_only = rng() % 6 == 0;
      r.count_only = rng() % 8 == 0;
      if (rng() % 5 == 0)
        r.min_mod_revision = static_cast<int64_t>(rng() % static_cast<uint64_t>(m.rev() + 1));
      if (rng() % 5 == 0)
        r.max_mod_revision = static_cast<int64_t>(rng() % static_cast<uint64_t>(m.rev() + 1));
      if (rng() % 5 == 0)
        r.min_create_revision = static_cast<int64_t>(rng() % static_cast<uint64_t>(m.rev() + 1));
      if (rng() % 5 == 0)
        r.max_create_revision = static_cast<int64_t>(rng() % static_cast<uint64_t>(m.rev() + 1));
      auto want = m.range(r, &m.now(), m.rev());
      for (Harness* h : stores) {
        ASSERT_TRUE(same(h->range(r), want, "range", step))
            << "seed " << seed << " key=" << escape(r.key) << " end=" << escape(r.range_end)
            << " rev=" << r.revision << " limit=" << r.limit << " sort=" << int(r.sort_order) << "/"
            << int(r.sort_target) << " filters=" << r.min_mod_revision << "," << r.max_mod_revision << ","
            << r.min_create_revision << "," << r.max_create_revision;
      }
    } else if (kind < 93) {  // compact (sometimes invalid)
      const int64_t at = std::max<int64_t>(1, m.compacted_ + static_cast<int64_t>(rng() % 6) - 1);
      auto want = m.compact(at);
      for (Harness* h : stores) {
        auto got = h->apply(CompactionRequest{at, false});
        Expected<CompactionResponse, Error> g =
            got ? Expected<CompactionResponse, Error>(std::get<CompactionResponse>(*got))
                : Expected<CompactionResponse, Error>(unexpected(got.error()));
        ASSERT_TRUE(same(g, want, "compact", step)) << "seed " << seed;
      }
    } else if (kind < 97) {  // lease grant
      const int64_t id = next_lease++;
      m.leases_[id] = 10;
      for (Harness* h : stores)
        ASSERT_TRUE(h->apply(LeaseGrantRequest{10, id}));
    } else if (!m.leases_.empty()) {  // lease revoke: all attached keys in one revision
      auto it = m.leases_.begin();
      std::advance(it, static_cast<long>(rng() % m.leases_.size()));
      const int64_t id = it->first;
      m.leases_.erase(it);
      Model::Work w = m.begin();
      for (auto k = w.state.begin(); k != w.state.end();) {
        if (k->second.lease == id) {
          k = w.state.erase(k);
          w.changed = true;
        } else {
          ++k;
        }
      }
      m.commit(w);
      for (Harness* h : stores) {
        auto got = h->apply(LeaseRevokeRequest{id});
        ASSERT_TRUE(got);
        ASSERT_EQ(std::get<LeaseRevokeResponse>(*got).header.revision, m.rev()) << "seed " << seed;
      }
    }
    for (Harness* h : stores)
      ASSERT_EQ(h->store().revision(), m.rev()) << "seed " << seed << " step " << step;
    // The first store never deletes what compaction dropped; the others do, a few records at a time.
    for (size_t i = 1; i < stores.size(); ++i) {
      if (rng() % 3 == 0) {
        ASSERT_TRUE(stores[i]->store().compact_step(1 + rng() % 4));
      }
    }
    if (step % 97 == 96) {
      for (Harness* h : stores)
        h->reopen();
    }
  }
  // Members with the same history agree on HashKV, whatever their engine, and on what a reader sees
  // of the history, whether or not the records compaction dropped are deleted yet.
  if (stores.size() > 1) {
    const int64_t from = std::max<int64_t>(1, m.compacted_);
    auto e0 = stores[0]->store().events("", std::string(1, '\0'), from, 0);
    auto whole0 = stores[0]->store().hash();
    ASSERT_TRUE(e0 && whole0);
    for (Harness* h : stores) {
      auto e = h->store().events("", std::string(1, '\0'), from, 0);
      ASSERT_TRUE(e);
      EXPECT_EQ(e->events.size(), e0->events.size()) << "seed " << seed;
      EXPECT_EQ(e->bytes, e0->bytes) << "seed " << seed;
      auto whole = h->store().hash();
      ASSERT_TRUE(whole);
      EXPECT_EQ(whole->hash, whole0->hash) << "seed " << seed;
      EXPECT_EQ(h->store().logical_size_bytes(), stores[0]->store().logical_size_bytes()) << "seed " << seed;
    }
    auto h0 = stores[0]->store().hash_kv(0);
    ASSERT_TRUE(h0);
    for (Harness* h : stores) {
      auto hk = h->store().hash_kv(0);
      ASSERT_TRUE(hk);
      EXPECT_EQ(hk->hash, h0->hash) << "seed " << seed;
      EXPECT_EQ(hk->compact_revision, m.compacted_);
    }
  }
}

// Seeds are split into shards so ctest can run them in parallel.
class ModelShardTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ModelShardTest, MemoryEngineMatchesNaiveModel) {
  constexpr uint64_t kSeedsPerShard = 15;
  for (uint64_t seed = GetParam() * kSeedsPerShard + 1; seed <= (GetParam() + 1) * kSeedsPerShard; ++seed) {
    Harness a(EngineKind::kMemory);
    Harness b(EngineKind::kMemory);
    run_seed(seed, {&a, &b}, 250);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelShardTest, ::testing::Values(0, 1, 2, 3));

class RocksModelShardTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RocksModelShardTest, RocksEngineMatchesNaiveModelAndMemoryHash) {
  for (uint64_t seed = 1000 + 2 * GetParam(); seed < 1002 + 2 * GetParam(); ++seed) {
    Harness mem(EngineKind::kMemory);
    Harness rocks(EngineKind::kRocks);
    run_seed(seed, {&mem, &rocks}, 250);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, RocksModelShardTest, ::testing::Values(0, 1, 2));

}  // namespace
}  // namespace cairn::storage::testing
