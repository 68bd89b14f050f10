#include "storage/etcd_backend/import.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "proto/etcd/auth.pb.h"
#include "proto/etcd/rpc.pb.h"
#include "storage/mvcc_store.h"

namespace cairn::storage::etcd_backend {

namespace {

using Status = Expected<Unit, std::string>;

std::string hex(std::string_view b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : b.substr(0, 40)) {
    out += kHex[static_cast<uint8_t>(c) >> 4];
    out += kHex[static_cast<uint8_t>(c) & 0xF];
  }
  return b.size() > 40 ? out + "..." : out;
}

std::string rev_text(Revision r) {
  return std::to_string(r.main) + "." + std::to_string(r.sub);
}

// Batches of engine writes, flushed when they reach the byte bound. Unlogged: the import syncs once
// at the end (an interrupted import leaves a data dir the caller removes).
class Batcher {
 public:
  Batcher(KvEngine& e, uint64_t bytes_max) : engine_(e), bytes_max_(bytes_max) {}
  Status put(Space s, std::string_view k, std::string_view v) {
    batch_.put(s, k, v);
    return batch_.size_bytes() >= bytes_max_ ? flush() : Status(Unit{});
  }
  Status flush() {
    if (batch_.empty()) return Unit{};
    auto w = engine_.write(batch_, WriteOptions{/*sync=*/false, /*log=*/false});
    batch_ = WriteBatch();
    if (!w) return unexpected("write store: " + w.error().message());
    return Unit{};
  }
  WriteBatch& batch() { return batch_; }

 private:
  KvEngine& engine_;
  uint64_t bytes_max_;
  WriteBatch batch_;
};

// Calls fn(key, value) for every element of a bucket.
template <class Fn>
Status for_each(bbolt::Reader& r, const bbolt::BucketRef& b, std::string_view name, Fn fn) {
  auto c = r.cursor(b);
  for (;;) {
    auto more = c->next();
    if (!more) return unexpected(std::string(name) + " bucket: " + more.error());
    if (!*more) return Unit{};
    if (c->is_bucket())
      return unexpected(std::string(name) + " bucket: unexpected nested bucket " + hex(c->key()));
    if (auto s = fn(c->key(), c->value()); !s) return s;
  }
}

struct Context {
  bbolt::Reader& reader;
  const ImportOptions& options;
  Batcher& out;
  ImportSummary& sum;
  bool unfinished_compaction = false;
  bool cancelled() const { return options.cancel && options.cancel->load(std::memory_order_relaxed); }
};

Status import_meta(Context& cx, const bbolt::BucketRef& b) {
  int64_t finished = -1, scheduled = -1;
  auto rev_value = [](std::string_view k, std::string_view v, int64_t* out) -> Status {
    auto r = decode_revision(v);
    if (!r || r->tombstone) return unexpected("meta bucket: " + std::string(k) + " is not a revision");
    *out = r->rev.main;
    return Unit{};
  };
  auto s = for_each(cx.reader, b, kMetaBucket, [&](std::string_view k, std::string_view v) -> Status {
    if (k == kConsistentIndexKey || k == kTermKey) {
      auto n = decode_u64(v);
      if (!n) return unexpected("meta bucket: " + std::string(k) + " is not 8 bytes");
      (k == kTermKey ? cx.sum.term : cx.sum.consistent_index) = *n;
    } else if (k == kFinishedCompactKey) {
      return rev_value(k, v, &finished);
    } else if (k == kScheduledCompactKey) {
      return rev_value(k, v, &scheduled);
    }
    return Unit{};  // confState, storageVersion, ...: etcd 3.5+'s own
  });
  if (!s) return s;
  cx.sum.compact_revision = std::max(finished, scheduled);
  cx.unfinished_compaction = scheduled > finished;
  if (cx.unfinished_compaction)
    cx.sum.warnings.push_back("etcd's compaction at revision " + std::to_string(scheduled) +
                              " was unfinished; it is completed by this restore");
  return Unit{};
}

// One key bucket record into cairn's kKeys record.
Status import_key_record(Context& cx, std::string_view k, std::string_view v,
                         std::unordered_set<std::string>* live) {
  auto rk = decode_revision(k);
  if (!rk) return unexpected("key bucket: key " + hex(k) + " is not a revision");
  auto kv = decode_kv(v);
  if (!kv)
    return unexpected("key bucket: the value at revision " + rev_text(rk->rev) + " is not a mvccpb.KeyValue");
  if (kv->key.empty())
    return unexpected("key bucket: the record at revision " + rev_text(rk->rev) + " has no key");
  if (rk->tombstone) {
    // A tombstone whose key is not live: the rest of a generation etcd's unfinished compaction removed.
    if (live && rk->rev.main <= cx.sum.compact_revision && !live->count(kv->key)) {
      ++cx.sum.tombstones_dropped;
      return Unit{};
    }
    if (live) live->erase(kv->key);
    KeyValue t;
    t.key = std::move(kv->key);
    t.mod_revision = rk->rev.main;
    kv = std::move(t);
  } else {
    if (kv->mod_revision != rk->rev.main || kv->create_revision <= 0 ||
        kv->create_revision > kv->mod_revision || kv->version <= 0)
      return unexpected("key bucket: the record at revision " + rev_text(rk->rev) + " has mod_revision " +
                        std::to_string(kv->mod_revision) + ", create_revision " +
                        std::to_string(kv->create_revision) + ", version " + std::to_string(kv->version));
    if (live) live->insert(kv->key);
  }
  cx.sum.revision = std::max(cx.sum.revision, rk->rev.main);
  ++cx.sum.key_records;
  return cx.out.put(Space::kKeys, encode_revision_key(rk->rev, rk->tombstone), encode_kv_record(*kv));
}

Status import_keys(Context& cx, const bbolt::BucketRef& b) {
  std::unordered_set<std::string> live;
  std::unordered_set<std::string>* tracked = cx.unfinished_compaction ? &live : nullptr;
  return for_each(cx.reader, b, kKeyBucket, [&](std::string_view k, std::string_view v) -> Status {
    if (cx.cancelled()) return unexpected(std::string("import cancelled"));
    return import_key_record(cx, k, v, tracked);
  });
}

Status import_leases(Context& cx, const bbolt::BucketRef& b) {
  return for_each(cx.reader, b, kLeaseBucket, [&](std::string_view k, std::string_view v) -> Status {
    auto l = decode_lease(k, v);
    if (!l)
      return unexpected("lease bucket: the record under " + hex(k) + " is not a leasepb.Lease of that id");
    if (l->ttl < 0 || l->ttl > kLeaseTtlMaxSeconds || l->remaining_ttl < 0)
      return unexpected("lease bucket: lease " + std::to_string(l->id) + " has TTL " +
                        std::to_string(l->ttl));
    ++cx.sum.leases;
    return cx.out.put(Space::kLeases, encode_lease_key(l->id), encode_lease_record(l->ttl, l->remaining_ttl));
  });
}

Status import_alarms(Context& cx, const bbolt::BucketRef& b) {
  return for_each(cx.reader, b, kAlarmBucket, [&](std::string_view k, std::string_view) -> Status {
    etcdserverpb::AlarmMember a;
    if (!a.ParseFromArray(k.data(), static_cast<int>(k.size())))
      return unexpected("alarm bucket: " + hex(k) + " is not an AlarmMember");
    if (a.alarm() == etcdserverpb::NOSPACE) {
      cx.sum.alarms.push_back(AlarmMember{a.memberid(), AlarmType::kNoSpace});
    } else if (a.alarm() != etcdserverpb::NONE) {
      cx.sum.warnings.push_back("alarm " + etcdserverpb::AlarmType_Name(a.alarm()) + " of member " +
                                member_key(a.memberid()) + " is not carried over");
    }
    return Unit{};
  });
}

Status import_auth(Context& cx, const std::map<std::string, bbolt::BucketRef, std::less<>>& buckets) {
  uint64_t bytes = 0;
  auto take = [&](std::map<std::string, std::string>& into, std::string_view name, auto parse) {
    auto b = buckets.find(name);
    if (b == buckets.end()) return Status(Unit{});
    return for_each(cx.reader, b->second, name, [&](std::string_view k, std::string_view v) -> Status {
      bytes += k.size() + v.size();
      if (bytes > cx.options.auth_bytes_max)
        return unexpected(std::string("auth buckets: larger than allowed"));
      if (!parse(v))
        return unexpected(std::string(name) + " bucket: the record of " + std::string(k) + " is malformed");
      into.emplace(k, v);
      return Unit{};
    });
  };
  auto user = [](std::string_view v) {
    return authpb::User().ParseFromArray(v.data(), static_cast<int>(v.size()));
  };
  auto role = [](std::string_view v) {
    return authpb::Role().ParseFromArray(v.data(), static_cast<int>(v.size()));
  };
  if (auto s = take(cx.sum.auth.users, kAuthUsersBucket, user); !s) return s;
  if (auto s = take(cx.sum.auth.roles, kAuthRolesBucket, role); !s) return s;
  auto a = buckets.find(kAuthBucket);
  cx.sum.has_auth = a != buckets.end();
  if (!cx.sum.has_auth) return Unit{};
  return for_each(cx.reader, a->second, kAuthBucket, [&](std::string_view k, std::string_view v) -> Status {
    if (k == kAuthEnabledKey) {
      if (v.size() != 1) return unexpected(std::string("auth bucket: authEnabled is not one byte"));
      cx.sum.auth.enabled = v[0] == 1;
    } else if (k == kAuthRevisionKey) {
      auto n = decode_u64(v);
      if (!n) return unexpected(std::string("auth bucket: authRevision is not 8 bytes"));
      cx.sum.auth.revision = *n;
    }
    return Unit{};
  });
}

Status check_empty(KvEngine& engine) {
  for (Space s : {Space::kKeys, Space::kLeases, Space::kMeta}) {
    auto it = engine.scan(s, "", "");
    if (it->valid()) return unexpected(std::string("the target store is not empty"));
    if (auto st = it->status(); !st) return unexpected("scan store: " + st.error().message());
  }
  return Unit{};
}

Expected<std::map<std::string, bbolt::BucketRef, std::less<>>, std::string> top_buckets(bbolt::Reader& r,
                                                                                        ImportSummary& sum) {
  static constexpr std::string_view kKnown[] = {
      kAlarmBucket, kAuthBucket,  kAuthRolesBucket, kAuthUsersBucket,      kClusterBucket,
      kKeyBucket,   kLeaseBucket, kMembersBucket,   kMembersRemovedBucket, kMetaBucket};
  std::map<std::string, bbolt::BucketRef, std::less<>> out;
  auto c = r.cursor(r.root());
  for (;;) {
    auto more = c->next();
    if (!more) return unexpected(more.error());
    if (!*more) break;
    if (!c->is_bucket()) return unexpected("a top-level key that is not a bucket: " + hex(c->key()));
    auto b = c->bucket();
    if (!b) return unexpected(b.error());
    if (std::find(std::begin(kKnown), std::end(kKnown), c->key()) == std::end(kKnown))
      sum.warnings.push_back("bucket \"" + std::string(c->key()) + "\" is not etcd's and is not imported");
    out.emplace(std::string(c->key()), std::move(*b));
  }
  if (!out.count(kKeyBucket) || !out.count(kMetaBucket))
    return unexpected(std::string("not an etcd backend: the file has no \"key\" or no \"meta\" bucket"));
  return out;
}

}  // namespace

Expected<ImportSummary, std::string> import_backend(bbolt::Reader& reader, KvEngine& engine,
                                                    const ImportOptions& options) {
  if (auto e = check_empty(engine); !e) return unexpected(e.error());
  ImportSummary sum;
  auto buckets = top_buckets(reader, sum);
  if (!buckets) return unexpected(buckets.error());
  Batcher out(engine, options.batch_bytes_max);
  Context cx{reader, options, out, sum};
  const auto& bs = *buckets;
  Status s = import_meta(cx, bs.find(kMetaBucket)->second);
  if (s) s = import_auth(cx, bs);
  if (s) s = import_keys(cx, bs.find(kKeyBucket)->second);
  if (s && bs.count(kLeaseBucket)) s = import_leases(cx, bs.find(kLeaseBucket)->second);
  if (s && bs.count(kAlarmBucket)) s = import_alarms(cx, bs.find(kAlarmBucket)->second);
  if (s && bs.count(kMembersBucket)) {
    s = for_each(reader, bs.find(kMembersBucket)->second, kMembersBucket,
                 [&](std::string_view, std::string_view) {
                   ++sum.members;
                   return Status(Unit{});
                 });
  }
  if (!s) return unexpected(s.error());
  sum.revision = std::max(sum.revision, sum.compact_revision);
  StoreMeta meta;
  // At least 1: a store at applied index 0 would look like one that never applied anything.
  meta.applied = AppliedIndex{std::max<uint64_t>(sum.consistent_index, 1), sum.term};
  meta.revision = sum.revision;
  meta.compact_revision = sum.compact_revision;
  meta.alarms = sum.alarms;
  std::sort(meta.alarms.begin(), meta.alarms.end());
  meta.state_chain = 0;  // the seed: every member restored from this file starts the same chain here
  put_store_meta(meta, &out.batch());
  if (auto f = out.flush(); !f) return unexpected(f.error());
  if (auto y = engine.sync(); !y) return unexpected("sync store: " + y.error().message());
  return sum;
}

}  // namespace cairn::storage::etcd_backend
