// Hub: etcd v3.4's watch machinery (mvcc/watchable_store.go + v3rpc/watch.go) for one member.
// Design and proofs: docs/watch.md. Wire rules: shared/research/etcd-wire-compat.md section 5.6.
//
// Threading: every Hub function runs on the node thread (the thread that applies entries to the
// store), so a watcher's view of the store never races an apply. The only things shared with other
// threads are the streams' Outboxes (outbox.h).
//
// Groups (each watcher is in exactly one):
//   * synced: has seen every event up to the store's current revision. Indexed by key (single-key
//     watchers, a hash map) and listed (range watchers). on_applied() hands each applied entry's
//     events (MvccStore::last_applied_events) straight to the matching synced watchers: one response
//     per watcher per revision. With no synced watcher the cost of an apply is one branch.
//   * unsynced: still owes events from `next_rev` on. Sync passes (after a create, on every tick and
//     when a stream's writer drained its outbox) read history with MvccStore::events from next_rev in
//     bounded, whole-revision chunks and send them; a watcher whose read reaches the current revision
//     moves to synced in the same node-thread step, so no apply can fall between (no gap, no
//     duplicate). A watcher whose next_rev fell below the compaction point is canceled with
//     compact_revision.
//   * "slow" watchers are not a separate list: when a synced watcher's stream outbox is full, the
//     events it would get are not queued; it drops to unsynced at the revision it missed and the
//     stream asks for a resume once its writer drained the outbox. A client that never reads thus
//     costs one watcher record and a bounded outbox, never blocks an apply or another stream.
//
// Ordering per stream: the `created` response of a watcher is pushed before any of its events
// (events come only from dispatch or sync passes, both after creation), creates are handled in
// request order (the node thread runs one stream's tasks in order), and a watcher's events are
// pushed in revision order because each is pushed either by the sync pass (advancing next_rev) or,
// once synced, by dispatch of strictly increasing revisions.
//
// Lock order: none (single thread; Outbox has its own leaf mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proto/etcd/rpc.pb.h"
#include "server/watch/outbox.h"
#include "storage/mvcc_store.h"

namespace cairn::server::watch {

struct HubLimits {
  // Outbox bounds per stream (outbox.h).
  size_t outbox_bytes_soft_max = 1 << 20;
  size_t outbox_bytes_hard_max = 16 << 20;
  // A catch-up (history) response holds whole revisions, at most this many events / key+value
  // bytes unless one revision alone is larger (etcd: up to 1000 revisions per batch).
  size_t history_events_per_response_max = 1000;
  uint64_t history_bytes_per_response_max = 1 << 20;
  // Records examined by one sync pass over all unsynced watchers before it yields to applies; the
  // rest continue on the next tick.
  size_t sync_records_scanned_per_pass_max = 200'000;
  // etcd's --experimental-watch-progress-notify-interval (default 10 minutes).
  std::chrono::milliseconds progress_notify_interval{10 * 60 * 1000};
  // Fragmenting threshold for watchers that asked for fragments: etcd uses max-request-bytes plus
  // its 512 KiB gRPC overhead.
  uint64_t fragment_bytes = 1536 * 1024 + 512 * 1024;
  // Streams opened with `hasleader: true` metadata end with UNAVAILABLE "etcdserver: no leader" once
  // the member has known no leader for this long (etcd: 3 election timeouts, v3rpc/interceptor.go).
  std::chrono::milliseconds no_leader_cancel_after{3000};
};

// etcd's "mvcc: duplicate watch ID provided on the WatchStream" and friends.
inline constexpr const char* kErrDuplicateWatchId = "mvcc: duplicate watch ID provided on the WatchStream";
inline constexpr const char* kErrEmptyWatcherRange = "mvcc: watcher range is empty";

struct HubStats {
  size_t streams = 0;
  size_t watchers = 0;
  size_t synced = 0;
  size_t unsynced = 0;
  size_t delete_waiters = 0;
};

class Hub {
 public:
  using StoreFn = std::function<storage::MvccStore&()>;
  // Fills cluster_id, member_id and raft_term of a response header.
  using HeaderFn = std::function<void(etcdserverpb::ResponseHeader*)>;
  using Clock = std::chrono::steady_clock;

  Hub(StoreFn store, HeaderFn header, HubLimits limits = {});
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // ---- streams (the gRPC service) ----
  // require_leader: the client sent `hasleader: true` (clientv3.WithRequireLeader, as etcdctl does).
  void open_stream(std::shared_ptr<Outbox> out, bool require_leader = false);
  // Forgets the stream and its watchers (no responses).
  void close_stream(Outbox* out);
  // One WatchRequest of the stream (create, cancel, progress).
  void handle(Outbox* out, const etcdserverpb::WatchRequest& request);
  // The stream's writer drained its outbox after the hub held events back: catch its watchers up.
  void resume(Outbox* out);

  // ---- node events ----
  // After every applied entry (reads MvccStore::last_applied_events).
  void on_applied();
  // Every heartbeat: sync pass, progress notifications, sweep of streams whose handler is gone,
  // ending require-leader streams after no_leader_cancel_after without a leader.
  void on_tick(Clock::time_point now);
  // Raft's view of the leader changed (0: none known).
  void on_leader_change(uint64_t leader, Clock::time_point now);
  // The store was replaced by a snapshot: every watcher re-reads from where it was.
  void on_store_restored();
  // The node stops: every stream ends with UNAVAILABLE, every waiter is dropped.
  void stop();

  // ---- in-process watchers (for the Lock and Election services) ----
  // Calls done(revision) once `key` does not exist: at once (revision = current) if it is absent
  // now, else when a DELETE of it is applied (revision = the deleting revision). done runs on the
  // node thread and must not call back into the hub. Returns a token for cancel_wait.
  uint64_t wait_for_delete(std::string key, std::function<void(int64_t revision)> done);
  void cancel_wait(uint64_t token);

  HubStats stats() const;
  const HubLimits& limits() const { return limits_; }

  // Per-watcher state (exposed for the memory measurement in tests; not an interface).
  struct Stream;
  struct Watcher {
    std::string key;
    std::string range_end;  // empty: the single key; "\0": every key >= key; else [key, range_end)
    Stream* stream = nullptr;
    int64_t id = 0;
    int64_t next_rev = 0;  // the next revision this watcher may be sent
    uint8_t flags = 0;     // kFlag* below
  };
  static constexpr uint8_t kFlagNoPut = 1;
  static constexpr uint8_t kFlagNoDelete = 2;
  static constexpr uint8_t kFlagPrevKv = 4;
  static constexpr uint8_t kFlagProgress = 8;
  static constexpr uint8_t kFlagFragment = 16;
  static constexpr uint8_t kFlagSynced = 32;
  static constexpr uint8_t kFlagSentSinceProgress = 64;

 private:
  struct DeleteWaiter {
    std::string key;
    std::function<void(int64_t)> done;
  };
  // Per-dispatch cache of serialized events (plain and with prev_kv).
  struct EventCache;

  storage::MvccStore& store() { return store_fn_(); }
  Stream* find(Outbox* out);
  void create(Stream& s, const etcdserverpb::WatchCreateRequest& c);
  void cancel(Stream& s, int64_t id);
  void remove_watcher(Watcher* w);
  void add_synced(Watcher* w);
  void remove_synced(Watcher* w);
  void make_unsynced(Watcher* w, int64_t next_rev);
  // Catches one watcher up as far as its outbox and `budget` allow. False if it was removed.
  bool sync_watcher(Watcher* w, size_t* budget);
  void sync_stream(Stream& s, size_t* budget);
  void sync_all();
  // A progress answer at `rev` may cover w: synced and not starting beyond rev + 1.
  static bool progress_covers(const Watcher& w, int64_t rev);
  void maybe_answer_progress(Stream& s);
  void answer_waiting_progress();
  void dispatch(const std::vector<storage::Event>& events);
  void notify_delete_waiters(const std::vector<storage::Event>& events);
  void recheck_delete_waiters();
  // Sends events to one watcher (filters, prev_kv, fragments). False if the outbox failed.
  bool send_events(Watcher* w, const std::vector<storage::Event>& events, const std::vector<uint32_t>& which,
                   EventCache& cache, int64_t header_rev);
  bool push(Stream& s, const etcdserverpb::WatchResponse& r);
  bool push_raw(Stream& s, std::string bytes);
  void fail_stream(Stream& s);
  void drop_stream(Stream& s);
  std::optional<storage::KeyValue> prev_of(const storage::Event& e);
  etcdserverpb::WatchResponse response(int64_t watch_id, int64_t revision);

  StoreFn store_fn_;
  HeaderFn header_fn_;
  HubLimits limits_;
  std::unordered_map<Outbox*, std::unique_ptr<Stream>> streams_;
  // synced group
  std::unordered_multimap<std::string_view, Watcher*> synced_keys_;  // views of Watcher::key
  std::unordered_set<Watcher*> synced_ranges_;
  // unsynced group
  std::unordered_set<Watcher*> unsynced_;
  // streams with a WatchProgressRequest not answered yet (maybe_answer_progress)
  std::unordered_set<Stream*> progress_waiting_;
  // revision through which synced watchers have been served
  int64_t dispatched_rev_ = 0;
  size_t watcher_count_ = 0;
  std::optional<Clock::time_point> next_progress_;
  uint64_t leader_ = 0;
  std::optional<Clock::time_point> no_leader_since_;
  // in-process delete waiters, by token
  std::map<uint64_t, DeleteWaiter> delete_waiters_;
  uint64_t next_token_ = 1;
  bool stopped_ = false;
};

}  // namespace cairn::server::watch
