#include "server/node/node.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <source_location>

#include "base/assert.h"
#include "base/hex.h"
#include "proto/raft_codec.h"
#include "raft/bootstrap.h"
#include "server/log/log.h"
#include "server/node/entry_decode.h"
#include "server/node/fatal.h"
#include "server/node/force_new_cluster.h"
#include "server/node/membership.h"
#include "server/node/reconfig_check.h"
#include "server/node/snapshot_files.h"
#include "server/node/snapshot_stream.h"
#include "server/node/store_install.h"
#include "server/node/url.h"
#include "server/node/wal_recovery.h"
#include "server/node/wal_retention.h"
#include "storage/rocksdb_engine.h"

namespace cairn::server::node {

namespace {

uint64_t be64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | p[i];
  return v;
}

// One log line; "fatal: ..." (the member aborts next) at zap's fatal level, "... failed" at warn.
void log_line(const char* fmt, const std::string& a = {}, const std::string& b = {},
              std::source_location where = std::source_location::current()) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, fmt, a.c_str(), b.c_str());
  std::string_view text(buf);
  log::Level level = log::Level::kInfo;
  if (text.starts_with("fatal: ")) {
    level = log::Level::kFatal;
    text.remove_prefix(7);
  } else if (text.find("failed") != std::string_view::npos) {
    level = log::Level::kWarn;
  }
  log::write(level, text, {}, where);
}

}  // namespace

uint64_t derive_member_id(std::vector<std::string> peer_urls, const std::string& token) {
  std::sort(peer_urls.begin(), peer_urls.end());
  std::string b;
  for (const auto& u : peer_urls)
    b += u;
  b += token;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(b.data()), b.size(), digest);
  return be64(digest);
}

uint64_t derive_cluster_id(std::vector<uint64_t> ids) {
  std::sort(ids.begin(), ids.end());
  std::string b;
  for (uint64_t id : ids)
    for (int i = 7; i >= 0; --i)
      b.push_back(static_cast<char>((id >> (8 * i)) & 0xff));
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(b.data()), b.size(), digest);
  return be64(digest);
}

Node::Node(NodeConfig cfg)
    : cfg_(std::move(cfg)), waiters_(kPendingRequestsMax), reads_(cfg_.member_id, kPendingRequestsMax) {
  // etcd: 5 s plus two election timeouts.
  request_timeout_ = std::chrono::milliseconds(5000) + 2 * cfg_.election;
  // Created here so the API can ask it from the first request on; a bad configuration stops start().
  auto a = auth::Auth::create(cfg_.auth);
  if (!a) {
    auth_error_ = a.error();
    a = auth::Auth::create(auth::AuthOptions{});
  }
  auth_ = std::move(*a);
}

Node::Node(NodeConfig cfg, wal::FileSystem& wal_fs)
    : Node(std::move(cfg), [&] {
        NodeEnv env;
        env.wal_fs = &wal_fs;
        return env;
      }()) {}

Node::Node(NodeConfig cfg, NodeEnv env) : Node(std::move(cfg)) {
  env_ = std::move(env);
  if (env_.wal_fs) wal_fs_ = env_.wal_fs;
  if (env_.clock) clock_ = env_.clock;
}

Node::~Node() {
  stop();
}

HeaderInfo Node::header() const {
  return {cluster_id_, cfg_.member_id, raw_ ? raw_->raft().term() : 0};
}

bool Node::is_learner() const {
  auto it = members_.find(cfg_.member_id);
  return it != members_.end() && it->second.learner;
}

Expected<std::unique_ptr<storage::KvEngine>, std::string> Node::open_engine() {
  if (env_.open_engine) return env_.open_engine(db_dir_);
  storage::RocksOptions ro;
  // The first failed write to the store's files stops the member (storage/fail_stop_fs.h explains why).
  ro.on_io_failure = [](const std::string& what) { fatal_stop(FatalExit::kStorage, what); };
  auto engine = storage::RocksEngine::open(db_dir_, std::move(ro));
  if (!engine) return unexpected(engine.error().message());
  return std::unique_ptr<storage::KvEngine>(std::move(*engine));
}

Expected<bool, std::string> Node::open_store() {
  store_.reset();
  auto engine = open_engine();
  if (!engine) return unexpected("open store " + db_dir_ + ": " + engine.error());
  storage::StoreOptions so;
  so.quota_backend_bytes = cfg_.quota_backend_bytes;
  // The raft WAL is the durable record: the store's writes reach disk lazily and are synced before the
  // WAL is released behind a snapshot (maybe_snapshot), so a crash only makes the store replay entries.
  // Applied batches also skip RocksDB's own WAL (one write() per entry saved): sync() flushes them.
  so.sync_writes = false;
  so.engine_log = false;
  // --max-txn-ops is checked where requests enter (NodeConfig::max_txn_ops): apply takes what was
  // committed, so members started with different limits stay identical.
  so.txn_ops_max = std::numeric_limits<size_t>::max();
  auto store = storage::MvccStore::open(std::move(*engine), so);
  if (!store) return unexpected("open store " + db_dir_ + ": " + store.error().message());
  store_ = std::move(*store);
  if (auto r = auth_->load(store_->engine()); !r)
    return unexpected("open store " + db_dir_ + ": " + r.error());
  load_downgrade();
  return true;
}

void Node::load_downgrade() {
  downgrade_ = DowngradeInfo{};
  auto v = store_->engine().get(storage::Space::kMeta, kDowngradeMetaKey);
  if (!v || !*v) return;
  if (auto d = decode_downgrade(**v)) downgrade_ = *d;
}

// start() in its steps: WAL and store, membership, raft, the peer transport, the node thread.
Expected<bool, std::string> Node::start(boost::asio::io_context& net_ioc) {
  if (!auth_error_.empty()) return unexpected(auth_error_);
  wal::RecoveredState st;
  if (auto r = open_wal_and_store(st); !r) return r;
  if (auto r = init_membership(st); !r) return r;
  start_raft(st);
  if (auto r = start_transport(net_ioc); !r) return r;
  start_node_thread();
  return true;
}

// Opens the WAL (what it recovered goes to st), finishes a snapshot install a crash interrupted, opens the
// store and checks that it reaches the WAL's snapshot.
Expected<bool, std::string> Node::open_wal_and_store(wal::RecoveredState& st) {
  namespace fs = std::filesystem;
  std::error_code ec;
  member_dir_ = cfg_.data_dir + "/member";
  std::string wal_dir = cfg_.wal_dir.empty() ? member_dir_ + "/wal" : cfg_.wal_dir;
  store_dir_ = std::make_unique<StoreDir>(member_dir_);
  db_dir_ = store_dir_->db_dir();
  fs::create_directories(wal_dir, ec);
  if (ec) return unexpected("cannot create " + wal_dir + ": " + ec.message());

  wal::WalOptions wo;
  wo.segment_size_bytes_max = cfg_.wal_segment_bytes;
  auto opened = wal::Wal::open(*wal_fs_, wal_dir, wo);
  if (!opened) return unexpected("open WAL " + wal_dir + ": " + opened.error().to_string());
  wal_ = std::move(opened->wal);
  st = std::move(opened->state);
  if (auto notice = lost_tail_notices_.at_start(st)) log_line("%s", *notice);

  if (auto r = store_dir_->recover(st.snapshot); !r) return unexpected(r.error());
  fs::create_directories(db_dir_, ec);
  if (ec) return unexpected("cannot create " + db_dir_ + ": " + ec.message());
  if (auto r = open_store(); !r) return unexpected(r.error());
  if (st.snapshot && store_->applied().index < st.snapshot->index)
    return unexpected("store " + db_dir_ + " (applied index " + std::to_string(store_->applied().index) +
                      ") is behind the WAL's snapshot at index " + std::to_string(st.snapshot->index) +
                      ": the entries in between are gone; restore this member from a snapshot");
  if (st.snapshot) {
    snapshot_index_ = st.snapshot->index;
    stats_.snapshot_index = snapshot_index_;
  }
  return true;
}

// The membership at start: a new cluster's bootstrap entries (durable before raft starts), a joining
// member's empty one (the log brings it), or the WAL metadata's; then --force-new-cluster.
Expected<bool, std::string> Node::init_membership(wal::RecoveredState& st) {
  const bool fresh = st.entries.empty() && st.hard_state.empty() && !st.snapshot && !st.metadata;
  for (const auto& m : cfg_.initial_members)
    members_[m.id] = m;
  if (fresh && cfg_.new_cluster) {
    std::vector<raft::NodeId> voters;
    for (const auto& m : cfg_.initial_members)
      voters.push_back(m.id);
    raft::BootstrapState bs = raft::bootstrap_state(voters);
    conf_state_ = bs.conf_state;
    cluster_id_ = derive_cluster_id(voters);
    if (auto s = wal_->append(bs.entries, &bs.hard_state); !s.is_ok()) return unexpected(s.message());
    st.entries = bs.entries;
    st.hard_state = bs.hard_state;
  } else if (fresh) {
    members_.clear();  // joining an existing cluster: membership comes from the log
  } else if (st.metadata) {
    if (!load_metadata(*st.metadata)) return unexpected("WAL metadata does not decode");
  }
  if (fresh) {
    if (auto s = save_metadata(); !s.is_ok()) return unexpected("WAL metadata: " + s.message());
    auto d = wal_->sync();
    if (!d) return unexpected("WAL sync: " + d.error().message());
  }
  if (!members_.count(cfg_.member_id) && cfg_.new_cluster && fresh)
    return unexpected("this member is not in --initial-cluster");
  if (cfg_.force_new_cluster && !fresh) {
    if (auto r = force_new_cluster_on_start(st); !r) return unexpected(r.error());
  }
  return true;
}

// Raft's storage from what the WAL recovered, and the RawNode.
void Node::start_raft(const wal::RecoveredState& st) {
  if (st.snapshot) {
    raft::Snapshot snap;
    snap.metadata = *st.snapshot;
    mem_.apply_snapshot(snap);
  }
  mem_.set_conf_state(conf_state_);
  mem_.append(st.entries);
  mem_.set_hard_state(st.hard_state);
  start_commit_index_ = st.hard_state.commit;

  raft::Config rc;
  rc.id = cfg_.member_id;
  rc.heartbeat_interval_ticks = 1;
  rc.election_timeout_ticks = std::max<int>(
      2, static_cast<int>(cfg_.election.count() / std::max<int64_t>(1, cfg_.heartbeat.count())));
  rc.applied = raft_applied_at_start(store_->applied().index, st.hard_state, conf_index_, st.entries);
  rc.rng_seed = cfg_.member_id ^ static_cast<uint64_t>(now().time_since_epoch().count());
  rc.pre_vote = cfg_.pre_vote;
  rc.uncommitted_bytes_max = cfg_.raft_uncommitted_bytes_max;
  rc.inflight_bytes_max = cfg_.raft_inflight_bytes_max;
  rc.async_storage_writes = cfg_.async_wal_writes;
  raw_ = std::make_unique<raft::RawNode>(rc, &mem_);
  // etcd's initial election tick advance: a one-member cluster campaigns after one tick; a larger one
  // advances all but two ticks once the first peer message shows the network is up (drain()).
  if (conf_state_.voters.size() <= 1 || cfg_.force_new_cluster) {
    for (int i = 1; i < rc.election_timeout_ticks; ++i)
      raw_->tick();
  } else if (cfg_.initial_election_tick_advance) {
    pending_tick_advance_ = rc.election_timeout_ticks - 2;
  }
  request_seq_ = (cfg_.member_id & 0xffffffff00000000ull) ^
                 (static_cast<uint64_t>(now().time_since_epoch().count()) & 0xffffffffull) << 16;
}

// A message from a peer (the transport's strand): raft messages go to the inbox; a snapshot must come as
// a transfer, and an admitted non-member gets no vote.
void Node::on_peer_message(uint64_t from, std::string payload) {
  if (auto* peer = stats_.peers.of(from))
    peer->received_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
  auto m = proto::decode_message(payload);
  if (!m) return;
  if (m->type == raft::MessageType::kSnap) {
    // Snapshots come only as snapshot transfers (open_large): the store is in files, not in a message.
    stats_.snapshots_refused++;
    log_line("refused a snapshot from member %s: it came as a message, not as a snapshot transfer",
             std::to_string(from));
    return;
  }
  if ((m->type == raft::MessageType::kVote || m->type == raft::MessageType::kPreVote) && admitted(from))
    return;  // a sender outside the membership answers no vote (it may be a removed member)
  std::lock_guard lk(inbox_mu_);
  if (inbox_closed_ || inbox_msgs_.size() >= kInboxPeerMessagesMax) return;  // raft tolerates loss
  inbox_msgs_.push_back(std::move(*m));
  schedule_drain_locked();
}

namespace {
// Each kind of refusal (the text after "refused: ") is logged at most once every 10 s with a count of the
// ones not logged: a removed member redialing, or a flood, must not flood the log. On the strand.
std::function<void(const std::string&)> refusal_logger() {
  return [seen = std::map<std::string, std::pair<std::chrono::steady_clock::time_point, uint64_t>>{}](
             const std::string& reason) mutable {
    auto at = reason.find("refused: ");
    std::string kind = at == std::string::npos ? reason : reason.substr(at);
    auto now = std::chrono::steady_clock::now();
    if (seen.size() > 256) seen.clear();
    auto [it, fresh] = seen.try_emplace(kind, now, 0);
    if (!fresh && now - it->second.first < std::chrono::seconds(10)) {
      ++it->second.second;
      return;
    }
    std::string more = it->second.second > 0 ? " (and " + std::to_string(it->second.second) + " more)" : "";
    it->second = {now, 0};
    log_line("%s%s", reason, more);
  };
}
}  // namespace

// The peer transport on net_ioc, listening on the peer port (or unix socket), dialing the members.
Expected<bool, std::string> Node::start_transport(boost::asio::io_context& net_ioc) {
  net::PeerTransportCallbacks cb;
  cb.on_message = [this](net::PeerId from, std::string payload) {
    on_peer_message(from, std::move(payload));
  };
  cb.on_refused = refusal_logger();
  cb.open_large = [this](net::PeerId from, uint64_t total) { return open_snapshot_transfer(from, total); };
  cb.admit_unknown = [this](net::PeerId from, const std::string& url) { return admit_unknown(from, url); };
  cb.on_unreachable = [this](net::PeerId to) {
    std::lock_guard lk(inbox_mu_);
    if (inbox_closed_ || inbox_unreachable_.size() >= kInboxPeerMessagesMax) return;
    inbox_unreachable_.push_back(to);
    schedule_drain_locked();
  };
  if (env_.open_network) {
    transport_ = env_.open_network(std::move(cb));
    update_peers();
    return true;
  }
  auto transport = std::make_unique<net::PeerTransport>(net_ioc, cfg_.member_id, cfg_.peer_transport, cb);
  if (!cfg_.listen_peer_unix.empty()) {
    if (auto e = transport->listen_unix(cfg_.listen_peer_unix))
      return unexpected("listen on peer socket " + cfg_.listen_peer_unix + ": " + e.message());
  } else if (auto e = transport->listen(cfg_.listen_peer_host, cfg_.listen_peer_port)) {
    return unexpected("listen on peer port " + std::to_string(cfg_.listen_peer_port) + ": " + e.message());
  }
  transport_ = std::move(transport);
  update_peers();
  return true;
}

// The tick, the background workers (compaction sweeper, hashes, defragment, the WAL writer with
// --wal-write-mode=async) and the node thread, whose first task handles what start() left ready.
void Node::start_node_thread() {
  if (!env_.driven) {
    tick_timer_ = std::make_unique<boost::asio::steady_timer>(ioc_);
    tick_timer_->expires_after(cfg_.heartbeat);
    tick_timer_->async_wait([this](boost::system::error_code e) {
      if (!e) tick_and_rearm();
    });
  }
  sweeper_ = std::make_unique<CompactionSweeper>(
      ioc_, CompactionSweeper::Options{cfg_.compaction_batch_limit, cfg_.compaction_sleep_interval},
      [this] { return store_.get(); }, [](const std::string& why) { fatal_stop(FatalExit::kStorage, why); });
  hashes_ = std::make_unique<HashRunner>(ioc_, kHashRecordsPerStep, kHashJobsMax);
  defrag_ = std::make_unique<Defragmenter>(ioc_);
  if (cfg_.async_wal_writes) {
    wal_writer_ = std::make_unique<WalWriter>(
        *wal_, wal_mu_,
        [this](WalWriter::Done done) {
          boost::asio::post(ioc_, [this, done = std::move(done)] { on_writes_durable(done); });
        },
        [](const std::string& why) { fatal_stop(FatalExit::kStorage, why); }, /*threaded=*/!env_.driven);
  }
  if (!env_.driven)
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "cairn-node");  // 15 bytes at most (top -H, /proc/*/task/*/comm)
      auto guard = boost::asio::make_work_guard(ioc_);
      ioc_.run();
    });
  boost::asio::post(ioc_, [this] {
    sweeper_->poke();  // what a compaction left before a restart
    process_ready();
  });
}

// --force-new-cluster (force_new_cluster.h): the committed log, then entries removing every other member,
// durable before raft starts; they are applied like any conf change once raft hands them out.
Expected<bool, std::string> Node::force_new_cluster_on_start(wal::RecoveredState& st) {
  const uint64_t snap_index = st.snapshot ? st.snapshot->index : 0;
  const uint64_t snap_term = st.snapshot ? st.snapshot->term : 0;
  auto forced = force_new_cluster(st.entries, st.hard_state, snap_index, snap_term, conf_state_, conf_index_,
                                  cfg_.member_id);
  if (!forced) {
    log_line("--force-new-cluster: this member is already the only one%s", "");
    return true;
  }
  if (auto s = wal_->append(forced->entries, &forced->hard_state); !s.is_ok())
    return unexpected("--force-new-cluster: WAL append: " + s.message());
  if (auto d = wal_->sync(); !d) return unexpected("--force-new-cluster: WAL sync: " + d.error().message());
  const uint64_t first_forced = forced->entries.front().index;
  std::erase_if(st.entries, [&](const raft::Entry& e) { return e.index >= first_forced; });
  st.entries.insert(st.entries.end(), forced->entries.begin(), forced->entries.end());
  st.hard_state = forced->hard_state;
  log_line("--force-new-cluster: restarting as a one-member cluster (%s membership changes appended)",
           std::to_string(forced->entries.size()));
  return true;
}

void Node::stop() {
  {
    std::lock_guard lk(inbox_mu_);
    if (inbox_closed_) return;
    inbox_closed_ = true;
  }
  if (thread_.joinable() || (env_.driven && raw_)) {
    boost::asio::post(ioc_, [this] {
      stopped_ = true;
      for (auto& o : observers_)
        if (o.on_stop) o.on_stop();
      fail_all(err_stopped());
      if (tick_timer_) tick_timer_->cancel();
      if (sweeper_) sweeper_->stop();
      if (hashes_) hashes_->cancel_all(err_stopped());
      if (defrag_) defrag_->finish();
      if (wal_writer_) wal_writer_->stop();  // writes what is queued
      if (wal_) {
        std::lock_guard wl(wal_mu_);
        if (auto s = wal_->close(); !s.is_ok()) log_line("WAL close failed: %s", s.message());
      }
      ioc_.stop();
    });
    if (env_.driven) {
      ioc_.restart();
      ioc_.run();  // ends at ioc_.stop() above, after what was queued before it
    } else {
      thread_.join();
    }
  }
  if (snap_thread_.joinable()) snap_thread_.join();
  if (transport_) transport_->shutdown();
}

void Node::schedule_drain_locked() {
  if (drain_scheduled_) return;
  drain_scheduled_ = true;
  boost::asio::post(ioc_, [this] { drain(); });
}

void Node::propose(EntryKind kind, std::string body, ApplyDone done) {
  propose(kind, std::move(body), std::optional<EntryAuth>{}, std::move(done));
}

void Node::propose(EntryKind kind, std::string body, EntryAuth who, ApplyDone done) {
  propose(kind, std::move(body), std::optional<EntryAuth>{std::move(who)}, std::move(done));
}

void Node::propose(EntryKind kind, std::string body, std::optional<EntryAuth> who, ApplyDone done) {
  std::unique_lock lk(inbox_mu_);
  if (inbox_closed_) {
    lk.unlock();
    done(unexpected(err_stopped()));
    return;
  }
  if (inbox_props_.size() >= kInboxProposalsMax ||
      (inbox_prop_bytes_ > 0 && inbox_prop_bytes_ + body.size() > kInboxProposalBytesMax)) {
    lk.unlock();
    stats_.inbox_proposals_refused++;
    done(unexpected(err_too_many_requests()));
    return;
  }
  inbox_prop_bytes_ += body.size();
  inbox_props_.push_back(PendingProposal{kind, std::move(body), std::move(done), std::move(who)});
  schedule_drain_locked();
}

bool Node::run(std::function<void()> task) {
  std::lock_guard lk(inbox_mu_);
  if (inbox_closed_ || inbox_tasks_.size() >= kInboxTasksMax) return false;
  inbox_tasks_.push_back(std::move(task));
  schedule_drain_locked();
  return true;
}

void Node::linearize(ErrorDone done) {
  if (cfg_.debug_unsafe_skip_read_index) {  // deliberately unsafe; see NodeConfig
    done(std::nullopt);
    return;
  }
  auto shared = std::make_shared<ErrorDone>(std::move(done));
  if (!run([this, shared] {
        if (lead_ == raft::kNone) {
          (*shared)(err_no_leader());
          return;
        }
        if (!reads_.add(*shared, now() + request_timeout_)) (*shared)(err_too_many_requests());
      })) {
    (*shared)(err_too_many_requests());
  }
}

void Node::conf_change(raft::ConfChange cc, ErrorDone done) {
  auto shared = std::make_shared<ErrorDone>(std::move(done));
  if (!run([this, cc, shared]() mutable {
        if (lead_ == raft::kNone) {
          (*shared)(err_no_leader());
          return;
        }
        // etcd's isLearnerReady: a learner is promoted only once its log reaches 90% of the leader's
        // (checked where the progress is known: on the leader; a follower's raft forwards the change).
        auto member = members_.find(cc.node_id);
        if (cc.type == raft::ConfChangeType::kAddNode && member != members_.end() && member->second.learner &&
            lead_ == cfg_.member_id) {
          const auto& tracker = raw_->raft().tracker();
          const raft::Progress* learner = tracker.progress(cc.node_id);
          const raft::Progress* self = tracker.progress(cfg_.member_id);
          if (!learner || !self || self->match_index == 0 ||
              static_cast<double>(learner->match_index) < 0.9 * static_cast<double>(self->match_index)) {
            (*shared)(err_learner_not_ready());
            return;
          }
        }
        if (auto e = check_reconfig(membership_view(), cc, cfg_.strict_reconfig_check, cfg_.max_learners)) {
          (*shared)(*e);
          return;
        }
        cc.id = next_request_id();
        auto r = raw_->propose_conf_change(cc);
        if (!r) {
          if (r.error() == raft::Error::kProposalDropped) {
            (*shared)(err_no_leader());
          } else {
            (*shared)(EtcdError{net::StatusCode::kFailedPrecondition,
                                "etcdserver: re-configuration failed due to not enough started members"});
          }
          return;
        }
        waiters_.add(cc.id, {nullptr, std::move(*shared), now() + request_timeout_});
      })) {
    (*shared)(err_too_many_requests());
  }
}

// What reconfig_check.h needs: voters, learners, started (published) members and, on the leader, the
// voters heard from within the last two election timeouts (at least etcd's 5 s health interval).
MembershipView Node::membership_view() const {
  MembershipView v;
  v.voters = conf_state_.voters;
  for (const auto& [id, m] : members_) {
    if (m.learner) v.learners.insert(id);
    if (!m.client_urls.empty()) v.started.insert(id);
  }
  if (lead_ == cfg_.member_id) {
    const auto window =
        std::max<std::chrono::steady_clock::duration>(std::chrono::seconds(5), 2 * cfg_.election);
    const auto now = this->now();
    v.active.emplace();
    v.active->insert(cfg_.member_id);
    for (const auto& [id, at] : last_heard_)
      if (now - at <= window) v.active->insert(id);
  }
  return v;
}

void Node::move_leader(uint64_t target, ErrorDone done) {
  auto shared = std::make_shared<ErrorDone>(std::move(done));
  if (!run([this, target, shared] {
        if (lead_ != cfg_.member_id) {
          (*shared)(err_not_leader());
          return;
        }
        auto it = members_.find(target);
        if (it == members_.end() || it->second.learner) {
          (*shared)(err_bad_leader_transferee());
          return;
        }
        if (target == cfg_.member_id) {
          (*shared)(std::nullopt);
          return;
        }
        raw_->transfer_leader(target);
        waiters_.add_transfer(target, std::move(*shared), now() + request_timeout_);
      })) {
    (*shared)(err_too_many_requests());
  }
}

// A heartbeat response closes the round trip of the last heartbeat sent to that follower (a response
// to an older one is counted against the newer send: an underestimate, never an invented delay).
void Node::observe_round_trip(uint64_t peer, base::TimePoint now) {
  auto it = heartbeat_sent_.find(peer);
  if (it == heartbeat_sent_.end()) return;
  if (auto* p = stats_.peers.of(peer))
    p->round_trip.observe(std::chrono::duration<double>(now - it->second).count());
  heartbeat_sent_.erase(it);
}
static_assert(kWalRecordBytesMax == wal::WalOptions{}.record_bytes_max,
              "size_policy.h must follow the WAL's record limit");

void Node::drain() {
  std::vector<raft::Message> msgs;
  std::vector<PendingProposal> props;
  std::vector<std::function<void()>> tasks;
  std::vector<uint64_t> unreachable;
  {
    std::lock_guard lk(inbox_mu_);
    drain_scheduled_ = false;
    msgs.swap(inbox_msgs_);
    props.swap(inbox_props_);
    inbox_prop_bytes_ = 0;
    tasks.swap(inbox_tasks_);
    unreachable.swap(inbox_unreachable_);
  }
  if (stopped_) return;
  if (pending_tick_advance_ > 0 && !msgs.empty()) {  // before stepping: a leader's message resets it
    for (int i = 0; i < pending_tick_advance_; ++i)
      raw_->tick();
    pending_tick_advance_ = 0;
  }
  const auto now = this->now();
  for (auto& m : msgs) {
    last_heard_[m.from] = now;
    if (m.type == raft::MessageType::kHeartbeatResp) observe_round_trip(m.from, now);
    const uint64_t from = m.from;
    const raft::MessageType type = m.type;
    if (type == raft::MessageType::kSnap) note_received_snapshot(m.snapshot);
    if (auto r = raw_->step(std::move(m)); !r) on_step_refused(from, type, r.error());
  }
  for (uint64_t id : unreachable)
    raw_->report_unreachable(id);
  propose_all(props);
  for (auto& t : tasks)
    t();
  start_read_round();
  process_ready();
  reap_received_snapshot();
}

// The drain's proposals, checked one by one, then proposed to raft as one batch: one append per
// follower for all of them. A leader checks raft's uncommitted budget here, entry by entry, as raft
// would (raft/raft.h Config::uncommitted_bytes_max), so that the batch as a whole is never refused for it.
void Node::propose_all(std::vector<PendingProposal>& props) {
  std::vector<std::string> batch;
  std::vector<uint64_t> ids;
  std::vector<ApplyDone> dones;
  const bool leader = raw_->raft().role() == raft::StateRole::kLeader;
  uint64_t uncommitted = raw_->raft().uncommitted_bytes();
  for (auto& p : props) {
    if (lead_ == raft::kNone) {
      stats_.proposals_failed++;
      p.done(unexpected(err_no_leader()));
      continue;
    }
    if (p.body.size() > cfg_.max_request_bytes) {
      p.done(unexpected(err_request_too_large()));
      continue;
    }
    if (waiters_.full(ids.size())) {
      p.done(unexpected(err_too_many_requests()));
      continue;
    }
    uint64_t id = next_request_id();
    std::string data =
        encode_entry_payload(EntryPayload{p.kind, id, cfg_.member_id, std::move(p.body), std::move(p.auth)});
    if (data.size() > kEntryBytesMax) {  // size_policy.h: never hand the WAL or a peer frame more
      p.done(unexpected(err_request_too_large()));
      continue;
    }
    const uint64_t budget = cfg_.raft_uncommitted_bytes_max;
    if (leader && budget != 0 && uncommitted != 0 && uncommitted + data.size() > budget) {
      stats_.proposals_failed++;
      p.done(unexpected(err_too_many_requests()));
      continue;
    }
    uncommitted += data.size();
    batch.push_back(std::move(data));
    ids.push_back(id);
    dones.push_back(std::move(p.done));
  }
  if (batch.empty()) return;
  auto r = raw_->propose_batch(std::move(batch));
  for (size_t i = 0; i < ids.size(); ++i)
    on_proposed(ids[i], std::move(dones[i]), r);
}

void Node::on_proposed(uint64_t id, ApplyDone done, const Expected<bool, raft::Error>& r) {
  if (!r) {
    stats_.proposals_failed++;
    done(unexpected(r.error() == raft::Error::kUncommittedBytesExceeded ? err_too_many_requests()
                                                                        : err_no_leader()));
    return;
  }
  waiters_.add(id, {std::move(done), nullptr, now() + request_timeout_});
  stats_.proposals_pending = waiters_.size();
}

// What raft refused of a peer's message. A malformed one (raft::Error::kMalformedMessage: only a faulty
// or hostile peer sends it) is counted and logged, at most one line every 10 s with the count since.
// The others are protocol events: a response from a member removed since, a proposal forwarded while
// no leader is known (its client times out, as with etcd).
void Node::on_step_refused(uint64_t from, raft::MessageType type, raft::Error err) {
  if (err != raft::Error::kMalformedMessage) return;
  stats_.peer_messages_refused++;
  ++refused_since_log_;
  const auto now = this->now();
  if (now - last_refused_log_ < std::chrono::seconds(10)) return;
  last_refused_log_ = now;
  log::warn("refused a malformed raft message from a peer",
            {{"from", std::to_string(from)},
             {"type", std::to_string(static_cast<int>(type))},
             {"error", raft::to_string(err)},
             {"refused-since-last-line", std::to_string(refused_since_log_)}});
  refused_since_log_ = 0;
}

void Node::hash_async(bool whole, int64_t revision, HashRunner::Done done) {
  auto hasher = whole ? store_->start_hash() : store_->start_hash_kv(revision);
  if (!hasher) {
    boost::asio::post(ioc_,
                      [done = std::move(done), e = from_store(hasher.error())] { done(unexpected(e)); });
    return;
  }
  hashes_->run(std::move(*hasher), std::move(done));
}

void Node::start_read_round() {
  if (auto ctx = reads_.start_round(lead_ != raft::kNone)) raw_->read_index(std::move(*ctx));
}

void Node::serve_reads() {
  reads_.serve(store_->applied().index);
}

void Node::on_tick() {
  if (stopped_) return;
  raw_->tick();
  for (auto& o : observers_)
    if (o.on_tick) o.on_tick();
  expire_requests();
  maybe_publish();
  start_read_round();
  process_ready();
  stats_.db_size_bytes = store_->db_size_bytes();
}

void Node::tick_and_rearm() {
  on_tick();
  if (stopped_) return;
  tick_timer_->expires_after(cfg_.heartbeat);
  tick_timer_->async_wait([this](boost::system::error_code e) {
    if (!e) tick_and_rearm();
  });
}

size_t Node::poll() {
  CAIRN_ASSERT(env_.driven);
  ioc_.restart();
  return ioc_.poll();
}

void Node::tick() {
  CAIRN_ASSERT(env_.driven);
  on_tick();
}

void Node::abandon() {
  CAIRN_ASSERT(env_.driven);
  {
    std::lock_guard lk(inbox_mu_);
    inbox_closed_ = true;
  }
  stopped_ = true;  // stop() is a no-op now (the inbox is closed); ~Node destroys the waiters unanswered
  if (wal_writer_) wal_writer_->abandon();  // its queue is lost with the power
  if (transport_) transport_->shutdown();
}

size_t Node::write_wal() {
  CAIRN_ASSERT(env_.driven);
  return wal_writer_ ? wal_writer_->write_queued() : 0;
}

bool Node::wal_writes_queued() {
  CAIRN_ASSERT(env_.driven);
  return wal_writer_ && wal_writer_->queued();
}

void Node::expire_requests() {
  auto now = this->now();
  stats_.proposals_failed += waiters_.expire(now);
  stats_.proposals_pending = waiters_.size();
  reads_.expire(now);
}

void Node::maybe_publish() {
  if (published_ || lead_ == raft::kNone) return;
  auto it = members_.find(cfg_.member_id);
  if (it == members_.end()) return;
  if (it->second.name == cfg_.name && it->second.client_urls == cfg_.advertise_client_urls) {
    published_ = true;
    return;
  }
  auto now = this->now();
  if (now - last_publish_attempt_ < std::chrono::seconds(2)) return;
  last_publish_attempt_ = now;
  MemberInfo me = it->second;
  me.name = cfg_.name;
  me.client_urls = cfg_.advertise_client_urls;
  uint64_t id = next_request_id();
  std::string data = encode_entry_payload(EntryPayload{EntryKind::kPublish, id, cfg_.member_id,
                                                       to_member_pb(me).SerializeAsString(), std::nullopt});
  // Refused (leader lost, transfer, budget): the next tick after 2 s proposes again.
  if (auto r = raw_->propose(std::move(data)); !r)
    log_line("publish proposal failed: %s", raft::to_string(r.error()));
}

void Node::send(std::vector<raft::Message>& msgs) {
  for (auto& m : msgs) {
    if (m.type == raft::MessageType::kSnap) {
      send_snapshot(std::move(m));
      continue;
    }
    if (m.type == raft::MessageType::kHeartbeat) heartbeat_sent_[m.to] = now();
    std::string bytes = proto::encode(m);
    if (auto* peer = stats_.peers.of(m.to))
      peer->sent_bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
    transport_->send(m.to, std::move(bytes));
  }
}

void Node::process_ready() {
  if (stopped_) return;
  while (raw_->has_ready()) {
    raft::Ready rd = raw_->ready();
    if (rd.soft_state) on_soft_state(*rd.soft_state);
    send(rd.messages);
    if (wal_writer_ && rd.snapshot.empty()) {
      handle_ready_async(rd);
    } else {
      handle_ready_sync(rd);
    }
    stats_.term = raw_->raft().term();
    serve_reads();
    maybe_snapshot();
  }
}

void Node::on_soft_state(const raft::SoftState& ss) {
  if (ss.lead != lead_) {
    if (ss.lead != raft::kNone) stats_.leader_changes++;
    lead_ = ss.lead;
    waiters_.on_leader(lead_);
  }
  stats_.has_leader = lead_ != raft::kNone;
  bool is_leader = ss.role == raft::StateRole::kLeader;
  stats_.is_leader = is_leader;
  for (auto& o : observers_)
    if (o.on_leader_change) o.on_leader_change(lead_, is_leader, raw_->raft().term());
}

// --wal-write-mode=sync, and every Ready with a snapshot: written and fsynced here, then advanced.
void Node::handle_ready_sync(raft::Ready& rd) {
  // Committed entries are already durable here (raft hands out only entries persisted by an earlier
  // Ready), so they are applied, and their clients answered, before this Ready's fsync rather than
  // after it: a write's reply does not wait for the WAL sync of the entries proposed after it. With a
  // snapshot in the Ready, the store is replaced first and entries follow it.
  const bool early_apply = rd.snapshot.empty();
  if (early_apply) apply_committed(rd.committed_entries);
  if (!rd.snapshot.empty()) prepare_snapshot_install(rd.snapshot);
  if (!rd.entries.empty() || rd.hard_state || !rd.snapshot.empty()) {
    {
      std::lock_guard wl(wal_mu_);
      auto s = wal_->append(rd.entries, rd.hard_state ? &*rd.hard_state : nullptr);
      if (!s.is_ok()) fatal_stop(FatalExit::kStorage, std::string("WAL append failed: ") + s.message());
      if (rd.must_sync || !rd.snapshot.empty()) {
        auto t0 = std::chrono::steady_clock::now();
        auto d = wal_->sync();
        if (!d) fatal_stop(FatalExit::kStorage, std::string("WAL sync failed: ") + d.error().message());
        observe_wal_sync(std::chrono::steady_clock::now() - t0);
      }
    }
    if (!rd.snapshot.empty()) finish_snapshot_install(std::move(rd.snapshot));
    if (!rd.entries.empty()) mem_.append(rd.entries);
    on_hard_state_durable(rd.hard_state);
  }
  send(rd.messages_after_persist);
  if (!early_apply) apply_committed(rd.committed_entries);
  for (auto& rs : rd.read_states)
    reads_.on_read_state(rs);
  raw_->advance(rd.number);
}

// --wal-write-mode=async (raft/raw_node.h, wal_writer.h): the Ready is applied and advanced now; its
// write goes to the WAL writer, whose completion (on_writes_durable) sends its acknowledgements.
void Node::handle_ready_async(raft::Ready& rd) {
  apply_committed(rd.committed_entries);
  for (auto& rs : rd.read_states)
    reads_.on_read_state(rs);
  raw_->advance(rd.number);
  PendingWrite p{rd.number, std::make_shared<const std::vector<raft::Entry>>(std::move(rd.entries)),
                 rd.hard_state, std::move(rd.messages_after_persist)};
  const bool nothing_to_write = p.entries->empty() && !p.hard_state;
  if (nothing_to_write && raw_->writes_in_flight() == 1) {  // no earlier write to wait for
    finish_write(p);
    return;
  }
  WalWriter::Job job{rd.number, p.entries, p.hard_state, rd.must_sync};
  pending_writes_.push_back(std::move(p));
  wal_writer_->submit(std::move(job));
}

// On the node thread: the writer made these Readies durable, in order.
void Node::on_writes_durable(const WalWriter::Done& done) {
  if (stopped_) return;
  if (done.synced) observe_wal_sync(done.sync_took);
  for (uint64_t n : done.ready_numbers) {
    CAIRN_ASSERT_MSG(!pending_writes_.empty() && pending_writes_.front().number == n,
                     "WAL writer completed a write out of order");
    PendingWrite p = std::move(pending_writes_.front());
    pending_writes_.pop_front();
    finish_write(p);
  }
  process_ready();
}

void Node::finish_write(PendingWrite& p) {
  if (!p.entries->empty()) mem_.append(*p.entries);
  on_hard_state_durable(p.hard_state);
  send(p.after_persist);
  raw_->persisted(p.number);
}

void Node::on_hard_state_durable(const std::optional<raft::HardState>& hs) {
  if (!hs) return;
  mem_.set_hard_state(*hs);
  if (auto notice = lost_tail_notices_.on_hard_state(*hs)) log_line("%s", *notice);
}

void Node::observe_wal_sync(std::chrono::nanoseconds took) {
  stats_.wal_fsyncs++;
  stats_.wal_fsync_micros_total += std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  stats_.wal_fsync_seconds.observe(std::chrono::duration<double>(took).count());
}

void Node::apply_committed(const std::vector<raft::Entry>& entries) {
  for (const auto& e : entries) {
    if (e.type == raft::EntryType::kConfChange) {
      apply_conf_entry(e);
    } else {
      apply_entry(e);
    }
  }
  if (sweeper_) sweeper_->poke();
}

// etcd's milestone once this member's attributes are committed (etcdserver/server.go publish).
void Node::log_published(const etcdserverpb::Member& pb) const {
  auto hex = [](uint64_t v) {
    char b[17];
    std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
    return std::string(b);
  };
  std::string urls;
  for (const auto& u : pb.clienturls())
    urls += (urls.empty() ? "" : " ") + u;
  log::info("published local member to cluster through raft",
            {{"local-member-id", hex(cfg_.member_id)},
             {"local-member-attributes", "{Name:" + pb.name() + " ClientURLs:[" + urls + "]}"},
             {"cluster-id", hex(cluster_id_)}});
}

void Node::apply_entry(const raft::Entry& e) {
  if (e.index <= store_->applied().index) return;
  stats_.proposals_committed++;
  auto decoded = decode_committed_entry(e.data);
  if (!decoded) {
    // Applying it as a no-op would let this member diverge from members that can read it.
    fatal_stop(FatalExit::kUndecodableEntry,
               "cannot apply a committed entry: " + decoded.error() + "; upgrade this member and restart it",
               {{"index", std::to_string(e.index)},
                {"term", std::to_string(e.term)},
                {"kind", e.data.empty() ? "none" : std::to_string(static_cast<uint8_t>(e.data[0]))}});
  }
  std::optional<EntryPayload>& p = decoded->payload;
  std::optional<storage::ApplyRequest>& req = decoded->request;
  if (cfg_.debug_unsafe_corrupt_puts && req)  // deliberately unsafe; see NodeConfig
    if (auto* put = std::get_if<storage::PutRequest>(&*req)) put->value += "~corrupt";
  if (decoded->publish) apply_publish(*decoded->publish, e);
  // Auth decides before the store (server/auth/auth.h): a refused entry applies as a no-op.
  storage::WriteBatch auth_writes;
  std::optional<EtcdError> refused;
  if (p)
    refused =
        auth_->on_apply(*p, req ? &*req : nullptr, *store_, e.index <= start_commit_index_, auth_writes);
  if (refused) req.reset();
  const auto apply_started = std::chrono::steady_clock::now();
  std::optional<DowngradeInfo> downgrade = decoded->downgrade;
  if (downgrade) stage_downgrade(*downgrade, auth_writes);
  auto r = store_->apply(e.index, e.term, req ? *req : storage::ApplyRequest{storage::NoopRequest{}},
                         auth_writes.empty() ? nullptr : &auth_writes, p ? p->origin : 0);
  const auto apply_took = std::chrono::steady_clock::now() - apply_started;
  warn_slow_apply(e.index, apply_took);
  stats_.backend_commit_seconds.observe(std::chrono::duration<double>(apply_took).count());
  if (r) stats_.mvcc.add(count_mvcc_ops(*r), std::holds_alternative<storage::TxnResponse>(*r));
  if (!r && (r.error().code == storage::Errc::kIo || r.error().code == storage::Errc::kCorruption)) {
    fatal_stop(FatalExit::kStorage, std::string("store apply failed: ") + r.error().message());
  }
  if (downgrade && r) downgrade_ = *downgrade;
  if (decoded->state_check && r) report_state_check(*decoded->state_check, p->origin, e.index);
  stats_.proposals_applied++;
  for (auto& o : observers_)
    if (o.on_applied) o.on_applied(e.index);
  if (!p || p->origin != cfg_.member_id) return;
  auto w = waiters_.take(p->request_id);
  if (!w) return;
  stats_.proposals_pending = waiters_.size();
  if (w->apply_done) {
    if (refused) {
      w->apply_done(unexpected(*refused));
    } else if (r) {
      w->apply_done(std::move(*r));
    } else {
      w->apply_done(unexpected(from_store(r.error())));
    }
  }
}

// etcd's "apply request took too long" (--experimental-warning-apply-duration), at most one line a second.
void Node::warn_slow_apply(uint64_t index, std::chrono::nanoseconds took) {
  if (took <= cfg_.warning_apply_duration) return;
  ++slow_applies_;
  auto now = this->now();
  if (now - last_slow_apply_log_ < std::chrono::seconds(1)) return;
  last_slow_apply_log_ = now;
  std::fprintf(stderr,
               "cairn: apply request took too long: entry %llu took %.3f ms (expected %.3f ms; %llu slow)\n",
               static_cast<unsigned long long>(index), took.count() / 1e6,
               cfg_.warning_apply_duration.count() / 1e6, static_cast<unsigned long long>(slow_applies_));
}

void Node::report_state_check(const StateCheck& c, uint64_t origin, uint64_t index) {
  StateCheckOutcome out{c,
                        origin,
                        index,
                        store_->state_chain_at(c.revision),
                        store_->revision(),
                        store_->state_chain().has_value()};
  auto& counter = out.diverged()  ? stats_.state_checks_mismatched
                  : out.matched() ? stats_.state_checks_matched
                                  : stats_.state_checks_skipped;
  counter++;
  for (auto& o : observers_)
    if (o.on_state_check) o.on_state_check(out);
}

void Node::stage_downgrade(const DowngradeInfo& d, storage::WriteBatch& batch) {
  if (d.enabled) {
    batch.put(storage::Space::kMeta, kDowngradeMetaKey, encode_downgrade(d));
  } else {
    batch.erase(storage::Space::kMeta, kDowngradeMetaKey);
  }
}

// A kPublish entry: a member's name and client URLs, saved with the membership in the WAL metadata.
void Node::apply_publish(const etcdserverpb::Member& pb, const raft::Entry& e) {
  auto it = members_.find(pb.id());
  if (it == members_.end()) return;  // removed since it published: nothing to record
  it->second.name = pb.name();
  it->second.client_urls.assign(pb.clienturls().begin(), pb.clienturls().end());
  persist_metadata("a member's published attributes", e);
  if (pb.id() == cfg_.member_id) log_published(pb);
}

// etcd's ValidateConfigurationChange for learners: at apply time, so concurrent adds (through
// different members) cannot both pass; members_ is the same on every member at this point of the log.
bool Node::learner_refused(const raft::ConfChange& cc) const {
  if (cc.type != raft::ConfChangeType::kAddLearnerNode || members_.count(cc.node_id)) return false;
  size_t learners = 0;
  for (const auto& [id, m] : members_)
    learners += m.learner ? 1 : 0;
  return learners + 1 > cfg_.max_learners;
}

// A conf-change entry applies as an empty store batch (it carries the applied index). A store that cannot
// write it stops the member as apply_entry does.
void Node::apply_noop(const raft::Entry& e) {
  auto r = store_->apply(e.index, e.term, storage::NoopRequest{});
  if (!r && (r.error().code == storage::Errc::kIo || r.error().code == storage::Errc::kCorruption))
    fatal_stop(FatalExit::kStorage, "store apply failed: " + r.error().message(),
               {{"index", std::to_string(e.index)}, {"term", std::to_string(e.term)}});
}

void Node::apply_conf_entry(const raft::Entry& e) {
  auto cc = raft::ConfChange::decode(e.data);
  std::optional<MemberInfo> ctx;
  if (cc && !cc->context.empty()) {
    etcdserverpb::Member pb;
    if (pb.ParseFromString(cc->context)) ctx = from_member_pb(pb);
  }
  if (!cc || (!cc->context.empty() && !ctx)) {
    // Skipping it would leave raft's configuration and the member table behind the other members'.
    fatal_stop(
        FatalExit::kUndecodableEntry,
        std::string("cannot apply a committed entry: ") +
            (cc ? "the member in a conf change does not decode" : "a conf change does not decode") +
            "; upgrade this member and restart it",
        {{"index", std::to_string(e.index)}, {"term", std::to_string(e.term)}, {"kind", "conf-change"}});
  }
  const bool store_has_it = e.index <= store_->applied().index;
  // Replayed after a crash that cost the store its latest batches: conf_state_, members_ and the cluster
  // id (from the WAL metadata) already include this change and later ones. The store may have it while
  // the metadata does not only if the WAL lost the metadata record with its tail (wal_recovery.h): then
  // the membership still needs it. (Metadata of the first layout has no conf index: trust the store.)
  if (e.index <= conf_index_ || (store_has_it && conf_index_ == 0)) {
    if (!store_has_it) apply_noop(e);
    return;
  }
  if (learner_refused(*cc)) {
    // Refused: raft's configuration and the member table stay as they are (etcd applies an empty
    // change); the proposer hears etcd's error. A replay after a crash decides the same way: the
    // member table it checks against is the one the entry met.
    apply_noop(e);
    waiters_.finish(cc->id, err_too_many_learners());
    return;
  }
  apply_member_change(members_, *cc, ctx, cfg_.initial_members);
  conf_state_ = raw_->apply_conf_change(*cc);
  conf_index_ = e.index;
  if (e.term == 1) {
    // The bootstrap entries (term 1) name the initial members: the cluster id derives from them.
    std::vector<uint64_t> ids = conf_state_.voters;
    cluster_id_ = derive_cluster_id(ids);
  }
  update_peers();
  // Durable before the store records the entry as applied: a restart must not find a store past a
  // conf change its membership (the WAL metadata) does not reflect.
  persist_metadata("the membership after a conf change", e);
  if (!store_has_it) apply_noop(e);
  waiters_.finish(cc->id, std::nullopt);
}

void Node::update_peers() {
  if (!transport_) return;
  transport_->set_cluster_id(cluster_id_);
  if (auto me = members_.find(cfg_.member_id); me != members_.end() && !me->second.peer_urls.empty())
    transport_->set_self_url(me->second.peer_urls.front());
  for (const auto& [id, m] : members_) {
    if (id == cfg_.member_id || m.peer_urls.empty()) continue;
    if (auto ep = parse_url(m.peer_urls.front())) transport_->add_peer(id, *ep);
  }
  {
    std::lock_guard lk(admitted_mu_);
    std::erase_if(admitted_unknown_, [this](uint64_t id) { return members_.count(id) > 0; });
  }
  // Members of --initial-cluster are dialable before the log names them (a joining member needs them).
  for (const auto& m : cfg_.initial_members) {
    if (m.id == cfg_.member_id || members_.count(m.id) || m.peer_urls.empty()) continue;
    if (auto ep = parse_url(m.peer_urls.front())) transport_->add_peer(m.id, *ep);
  }
}

// A sender in this member's cluster that its membership does not name: a member added by a conf change
// this member has not applied yet (it was down, or a WAL repair cut the entry). Refused, it could
// never send the entries that name it, and a leader this member does not know would never reach it.
// Admitted, it is answered at the peer URL its HELLO names; it gets no votes (on_message) until an
// applied conf change names it. A member with peer TLS checks its certificate against that URL.
std::optional<net::Endpoint> Node::admit_unknown(uint64_t from, const std::string& url) {
  auto ep = parse_url(url);
  if (!ep) return std::nullopt;
  {
    std::lock_guard lk(admitted_mu_);
    if (!admitted_unknown_.count(from) && admitted_unknown_.size() >= kAdmittedUnknownMax)
      return std::nullopt;
    admitted_unknown_.insert(from);
  }
  log_line(
      "member %s (peer URL %s) is not in this member's membership: answering it (this member's log "
      "lacks the change that added it; it catches up from the leader); no votes for it meanwhile",
      base::hex(from), url);
  return ep;
}

bool Node::admitted(uint64_t from) {
  std::lock_guard lk(admitted_mu_);
  return admitted_unknown_.count(from) > 0;
}

std::string Node::metadata_blob() const {
  std::vector<MemberInfo> members;
  members.reserve(members_.size());
  for (const auto& [id, m] : members_)
    members.push_back(m);
  return encode_wal_metadata(conf_state_, conf_index_, cluster_id_, cfg_.member_id, members);
}

wal::Status Node::save_metadata() {
  return wal_->set_metadata(metadata_blob());
}

// Applied membership that cannot be made durable: raft (and the member table) have moved on, the WAL
// has not, so going on would answer clients from a state a restart forgets. Fail-stop.
void Node::persist_metadata(const char* what, const raft::Entry& e) {
  const std::initializer_list<log::Field> fields{
      {"what", what}, {"index", std::to_string(e.index)}, {"term", std::to_string(e.term)}};
  std::lock_guard wl(wal_mu_);
  if (auto s = save_metadata(); !s.is_ok())
    fatal_stop(FatalExit::kStorage, "WAL metadata write failed: " + s.message(), fields);
  if (auto d = wal_->sync(); !d)
    fatal_stop(FatalExit::kStorage, "WAL sync of the metadata failed: " + d.error().message(), fields);
}

// The WAL metadata (membership.h); from_snapshot: the blob came from the leader (it names the leader).
bool Node::load_metadata(const std::string& full, bool from_snapshot) {
  auto md = decode_wal_metadata(full);
  if (!md) return false;
  if (!from_snapshot && md->member_id != 0 && md->member_id != cfg_.member_id) return false;
  conf_state_ = md->conf_state;
  conf_index_ = md->conf_index;
  cluster_id_ = md->cluster_id;
  members_.clear();
  for (auto& m : md->members)
    members_[m.id] = std::move(m);
  return true;
}

std::optional<uint64_t> free_bytes(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return std::nullopt;
  return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
}

std::optional<std::string> snapshot_space_defect(uint64_t snapshot_bytes, std::optional<uint64_t> free) {
  if (!free) return std::nullopt;  // unknown: unpacking reports a real shortage (fail-stop)
  const uint64_t needed = snapshot_bytes + kSnapshotSpaceReserveBytes;
  if (*free >= needed) return std::nullopt;
  return "not enough free disk space to unpack it (" + std::to_string(*free) + " bytes free, " +
         std::to_string(needed) + " needed)";
}

// A local snapshot is due: snapshot_count entries applied since the last, or the in-memory log at its
// byte budget with at least a quarter of it applied (so a log full of unapplied entries does not
// snapshot on every apply).
bool Node::snapshot_due(uint64_t applied) const {
  if (applied <= snapshot_index_ || applied > mem_.last_index()) return false;
  if (applied - snapshot_index_ >= cfg_.snapshot_count) return true;
  return mem_.bytes() >= cfg_.log_cache_bytes_max &&
         mem_.bytes_through(applied) >= cfg_.log_cache_bytes_max / 4;
}

// Local snapshot: see snapshot_due. The store is synced first (its writes are lazy, open_store), then
// the WAL records the marker and releases the segments behind it, and the in-memory log keeps
// snapshot_catchup_entries entries (at most half its byte budget) behind it so a briefly lagging
// follower still gets entries.
void Node::maybe_snapshot() {
  uint64_t applied = store_->applied().index;
  if (applied >= flush_started_index_ + kStoreFlushEntries) {
    store_->engine().start_flush();
    flush_started_index_ = applied;
  }
  stats_.log_cache_bytes = mem_.bytes();
  if (!snapshot_due(applied)) return;
  if (auto r = store_->engine().sync(); !r) {
    fatal_stop(FatalExit::kStorage, std::string("store sync failed: ") + r.error().message());
  }
  auto snap = mem_.create_snapshot(applied, &conf_state_, std::string());
  if (!snap) return;
  std::unique_lock wl(wal_mu_);
  if (auto s = wal_->save_snapshot(snap->metadata); !s.is_ok()) {
    fatal_stop(FatalExit::kStorage, std::string("WAL snapshot failed: ") + s.message());
  }
  if (auto s = save_metadata(); !s.is_ok()) {
    fatal_stop(FatalExit::kStorage, std::string("WAL metadata write failed: ") + s.message());
  }
  if (auto d = wal_->sync(); !d) {
    fatal_stop(FatalExit::kStorage, std::string("WAL sync failed: ") + d.error().message());
  }
  // --max-wals: the newest max_wals segments stay even when the snapshot covers them (wal_retention.h).
  std::vector<uint64_t> first_indices;
  for (const auto& seg : wal_->segments())
    first_indices.push_back(seg.first_index);
  if (uint64_t to = wal_release_index(first_indices, applied, cfg_.max_wals); to > 0)
    if (auto s = wal_->release_to(to); !s.is_ok()) log_line("WAL release failed: %s", s.message());
  wl.unlock();
  snapshot_index_ = applied;
  stats_.snapshot_index = applied;
  stats_.snapshots_saved++;
  uint64_t compact = applied > cfg_.snapshot_catchup_entries ? applied - cfg_.snapshot_catchup_entries : 0;
  compact = std::max(compact, mem_.compact_index_keeping(applied, cfg_.log_cache_bytes_max / 2));
  // Only kCompacted can come back, and compact >= first_index rules it out.
  if (compact >= mem_.first_index()) (void)mem_.compact(compact);
  stats_.log_cache_bytes = mem_.bytes();
}

// Raft asks for a snapshot (its log no longer holds what the follower needs). Like etcd, the message
// sent is rewritten to the state applied right now: the store is checkpointed here, on the node thread,
// so the checkpoint, the applied index and term, the conf state and the membership all agree. Packing
// and queueing the files happen on snap_thread_; raft learns the outcome through report_snapshot.
void Node::send_snapshot(raft::Message m) {
  uint64_t to = m.to;
  auto fail = [this, to] {
    boost::asio::post(ioc_, [this, to] {
      if (stopped_) return;
      raw_->report_snapshot(to, false);
      process_ready();
    });
  };
  if (snap_busy_.exchange(true)) {
    fail();
    return;
  }
  std::string tmp = store_dir_->checkpoint_dir(++snap_seq_);
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  if (auto r = store_->snapshot(tmp); !r) {
    log_line("snapshot for a follower: checkpoint failed: %s", r.error().message());
    snap_busy_ = false;
    fail();
    return;
  }
  auto applied = store_->applied();
  m.snapshot.metadata.index = applied.index;
  m.snapshot.metadata.term = applied.term;
  m.snapshot.metadata.conf_state = conf_state_;
  m.snapshot.data = encode_snapshot_data(metadata_blob(), "");
  if (snap_thread_.joinable()) snap_thread_.join();
  snap_thread_ = std::thread([this, m = std::move(m), tmp]() mutable {
    pthread_setname_np(pthread_self(), "cairn-snap-send");
    // The transport reads the files a chunk at a time as the connection drains (snapshot_stream.h).
    auto source = PackedDirSource::open(tmp, snapshot_transfer_prefix(proto::encode(m)));
    bool ok = false;
    if (source) {
      ok = transport_->send_large(m.to, std::move(*source));
    } else {
      std::error_code ec2;
      std::filesystem::remove_all(tmp, ec2);
      log_line("snapshot for a follower: %s", source.error());
    }
    if (ok) stats_.snapshots_sent++;
    uint64_t target = m.to;
    snap_busy_ = false;
    // Posted, not run(): a full inbox must not lose the outcome (raft would keep the follower waiting
    // for a snapshot forever).
    boost::asio::post(ioc_, [this, target, ok] {
      if (stopped_) return;
      raw_->report_snapshot(target, ok);
      process_ready();
    });
  });
}

// A snapshot transfer from `from` begins (transport strand): its store goes to a directory of its own,
// one transfer at a time, if the disk has room for it. Raft sees it only once it is whole
// (on_snapshot_received); reap_received_snapshot() frees the slot again.
std::unique_ptr<net::LargeSink> Node::open_snapshot_transfer(uint64_t from, uint64_t total) {
  auto refuse = [this, from](const std::string& why) -> std::unique_ptr<net::LargeSink> {
    stats_.snapshots_refused++;
    log_line("refused a snapshot from member %s: %s", std::to_string(from), why);
    return nullptr;
  };
  if (snap_recv_busy_.exchange(true)) return refuse("another snapshot is being received or installed");
  if (auto why = snapshot_space_defect(total, free_bytes(member_dir_))) {
    snap_recv_busy_ = false;
    return refuse(*why);
  }
  std::string name = std::string(kSnapshotTransferDirPrefix) + std::to_string(++snap_recv_seq_);
  return std::make_unique<SnapshotReceiver>(
      member_dir_ + "/" + name,
      [this, from, name](std::string header, std::string dir) {
        on_snapshot_received(from, header, name, dir);
      },
      [this, refuse](const std::string& why) {
        refuse(why);
        snap_recv_busy_ = false;
      });
}

// A whole snapshot transfer (transport strand): its MsgSnap goes to raft, pointing at the directory.
void Node::on_snapshot_received(uint64_t from, const std::string& header, const std::string& name,
                                const std::string& dir) {
  auto m = proto::decode_message(header);
  std::string_view meta, store;
  std::optional<std::string> why;
  if (!m || m->type != raft::MessageType::kSnap || m->from != from) {
    why = "its header is not a snapshot message from that member";
  } else if (!decode_snapshot_data(m->snapshot.data, &meta, &store) || !store.empty()) {
    why = "its data does not decode";
  } else if (!decode_wal_metadata(meta)) {
    why = "its membership does not decode";
  }
  if (!why) {
    m->snapshot.data = encode_snapshot_data(meta, name);
    std::lock_guard lk(inbox_mu_);
    if (!inbox_closed_ && inbox_msgs_.size() < kInboxPeerMessagesMax) {
      inbox_msgs_.push_back(std::move(*m));
      schedule_drain_locked();
      return;
    }
    why = "the inbox is full";
  }
  stats_.snapshots_refused++;
  log_line("refused a snapshot from member %s: %s", std::to_string(from), *why);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  snap_recv_busy_ = false;
}

// Node thread, before raft steps a received MsgSnap.
void Node::note_received_snapshot(const raft::Snapshot& snap) {
  std::string_view meta, name;
  if (decode_snapshot_data(snap.data, &meta, &name))
    received_snap_ = ReceivedSnapshot{member_dir_ + "/" + std::string(name), snap.metadata.index};
}

// Node thread, after each drain: a received snapshot that raft did not take (or took and installed,
// which moved its directory away) frees the transfer slot; one raft still holds keeps it.
void Node::reap_received_snapshot() {
  if (!received_snap_) return;
  const auto& pending = raw_->raft().log().unstable_snapshot();
  std::error_code ec;
  const bool there = std::filesystem::exists(received_snap_->dir, ec);
  if (there && pending && pending->metadata.index == received_snap_->index) return;
  if (there) std::filesystem::remove_all(received_snap_->dir, ec);
  received_snap_.reset();
  snap_recv_busy_ = false;
}

// Step 1 of installing a received store snapshot (store_install.h): stage it next to the current store
// and buffer the WAL marker and membership; the caller's WAL sync makes both durable.
void Node::prepare_snapshot_install(const raft::Snapshot& snap) {
  // The transfer's checksums, the PackedDirWriter and on_snapshot_received() refused every malformed
  // snapshot, and open_snapshot_transfer() every one the disk had no room for, before raft accepted this
  // one. What stops the member below is a local failure (the disk filling up since, an I/O error),
  // where fail-stop is the safe answer: raft has accepted the snapshot and cannot take it back.
  const std::initializer_list<log::Field> at{{"index", std::to_string(snap.metadata.index)},
                                             {"term", std::to_string(snap.metadata.term)}};
  std::string_view meta, received;
  if (!decode_snapshot_data(snap.data, &meta, &received) || !is_snapshot_transfer_dir(received))
    fatal_stop(FatalExit::kStorage, "a snapshot from the leader does not decode", at);
  if (auto r = store_dir_->stage(received, snap.metadata.index); !r)
    fatal_stop(FatalExit::kStorage, r.error(), at);
  if (!load_metadata(std::string(meta), /*from_snapshot=*/true))
    fatal_stop(FatalExit::kStorage, "the membership of a snapshot from the leader does not decode", at);
  conf_state_ = snap.metadata.conf_state;
  conf_index_ = std::max(conf_index_, snap.metadata.index);  // the snapshot's conf state covers them all
  std::lock_guard wl(wal_mu_);  // no write is in flight (raw_node.h), but the writer's WAL rule holds
  if (auto s = wal_->save_snapshot(snap.metadata); !s.is_ok())
    fatal_stop(FatalExit::kStorage, "WAL snapshot failed: " + s.message(), at);
  if (auto s = save_metadata(); !s.is_ok())
    fatal_stop(FatalExit::kStorage, "WAL metadata write failed: " + s.message(), at);
}

// Step 3 (store_install.h): swap the store directories, reopen, and let the log and the observers catch up.
void Node::finish_snapshot_install(raft::Snapshot snap) {
  // Hashes in progress read the store being replaced; their clients retry against the new one.
  hashes_->cancel_all(
      EtcdError{net::StatusCode::kUnavailable, "etcdserver: store replaced by a snapshot; retry"});
  defrag_->finish();
  store_.reset();
  const std::initializer_list<log::Field> at{{"index", std::to_string(snap.metadata.index)},
                                             {"term", std::to_string(snap.metadata.term)}};
  if (auto r = store_dir_->finish(snap.metadata.index); !r) fatal_stop(FatalExit::kStorage, r.error(), at);
  if (auto r = open_store(); !r) fatal_stop(FatalExit::kStorage, r.error(), at);
  snap.data.clear();
  mem_.apply_snapshot(snap);
  mem_.set_conf_state(conf_state_);
  snapshot_index_ = snap.metadata.index;
  stats_.snapshot_index = snapshot_index_;
  stats_.snapshots_installed++;
  update_peers();
  log_line("installed the store snapshot at index %s from the leader", std::to_string(snap.metadata.index));
  for (auto& o : observers_)
    if (o.on_store_restored) o.on_store_restored();
}

void Node::fail_all(const EtcdError& err) {
  waiters_.fail_all(err);
  reads_.fail_all(err);
  std::vector<PendingProposal> props;
  {
    std::lock_guard lk(inbox_mu_);
    props.swap(inbox_props_);
    inbox_prop_bytes_ = 0;
  }
  for (auto& p : props)
    p.done(unexpected(err));
}

}  // namespace cairn::server::node
