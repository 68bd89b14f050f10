#include "storage/etcd_backend/export.h"

#include <algorithm>

#include "proto/etcd/rpc.pb.h"
#include "storage/mvcc_store.h"

namespace cairn::storage::etcd_backend {

namespace {

using Status = Expected<Unit, std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

Status bucket(bbolt::Writer& w, std::string_view name, const Pairs& kvs) {
  if (auto b = w.begin_bucket(name); !b) return b;
  for (const auto& [k, v] : kvs) {
    if (auto p = w.put(k, v); !p) return p;
  }
  return w.end_bucket();
}

bool cancelled(const ExportInfo& info) {
  return info.cancel && info.cancel->load(std::memory_order_relaxed);
}

// key: the kKeys records, translated one at a time.
Status key_bucket(KvEngine& engine, const ExportInfo& info, bbolt::Writer& w, ExportSummary* sum) {
  if (auto b = w.begin_bucket(kKeyBucket); !b) return b;
  auto it = engine.scan(Space::kKeys, "", "");
  for (; it->valid(); it->next()) {
    if (cancelled(info)) return unexpected(std::string("snapshot export cancelled"));
    auto rk = decode_revision_key(it->key());
    auto kv = decode_kv_record(it->value());
    if (!rk || !kv)
      return unexpected("store record at revision key #" + std::to_string(sum->key_records) +
                        " is malformed");
    if (auto p = w.put(encode_revision(rk->rev, rk->tombstone), encode_kv(*kv, rk->tombstone)); !p) return p;
    ++sum->key_records;
  }
  if (auto st = it->status(); !st) return unexpected("scan keys: " + st.error().message());
  return w.end_bucket();
}

Status lease_bucket(KvEngine& engine, bbolt::Writer& w, ExportSummary* sum) {
  if (auto b = w.begin_bucket(kLeaseBucket); !b) return b;
  auto it = engine.scan(Space::kLeases, "", "");
  for (; it->valid(); it->next()) {
    auto l = decode_lease_record(it->key(), it->value());
    if (!l) return unexpected(std::string("store lease record is malformed"));
    if (auto p = w.put(encode_lease_id(l->id), encode_lease(*l)); !p) return p;
    ++sum->leases;
  }
  if (auto st = it->status(); !st) return unexpected("scan leases: " + st.error().message());
  return w.end_bucket();
}

Pairs alarms(const StoreMeta& meta, uint64_t member_id) {
  Pairs out;
  for (const auto& m : meta.alarms) {
    etcdserverpb::AlarmMember a;
    a.set_memberid(m.member ? m.member : member_id);  // member 0: a store's from before alarms had members
    a.set_alarm(static_cast<etcdserverpb::AlarmType>(m.type));
    out.emplace_back(a.SerializeAsString(), "");
  }
  std::sort(out.begin(), out.end());  // a bucket's keys in order
  // (A store from before alarms had members may hold member 0's and the exporter's own: one key.)
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Pairs auth_records(const AuthExport& a) {
  Pairs out;
  if (a.enabled) out.emplace_back(kAuthEnabledKey, std::string(1, *a.enabled ? '\1' : '\0'));
  out.emplace_back(kAuthRevisionKey, encode_u64(a.revision));
  return out;
}

Pairs members(const ExportInfo& info) {
  Pairs out;
  for (const auto& m : info.members)
    out.emplace_back(member_key(m.id), member_json(m));
  std::sort(out.begin(), out.end());
  return out;
}

Pairs removed_members(const ExportInfo& info) {
  Pairs out;
  for (uint64_t id : info.removed_member_ids)
    out.emplace_back(member_key(id), "removed");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Pairs meta_records(const StoreMeta& meta) {
  Pairs out{{std::string(kConsistentIndexKey), encode_u64(meta.applied.index)}};
  // A compaction whose records cairn is still deleting is exported as etcd's unfinished one
  // (scheduled > finished): etcd completes it when it opens the file, as after its own crash.
  const int64_t finished = meta.finished_compact_revision.value_or(meta.compact_revision);
  if (finished >= 0) out.emplace_back(kFinishedCompactKey, encode_revision(Revision{finished, 0}, false));
  if (meta.compact_revision >= 0)
    out.emplace_back(kScheduledCompactKey, encode_revision(Revision{meta.compact_revision, 0}, false));
  out.emplace_back(kTermKey, encode_u64(meta.applied.term));
  return out;
}

}  // namespace

Expected<ExportSummary, std::string> export_store(KvEngine& engine, const ExportInfo& info,
                                                  bbolt::PageSink& sink) {
  auto meta = read_store_meta(engine);
  if (!meta) return unexpected("read store meta: " + meta.error().message());
  ExportSummary sum;
  sum.applied_index = meta->applied.index;
  sum.applied_term = meta->applied.term;
  sum.revision = meta->revision;
  sum.compact_revision = meta->compact_revision;
  bbolt::Writer w(sink);
  // The buckets in name order, as bbolt keeps them.
  Status s = bucket(w, kAlarmBucket, alarms(*meta, info.member_id));
  if (s) s = bucket(w, kAuthBucket, auth_records(info.auth));
  if (s) s = bucket(w, kAuthRolesBucket, Pairs(info.auth.roles.begin(), info.auth.roles.end()));
  if (s) s = bucket(w, kAuthUsersBucket, Pairs(info.auth.users.begin(), info.auth.users.end()));
  if (s) s = bucket(w, kClusterBucket, {{std::string(kClusterVersionKey), info.cluster_version}});
  if (s) s = key_bucket(engine, info, w, &sum);
  if (s) s = lease_bucket(engine, w, &sum);
  if (s) s = bucket(w, kMembersBucket, members(info));
  if (s) s = bucket(w, kMembersRemovedBucket, removed_members(info));
  if (s) s = bucket(w, kMetaBucket, meta_records(*meta));
  if (!s) return unexpected(s.error());
  auto size = w.finish();
  if (!size) return unexpected(size.error());
  sum.bytes = *size;
  return sum;
}

}  // namespace cairn::storage::etcd_backend
