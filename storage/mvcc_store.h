// MvccStore: etcd's revisioned key-value store (mvcc/kvstore.go semantics) over a KvEngine.
//
// Apply is atomic and deterministic. Every committed log entry is applied with
// apply(index, term, request): the MVCC records, lease records, alarm and the applied index/term
// of that entry go into ONE engine WriteBatch built here, so after a crash the engine holds either
// all of an entry's effects or none, and applied() says exactly which entries those are.
// Re-applying an entry at or below applied().index does nothing (Errc::kAlreadyApplied).
// A request that fails (any etcd error) changes no key and no lease: everything that can fail is
// checked against the state before the entry, then the entry executes without failure points. The
// entry still counts as applied, and a NOSPACE alarm raised by it is persisted. Apply reads no clock
// and no engine size: the quota uses a deterministic logical size (below), so every member that
// applies the same log reaches the same state and the same answers.
//
// Engine formats (the layout of each Space, see kv_engine.h):
//
//   kKeys    key:   revision key (revision.h): 8-byte BE main, 8-byte BE sub, 'p' | 't'
//            value: u8 format (1), bytes key, i64 create_revision, i64 mod_revision,
//                   i64 version, i64 lease, bytes value   (bytes = u32 BE length + data,
//                   integers big-endian). A tombstone record carries only key and mod_revision.
//   kLeases  key:   8-byte BE lease id
//            value: u8 format (1), i64 granted TTL seconds, i64 remaining TTL seconds (0 = none)
//            Attached keys are not stored twice: they are the live keys whose latest record names
//            the lease, recomputed on open.
//   kMeta    "applied"           u64 BE index, u64 BE term of the last applied entry
//            "revision"          i64 BE current main revision (absent: 1, empty store)
//            "compact_revision"  i64 BE last compaction revision (absent: never compacted)
//            "compact_finished"  i64 BE, present while a compaction's records are still being deleted
//                                (below): the last compaction revision whose records are all gone
//                                (-1: none); etcd's finishedCompactRev when it differs from the last
//            "alarm/nospace/M"   present (empty value) while member M (16 hex digits) has the NOSPACE alarm;
//                                "alarm/nospace" alone is member 0's (and a store written before alarms
//                                had members)
//            "chain"             u32 BE: the state chain (below) at "revision"; absent: not known
//            "quota"             u64 BE: the cluster's quota in bytes, from the last QuotaRequest applied;
//                                absent: StoreOptions::quota_backend_bytes (a store no leader set one in)
//   kAuth    not the store's: written through apply()'s `extra` (server/auth/auth_store.h)
//            "alarm/corrupt/M"   the same for CORRUPT ("alarm/corrupt": member 0's). While any member has it,
//                                writes (Put, DeleteRange, a Txn with a put or delete, Compaction,
//                                LeaseGrant, LeaseRevoke) fail with kCorrupt, reads still work (etcd's
//                                applierV3Corrupt)
//
// Logical size: sum over kKeys and kLeases records of (key bytes + value bytes), maintained
// exactly and recomputed on open. It drives quota_backend_bytes; the physical engine size (which
// differs between members) is only reported (db_size_bytes()).
//
// State chain (the continuous corruption check, server/corrupt/chain_check.h): CRC-32C of the
// concatenation, in revision order, of every kKeys record an entry wrote (its revision key, then its
// value bytes) since the chain was seeded, continued entry by entry (crc32c_extend), so chain(R) covers
// every change up to revision R and members that applied the same log agree on it at every revision.
// Compaction does not change it (unlike HashKV, it is a hash of the history, not of what is kept), so
// any two members can compare it at any revision both passed. It is written with "revision" in each
// entry's batch, so it survives restarts and travels with store snapshots. Seeds: an empty store (0 at
// revision 1) and an imported etcd snapshot (0 at its revision, the same on every restored member); a
// store written before the chain existed has none (state_chain() is nullopt) until it is rebuilt from a
// peer's snapshot. The chain of the last kChainRecent revisions is kept in memory (state_chain_at()).
//
// Events (for the watch hub): apply() also records the changes of the entry it applied, readable
// with last_applied_events() until the next apply() starts (which clears them). They are exactly the
// kKeys records the entry wrote, in sub-revision order, i.e. the order etcd emits them: a Txn's
// changes in op order (nested txns depth-first), a DeleteRange's deletions by key, a LeaseRevoke's
// deletions sorted by key; all carry the entry's main revision. A refused entry and an entry that
// changes no key leave the list empty. Recording moves the record the apply path builds anyway into
// a vector whose capacity is reused, so it costs nothing measurable when nobody reads it.
// History: events(key, range_end, from, to, ...) is a forward scan of kKeys over [from, to], which is
// history in revision order because record keys are revision keys; below the compaction point the
// records are gone, so from < compact_revision() is kCompacted (from == compact_revision() is
// allowed, like etcd's watch: what compaction keeps at that revision is still there).
//
// Compaction comes in two parts, so that compacting a long history never stalls the apply thread.
// Applying a CompactionRequest drops the history from the key index and subtracts its size from the
// logical size at once, without reading a record (the index knows each record's size), so reads,
// the quota and the hashes change deterministically with the entry. The dropped records stay on disk,
// queued, until compact_step() deletes them, a bounded batch at a time, between applies; until then
// nothing sees them (history reads, hash() and hash_kv() skip any record at or below the compaction
// revision that the index no longer holds). Each key's records are deleted oldest first, so what a
// crash leaves is always a suffix of each key's dropped history, which open() recognises (a tombstone
// of a generation whose puts are gone, or history the index compaction drops) and queues again. The
// deletions are batches like any other, so a crash keeps a prefix of them: never a deletion without
// the compaction entry that caused it.
//
// Threading: one thread calls apply() and the read functions; snapshot() and db_size_bytes() may
// be called concurrently from another thread (they only touch the engine, see kv_engine.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "storage/errors.h"
#include "storage/key_index.h"
#include "storage/kv_engine.h"
#include "storage/requests.h"

namespace cairn::storage {

struct StoreOptions {
  // etcd's --quota-backend-bytes default (2 GiB). Puts, Txns with puts and LeaseGrants that would
  // take the logical size past it raise the NOSPACE alarm and fail with kNoSpace. Only until a
  // QuotaRequest sets the cluster's quota (kMeta "quota"), which then holds on every member alike.
  uint64_t quota_backend_bytes = 2ull << 30;
  // etcd's --max-txn-ops default: the most compares, success ops or failure ops in one Txn.
  size_t txn_ops_max = 128;
  // Sync every applied batch to stable storage before apply() returns.
  bool sync_writes = true;
  // Write applied batches through the engine's own log. Off (the node's setting, where the raft WAL
  // is the durable record and replays what a crash loses): batches become durable at engine().sync()
  // or when the engine flushes on its own; after a crash the store reopens at an earlier applied index,
  // consistent with it, and the caller re-applies the entries after it.
  bool engine_log = true;
};

// etcd's MaxLeaseTTL: 9,000,000,000 seconds.
inline constexpr int64_t kLeaseTtlMaxSeconds = 9'000'000'000;

struct AppliedIndex {
  uint64_t index = 0;
  uint64_t term = 0;
  bool operator==(const AppliedIndex&) const = default;
};

class MvccStore {
 public:
  // Opens the store over `engine`, rebuilding the key index and lease table from it.
  static Expected<std::unique_ptr<MvccStore>, Error> open(std::unique_ptr<KvEngine> engine,
                                                          StoreOptions options = {});

  // The request checks etcd's gRPC layer performs before proposing (v3rpc/key.go): empty keys,
  // value/lease provided with ignore_*, too many txn ops, duplicate keys in a txn. The server calls
  // this before proposing; apply() repeats it so a bad entry is refused identically everywhere.
  static std::optional<Error> validate(const ApplyRequest& request, const StoreOptions& options);
  static std::optional<Error> validate_range(const RangeRequest& request);

  // A read at the current revision (header.revision = current revision even for historical reads).
  Expected<RangeResponse, Error> range(const RangeRequest& request);

  // One page of a streamed range (KV.RangeStream, server/api/range_stream.h): the keys of `r` (key,
  // range_end, revision, keys_only are read; sort, filters, limit and count_only are the caller's)
  // from r.key on, at most `keys_max` of them, and no more once the page's keys and values reach
  // `bytes_max` (so a page holds at most bytes_max plus one key-value). more = keys are left after
  // the page; count is not computed (a page walks the index only as far as it reads).
  Expected<RangeResponse, Error> range_page(const RangeRequest& r, size_t keys_max, size_t bytes_max);

  // Applies one committed log entry. See the file comment for atomicity and idempotence. Errors:
  // any etcd error from the request (the entry is still recorded as applied), kAlreadyApplied,
  // or kIo/kCorruption from the engine, after which the store refuses all work and must be
  // reopened from the engine.
  // `extra`: writes of a component beside the store for the same entry (server/auth's Space::kAuth
  // records), put in the entry's batch so they land atomically with it and its applied index. They
  // are written whether or not the request succeeds; the store never reads that space.
  // `origin`: the member that proposed the entry; a NOSPACE alarm the quota raises is raised for it (as
  // etcd's member that refused the request raises it).
  Expected<ApplyResponse, Error> apply(uint64_t index, uint64_t term, const ApplyRequest& request,
                                       const WriteBatch* extra = nullptr, uint64_t origin = 0);

  // The changes of the entry applied by the last apply() call (see the file comment). Empty after a
  // refused entry, an engine failure, or an entry that changed no key.
  const std::vector<Event>& last_applied_events() const { return events_; }

  // History between two revisions. Key selection like a Range: empty range_end = the single key
  // `key`; range_end "\0" = every key >= key; otherwise [key, range_end).
  struct EventBatch {
    std::vector<Event> events;  // revision order; within a revision, sub-revision order
    // The first revision this read did not cover: to_rev + 1 when it read everything, else the
    // revision to continue from. A revision is never split between two reads.
    int64_t next_revision = 0;
    uint64_t bytes = 0;          // key + value bytes of the returned events
    size_t records_scanned = 0;  // records examined (matching or not): the read's cost
  };
  // Reads the events of [from_rev, to_rev] (to_rev <= 0: current revision). Stops early, at a
  // revision boundary, once at least `events_max` events or `bytes_max` key+value bytes were
  // collected or `records_scanned_max` records were examined (0 = no bound on that). Errors:
  // from_rev < compact_revision() -> kCompacted; engine failures.
  Expected<EventBatch, Error> events(std::string_view key, std::string_view range_end, int64_t from_rev,
                                     int64_t to_rev, size_t events_max = 0, uint64_t bytes_max = 0,
                                     size_t records_scanned_max = 0);

  AppliedIndex applied() const { return applied_; }
  int64_t revision() const { return rev_; }
  // The quota in force: the cluster's (kMeta "quota") once a QuotaRequest was applied, else
  // StoreOptions::quota_backend_bytes. quota_bytes() may be read from any thread.
  uint64_t quota_bytes() const { return quota_.load(std::memory_order_relaxed); }
  bool quota_replicated() const { return quota_replicated_; }
  int64_t compact_revision() const { return compact_rev_; }  // -1: never compacted

  // Whether a compaction's dropped records are still being deleted, and how many are left.
  bool compaction_pending() const { return compact_marker_ || !garbage_.empty(); }
  size_t compaction_backlog() const { return garbage_.size(); }
  // Deletes up to `max_records` of them in one engine batch (not synced; see the file comment);
  // returns how many. The caller calls it between applies, on the apply thread, until
  // compaction_pending() is false.
  Expected<size_t, Error> compact_step(size_t max_records);

  // CRC-32C over every record in kKeys and kLeases.
  Expected<HashResponse, Error> hash();
  // CRC-32C over the kKeys records at or below `revision` (0: current); what compaction keeps is
  // all that remains below the compaction revision, so members with the same history agree.
  // revision <= compact revision -> kCompacted; > current -> kFutureRev.
  Expected<HashKvResponse, Error> hash_kv(int64_t revision);

  // hash() or hash_kv() a bounded number of records at a time, so that the apply thread can go on
  // between steps (the node runs one step per turn of its loop: server/node/hash_runner.h). A Hasher
  // reads the engine as it was at start (KvEngine::scan_snapshot), so applies between steps do not
  // change its answer; a compaction between steps starts it again over the new compaction (a HashKV
  // answer names the compaction it is for), or fails it with kCompacted if it covered the revision.
  // It refers to the store and must not outlive it. Apply thread only.
  class Hasher {
   public:
    Hasher(Hasher&&) = default;
    Hasher& operator=(Hasher&&) = default;
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;
    // true: the answer is ready (hash and header in kv(); hash() callers read kv().hash).
    Expected<bool, Error> step(size_t max_records);
    const HashKvResponse& kv() const { return resp_; }

   private:
    friend class MvccStore;
    Hasher(MvccStore* store, int64_t revision, bool whole)
        : store_(store), revision_(revision), whole_(whole) {}
    void restart();
    Expected<Unit, Error> next_record(EngineIterator& it);

    MvccStore* store_;
    int64_t revision_;  // hash_kv's argument (0: current)
    bool whole_;        // hash(): every record of kKeys and kLeases
    int64_t upto_ = 0;
    int64_t compact_ = -1;
    bool filter_ = false;  // the snapshot may hold records compaction dropped (not deleted yet)
    size_t space_ = 0;
    std::vector<std::unique_ptr<EngineIterator>> its_;  // one per space, all opened at start
    bool space_started_ = false;
    uint32_t crc_ = 0;
    HashKvResponse resp_;
  };
  Expected<Hasher, Error> start_hash();
  Expected<Hasher, Error> start_hash_kv(int64_t revision);

  Expected<Unit, Error> defragment();
  // Writes a consistent copy of the store (engine checkpoint) into `dir` (which must not exist).
  Expected<Unit, Error> snapshot(const std::string& dir);

  uint64_t db_size_bytes() { return engine_->size_bytes(); }
  uint64_t logical_size_bytes() const { return logical_bytes_; }

  // The state chain (file comment) at revision(), and at an earlier revision while it is among the last
  // kChainRecent this store applied (or the one it opened at). nullopt: unknown.
  static constexpr size_t kChainRecent = 16384;
  std::optional<uint32_t> state_chain() const { return chain_; }
  std::optional<uint32_t> state_chain_at(int64_t revision) const;

  std::optional<LeaseInfo> lease(int64_t id) const;
  std::vector<int64_t> lease_ids() const;
  std::vector<AlarmMember> alarms() const { return {alarms_.begin(), alarms_.end()}; }  // sorted
  bool alarmed(AlarmType type) const;                                                   // for any member
  bool alarmed(uint64_t member, AlarmType type) const { return alarms_.count(AlarmMember{member, type}) > 0; }
  const StoreOptions& options() const { return options_; }
  KvEngine& engine() { return *engine_; }
  const TreeIndex& index() const { return index_; }

 private:
  struct Lease {
    int64_t ttl = 0;
    int64_t remaining_ttl = 0;
    std::set<std::string> keys;
  };
  struct ApplyCtx;

  MvccStore(std::unique_ptr<KvEngine> engine, StoreOptions options);
  Expected<Unit, Error> rebuild();
  void remember_chain(uint32_t chain);  // the chain at rev_, just applied

  Expected<KeyValue, Error> load(const std::string& key, const IndexHit& hit, const ApplyCtx* ctx);
  Expected<RangeResponse, Error> range_at(const RangeRequest& r, int64_t current, const ApplyCtx* ctx);
  // A keys-only KeyValue of a live key's newest revision, from the index and key_lease_ (no read).
  KeyValue key_only(const std::string& key, const IndexHit& hit) const;
  // Reads and decodes hits[begin, end) into out (range_at's engine reads, one batch). A range of more
  // than one batch reads past the block cache (KvEngine::ReadHints): a large list must not evict the
  // blocks that point reads and small ranges keep hitting.
  std::optional<Error> decode_range_batch(const std::vector<std::pair<const std::string*, IndexHit>>& hits,
                                          size_t begin, size_t end, const ApplyCtx* ctx, bool keys_only,
                                          bool fill_cache, std::vector<KeyValue>& out);
  Expected<bool, Error> compare(const Compare& c);
  Expected<Unit, Error> eval_txn_path(const TxnRequest& t, std::vector<bool>* path);
  std::optional<Error> check_txn(const TxnRequest& t, const std::vector<bool>& path, size_t* pos, bool puts);

  Expected<PutResponse, Error> do_put(ApplyCtx& ctx, const PutRequest& r);
  Expected<DeleteRangeResponse, Error> do_delete(ApplyCtx& ctx, const DeleteRangeRequest& r);
  Expected<TxnResponse, Error> do_txn(ApplyCtx& ctx, const TxnRequest& r, const std::vector<bool>& path,
                                      size_t* pos);
  Expected<Unit, Error> tombstone(ApplyCtx& ctx, const std::string& key);

  Expected<ApplyResponse, Error> apply_put(ApplyCtx& ctx, const PutRequest& r);
  Expected<ApplyResponse, Error> apply_txn(ApplyCtx& ctx, const TxnRequest& r);
  Expected<ApplyResponse, Error> apply_compaction(ApplyCtx& ctx, const CompactionRequest& r);
  Expected<ApplyResponse, Error> apply_lease_grant(ApplyCtx& ctx, const LeaseGrantRequest& r);
  Expected<ApplyResponse, Error> apply_lease_revoke(ApplyCtx& ctx, const LeaseRevokeRequest& r);
  Expected<ApplyResponse, Error> apply_lease_checkpoint(ApplyCtx& ctx, const LeaseCheckpointRequest& r);
  Expected<ApplyResponse, Error> apply_alarm(ApplyCtx& ctx, const AlarmRequest& r);
  Expected<ApplyResponse, Error> apply_quota(ApplyCtx& ctx, const QuotaRequest& r);
  // Quota gate for requests that add `cost_bytes`; may raise the NOSPACE alarm in ctx.
  std::optional<Error> check_quota(ApplyCtx& ctx, uint64_t cost_bytes);

  // A kKeys record a compaction dropped from the index and compact_step() has not deleted yet.
  bool compacted_away(std::string_view user_key, Revision rev) const;

  void attach(const std::string& key, int64_t lease);
  void detach(const std::string& key);
  void check_invariants() const;

  std::unique_ptr<KvEngine> engine_;
  StoreOptions options_;
  TreeIndex index_;
  std::map<int64_t, Lease> leases_;
  std::map<std::string, int64_t> key_lease_;  // live keys with a lease -> that lease
  AppliedIndex applied_;
  int64_t rev_ = 1;
  int64_t compact_rev_ = -1;
  std::set<AlarmMember> alarms_;
  std::atomic<uint64_t> quota_{0};  // quota_bytes()
  bool quota_replicated_ = false;   // kMeta "quota" is present
  uint64_t logical_bytes_ = 0;
  std::deque<RemovedRevision> garbage_;  // dropped by compaction, not yet deleted; each key oldest first
  bool compact_marker_ = false;          // kMeta "compact_finished" is present
  bool failed_ = false;
  std::vector<Event> events_;                              // of the last applied entry
  std::optional<uint32_t> chain_;                          // at rev_
  std::deque<std::pair<int64_t, uint32_t>> chain_recent_;  // (revision, chain), oldest first
};

// Encodings of the records described in the file comment (exposed for tests and tools, such as the
// etcd snapshot exporter and importer in storage/etcd_backend that read and build stores offline).
std::string encode_kv_record(const KeyValue& kv);
std::optional<KeyValue> decode_kv_record(std::string_view bytes);
std::string encode_lease_key(int64_t id);
std::string encode_lease_record(int64_t ttl, int64_t remaining_ttl);
// id, ttl and remaining_ttl of a kLeases record (keys are not stored with it).
std::optional<LeaseInfo> decode_lease_record(std::string_view key, std::string_view value);

// The kMeta records of a store.
struct StoreMeta {
  AppliedIndex applied;
  int64_t revision = 1;           // an empty store is at revision 1
  int64_t compact_revision = -1;  // -1: never compacted
  // Present while a compaction's records are still being deleted (see "compact_finished").
  std::optional<int64_t> finished_compact_revision;
  std::vector<AlarmMember> alarms;      // sorted
  std::optional<uint32_t> state_chain;  // at `revision`; nullopt: not known (an empty store: 0)
  std::optional<uint64_t> quota;        // the cluster's quota; nullopt: none was set
};
// Reads them from an engine without opening the store (kCorruption for a malformed record).
Expected<StoreMeta, Error> read_store_meta(KvEngine& engine);
// Adds them to a batch (absent records for the defaults: revision 1, never compacted, no alarm).
void put_store_meta(const StoreMeta& meta, WriteBatch* batch);

// clientv3's prefix end: the smallest key greater than every key with prefix `key` ("\0" when
// there is none, meaning "to the end").
std::string prefix_end(std::string_view key);

}  // namespace cairn::storage
