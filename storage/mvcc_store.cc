#include "storage/mvcc_store.h"

#include <algorithm>
#include <cstdio>
#include <tuple>

#include "base/assert.h"
#include "storage/codec.h"
#include "storage/crc32c.h"
#include "storage/revision.h"

namespace cairn::storage {
namespace {

constexpr uint8_t kRecordFormat = 1;
constexpr std::string_view kMetaApplied = "applied";
constexpr std::string_view kMetaRevision = "revision";
constexpr std::string_view kMetaCompactRevision = "compact_revision";
constexpr std::string_view kMetaCompactFinished = "compact_finished";
constexpr std::string_view kMetaAlarmPrefix =
    "alarm/";  // then "nospace" or "corrupt", then "/M" (file comment)
constexpr std::string_view kMetaChain = "chain";
constexpr std::string_view kMetaQuota = "quota";

// Bytes a kKeys record takes (key + value), for the logical size and the key index.
uint32_t record_size(size_t key_bytes, size_t value_bytes) {
  const size_t n = key_bytes + value_bytes;
  CAIRN_ASSERT(n <= UINT32_MAX);  // requests are bounded far below (--max-request-bytes)
  return static_cast<uint32_t>(n);
}

// Bytes a lease record takes (key + value), for the logical size.
constexpr uint64_t kLeaseRecordBytes = 8 + 1 + 8 + 8;

std::string encode_u32(uint32_t v) {
  std::string out;
  codec::put_u32(&out, v);
  return out;
}

std::string encode_i64(int64_t v) {
  std::string s;
  codec::put_i64(&s, v);
  return s;
}

std::string encode_u64(uint64_t v) {
  std::string s;
  codec::put_u64(&s, v);
  return s;
}

Error corrupt(const std::string& what) {
  return make_error(Errc::kCorruption, what);
}

// Records a Range reads from the engine at a time (MvccStore::decode_range_batch): bounds the raw
// records held beside the decoded result to one batch.
constexpr size_t kRangeReadBatchKeys = 256;

// Keys range_page decodes next: a few at first, then as many as the average key-value read so far says
// fit in what is left of the page.
size_t page_batch_keys(size_t read, size_t bytes, size_t bytes_max) {
  constexpr size_t kFirstBatchKeys = 8;
  if (read == 0 || bytes == 0) return kFirstBatchKeys;
  const size_t fit = (bytes_max - bytes) * read / bytes;
  return std::clamp<size_t>(fit, 1, kRangeReadBatchKeys);
}

bool is_engine_error(const Error& e) {
  return e.code == Errc::kIo || e.code == Errc::kCorruption;
}

// Bytes a put of (key, value) adds to the logical size: revision key + encoded record.
uint64_t put_cost(const std::string& key, const std::string& value) {
  return kRevisionKeyBytes + 1 + 4 + key.size() + 4 * 8 + 4 + value.size();
}

uint64_t txn_cost(const TxnRequest& t) {
  auto ops_cost = [](const std::vector<RequestOp>& ops) {
    uint64_t c = 0;
    for (const RequestOp& op : ops) {
      if (const auto* p = std::get_if<PutRequest>(&op.request)) c += put_cost(p->key, p->value);
      if (const auto* n = std::get_if<Box<TxnRequest>>(&op.request)) c += txn_cost(**n);
    }
    return c;
  };
  return std::max(ops_cost(t.success), ops_cost(t.failure));
}

// ---- Request validation (etcd v3rpc/key.go) ----

std::optional<Error> check_put(const PutRequest& r) {
  if (r.key.empty()) return make_error(Errc::kEmptyKey);
  if (r.ignore_value && !r.value.empty()) return make_error(Errc::kValueProvided);
  if (r.ignore_lease && r.lease != 0) return make_error(Errc::kLeaseProvided);
  return std::nullopt;
}

std::optional<Error> check_txn_request(const TxnRequest& t, size_t ops_max);

std::optional<Error> check_request_op(const RequestOp& op, size_t ops_max) {
  if (const auto* r = std::get_if<RangeRequest>(&op.request)) return MvccStore::validate_range(*r);
  if (const auto* p = std::get_if<PutRequest>(&op.request)) return check_put(*p);
  if (const auto* d = std::get_if<DeleteRangeRequest>(&op.request)) {
    if (d->key.empty()) return make_error(Errc::kEmptyKey);
    return std::nullopt;
  }
  return check_txn_request(*std::get<Box<TxnRequest>>(op.request), ops_max);
}

std::optional<Error> check_txn_request(const TxnRequest& t, size_t ops_max) {
  const size_t opc = std::max({t.compare.size(), t.success.size(), t.failure.size()});
  if (opc > ops_max) return make_error(Errc::kTooManyOps);
  for (const Compare& c : t.compare) {
    if (c.key.empty()) return make_error(Errc::kEmptyKey);
  }
  // Nested txns share the budget that this level leaves (etcd: maxTxnOps - opc).
  for (const RequestOp& op : t.success) {
    if (auto e = check_request_op(op, ops_max - opc)) return e;
  }
  for (const RequestOp& op : t.failure) {
    if (auto e = check_request_op(op, ops_max - opc)) return e;
  }
  return std::nullopt;
}

// Half-open interval of keys deleted by a DeleteRange, taken literally as etcd's checkIntervals
// does: an empty end is the single key, and "\0" is not widened to "every key".
struct Interval {
  std::string begin;
  std::string end;
  bool contains(const std::string& k) const { return begin <= k && k < end; }
};

struct PutsAndDels {
  std::set<std::string> puts;
  std::vector<Interval> dels;
};

bool dels_contain(const std::vector<Interval>& dels, const std::string& k) {
  for (const Interval& iv : dels) {
    if (iv.contains(k)) return true;
  }
  return false;
}

// Duplicate-key rule for one branch: no key is put twice, and no put key lies in a deleted range,
// counting nested txns; the then/else branches of one nested txn may overlap each other.
std::optional<Error> check_intervals(const std::vector<RequestOp>& ops, PutsAndDels* out) {
  for (const RequestOp& op : ops) {
    if (const auto* d = std::get_if<DeleteRangeRequest>(&op.request)) {
      std::string end = d->range_end.empty() ? d->key + std::string(1, '\0') : d->range_end;
      out->dels.push_back(Interval{d->key, std::move(end)});
    }
  }
  for (const RequestOp& op : ops) {
    const auto* n = std::get_if<Box<TxnRequest>>(&op.request);
    if (n == nullptr) continue;
    PutsAndDels then_branch, else_branch;
    if (auto e = check_intervals((*n)->success, &then_branch)) return e;
    if (auto e = check_intervals((*n)->failure, &else_branch)) return e;
    for (const std::string& k : then_branch.puts) {
      if (out->puts.count(k) || dels_contain(out->dels, k)) return make_error(Errc::kDuplicateKey);
      out->puts.insert(k);
    }
    for (const std::string& k : else_branch.puts) {
      if (out->puts.count(k) && !then_branch.puts.count(k)) return make_error(Errc::kDuplicateKey);
      if (dels_contain(out->dels, k)) return make_error(Errc::kDuplicateKey);
      out->puts.insert(k);
    }
    for (auto* b : {&then_branch, &else_branch}) {
      for (Interval& iv : b->dels)
        out->dels.push_back(std::move(iv));
    }
  }
  for (const RequestOp& op : ops) {
    const auto* p = std::get_if<PutRequest>(&op.request);
    if (p == nullptr) continue;
    if (out->puts.count(p->key) || dels_contain(out->dels, p->key)) return make_error(Errc::kDuplicateKey);
    out->puts.insert(p->key);
  }
  return std::nullopt;
}

bool txn_has_put(const TxnRequest& t) {
  for (const auto* ops : {&t.success, &t.failure}) {
    for (const RequestOp& op : *ops) {
      if (std::holds_alternative<PutRequest>(op.request)) return true;
      if (const auto* n = std::get_if<Box<TxnRequest>>(&op.request); n && txn_has_put(**n)) return true;
    }
  }
  return false;
}

int cmp_i64(int64_t a, int64_t b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

bool compare_result(const Compare& c, const KeyValue& kv) {
  int result = 0;
  switch (c.target) {
    case Compare::Target::kValue:
      result = kv.value.compare(c.value) < 0 ? -1 : (kv.value == c.value ? 0 : 1);
      break;
    case Compare::Target::kVersion:
      result = cmp_i64(kv.version, c.version);
      break;
    case Compare::Target::kCreate:
      result = cmp_i64(kv.create_revision, c.create_revision);
      break;
    case Compare::Target::kMod:
      result = cmp_i64(kv.mod_revision, c.mod_revision);
      break;
    case Compare::Target::kLease:
      result = cmp_i64(kv.lease, c.lease);
      break;
  }
  switch (c.result) {
    case Compare::Result::kEqual:
      return result == 0;
    case Compare::Result::kNotEqual:
      return result != 0;
    case Compare::Result::kGreater:
      return result > 0;
    case Compare::Result::kLess:
      return result < 0;
  }
  return false;
}

}  // namespace

// ---- Record encodings ----

std::string encode_kv_record(const KeyValue& kv) {
  std::string out;
  out.reserve(1 + 4 + kv.key.size() + 32 + 4 + kv.value.size());
  out.push_back(static_cast<char>(kRecordFormat));
  codec::put_bytes(&out, kv.key);
  codec::put_i64(&out, kv.create_revision);
  codec::put_i64(&out, kv.mod_revision);
  codec::put_i64(&out, kv.version);
  codec::put_i64(&out, kv.lease);
  codec::put_bytes(&out, kv.value);
  return out;
}

std::optional<KeyValue> decode_kv_record(std::string_view bytes) {
  codec::Reader r(bytes);
  uint8_t format = 0;
  KeyValue kv;
  if (!r.u8(&format) || format != kRecordFormat) return std::nullopt;
  if (!r.bytes(&kv.key) || !r.i64(&kv.create_revision) || !r.i64(&kv.mod_revision) || !r.i64(&kv.version) ||
      !r.i64(&kv.lease) || !r.bytes(&kv.value) || !r.done()) {
    return std::nullopt;
  }
  return kv;
}

std::string encode_lease_key(int64_t id) {
  std::string k;
  codec::put_i64(&k, id);
  return k;
}

std::string encode_lease_record(int64_t ttl, int64_t remaining) {
  std::string v;
  v.push_back(static_cast<char>(kRecordFormat));
  codec::put_i64(&v, ttl);
  codec::put_i64(&v, remaining);
  return v;
}

std::optional<LeaseInfo> decode_lease_record(std::string_view key, std::string_view value) {
  codec::Reader kr(key);
  codec::Reader vr(value);
  LeaseInfo l;
  uint8_t format = 0;
  if (!kr.i64(&l.id) || !kr.done() || !vr.u8(&format) || format != kRecordFormat || !vr.i64(&l.ttl) ||
      !vr.i64(&l.remaining_ttl) || !vr.done()) {
    return std::nullopt;
  }
  return l;
}

namespace {
// kMeta's alarm records (file comment): "alarm/<type>" for member 0, "alarm/<type>/<16 hex>" for others.
std::string alarm_key(const AlarmMember& a) {
  std::string key(kMetaAlarmPrefix);
  key += a.type == AlarmType::kNoSpace ? "nospace" : "corrupt";
  if (a.member == 0) return key;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(a.member));
  return key + "/" + hex;
}

std::optional<AlarmMember> parse_alarm_key(std::string_view key) {
  if (key.substr(0, kMetaAlarmPrefix.size()) != kMetaAlarmPrefix) return std::nullopt;
  key.remove_prefix(kMetaAlarmPrefix.size());
  AlarmMember a;
  for (auto [name, type] : {std::pair{std::string_view("nospace"), AlarmType::kNoSpace},
                            std::pair{std::string_view("corrupt"), AlarmType::kCorrupt}}) {
    if (key.substr(0, name.size()) != name) continue;
    a.type = type;
    key.remove_prefix(name.size());
  }
  if (a.type == AlarmType::kNone) return std::nullopt;
  if (key.empty()) return a;
  if (key.size() != 17 || key[0] != '/') return std::nullopt;
  for (char c : key.substr(1)) {
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    a.member = (a.member << 4) | static_cast<uint64_t>(d);
  }
  return a;
}

Expected<std::vector<AlarmMember>, Error> read_alarms(KvEngine& engine) {
  std::vector<AlarmMember> out;
  std::string end(kMetaAlarmPrefix);
  end.back() = static_cast<char>(end.back() + 1);
  auto it = engine.scan(Space::kMeta, kMetaAlarmPrefix, end);
  for (; it->valid(); it->next()) {
    auto a = parse_alarm_key(it->key());
    if (!a) return unexpected(corrupt("meta alarm key"));
    out.push_back(*a);
  }
  if (auto st = it->status(); !st) return unexpected(st.error());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

Expected<StoreMeta, Error> read_store_meta(KvEngine& engine) {
  StoreMeta m;
  auto applied = engine.get(Space::kMeta, kMetaApplied);
  if (!applied) return unexpected(applied.error());
  if (applied->has_value()) {
    codec::Reader r(**applied);
    if (!r.u64(&m.applied.index) || !r.u64(&m.applied.term) || !r.done())
      return unexpected(corrupt("meta applied"));
  }
  for (auto [name, dst] :
       {std::pair{kMetaRevision, &m.revision}, std::pair{kMetaCompactRevision, &m.compact_revision}}) {
    auto v = engine.get(Space::kMeta, name);
    if (!v) return unexpected(v.error());
    if (v->has_value()) {
      codec::Reader r(**v);
      if (!r.i64(dst) || !r.done()) return unexpected(corrupt("meta " + std::string(name)));
    }
  }
  auto finished = engine.get(Space::kMeta, kMetaCompactFinished);
  if (!finished) return unexpected(finished.error());
  if (finished->has_value()) {
    codec::Reader r(**finished);
    int64_t v = 0;
    if (!r.i64(&v) || !r.done()) return unexpected(corrupt("meta compact_finished"));
    m.finished_compact_revision = v;
  }
  auto alarms = read_alarms(engine);
  if (!alarms) return unexpected(alarms.error());
  m.alarms = *std::move(alarms);
  auto chain = engine.get(Space::kMeta, kMetaChain);
  if (!chain) return unexpected(chain.error());
  if (chain->has_value()) {
    codec::Reader r(**chain);
    uint32_t v = 0;
    if (!r.u32(&v) || !r.done()) return unexpected(corrupt("meta chain"));
    m.state_chain = v;
  } else if (m.revision == 1) {
    m.state_chain = 0;  // nothing was ever written: the seed
  }
  auto quota = engine.get(Space::kMeta, kMetaQuota);
  if (!quota) return unexpected(quota.error());
  if (quota->has_value()) {
    codec::Reader r(**quota);
    uint64_t v = 0;
    if (!r.u64(&v) || !r.done() || v == 0) return unexpected(corrupt("meta quota"));
    m.quota = v;
  }
  return m;
}

void put_store_meta(const StoreMeta& m, WriteBatch* batch) {
  std::string applied;
  codec::put_u64(&applied, m.applied.index);
  codec::put_u64(&applied, m.applied.term);
  batch->put(Space::kMeta, kMetaApplied, applied);
  if (m.revision != 1) batch->put(Space::kMeta, kMetaRevision, encode_i64(m.revision));
  if (m.compact_revision != -1)
    batch->put(Space::kMeta, kMetaCompactRevision, encode_i64(m.compact_revision));
  if (m.finished_compact_revision)
    batch->put(Space::kMeta, kMetaCompactFinished, encode_i64(*m.finished_compact_revision));
  for (const auto& a : m.alarms)
    batch->put(Space::kMeta, alarm_key(a), "");
  if (m.state_chain) batch->put(Space::kMeta, kMetaChain, encode_u32(*m.state_chain));
  if (m.quota) batch->put(Space::kMeta, kMetaQuota, encode_u64(*m.quota));
}

std::string prefix_end(std::string_view key) {
  std::string end(key);
  for (int i = static_cast<int>(end.size()) - 1; i >= 0; --i) {
    if (static_cast<uint8_t>(end[i]) < 0xff) {
      end[i] = static_cast<char>(static_cast<uint8_t>(end[i]) + 1);
      end.resize(static_cast<size_t>(i) + 1);
      return end;
    }
  }
  return std::string(1, '\0');
}

// ---- The per-entry apply context ----

struct MvccStore::ApplyCtx {
  int64_t begin_rev = 0;
  int64_t next_sub = 0;  // number of changes so far == sub of the next change
  WriteBatch batch;
  // kKeys records written by this entry, readable before the batch lands.
  std::map<std::string, std::string, std::less<>> pending;
  int64_t logical_delta = 0;
  std::optional<int64_t> new_compact_rev;
  std::vector<RemovedRevision> garbage;                      // records a compaction dropped from the index
  std::optional<std::pair<AlarmMember, bool>> alarm_change;  // raised (true) or cleared by this entry
  std::optional<uint64_t> new_quota;                         // a QuotaRequest's
  uint64_t origin = 0;                                       // the member that proposed the entry
  uint32_t chain = 0;  // the store's chain continued over this entry's records (when the store has one)

  bool changed() const { return next_sub > 0; }
  int64_t write_rev() const { return begin_rev + 1; }
  int64_t read_rev() const { return changed() ? begin_rev + 1 : begin_rev; }
};

MvccStore::MvccStore(std::unique_ptr<KvEngine> engine, StoreOptions options)
    : engine_(std::move(engine)), options_(options) {}

Expected<std::unique_ptr<MvccStore>, Error> MvccStore::open(std::unique_ptr<KvEngine> engine,
                                                            StoreOptions options) {
  std::unique_ptr<MvccStore> s(new MvccStore(std::move(engine), options));
  auto r = s->rebuild();
  if (!r) return unexpected(r.error());
  s->check_invariants();
  return s;
}

Expected<Unit, Error> MvccStore::rebuild() {
  auto meta = read_store_meta(*engine_);
  if (!meta) return unexpected(meta.error());
  applied_ = meta->applied;
  rev_ = meta->revision;
  compact_rev_ = meta->compact_revision;
  alarms_ = std::set<AlarmMember>(meta->alarms.begin(), meta->alarms.end());
  compact_marker_ = meta->finished_compact_revision.has_value();
  chain_ = meta->state_chain;
  quota_ = meta->quota.value_or(options_.quota_backend_bytes);
  quota_replicated_ = meta->quota.has_value();
  chain_recent_.clear();
  if (chain_) chain_recent_.emplace_back(rev_, *chain_);

  // Replay the revision-ordered history into the key index.
  int64_t max_main = 0;
  auto it = engine_->scan(Space::kKeys, "", "");
  for (; it->valid(); it->next()) {
    auto rk = decode_revision_key(it->key());
    if (!rk) return unexpected(corrupt("bad revision key"));
    auto kv = decode_kv_record(it->value());
    if (!kv) return unexpected(corrupt("bad kv record at revision " + std::to_string(rk->rev.main)));
    if (kv->mod_revision != rk->rev.main) return unexpected(corrupt("kv record revision mismatch"));
    max_main = std::max(max_main, rk->rev.main);
    const uint32_t bytes = record_size(it->key().size(), it->value().size());
    const KeyIndex* known = index_.find(kv->key);
    if (rk->tombstone && (known == nullptr || !known->live())) {
      // What a compaction still deleting records leaves: the tombstone of a generation whose puts are
      // already gone. Any other tombstone of a deleted key is damage.
      if (rk->rev.main > compact_rev_) return unexpected(corrupt("tombstone for a deleted key"));
      garbage_.push_back(RemovedRevision{rk->rev, true, bytes});
      continue;
    }
    logical_bytes_ += bytes;
    const TreeIndex::Slot slot = index_.slot(kv->key);
    if (rk->tombstone) {
      index_.tombstone(slot, rk->rev, bytes);
      key_lease_.erase(kv->key);
    } else {
      index_.restore_put(slot, rk->rev, bytes, kv->create_revision, kv->version);
      // The index derives versions from the generation; the record states them. They must agree.
      const auto hit = slot->second.get(rk->rev.main);
      if (!hit || hit->version != kv->version || hit->create_revision != kv->create_revision) {
        return unexpected(corrupt("kv record version/create_revision disagree with history"));
      }
      if (kv->lease != 0) {
        key_lease_[kv->key] = kv->lease;
      } else {
        key_lease_.erase(kv->key);
      }
    }
  }
  if (auto st = it->status(); !st) return unexpected(st.error());
  if (max_main > rev_) return unexpected(corrupt("records newer than the stored revision"));
  // Records an unfinished compaction had yet to delete are history the index must not keep.
  if (compact_rev_ > 0) {
    std::vector<RemovedRevision> removed;
    index_.compact(compact_rev_, &removed);
    for (const RemovedRevision& r : removed) {
      logical_bytes_ -= r.record_bytes;
      garbage_.push_back(r);
    }
  }

  auto lit = engine_->scan(Space::kLeases, "", "");
  for (; lit->valid(); lit->next()) {
    auto info = decode_lease_record(lit->key(), lit->value());
    if (!info) return unexpected(corrupt("bad lease record"));
    logical_bytes_ += lit->key().size() + lit->value().size();
    Lease l;
    l.ttl = info->ttl;
    l.remaining_ttl = info->remaining_ttl;
    leases_.emplace(info->id, std::move(l));
  }
  if (auto st = lit->status(); !st) return unexpected(st.error());
  for (const auto& [key, id] : key_lease_) {
    auto l = leases_.find(id);
    if (l == leases_.end()) return unexpected(corrupt("key attached to a missing lease"));
    l->second.keys.insert(key);
  }
  return Unit{};
}

// ---- Reads ----

std::optional<Error> MvccStore::validate_range(const RangeRequest& r) {
  if (r.key.empty()) return make_error(Errc::kEmptyKey);
  return std::nullopt;
}

Expected<KeyValue, Error> MvccStore::load(const std::string& key, const IndexHit& hit, const ApplyCtx* ctx) {
  const std::string rk = encode_revision_key(hit.modified, false);
  std::optional<KeyValue> kv;
  if (ctx != nullptr) {
    if (auto p = ctx->pending.find(rk); p != ctx->pending.end()) kv = decode_kv_record(p->second);
  }
  if (!kv) {
    auto v = engine_->get(Space::kKeys, rk);
    if (!v) return unexpected(v.error());
    if (!v->has_value()) return unexpected(corrupt("indexed revision missing for key"));
    kv = decode_kv_record(**v);
  }
  if (!kv || kv->key != key || kv->mod_revision != hit.modified.main) {
    return unexpected(corrupt("kv record does not match the index"));
  }
  return *std::move(kv);
}

Expected<RangeResponse, Error> MvccStore::range(const RangeRequest& request) {
  if (failed_) return unexpected(make_error(Errc::kIo, "store failed; reopen"));
  if (auto e = validate_range(request)) return unexpected(*e);
  return range_at(request, rev_, nullptr);
}

std::optional<Error> MvccStore::decode_range_batch(
    const std::vector<std::pair<const std::string*, IndexHit>>& hits, size_t begin, size_t end,
    const ApplyCtx* ctx, bool keys_only, bool fill_cache, std::vector<KeyValue>& out) {
  std::vector<std::string> engine_keys;
  std::vector<std::optional<std::string>> records(end - begin);
  std::vector<size_t> from_engine;
  for (size_t i = begin; i < end; ++i) {
    std::string rk = encode_revision_key(hits[i].second.modified, false);
    if (ctx != nullptr) {
      if (auto p = ctx->pending.find(rk); p != ctx->pending.end()) {
        records[i - begin] = p->second;
        continue;
      }
    }
    engine_keys.push_back(std::move(rk));
    from_engine.push_back(i - begin);
  }
  if (!engine_keys.empty()) {
    auto got = engine_->multi_get(Space::kKeys, engine_keys, ReadHints{fill_cache});
    if (!got) return got.error();
    for (size_t j = 0; j < from_engine.size(); ++j)
      records[from_engine[j]] = std::move((*got)[j]);
  }
  for (size_t i = begin; i < end; ++i) {
    const auto& [k, hit] = hits[i];
    auto& record = records[i - begin];
    if (!record) return corrupt("indexed revision missing for key");
    auto kv = decode_kv_record(*record);
    if (!kv || kv->key != *k || kv->mod_revision != hit.modified.main)
      return corrupt("kv record does not match the index");
    kv->version = hit.version;
    kv->create_revision = hit.create_revision;
    // keys_only: the value goes at once, so a keys-only list never holds every value at its peak
    if (keys_only) std::string().swap(kv->value);
    out.push_back(*std::move(kv));
    record.reset();  // the encoded record is no longer needed: hold the result once, not twice
  }
  return std::nullopt;
}

KeyValue MvccStore::key_only(const std::string& key, const IndexHit& hit) const {
  KeyValue kv;
  kv.key = key;
  kv.create_revision = hit.create_revision;
  kv.mod_revision = hit.modified.main;
  kv.version = hit.version;
  if (auto l = key_lease_.find(key); l != key_lease_.end()) kv.lease = l->second;
  return kv;
}

Expected<RangeResponse, Error> MvccStore::range_at(const RangeRequest& r, int64_t current,
                                                   const ApplyCtx* ctx) {
  int64_t rev = r.revision;
  if (rev > current) return unexpected(make_error(Errc::kFutureRev));
  if (rev <= 0) rev = current;
  if (rev < compact_rev_) return unexpected(make_error(Errc::kCompacted));

  const bool fetch_all = r.sort_order != SortOrder::kNone || r.min_mod_revision != 0 ||
                         r.max_mod_revision != 0 || r.min_create_revision != 0 || r.max_create_revision != 0;
  // Without sorting or filtering, one record past the limit is enough to know `more`. Like etcd,
  // only an explicit sort_order counts as sorting here: a non-key sort_target with order NONE
  // sorts (ascending) just the first limit+1 keys, a quirk clients can observe and we keep.
  const int64_t fetch = (fetch_all || r.limit <= 0) ? 0 : r.limit + 1;

  RangeResponse resp;
  resp.header.revision = current;
  std::vector<std::pair<const std::string*, IndexHit>> hits;
  int64_t count = 0;
  index_.range(r.key, r.range_end, rev, [&](const std::string& k, const IndexHit& hit) {
    ++count;
    if (!r.count_only && (fetch == 0 || static_cast<int64_t>(hits.size()) < fetch))
      hits.emplace_back(&k, hit);
    return true;
  });
  resp.count = count;
  if (r.count_only) return resp;

  // Records written by this entry come from ctx; the rest in batched engine reads of
  // kRangeReadBatchKeys, decoded batch by batch so the raw records are never all held beside the result.
  // A keys-only range drops values as it decodes, unless it sorts by value (cleared after the sort).
  const bool drop_values = r.keys_only && r.sort_target != SortTarget::kValue;
  resp.kvs.reserve(hits.size());
  if (drop_values && rev == current) {
    // Every hit is its key's newest revision: the index knows its revisions and version, key_lease_
    // the lease of every live key, so a keys-only list of the present reads no record at all.
    for (const auto& [k, hit] : hits)
      resp.kvs.push_back(key_only(*k, hit));
  } else {
    const bool fill_cache = hits.size() <= kRangeReadBatchKeys;
    for (size_t b = 0; b < hits.size(); b += kRangeReadBatchKeys) {
      if (auto e = decode_range_batch(hits, b, std::min(hits.size(), b + kRangeReadBatchKeys), ctx,
                                      drop_values, fill_cache, resp.kvs))
        return unexpected(*e);
    }
  }
  auto prune = [&](auto drop) { std::erase_if(resp.kvs, drop); };
  if (r.max_mod_revision != 0)
    prune([&](const KeyValue& kv) { return kv.mod_revision > r.max_mod_revision; });
  if (r.min_mod_revision != 0)
    prune([&](const KeyValue& kv) { return kv.mod_revision < r.min_mod_revision; });
  if (r.max_create_revision != 0) {
    prune([&](const KeyValue& kv) { return kv.create_revision > r.max_create_revision; });
  }
  if (r.min_create_revision != 0) {
    prune([&](const KeyValue& kv) { return kv.create_revision < r.min_create_revision; });
  }

  SortOrder order = r.sort_order;
  if (r.sort_target != SortTarget::kKey && order == SortOrder::kNone) order = SortOrder::kAscend;
  if (order != SortOrder::kNone) {
    auto field_less = [&](const KeyValue& a, const KeyValue& b) {
      switch (r.sort_target) {
        case SortTarget::kKey:
          return a.key < b.key;
        case SortTarget::kVersion:
          return a.version < b.version;
        case SortTarget::kCreate:
          return a.create_revision < b.create_revision;
        case SortTarget::kMod:
          return a.mod_revision < b.mod_revision;
        case SortTarget::kValue:
          return a.value < b.value;
      }
      return false;
    };
    // Stable, so ties keep key order in both directions (etcd leaves tie order unspecified).
    if (order == SortOrder::kAscend) {
      std::stable_sort(resp.kvs.begin(), resp.kvs.end(), field_less);
    } else {
      std::stable_sort(resp.kvs.begin(), resp.kvs.end(),
                       [&](const KeyValue& a, const KeyValue& b) { return field_less(b, a); });
    }
  }
  if (r.limit > 0 && static_cast<int64_t>(resp.kvs.size()) > r.limit) {
    resp.kvs.resize(static_cast<size_t>(r.limit));
    resp.more = true;
  }
  if (r.keys_only) {
    for (KeyValue& kv : resp.kvs)
      kv.value.clear();
  }
  return resp;
}

Expected<RangeResponse, Error> MvccStore::range_page(const RangeRequest& r, size_t keys_max,
                                                     size_t bytes_max) {
  if (failed_) return unexpected(make_error(Errc::kIo, "store failed; reopen"));
  if (auto e = validate_range(r)) return unexpected(*e);
  int64_t rev = r.revision;
  if (rev > rev_) return unexpected(make_error(Errc::kFutureRev));
  if (rev <= 0) rev = rev_;
  if (rev < compact_rev_) return unexpected(make_error(Errc::kCompacted));
  keys_max = std::max<size_t>(keys_max, 1);

  RangeResponse page;
  page.header.revision = rev_;
  std::vector<std::pair<const std::string*, IndexHit>> hits;
  index_.range(r.key, r.range_end, rev, [&](const std::string& k, const IndexHit& hit) {
    hits.emplace_back(&k, hit);
    return hits.size() <= keys_max;  // one past the page tells `more`
  });
  const size_t want = std::min(hits.size(), keys_max);
  size_t bytes = 0;
  for (size_t b = 0; b < want && bytes < bytes_max;) {
    // Batches sized from the average so far, so a page overshoots bytes_max by about one key-value.
    const size_t n = std::min(want - b, page_batch_keys(page.kvs.size(), bytes, bytes_max));
    const size_t first = page.kvs.size();
    if (auto e =
            decode_range_batch(hits, b, b + n, nullptr, r.keys_only, want <= kRangeReadBatchKeys, page.kvs))
      return unexpected(*e);
    b += n;
    for (size_t i = first; i < page.kvs.size(); ++i) {
      bytes += page.kvs[i].key.size() + page.kvs[i].value.size();
      if (bytes >= bytes_max) {
        page.kvs.resize(i + 1);
        break;
      }
    }
  }
  page.more = page.kvs.size() < hits.size();
  return page;
}

Expected<bool, Error> MvccStore::compare(const Compare& c) {
  // Compares see the state before the entry (all are evaluated before anything executes).
  bool any = false;
  bool all = true;
  std::optional<Error> err;
  std::string end = c.range_end;
  index_.range(c.key, end, rev_, [&](const std::string& k, const IndexHit& hit) {
    any = true;
    KeyValue kv = key_only(k, hit);  // compares read the newest revisions (rev_)
    if (c.target == Compare::Target::kValue) {
      auto full = load(k, hit, nullptr);
      if (!full) {
        err = full.error();
        return false;
      }
      kv.value = std::move(full->value);
    }
    if (!compare_result(c, kv)) {
      all = false;
      return false;
    }
    return true;
  });
  if (err) return unexpected(*err);
  if (!any) {
    // No key: a value compare always fails; other targets compare against a zero KeyValue, which
    // makes `create_revision == 0` / `version == 0` the "key is absent" test.
    if (c.target == Compare::Target::kValue) return false;
    return compare_result(c, KeyValue{});
  }
  return all;
}

// The branch each txn in the tree takes, in depth-first order (etcd's txnPath).
Expected<Unit, Error> MvccStore::eval_txn_path(const TxnRequest& t, std::vector<bool>* path) {
  bool ok = true;
  for (const Compare& c : t.compare) {
    auto r = compare(c);
    if (!r) return unexpected(r.error());
    if (!*r) {
      ok = false;
      break;
    }
  }
  path->push_back(ok);
  for (const RequestOp& op : ok ? t.success : t.failure) {
    if (const auto* n = std::get_if<Box<TxnRequest>>(&op.request)) {
      if (auto r = eval_txn_path(**n, path); !r) return r;
    }
  }
  return Unit{};
}

// Checks of the executed branches against the state before the entry: first every put (key
// exists for ignore_*, lease exists), then every range (revision not compacted / not future).
std::optional<Error> MvccStore::check_txn(const TxnRequest& t, const std::vector<bool>& path, size_t* pos,
                                          bool puts) {
  const bool ok = path[(*pos)++];
  for (const RequestOp& op : ok ? t.success : t.failure) {
    if (const auto* n = std::get_if<Box<TxnRequest>>(&op.request)) {
      if (auto e = check_txn(**n, path, pos, puts)) return e;
    } else if (const auto* p = std::get_if<PutRequest>(&op.request); p && puts) {
      if (p->ignore_value || p->ignore_lease) {
        const KeyIndex* ki = index_.find(p->key);
        if (ki == nullptr || !ki->get(rev_)) return make_error(Errc::kKeyNotFound);
      }
      if (p->lease != 0 && !leases_.count(p->lease)) return make_error(Errc::kLeaseNotFound);
    } else if (const auto* r = std::get_if<RangeRequest>(&op.request); r && !puts) {
      if (r->revision > rev_) return make_error(Errc::kFutureRev);
      if (r->revision > 0 && r->revision < compact_rev_) return make_error(Errc::kCompacted);
    }
  }
  return std::nullopt;
}

// ---- Writes (only called once every check has passed) ----

void MvccStore::attach(const std::string& key, int64_t lease) {
  if (lease == 0) return;
  auto l = leases_.find(lease);
  CAIRN_ASSERT(l != leases_.end());
  l->second.keys.insert(key);
  key_lease_[key] = lease;
}

void MvccStore::detach(const std::string& key) {
  auto kl = key_lease_.find(key);
  if (kl == key_lease_.end()) return;
  if (auto l = leases_.find(kl->second); l != leases_.end()) l->second.keys.erase(key);
  key_lease_.erase(kl);
}

Expected<PutResponse, Error> MvccStore::do_put(ApplyCtx& ctx, const PutRequest& r) {
  const Revision rev{ctx.write_rev(), ctx.next_sub};
  const TreeIndex::Slot slot = index_.slot(r.key);
  const std::optional<IndexHit> prior = slot->second.get(rev.main);
  PutResponse resp;
  std::optional<KeyValue> prev;
  if (prior && (r.prev_kv || r.ignore_value || r.ignore_lease)) {
    auto kv = load(r.key, *prior, &ctx);
    if (!kv) return unexpected(kv.error());
    kv->create_revision = prior->create_revision;
    kv->version = prior->version;
    prev = *std::move(kv);
  }
  // check_txn / apply_put verified that ignore_* only reach here for an existing key.
  CAIRN_ASSERT(prev.has_value() || !(r.ignore_value || r.ignore_lease));
  KeyValue kv;
  kv.key = r.key;
  kv.create_revision = prior ? prior->create_revision : rev.main;
  kv.mod_revision = rev.main;
  kv.version = prior ? prior->version + 1 : 1;
  kv.value = r.ignore_value ? prev->value : r.value;
  kv.lease = r.ignore_lease ? prev->lease : r.lease;

  std::string rk = encode_revision_key(rev, false);
  std::string rec = encode_kv_record(kv);
  const uint32_t bytes = record_size(rk.size(), rec.size());
  ctx.logical_delta += bytes;
  ctx.chain = crc32c_extend(crc32c_extend(ctx.chain, rk), rec);
  ctx.batch.put(Space::kKeys, rk, rec);
  ctx.pending.insert_or_assign(std::move(rk), std::move(rec));
  index_.put(slot, rev, bytes);
  detach(r.key);
  attach(r.key, kv.lease);
  ++ctx.next_sub;
  events_.push_back(Event{Event::Type::kPut, std::move(kv)});

  if (r.prev_kv) resp.prev_kv = std::move(prev);
  resp.header.revision = ctx.write_rev();
  return resp;
}

Expected<Unit, Error> MvccStore::tombstone(ApplyCtx& ctx, const std::string& key) {
  const Revision rev{ctx.write_rev(), ctx.next_sub};
  KeyValue kv;
  kv.key = key;
  kv.mod_revision = rev.main;
  std::string rk = encode_revision_key(rev, true);
  std::string rec = encode_kv_record(kv);
  const uint32_t bytes = record_size(rk.size(), rec.size());
  ctx.logical_delta += bytes;
  ctx.chain = crc32c_extend(crc32c_extend(ctx.chain, rk), rec);
  ctx.batch.put(Space::kKeys, rk, rec);
  index_.tombstone(index_.slot(key), rev, bytes);
  detach(key);
  ++ctx.next_sub;
  events_.push_back(Event{Event::Type::kDelete, std::move(kv)});
  return Unit{};
}

Expected<DeleteRangeResponse, Error> MvccStore::do_delete(ApplyCtx& ctx, const DeleteRangeRequest& r) {
  DeleteRangeResponse resp;
  std::vector<std::pair<std::string, IndexHit>> victims;
  index_.range(r.key, r.range_end, ctx.read_rev(), [&](const std::string& k, const IndexHit& hit) {
    victims.emplace_back(k, hit);
    return true;
  });
  for (const auto& [k, hit] : victims) {
    if (r.prev_kv) {
      auto kv = load(k, hit, &ctx);
      if (!kv) return unexpected(kv.error());
      kv->create_revision = hit.create_revision;
      kv->version = hit.version;
      resp.prev_kvs.push_back(*std::move(kv));
    }
    if (auto t = tombstone(ctx, k); !t) return unexpected(t.error());
  }
  resp.deleted = static_cast<int64_t>(victims.size());
  resp.header.revision = ctx.read_rev();
  return resp;
}

Expected<TxnResponse, Error> MvccStore::do_txn(ApplyCtx& ctx, const TxnRequest& t,
                                               const std::vector<bool>& path, size_t* pos) {
  TxnResponse resp;
  resp.succeeded = path[(*pos)++];
  for (const RequestOp& op : resp.succeeded ? t.success : t.failure) {
    ResponseOp out;
    if (const auto* r = std::get_if<RangeRequest>(&op.request)) {
      auto rr = range_at(*r, ctx.read_rev(), &ctx);
      if (!rr) return unexpected(rr.error());
      out.response = *std::move(rr);
    } else if (const auto* p = std::get_if<PutRequest>(&op.request)) {
      auto pr = do_put(ctx, *p);
      if (!pr) return unexpected(pr.error());
      out.response = *std::move(pr);
    } else if (const auto* d = std::get_if<DeleteRangeRequest>(&op.request)) {
      auto dr = do_delete(ctx, *d);
      if (!dr) return unexpected(dr.error());
      out.response = *std::move(dr);
    } else {
      auto nr = do_txn(ctx, *std::get<Box<TxnRequest>>(op.request), path, pos);
      if (!nr) return unexpected(nr.error());
      // Like etcd, a nested txn's own header is left empty; only the top-level header is filled.
      out.response = Box<TxnResponse>(*std::move(nr));
    }
    resp.responses.push_back(std::move(out));
  }
  return resp;
}

// ---- Apply ----

std::optional<Error> MvccStore::validate(const ApplyRequest& request, const StoreOptions& options) {
  if (const auto* p = std::get_if<PutRequest>(&request)) return check_put(*p);
  if (const auto* d = std::get_if<DeleteRangeRequest>(&request)) {
    if (d->key.empty()) return make_error(Errc::kEmptyKey);
    return std::nullopt;
  }
  if (const auto* t = std::get_if<TxnRequest>(&request)) {
    if (auto e = check_txn_request(*t, options.txn_ops_max)) return e;
    PutsAndDels scratch_then, scratch_else;
    if (auto e = check_intervals(t->success, &scratch_then)) return e;
    if (auto e = check_intervals(t->failure, &scratch_else)) return e;
  }
  return std::nullopt;
}

std::optional<Error> MvccStore::check_quota(ApplyCtx& ctx, uint64_t cost_bytes) {
  if (alarmed(AlarmType::kNoSpace)) return make_error(Errc::kNoSpace);
  if (cost_bytes > 0 && logical_bytes_ + cost_bytes > quota_bytes()) {
    ctx.alarm_change = std::pair{AlarmMember{ctx.origin, AlarmType::kNoSpace}, true};
    return make_error(Errc::kNoSpace);
  }
  return std::nullopt;
}

Expected<ApplyResponse, Error> MvccStore::apply_put(ApplyCtx& ctx, const PutRequest& r) {
  if (auto e = check_quota(ctx, put_cost(r.key, r.value))) return unexpected(*e);
  if (r.ignore_value || r.ignore_lease) {
    const KeyIndex* ki = index_.find(r.key);
    if (ki == nullptr || !ki->get(rev_)) return unexpected(make_error(Errc::kKeyNotFound));
  }
  if (r.lease != 0 && !leases_.count(r.lease)) return unexpected(make_error(Errc::kLeaseNotFound));
  auto resp = do_put(ctx, r);
  if (!resp) return unexpected(resp.error());
  return ApplyResponse(*std::move(resp));
}

Expected<ApplyResponse, Error> MvccStore::apply_txn(ApplyCtx& ctx, const TxnRequest& r) {
  std::vector<bool> path;
  if (auto p = eval_txn_path(r, &path); !p) return unexpected(p.error());
  // Like etcd's capped applier, any txn that can put is refused while NOSPACE is raised (here
  // nested txns count too).
  if (txn_has_put(r)) {
    if (auto e = check_quota(ctx, txn_cost(r))) return unexpected(*e);
  }
  size_t pos = 0;
  if (auto e = check_txn(r, path, &pos, /*puts=*/true)) return unexpected(*e);
  pos = 0;
  if (auto e = check_txn(r, path, &pos, /*puts=*/false)) return unexpected(*e);
  pos = 0;
  auto resp = do_txn(ctx, r, path, &pos);
  if (!resp) return unexpected(resp.error());
  resp->header.revision = ctx.read_rev();
  return ApplyResponse(*std::move(resp));
}

Expected<ApplyResponse, Error> MvccStore::apply_compaction(ApplyCtx& ctx, const CompactionRequest& r) {
  if (r.revision <= compact_rev_) return unexpected(make_error(Errc::kCompacted));
  if (r.revision > rev_) return unexpected(make_error(Errc::kFutureRev));
  if (r.revision == 0) {      // before any revision: etcd accepts it and nothing is removed (tests/fuzz found
    CompactionResponse resp;  // that recording it broke the store's compact-revision invariant)
    resp.header.revision = rev_;
    return ApplyResponse(resp);
  }
  // The index forgets the history now; compact_step() deletes its records later (see the header).
  index_.compact(r.revision, &ctx.garbage);
  for (const RemovedRevision& rr : ctx.garbage)
    ctx.logical_delta -= rr.record_bytes;
  if (!ctx.garbage.empty() && !compact_marker_) {
    // Every record of the previous compaction is gone (nothing was pending): that is the finished one.
    ctx.batch.put(Space::kMeta, kMetaCompactFinished, encode_i64(compact_rev_));
  }
  ctx.new_compact_rev = r.revision;
  CompactionResponse resp;
  resp.header.revision = rev_;
  return ApplyResponse(resp);
}

Expected<ApplyResponse, Error> MvccStore::apply_lease_grant(ApplyCtx& ctx, const LeaseGrantRequest& r) {
  if (auto e = check_quota(ctx, kLeaseRecordBytes)) return unexpected(*e);
  if (r.id == 0) return unexpected(make_error(Errc::kLeaseNotFound));
  if (r.ttl > kLeaseTtlMaxSeconds) return unexpected(make_error(Errc::kLeaseTtlTooLarge));
  if (leases_.count(r.id)) return unexpected(make_error(Errc::kLeaseExist));
  leases_.emplace(r.id, Lease{r.ttl, 0, {}});
  ctx.batch.put(Space::kLeases, encode_lease_key(r.id), encode_lease_record(r.ttl, 0));
  ctx.logical_delta += static_cast<int64_t>(kLeaseRecordBytes);
  LeaseGrantResponse resp;
  resp.header.revision = rev_;
  resp.id = r.id;
  resp.ttl = r.ttl;
  return ApplyResponse(resp);
}

Expected<ApplyResponse, Error> MvccStore::apply_lease_revoke(ApplyCtx& ctx, const LeaseRevokeRequest& r) {
  auto l = leases_.find(r.id);
  if (l == leases_.end()) return unexpected(make_error(Errc::kLeaseNotFound));
  // All attached keys go in one revision, in key order.
  const std::vector<std::string> keys(l->second.keys.begin(), l->second.keys.end());
  for (const std::string& k : keys) {
    if (auto t = tombstone(ctx, k); !t) return unexpected(t.error());
  }
  leases_.erase(r.id);
  ctx.batch.erase(Space::kLeases, encode_lease_key(r.id));
  ctx.logical_delta -= static_cast<int64_t>(kLeaseRecordBytes);
  LeaseRevokeResponse resp;
  resp.header.revision = ctx.read_rev();
  return ApplyResponse(resp);
}

Expected<ApplyResponse, Error> MvccStore::apply_lease_checkpoint(ApplyCtx& ctx,
                                                                 const LeaseCheckpointRequest& r) {
  for (const LeaseCheckpoint& cp : r.checkpoints) {
    auto l = leases_.find(cp.id);
    if (l == leases_.end()) continue;  // like etcd's lessor: a checkpoint of a gone lease is dropped
    l->second.remaining_ttl = cp.remaining_ttl;
    ctx.batch.put(Space::kLeases, encode_lease_key(cp.id),
                  encode_lease_record(l->second.ttl, cp.remaining_ttl));
  }
  LeaseCheckpointResponse resp;
  resp.header.revision = rev_;
  return ApplyResponse(resp);
}

Expected<ApplyResponse, Error> MvccStore::apply_alarm(ApplyCtx& ctx, const AlarmRequest& r) {
  const AlarmMember m{r.member, r.alarm};
  const bool known = r.alarm == AlarmType::kNoSpace || r.alarm == AlarmType::kCorrupt;
  AlarmResponse resp;
  resp.header.revision = rev_;
  if (r.action == AlarmRequest::Action::kGet) {
    resp.alarms = alarms();
  } else if (r.action == AlarmRequest::Action::kActivate && known) {
    ctx.alarm_change = std::pair{m, true};
    resp.alarms.push_back(m);
  } else if (r.action == AlarmRequest::Action::kDeactivate && alarms_.count(m)) {
    ctx.alarm_change = std::pair{m, false};
    resp.alarms.push_back(m);
  }
  return ApplyResponse(resp);
}

// Sets the cluster's quota. A raised NOSPACE alarm stays until it is disarmed (as after etcd's operators
// raise --quota-backend-bytes): a lower quota does not raise one either, the next put past it does.
Expected<ApplyResponse, Error> MvccStore::apply_quota(ApplyCtx& ctx, const QuotaRequest& r) {
  if (r.bytes == 0) return unexpected(make_error(Errc::kInvalidArgument, "quota of 0 bytes"));
  ctx.new_quota = r.bytes;
  NoopResponse resp;
  resp.header.revision = rev_;
  return ApplyResponse(resp);
}

namespace {
bool txn_writes(const TxnRequest& t) {
  for (const auto* branch : {&t.success, &t.failure})
    for (const auto& op : *branch) {
      if (std::holds_alternative<PutRequest>(op.request) ||
          std::holds_alternative<DeleteRangeRequest>(op.request))
        return true;
      if (const auto* n = std::get_if<Box<TxnRequest>>(&op.request); n && txn_writes(**n)) return true;
    }
  return false;
}

// Requests the CORRUPT alarm refuses (etcd's applierV3Corrupt): every write; reads and alarms go on.
bool refused_while_corrupt(const ApplyRequest& request) {
  if (const auto* t = std::get_if<TxnRequest>(&request)) return txn_writes(*t);
  return std::holds_alternative<PutRequest>(request) || std::holds_alternative<DeleteRangeRequest>(request) ||
         std::holds_alternative<CompactionRequest>(request) ||
         std::holds_alternative<LeaseGrantRequest>(request) ||
         std::holds_alternative<LeaseRevokeRequest>(request);
}
}  // namespace

Expected<ApplyResponse, Error> MvccStore::apply(uint64_t index, uint64_t term, const ApplyRequest& request,
                                                const WriteBatch* extra, uint64_t origin) {
  events_.clear();
  if (failed_) return unexpected(make_error(Errc::kIo, "store failed; reopen"));
  if (index <= applied_.index) return unexpected(make_error(Errc::kAlreadyApplied));

  ApplyCtx ctx;
  ctx.begin_rev = rev_;
  ctx.origin = origin;
  ctx.chain = chain_.value_or(0);
  Expected<ApplyResponse, Error> result = [&]() -> Expected<ApplyResponse, Error> {
    if (auto e = validate(request, options_)) return unexpected(*e);
    if (alarmed(AlarmType::kCorrupt) && refused_while_corrupt(request))
      return unexpected(make_error(Errc::kCorrupt));
    return std::visit(
        [&](const auto& r) -> Expected<ApplyResponse, Error> {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, PutRequest>) {
            return apply_put(ctx, r);
          } else if constexpr (std::is_same_v<T, DeleteRangeRequest>) {
            auto d = do_delete(ctx, r);
            if (!d) return unexpected(d.error());
            return ApplyResponse(*std::move(d));
          } else if constexpr (std::is_same_v<T, TxnRequest>) {
            return apply_txn(ctx, r);
          } else if constexpr (std::is_same_v<T, CompactionRequest>) {
            return apply_compaction(ctx, r);
          } else if constexpr (std::is_same_v<T, LeaseGrantRequest>) {
            return apply_lease_grant(ctx, r);
          } else if constexpr (std::is_same_v<T, LeaseRevokeRequest>) {
            return apply_lease_revoke(ctx, r);
          } else if constexpr (std::is_same_v<T, LeaseCheckpointRequest>) {
            return apply_lease_checkpoint(ctx, r);
          } else if constexpr (std::is_same_v<T, AlarmRequest>) {
            return apply_alarm(ctx, r);
          } else if constexpr (std::is_same_v<T, QuotaRequest>) {
            return apply_quota(ctx, r);
          } else {
            NoopResponse n;
            n.header.revision = rev_;
            return ApplyResponse(n);
          }
        },
        request);
  }();

  if (!result && is_engine_error(result.error())) {
    failed_ = true;
    events_.clear();
    return result;
  }
  if (!result) {
    // A refused request must not have touched anything but (possibly) the alarm.
    CAIRN_ASSERT(ctx.batch.empty() && !ctx.changed() && !ctx.new_compact_rev && ctx.garbage.empty() &&
                 !ctx.new_quota);
  }

  WriteBatch& batch = ctx.batch;
  if (extra) {
    for (const auto& op : extra->ops()) {
      CAIRN_ASSERT(op.space == Space::kAuth);
      if (op.erase) {
        batch.erase(op.space, op.key);
      } else {
        batch.put(op.space, op.key, op.value);
      }
    }
  }
  std::string applied;
  codec::put_u64(&applied, index);
  codec::put_u64(&applied, term);
  batch.put(Space::kMeta, kMetaApplied, applied);
  if (ctx.changed()) batch.put(Space::kMeta, kMetaRevision, encode_i64(ctx.write_rev()));
  if (ctx.changed() && chain_) batch.put(Space::kMeta, kMetaChain, encode_u32(ctx.chain));
  if (ctx.new_compact_rev) batch.put(Space::kMeta, kMetaCompactRevision, encode_i64(*ctx.new_compact_rev));
  if (ctx.new_quota) batch.put(Space::kMeta, kMetaQuota, encode_u64(*ctx.new_quota));
  if (ctx.alarm_change &&
      ctx.alarm_change->second != alarmed(ctx.alarm_change->first.member, ctx.alarm_change->first.type)) {
    if (ctx.alarm_change->second) {
      batch.put(Space::kMeta, alarm_key(ctx.alarm_change->first), "");
    } else {
      batch.erase(Space::kMeta, alarm_key(ctx.alarm_change->first));
    }
  }
  if (auto w = engine_->write(batch, WriteOptions{options_.sync_writes, options_.engine_log}); !w) {
    failed_ = true;
    events_.clear();
    return unexpected(w.error());
  }
  applied_ = AppliedIndex{index, term};
  if (ctx.changed()) rev_ = ctx.write_rev();
  if (ctx.changed() && chain_) remember_chain(ctx.chain);
  if (ctx.new_compact_rev) compact_rev_ = *ctx.new_compact_rev;
  if (ctx.new_quota) {
    quota_ = *ctx.new_quota;
    quota_replicated_ = true;
  }
  if (!ctx.garbage.empty()) {
    compact_marker_ = true;
    garbage_.insert(garbage_.end(), ctx.garbage.begin(), ctx.garbage.end());
  }
  if (ctx.alarm_change && ctx.alarm_change->second) alarms_.insert(ctx.alarm_change->first);
  if (ctx.alarm_change && !ctx.alarm_change->second) alarms_.erase(ctx.alarm_change->first);
  logical_bytes_ = static_cast<uint64_t>(static_cast<int64_t>(logical_bytes_) + ctx.logical_delta);
  check_invariants();
  return result;
}

// ---- History ----

Expected<MvccStore::EventBatch, Error> MvccStore::events(std::string_view key, std::string_view range_end,
                                                         int64_t from_rev, int64_t to_rev, size_t events_max,
                                                         uint64_t bytes_max, size_t records_scanned_max) {
  if (failed_) return unexpected(make_error(Errc::kIo, "store failed; reopen"));
  if (to_rev <= 0 || to_rev > rev_) to_rev = rev_;
  if (from_rev < 1) from_rev = 1;
  if (from_rev < compact_rev_) return unexpected(make_error(Errc::kCompacted));
  EventBatch out;
  out.next_revision = to_rev + 1;
  if (from_rev > to_rev) {
    out.next_revision = from_rev;
    return out;
  }
  const bool single = range_end.empty();
  const bool to_end = range_end.size() == 1 && range_end[0] == '\0';
  auto selected = [&](std::string_view k) {
    if (single) return k == key;
    if (k < key) return false;
    return to_end || k < range_end;
  };
  size_t scanned = 0;
  int64_t last_main = 0;
  auto it = engine_->scan(Space::kKeys, encode_revision_prefix(from_rev), encode_revision_prefix(to_rev + 1));
  for (; it->valid(); it->next()) {
    auto rk = decode_revision_key(it->key());
    if (!rk) return unexpected(corrupt("bad revision key"));
    const bool full = (events_max > 0 && out.events.size() >= events_max) ||
                      (bytes_max > 0 && out.bytes >= bytes_max) ||
                      (records_scanned_max > 0 && scanned >= records_scanned_max);
    // Stop only between two revisions, so a reader never sees half of an entry's changes.
    if (full && rk->rev.main != last_main) {
      out.next_revision = rk->rev.main;
      out.records_scanned = scanned;
      return out;
    }
    ++scanned;
    last_main = rk->rev.main;
    // The record value starts with format and the length-prefixed key: test the key before decoding.
    codec::Reader peek(it->value());
    uint8_t format = 0;
    std::string_view k;
    if (!peek.u8(&format) || !peek.bytes_view(&k)) return unexpected(corrupt("bad kv record"));
    if (!selected(k) || compacted_away(k, rk->rev)) continue;
    auto kv = decode_kv_record(it->value());
    if (!kv || kv->mod_revision != rk->rev.main) return unexpected(corrupt("bad kv record in history"));
    out.bytes += kv->key.size() + kv->value.size();
    out.events.push_back(Event{rk->tombstone ? Event::Type::kDelete : Event::Type::kPut, *std::move(kv)});
  }
  if (auto st = it->status(); !st) return unexpected(st.error());
  out.records_scanned = scanned;
  return out;
}

// ---- Maintenance ----

Expected<HashResponse, Error> MvccStore::hash() {
  auto h = start_hash();
  if (!h) return unexpected(h.error());
  auto done = h->step(SIZE_MAX);
  if (!done) return unexpected(done.error());
  HashResponse resp;
  resp.header = h->kv().header;
  resp.hash = h->kv().hash;
  return resp;
}

Expected<HashKvResponse, Error> MvccStore::hash_kv(int64_t revision) {
  auto h = start_hash_kv(revision);
  if (!h) return unexpected(h.error());
  auto done = h->step(SIZE_MAX);
  if (!done) return unexpected(done.error());
  return h->kv();
}

// ---- Compaction's deletions ----

bool MvccStore::compacted_away(std::string_view user_key, Revision rev) const {
  if (garbage_.empty() || rev.main > compact_rev_) return false;
  const KeyIndex* ki = index_.find(user_key);
  return ki == nullptr || !ki->holds(rev);
}

Expected<size_t, Error> MvccStore::compact_step(size_t max_records) {
  if (failed_) return unexpected(make_error(Errc::kIo, "store failed; reopen"));
  if (!compaction_pending()) return size_t{0};
  const size_t n = std::min(max_records, garbage_.size());
  WriteBatch batch;
  for (size_t i = 0; i < n; ++i) {
    const RemovedRevision& r = garbage_[i];
    batch.erase(Space::kKeys, encode_revision_key(r.rev, r.tombstone));
  }
  const bool last = n == garbage_.size();
  if (last) batch.erase(Space::kMeta, kMetaCompactFinished);
  // Not synced: a crash that loses these deletions leaves records open() finds again. Logged like the
  // applied batches, so what survives a crash is still a prefix of the batches (kv_engine.h).
  if (auto w = engine_->write(batch, WriteOptions{false, options_.engine_log}); !w) {
    failed_ = true;
    return unexpected(w.error());
  }
  garbage_.erase(garbage_.begin(), garbage_.begin() + static_cast<std::ptrdiff_t>(n));
  if (last) {
    garbage_.shrink_to_fit();
    compact_marker_ = false;
  }
  return n;
}

void MvccStore::remember_chain(uint32_t chain) {
  chain_ = chain;
  chain_recent_.emplace_back(rev_, chain);
  if (chain_recent_.size() > kChainRecent) chain_recent_.pop_front();
}

std::optional<uint32_t> MvccStore::state_chain_at(int64_t revision) const {
  if (chain_recent_.empty() || revision < chain_recent_.front().first || revision > rev_) return std::nullopt;
  // The ring's revisions are consecutive: each entry that changes a key adds the next one.
  const auto& e = chain_recent_[static_cast<size_t>(revision - chain_recent_.front().first)];
  CAIRN_ASSERT(e.first == revision);
  return e.second;
}

Expected<Unit, Error> MvccStore::defragment() {
  return engine_->compact_storage();
}

Expected<Unit, Error> MvccStore::snapshot(const std::string& dir) {
  return engine_->checkpoint(dir);
}

std::optional<LeaseInfo> MvccStore::lease(int64_t id) const {
  auto l = leases_.find(id);
  if (l == leases_.end()) return std::nullopt;
  LeaseInfo info;
  info.id = id;
  info.ttl = l->second.ttl;
  info.remaining_ttl = l->second.remaining_ttl;
  info.keys.assign(l->second.keys.begin(), l->second.keys.end());
  return info;
}

std::vector<int64_t> MvccStore::lease_ids() const {
  std::vector<int64_t> ids;
  for (const auto& [id, l] : leases_)
    ids.push_back(id);
  return ids;
}

bool MvccStore::alarmed(AlarmType type) const {
  for (const auto& a : alarms_)
    if (a.type == type) return true;
  return false;
}

void MvccStore::check_invariants() const {
#ifdef CAIRN_INVARIANTS
  CAIRN_ASSERT(rev_ >= 1);
  CAIRN_ASSERT(compact_rev_ == -1 || (compact_rev_ >= 1 && compact_rev_ <= rev_));
  size_t attached = 0;
  for (const auto& [id, l] : leases_) {
    for (const std::string& k : l.keys) {
      auto kl = key_lease_.find(k);
      CAIRN_ASSERT(kl != key_lease_.end() && kl->second == id);
    }
    attached += l.keys.size();
  }
  CAIRN_ASSERT(attached == key_lease_.size());
#endif
}

}  // namespace cairn::storage
