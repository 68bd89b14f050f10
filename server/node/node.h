// Node: one cairn member's replicated state machine. It owns the Raft RawNode, the in-memory log cache
// (raft::MemoryStorage), the WAL and the MVCC store, and drives raft/raw_node.h's loop.
//
// Threads and ownership:
//   * The node thread (one std::thread running a private io_context) owns RawNode, MemoryStorage, Wal,
//     MvccStore, the member table and every pending request. Nothing else touches them. (A driven node,
//     NodeEnv::driven, has no such thread: its owner runs the io_context, as the server simulator does.)
//   * Network threads (the client server's and the peer transport's io_context) never touch that state.
//     They hand work over through the inbox: a mutex-protected set of bounded queues (peer messages,
//     proposals, tasks). The first item that lands in an empty inbox posts one drain to the node thread;
//     the drain takes everything queued, feeds it to raft and then runs Ready loops until raft is idle.
//     Whatever arrives while a Ready is being persisted (fsync) waits in the inbox and goes into the
//     next Ready together: proposals and peer messages batch naturally.
//   * Results go back as callbacks run on the node thread; the API layer's callbacks only fulfil a
//     net::CompletionPromise, which resumes the waiting coroutine on its own strand.
//
// Ready handling (raft/raw_node.h): rd.messages go to the peer transport first (the leader sends while
// it writes its WAL, thesis 10.2.1); then entries and hard state go to the WAL with one fsync; then
// rd.messages_after_persist leave, committed entries are applied to the MVCC store (one atomic batch
// per entry, carrying the applied index) and waiting requests (matched by request id) are woken.
// Recovery: WAL entries are loaded into MemoryStorage; raft starts from the store's applied index, so
// entries at or below it are not applied again. The membership and conf state live in the WAL's metadata
// blob, rewritten and synced whenever a conf change or a member's published attributes are applied.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/expected.h"
#include "proto/etcd/rpc.pb.h"
#include "raft/log_storage.h"
#include "raft/raw_node.h"
#include "server/auth/auth.h"
#include "server/metrics/histogram.h"
#include "server/metrics/peer_metrics.h"
#include "server/net/peer_transport.h"
#include "server/node/compaction_sweeper.h"
#include "server/node/defragmenter.h"
#include "server/node/errors.h"
#include "server/node/hash_runner.h"
#include "server/node/membership.h"
#include "server/node/mvcc_metrics.h"
#include "server/node/read_index.h"
#include "server/node/reconfig_check.h"
#include "server/node/request_codec.h"
#include "server/node/request_waiters.h"
#include "server/node/size_policy.h"
#include "server/node/store_install.h"
#include "server/node/version.h"
#include "server/node/wal_recovery.h"
#include "server/node/wal_writer.h"
#include "storage/mvcc_store.h"
#include "wal/posix_file_system.h"
#include "wal/wal.h"

namespace cairn::server::node {

// Bounds of the inbox (items waiting for the node thread).
inline constexpr size_t kInboxProposalsMax = 16'384;
// Request bytes (bodies) of the proposals waiting in the inbox. Over it a proposal gets etcd's
// "etcdserver: too many requests" (ResourceExhausted); an empty inbox takes one request of any accepted
// size (up to --max-request-bytes), so the bound is this plus one request. Without it the count bound
// alone allowed 16,384 x 1.5 MiB = 24 GiB.
inline constexpr size_t kInboxProposalBytesMax = 64ull << 20;
static_assert(kInboxProposalBytesMax >= kMaxRequestBytesLimit, "the inbox must take any accepted request");
inline constexpr size_t kInboxPeerMessagesMax = 65'536;
// Senders outside this member's membership the peer transport may admit at once (Node::admit_unknown).
inline constexpr size_t kAdmittedUnknownMax = 8;
inline constexpr size_t kInboxTasksMax = 16'384;
// Requests waiting for their entry to apply or their read to be confirmed.
inline constexpr size_t kPendingRequestsMax = 65'536;
// Applied entries between background flushes of the store (whose writes skip RocksDB's WAL): what a
// killed member replays from the raft WAL on restart is about this many entries at most.
inline constexpr uint64_t kStoreFlushEntries = 10'000;
// Hash/HashKV (hash_runner.h): records hashed per turn of the node loop (a few milliseconds), and how
// many hashes may run at once.
inline constexpr size_t kHashRecordsPerStep = 10'000;
inline constexpr size_t kHashJobsMax = 8;

struct NodeConfig {
  uint64_t member_id = 0;
  std::string name;
  std::string data_dir;
  std::string wal_dir;                      // empty: <data_dir>/member/wal
  std::vector<MemberInfo> initial_members;  // from --initial-cluster
  bool new_cluster = true;
  std::string cluster_token;
  std::vector<std::string> advertise_client_urls;
  std::string listen_peer_host = "127.0.0.1";
  uint16_t listen_peer_port = 2380;
  std::chrono::milliseconds heartbeat{100};
  std::chrono::milliseconds election{1000};
  uint64_t snapshot_count = 10'000;           // applied entries between local snapshots (etcd 3.6's default)
  uint64_t snapshot_catchup_entries = 5'000;  // entries kept in memory behind a snapshot for slow followers
  // The in-memory raft log (the WAL's cache, raft::MemoryStorage) in bytes: once it holds this much and
  // at least a quarter of it is applied, a local snapshot is taken as if --snapshot-count had been
  // reached, and at most half of it is kept behind the snapshot for slow followers (with at most
  // snapshot_catchup_entries entries). etcd bounds this log by entries only, so large values grow it to
  // snapshot-count + catch-up entries times their size.
  uint64_t log_cache_bytes_max = 128ull << 20;
  uint64_t quota_backend_bytes = 2ull << 30;
  uint64_t max_request_bytes = 1536 * 1024;
  // Raft's byte budgets (raft/raft.h Config). Uncommitted: payload bytes a leader holds appended and not
  // yet committed; a proposal over it gets "etcdserver: too many requests" (a follower's forwarded
  // proposal is dropped and its client times out, as with etcd). In flight: bytes of unacknowledged
  // appends per follower, after which the leader waits for acknowledgements (flow control, no error).
  // Both admit one entry of any size when empty, so they never refuse a request forever.
  uint64_t raft_uncommitted_bytes_max = 128ull << 20;
  uint64_t raft_inflight_bytes_max = 32ull << 20;
  // --wal-write-mode=async: Readies are written by the WAL writer thread (wal_writer.h) while the node
  // thread goes on (raft::Config::async_storage_writes); false (sync, the default): written and
  // fsynced on the node thread.
  bool async_wal_writes = false;
  // --experimental-compaction-batch-limit / -sleep-interval: the records a compaction dropped are
  // deleted this many at a time, this far apart (compaction_sweeper.h).
  size_t compaction_batch_limit = 1000;
  std::chrono::milliseconds compaction_sleep_interval{10};
  // --auto-compaction-mode/-retention (server/compactor): off when both are zero.
  std::chrono::milliseconds auto_compaction_period{0};  // periodic: keep this much history
  int64_t auto_compaction_revisions = 0;                // revision: keep this many revisions
  // --experimental-watch-progress-notify-interval (server/watch): etcd's 10 minutes, at least 100 ms.
  std::chrono::milliseconds watch_progress_notify_interval{std::chrono::minutes(10)};
  // --auth-token, --auth-token-ttl, --bcrypt-cost (server/auth).
  auth::AuthOptions auth;
  // etcd 3.6's --max-learners (default 1): a conf change adding a learner beyond it is refused with
  // "etcdserver: too many learner members in cluster", at apply time (as etcd does), so every member
  // must run with the same value.
  size_t max_learners = 1;
  // --debug-unsafe-skip-read-index (debug builds only): linearize() answers at once, without ReadIndex.
  bool debug_unsafe_skip_read_index = false;
  // --debug-unsafe-corrupt-puts (debug builds only): every applied Put's value is altered here, so this
  // member's HashKV differs from the others' (tests of the corruption checks).
  bool debug_unsafe_corrupt_puts = false;
  // --listen-peer-urls unix://NAME: the peer socket file (listen_peer_host/port unused then).
  std::string listen_peer_unix;
  // --pre-vote (etcd 3.5's default: on).
  bool pre_vote = true;
  // --initial-election-tick-advance: on boot, advance the election clock (start(), tick_advance.h).
  bool initial_election_tick_advance = true;
  // --strict-reconfig-check: refuse membership changes that would leave no quorum (reconfig_check.h).
  bool strict_reconfig_check = true;
  // --max-txn-ops: checked where requests enter (server/api), never at apply, so that members started
  // with different values still apply the same log identically.
  size_t max_txn_ops = 128;
  // --experimental-warning-apply-duration: an entry whose apply takes longer is logged.
  std::chrono::nanoseconds warning_apply_duration{std::chrono::milliseconds(100)};
  // The size WAL segments roll over at and are preallocated to (wal::WalOptions; etcd's 64 MiB). The
  // server simulator uses small ones: its file system holds every byte in memory.
  uint64_t wal_segment_bytes = 64ull << 20;
  // --max-wals: WAL segments kept (0: all); older ones go once a snapshot covers them (wal_retention.h).
  size_t max_wals = 5;
  // --force-new-cluster: restart as a one-member cluster from this data (force_new_cluster.h).
  bool force_new_cluster = false;
  // Options of the peer transport (queues, timeouts; the TLS settings of --peer-* flags when present).
  // Redials of an unreachable member back off to at most 100 ms (etcd's peer streams redial at that
  // rate too): a restarted member hears the leader within about that long, not after a long backoff
  // step (the fault harness measured 1.3-2.5 s to healthy with the transport's 2 s default).
  net::PeerTransportOptions peer_transport = [] {
    net::PeerTransportOptions o;
    o.backoff_max = std::chrono::milliseconds(100);
    o.refuse_unknown_senders = true;         // only members (and members-to-be of --initial-cluster) deliver
    o.frame_bytes_max = kPeerFrameBytesMax;  // any accepted entry fits in one MsgApp (size_policy.h)
    return o;
  }();
};

// Free bytes a snapshot needs beyond its own size when it arrives (its store is unpacked next to the
// current one): what the WAL and the store may still write meanwhile.
inline constexpr uint64_t kSnapshotSpaceReserveBytes = 64ull << 20;
// Why a snapshot of snapshot_bytes cannot be unpacked with `free` bytes left on the member's disk
// (nullopt: it can, or the free space is unknown). Checked when a transfer begins: a member refuses such a
// snapshot before raft sees it rather than stopping on ENOSPC halfway through writing it (the leader
// sends it again later; the operator sees the refusals in the log and in snapshots_refused).
std::optional<std::string> snapshot_space_defect(uint64_t snapshot_bytes, std::optional<uint64_t> free);
// Free bytes for an unprivileged writer under `dir` (statvfs: f_bavail * f_frsize); nullopt when it
// cannot be read. Also the disk guard's default probe (server/disk/guard.h).
std::optional<uint64_t> free_bytes(const std::string& dir);

// Header fields the server owns.
struct HeaderInfo {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  uint64_t raft_term = 0;
};

// Counters for /metrics (any thread).
struct NodeStats {
  std::atomic<uint64_t> proposals_committed{0};
  std::atomic<uint64_t> proposals_applied{0};
  std::atomic<uint64_t> proposals_pending{0};
  std::atomic<uint64_t> proposals_failed{0};
  std::atomic<uint64_t> inbox_proposals_refused{0};  // kInboxProposalBytesMax or kInboxProposalsMax reached
  std::atomic<uint64_t> leader_changes{0};
  std::atomic<uint64_t> has_leader{0};
  std::atomic<uint64_t> is_leader{0};
  std::atomic<uint64_t> wal_fsyncs{0};
  std::atomic<uint64_t> wal_fsync_micros_total{0};
  std::atomic<uint64_t> db_size_bytes{0};
  std::atomic<uint64_t> term{0};
  std::atomic<uint64_t> snapshots_saved{0};        // local snapshots (WAL released behind them)
  std::atomic<uint64_t> snapshots_sent{0};         // store snapshots streamed to a lagging member
  std::atomic<uint64_t> snapshots_installed{0};    // store snapshots received and installed
  std::atomic<uint64_t> snapshots_refused{0};      // from the leader, malformed: dropped before raft saw them
  std::atomic<uint64_t> peer_messages_refused{0};  // raft::Error::kMalformedMessage: dropped by raft
  std::atomic<uint64_t> snapshot_index{0};         // index of the latest local snapshot
  std::atomic<uint64_t> log_cache_bytes{0};        // the in-memory raft log (NodeConfig::log_cache_bytes_max)
  // Applied kStateCheck entries (server/corrupt/chain_check.h), by what this member's chain said.
  std::atomic<uint64_t> state_checks_matched{0};
  std::atomic<uint64_t> state_checks_mismatched{0};
  std::atomic<uint64_t> state_checks_skipped{0};  // the revision is not among those this member keeps
  MvccCounters mvcc;                              // etcd_mvcc_{put,delete,range,txn}_total
  // etcd's buckets (wal/metrics.go, mvcc/backend/metrics.go): 1 ms doubling, 14 buckets (to 8.192 s).
  metrics::Histogram wal_fsync_seconds{metrics::exponential_buckets(0.001, 2, 14)};
  // One applied entry's store write (building and committing its RocksDB WriteBatch).
  metrics::Histogram backend_commit_seconds{metrics::exponential_buckets(0.001, 2, 14)};
  // Raft bytes to/from each peer, and the heartbeat round trip a leader sees to each follower.
  metrics::PeerMetrics peers;
};

// A kStateCheck entry as this member applied it: the proposer's chain at check.revision and this
// member's own (nullopt: not known here: older than the revisions the store keeps, a store without a
// chain (storage/mvcc_store.h), or a revision this member has not reached).
struct StateCheckOutcome {
  StateCheck check;
  uint64_t origin = 0;  // the member that proposed it
  uint64_t index = 0;   // of the entry
  std::optional<uint32_t> local;
  int64_t local_revision = 0;  // this member's revision when it applied the check
  bool has_chain = false;      // this member's store has a chain
  bool matched() const { return local && *local == check.chain; }
  // Another chain, or (with a chain) a revision below the check's: the entries that made check.revision
  // come before the check in the log, so a member that applied the check and has not reached it lost one.
  bool diverged() const {
    return local ? *local != check.chain : has_chain && local_revision < check.revision;
  }
};

// Observers of the node's state machine, for the services that live beside it (watch hub, lessor).
// Every callback runs on the node thread, must not block and may call the node-thread-only accessors.
// Register with Node::add_observer before start().
struct NodeObserver {
  // After each committed entry has been applied to the store (store entries and no-ops alike; the
  // store's applied() index says which). Not called for entries skipped because already applied.
  std::function<void(uint64_t index)> on_applied;
  // When raft's view of the leader or this member's role changes (leader = 0: none known).
  std::function<void(uint64_t leader, bool is_leader, uint64_t term)> on_leader_change;
  // Every heartbeat interval, after raft has ticked.
  std::function<void()> on_tick;
  // After the store was replaced by a snapshot from the leader: derived state must be rebuilt.
  std::function<void()> on_store_restored;
  // After a kStateCheck entry was applied (it changes no state; on_applied follows as for any entry).
  std::function<void(const StateCheckOutcome&)> on_state_check;
  // Once, when the node stops (before the node thread ends).
  std::function<void()> on_stop;
};

// The node's effects on the world outside its memory, each replaceable by a twin. The defaults are
// production's; tests inject failures through them, and the server simulator (tests/sim/server_sim.h)
// replaces every one, so that the code it runs is the code that serves.
struct NodeEnv {
  // The WAL's files (nullptr: the POSIX file system). Must outlive the node.
  wal::FileSystem* wal_fs = nullptr;
  // The time every decision reads: request deadlines, publish retries, raft's seed (nullptr: steady).
  // Must outlive the node.
  const base::Clock* clock = nullptr;
  // The store's engine at db_dir (empty: RocksDB, with fail-stop on a failed write).
  std::function<Expected<std::unique_ptr<storage::KvEngine>, std::string>(const std::string& db_dir)>
      open_engine;
  // The peer network, given the node's callbacks (empty: net::PeerTransport on start()'s io_context,
  // listening on the peer port).
  std::function<std::unique_ptr<net::PeerNetwork>(net::PeerTransportCallbacks)> open_network;
  // No node thread and no tick timer: the owner is the node thread, and calls poll() and tick(). With
  // async_wal_writes the WAL writer has no thread either: the owner runs it (write_wal()) when it
  // decides the disk gets to it. Nothing else but an outgoing snapshot's packing (snap_thread_) and
  // Defragment leave the owner's thread.
  bool driven = false;
};

class Node {
 public:
  explicit Node(NodeConfig cfg);
  // With the file system the WAL runs on (tests inject failures through it; it must outlive the node).
  Node(NodeConfig cfg, wal::FileSystem& wal_fs);
  Node(NodeConfig cfg, NodeEnv env);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Opens WAL and store (bootstrapping a new member), listens on the peer port and starts the node
  // thread. The peer transport runs on net_ioc. Errors as text for the operator.
  Expected<bool, std::string> start(boost::asio::io_context& net_ioc);
  // Stops the node thread and the transport; pending requests get "server stopped".
  void stop();

  // ---- NodeEnv::driven only (the owner's thread is the node thread) ----
  // Runs what is queued for the node thread (drains, tasks, completions) until nothing is; the count run.
  size_t poll();
  // One heartbeat interval's work: raft's tick, the observers' on_tick, deadlines, reads (the tick timer's
  // job when not driven).
  void tick();
  // A crash: the node stops where it is. Nothing more is written, nothing is closed or synced, no pending
  // request is answered (their callbacks are destroyed unrun). The node is unusable afterwards.
  void abandon();
  // With async_wal_writes: writes (and syncs) every Ready the node queued for its WAL writer; their
  // acknowledgements follow at the next poll(). How many Readies that was.
  size_t write_wal();
  bool wal_writes_queued();

  // ---- thread-safe entry points (callbacks run on the node thread) ----
  // Proposes a store request (or a publish); done gets the store's response once applied here.
  void propose(EntryKind kind, std::string body, ApplyDone done);
  // A client's request: `who` (from auth().identify) goes into the entry and is checked at apply time.
  void propose(EntryKind kind, std::string body, EntryAuth who, ApplyDone done);
  // Calls done once a linearizable read may be served locally (ReadIndex, batched).
  void linearize(ErrorDone done);
  // Proposes a membership change; done once it is applied here.
  void conf_change(raft::ConfChange cc, ErrorDone done);
  // Transfers leadership (leader only); done once the target leads.
  void move_leader(uint64_t target, ErrorDone done);
  // Runs task on the node thread. False if the inbox is full (the task is dropped).
  bool run(std::function<void()> task);
  // Before start() only.
  void add_observer(NodeObserver o) { observers_.push_back(std::move(o)); }

  // ---- node thread only ----
  storage::MvccStore& store() { return *store_; }
  // Records deleted by the compaction sweeper since start (node thread).
  uint64_t compaction_records_deleted() const { return sweeper_ ? sweeper_->records_deleted() : 0; }
  // Maintenance.Hash (whole) or HashKV at `revision`, computed in bounded steps between the node's other
  // work (hash_runner.h); done() gets the answer on the node thread. Node thread only.
  void hash_async(bool whole, int64_t revision, HashRunner::Done done);
  // Maintenance.Defragment on its own thread (defragmenter.h); done() runs on the node thread.
  void defragment_async(Defragmenter::Done done) { defrag_->start(store_->engine(), std::move(done)); }
  // Runs fn once no compacted record is left to delete (CompactionSweeper::when_swept; node thread).
  void when_compaction_swept(std::function<void()> fn) {
    if (sweeper_) {
      sweeper_->when_swept(std::move(fn));
    } else {
      fn();
    }
  }
  HeaderInfo header() const;
  const std::map<uint64_t, MemberInfo>& members() const { return members_; }
  uint64_t leader() const { return lead_; }
  bool is_learner() const;
  // The cluster's downgrade state (server/node/version.h), as of the last applied entry.
  const DowngradeInfo& downgrade() const { return downgrade_; }
  raft::Status raft_status() const { return raw_->status(); }
  uint64_t committed_index() const { return mem_.hard_state().commit; }
  uint64_t applied_index() const { return store_->applied().index; }
  uint64_t next_request_id() { return ++request_seq_; }

  // ---- any thread ----
  // Authentication and authorization (server/auth/auth.h says which parts are for which thread).
  auth::Auth& auth() { return *auth_; }
  const NodeConfig& config() const { return cfg_; }
  // The clock every decision of this member reads (NodeEnv::clock); the lessor reads it too.
  const base::Clock& clock() const { return *clock_; }
  uint64_t member_id() const { return cfg_.member_id; }
  const NodeStats& stats() const { return stats_; }
  // A range served here (etcd_mvcc_range_total; writes are counted where they are applied).
  void count_range() { stats_.mvcc.add(MvccOpCounts{0, 0, 1}, false); }
  std::chrono::milliseconds request_timeout() const { return request_timeout_; }

 private:
  struct PendingProposal {
    EntryKind kind;
    std::string body;
    ApplyDone done;
    std::optional<EntryAuth> auth;
  };

  void propose(EntryKind kind, std::string body, std::optional<EntryAuth> who, ApplyDone done);
  void schedule_drain_locked();
  void on_step_refused(uint64_t from, raft::MessageType type, raft::Error err);
  void drain();
  void propose_all(std::vector<PendingProposal>& props);
  void on_proposed(uint64_t id, ApplyDone done, const Expected<bool, raft::Error>& r);
  void log_published(const etcdserverpb::Member& pb) const;
  void observe_round_trip(uint64_t peer, std::chrono::steady_clock::time_point now);
  void on_tick();
  // Readies advanced and queued to the writer, oldest first (pending_writes_):
  // what to do once each is durable.
  struct PendingWrite {
    uint64_t number = 0;
    std::shared_ptr<const std::vector<raft::Entry>> entries;
    std::optional<raft::HardState> hard_state;
    std::vector<raft::Message> after_persist;
  };
  void process_ready();
  void on_soft_state(const raft::SoftState& ss);
  void handle_ready_sync(raft::Ready& rd);
  void handle_ready_async(raft::Ready& rd);
  void on_writes_durable(const WalWriter::Done& done);
  void finish_write(PendingWrite& p);
  void on_hard_state_durable(const std::optional<raft::HardState>& hs);
  void observe_wal_sync(std::chrono::nanoseconds took);
  void send(std::vector<raft::Message>& msgs);
  void apply_committed(const std::vector<raft::Entry>& entries);
  void apply_entry(const raft::Entry& e);
  void apply_conf_entry(const raft::Entry& e);
  void warn_slow_apply(uint64_t index, std::chrono::nanoseconds took);
  MembershipView membership_view() const;
  // A kStateCheck entry: compares the store's chain at its revision, counts and tells the observers.
  void report_state_check(const StateCheck& c, uint64_t origin, uint64_t index);
  // A kDowngrade entry: its record goes into the entry's batch; downgrade_ follows once applied.
  void stage_downgrade(const DowngradeInfo& d, storage::WriteBatch& batch);
  void apply_publish(const etcdserverpb::Member& pb, const raft::Entry& e);
  void apply_noop(const raft::Entry& e);
  bool learner_refused(const raft::ConfChange& cc) const;
  void load_downgrade();
  std::string metadata_blob() const;
  [[nodiscard]] wal::Status save_metadata();
  // save_metadata() and a WAL sync, for membership applied from entry e; a failure stops the member.
  void persist_metadata(const char* what, const raft::Entry& e);
  Expected<std::unique_ptr<storage::KvEngine>, std::string> open_engine();
  Expected<bool, std::string> open_store();
  // start()'s steps, in order.
  Expected<bool, std::string> open_wal_and_store(wal::RecoveredState& st);
  Expected<bool, std::string> init_membership(wal::RecoveredState& st);
  void start_raft(const wal::RecoveredState& st);
  Expected<bool, std::string> start_transport(boost::asio::io_context& net_ioc);
  void start_node_thread();
  void on_peer_message(uint64_t from, std::string payload);
  Expected<bool, std::string> force_new_cluster_on_start(wal::RecoveredState& st);
  bool snapshot_due(uint64_t applied) const;
  void maybe_snapshot();
  void send_snapshot(raft::Message m);
  std::unique_ptr<net::LargeSink> open_snapshot_transfer(uint64_t from, uint64_t total);
  void on_snapshot_received(uint64_t from, const std::string& header, const std::string& name,
                            const std::string& dir);
  void note_received_snapshot(const raft::Snapshot& snap);
  void reap_received_snapshot();
  void prepare_snapshot_install(const raft::Snapshot& snap);
  void finish_snapshot_install(raft::Snapshot snap);
  // from_snapshot: the blob came from the leader (its header names the leader, not this member).
  bool load_metadata(const std::string& blob, bool from_snapshot = false);
  void update_peers();
  std::optional<net::Endpoint> admit_unknown(uint64_t from, const std::string& url);
  bool admitted(uint64_t from);
  void maybe_publish();
  void expire_requests();
  void start_read_round();
  void serve_reads();
  void fail_all(const EtcdError& err);

  base::TimePoint now() const { return clock_->now(); }
  void tick_and_rearm();

  NodeConfig cfg_;
  NodeEnv env_;
  base::SteadyClock steady_clock_;
  const base::Clock* clock_ = &steady_clock_;
  std::vector<NodeObserver> observers_;
  std::unique_ptr<auth::Auth> auth_;
  std::string auth_error_;  // a bad --auth-token: start() refuses with it
  // The commit index found in the WAL at start: entries up to it are replays (auth tokens not revived).
  uint64_t start_commit_index_ = 0;
  std::chrono::milliseconds request_timeout_;
  NodeStats stats_;

  // node thread state
  boost::asio::io_context ioc_;
  std::unique_ptr<boost::asio::steady_timer> tick_timer_;
  std::thread thread_;
  wal::PosixFileSystem fs_;
  wal::FileSystem* wal_fs_ = &fs_;
  std::unique_ptr<wal::Wal> wal_;
  // wal_writer.h: held by every use of wal_, on the node thread and on the writer's.
  std::mutex wal_mu_;
  std::unique_ptr<CompactionSweeper> sweeper_;  // deletes compacted records between other work
  std::unique_ptr<HashRunner> hashes_;          // Hash/HashKV in steps
  std::unique_ptr<Defragmenter> defrag_;        // Defragment beside the node thread
  std::unique_ptr<WalWriter> wal_writer_;       // --wal-write-mode=async; destroyed before wal_
  std::deque<PendingWrite> pending_writes_;
  raft::MemoryStorage mem_;
  std::unique_ptr<raft::RawNode> raw_;
  std::unique_ptr<storage::MvccStore> store_;
  std::unique_ptr<net::PeerNetwork> transport_;
  std::string member_dir_;
  std::unique_ptr<StoreDir> store_dir_;  // the store's directory and the install protocol's files
  std::string db_dir_;
  // One outgoing store snapshot at a time: packed and queued on snap_thread_ (node thread starts it,
  // stop() joins it).
  std::thread snap_thread_;
  std::atomic<bool> snap_busy_{false};
  uint64_t snap_seq_ = 0;
  // One incoming snapshot transfer at a time, from its first byte until raft installed or dropped it.
  struct ReceivedSnapshot {
    std::string dir;
    uint64_t index = 0;
  };
  std::atomic<bool> snap_recv_busy_{false};
  std::atomic<uint64_t> snap_recv_seq_{0};
  std::optional<ReceivedSnapshot> received_snap_;  // node thread: stepped, not yet reaped
  uint64_t snapshot_index_ = 0;                    // latest local (or installed) snapshot
  std::map<uint64_t, MemberInfo> members_;
  DowngradeInfo downgrade_;
  raft::ConfState conf_state_;
  uint64_t cluster_id_ = 0;
  // The last conf-change entry reflected in conf_state_ and members_, saved with them in the WAL
  // metadata. A store that lost applied batches in a crash replays entries from before it; conf changes
  // at or below it are not applied again (raft's configuration would otherwise go back in time, and
  // replaying the bootstrap entries would re-derive the cluster id from today's members).
  uint64_t conf_index_ = 0;
  // Applied index when the store last started a background flush (maybe_snapshot): the store skips
  // RocksDB's WAL, so this bounds how many entries a crashed member replays from the raft WAL.
  uint64_t flush_started_index_ = 0;
  uint64_t lead_ = 0;
  uint64_t request_seq_ = 0;
  RequestWaiters waiters_;  // requests waiting for their entry or a leader (request_waiters.h)
  ReadIndexBatcher reads_;  // linearizable reads (read_index.h)
  std::chrono::steady_clock::time_point last_publish_attempt_{};
  bool published_ = false;
  bool stopped_ = false;
  int pending_tick_advance_ = 0;  // election ticks to advance at the first peer message (start())
  std::map<uint64_t, std::chrono::steady_clock::time_point> last_heard_;  // peer -> last message (drain())
  // peer -> when the last heartbeat went out (send()), for etcd_network_peer_round_trip_time_seconds.
  std::map<uint64_t, std::chrono::steady_clock::time_point> heartbeat_sent_;
  uint64_t refused_since_log_ = 0;  // malformed peer messages since the last log line (on_step_refused)
  std::chrono::steady_clock::time_point last_refused_log_{};
  uint64_t slow_applies_ = 0;  // entries slower than warning_apply_duration
  std::chrono::steady_clock::time_point last_slow_apply_log_{};
  LostTailNotices lost_tail_notices_;

  // inbox (any thread)
  std::mutex inbox_mu_;
  bool drain_scheduled_ = false;
  bool inbox_closed_ = false;
  std::vector<raft::Message> inbox_msgs_;
  std::vector<PendingProposal> inbox_props_;
  size_t inbox_prop_bytes_ = 0;  // body bytes in inbox_props_ (kInboxProposalBytesMax)
  std::vector<std::function<void()>> inbox_tasks_;
  std::vector<uint64_t> inbox_unreachable_;

  // Senders this member's membership does not name, admitted by the peer transport so that they can
  // be answered (admit_unknown): at most kAdmittedUnknownMax at a time; their vote requests are dropped.
  // An id leaves once an applied conf change names it (update_peers). Any thread.
  std::mutex admitted_mu_;
  std::set<uint64_t> admitted_unknown_;
};

// etcd's member id: the first 8 bytes (big-endian) of sha1(sorted peer URLs joined + cluster token).
uint64_t derive_member_id(std::vector<std::string> peer_urls, const std::string& token);
// etcd's cluster id: the first 8 bytes of sha1(sorted member ids, 8 bytes big-endian each).
uint64_t derive_cluster_id(std::vector<uint64_t> member_ids);

}  // namespace cairn::server::node
