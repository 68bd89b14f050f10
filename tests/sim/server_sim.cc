#include "tests/sim/server_sim.h"

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <tuple>
#include <vector>

#include "base/clock.h"
#include "proto/etcd/rpc.pb.h"
#include "raft/rng.h"
#include "server/lease/install.h"
#include "server/log/log.h"
#include "server/node/node.h"
#include "server/watch/watch_hub.h"
#include "storage/memory_engine.h"
#include "tests/fault/linearizability.h"
#include "tests/fault/watch_check.h"
#include "tests/lib/sim_file_system.h"

namespace cairn::sim {
namespace {

using namespace std::chrono_literals;
using tests::fault::Op;
using tests::fault::OpKind;
using tests::fault::Outcome;

// The run's one stream of choices: raft's SplitMix64 (the same on every platform) with helpers.
class Rng {
 public:
  explicit Rng(uint64_t seed) : r_(seed * 0x9e3779b97f4a7c15ull + 1) {}
  uint64_t next() { return r_.next(); }
  uint64_t below(uint64_t n) { return r_.uniform(n); }
  int64_t between(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(hi - lo + 1)); }
  bool chance(double p) { return static_cast<double>(next() >> 11) / 9007199254740992.0 < p; }

 private:
  raft::Rng r_;
};

uint64_t fold(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

int64_t ns(base::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The simulated peer network: every member's endpoint, and the messages in flight.
class Hub {
 public:
  Hub(Rng& rng, base::SimClock& clock) : rng_(rng), clock_(clock) {}

  std::unique_ptr<server::net::PeerNetwork> attach(uint64_t id, server::net::PeerTransportCallbacks cb);
  void detach(uint64_t id, uint64_t generation) {
    auto it = ends_.find(id);
    if (it != ends_.end() && it->second.generation == generation) ends_.erase(it);
  }
  bool send(uint64_t from, uint64_t to, std::string bytes);
  // Hands every message due by now to its receiver; false if there was none.
  bool deliver_due();
  std::optional<int64_t> next_at() const {
    if (queue_.empty()) return std::nullopt;
    return queue_.top().at;
  }
  void isolate(std::optional<uint64_t> id) { isolated_ = id; }
  void set_drop_rate(double p) { drop_rate_ = p; }
  void note_snapshot_requested() { ++snapshots_requested_; }
  uint64_t snapshots_requested() const { return snapshots_requested_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t trace() const { return trace_; }

 private:
  struct End {
    uint64_t generation = 0;
    server::net::PeerTransportCallbacks cb;
  };
  struct Flight {
    int64_t at;
    uint64_t seq;
    uint64_t from, to;
    std::string bytes;
    bool operator>(const Flight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  bool cut(uint64_t a, uint64_t b) const { return isolated_ && (*isolated_ == a || *isolated_ == b); }

  Rng& rng_;
  base::SimClock& clock_;
  std::map<uint64_t, End> ends_;
  uint64_t generations_ = 0;
  std::priority_queue<Flight, std::vector<Flight>, std::greater<>> queue_;
  std::map<std::pair<uint64_t, uint64_t>, int64_t> link_last_;  // per-link FIFO
  uint64_t seq_ = 0;
  std::optional<uint64_t> isolated_;
  double drop_rate_ = 0;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
  uint64_t snapshots_requested_ = 0;
  uint64_t trace_ = 0;
};

// One member's endpoint on the hub (NodeEnv::open_network).
class SimPeerNetwork final : public server::net::PeerNetwork {
 public:
  SimPeerNetwork(Hub& hub, uint64_t self, uint64_t generation) : hub_(hub), self_(self), gen_(generation) {}
  ~SimPeerNetwork() override { hub_.detach(self_, gen_); }
  void add_peer(server::net::PeerId, server::net::Endpoint) override {}
  void set_self_url(std::string) override {}
  void set_cluster_id(std::uint64_t) override {}
  bool send(server::net::PeerId to, std::string payload) override {
    return hub_.send(self_, to, std::move(payload));
  }
  // Snapshots are not modelled (the log is never compacted here): a request to send one is a failure
  // the run reports.
  bool send_large(server::net::PeerId, std::unique_ptr<server::net::LargeSource>) override {
    hub_.note_snapshot_requested();
    return false;
  }
  void shutdown() override { hub_.detach(self_, gen_); }

 private:
  Hub& hub_;
  uint64_t self_;
  uint64_t gen_;
};

std::unique_ptr<server::net::PeerNetwork> Hub::attach(uint64_t id, server::net::PeerTransportCallbacks cb) {
  uint64_t gen = ++generations_;
  ends_[id] = End{gen, std::move(cb)};
  return std::make_unique<SimPeerNetwork>(*this, id, gen);
}

bool Hub::send(uint64_t from, uint64_t to, std::string bytes) {
  if (cut(from, to) || rng_.chance(drop_rate_)) {
    ++dropped_;
    auto it = ends_.find(from);
    if (cut(from, to) && it != ends_.end() && it->second.cb.on_unreachable) it->second.cb.on_unreachable(to);
    return !cut(from, to);  // a random drop is silent, as on a lossy link
  }
  int64_t at = ns(clock_.now()) + rng_.between(1, 5) * 1'000'000;
  auto& last = link_last_[{from, to}];
  at = std::max(at, last);
  last = at;
  queue_.push(Flight{at, ++seq_, from, to, std::move(bytes)});
  return true;
}

bool Hub::deliver_due() {
  bool any = false;
  const int64_t now = ns(clock_.now());
  while (!queue_.empty() && queue_.top().at <= now) {
    Flight f = queue_.top();
    queue_.pop();
    any = true;
    auto it = ends_.find(f.to);
    if (it == ends_.end() || cut(f.from, f.to)) {
      ++dropped_;
      continue;
    }
    ++delivered_;
    trace_ = fold(fold(fold(trace_, f.at), f.from * 31 + f.to), f.bytes.size());
    it->second.cb.on_message(f.from, std::move(f.bytes));
  }
  return any;
}

struct Member {
  uint64_t id = 0;
  std::string name;
  std::unique_ptr<wal::SimFileSystem> fs = std::make_unique<wal::SimFileSystem>();
  std::shared_ptr<storage::MemoryDisk> disk = std::make_shared<storage::MemoryDisk>();
  // What the engine had flushed at a random earlier point of this run of the node (nullptr: nothing):
  // the store's writes skip its own log (Node::open_store), so a crash may leave any prefix of them.
  std::shared_ptr<storage::MemoryDisk> flushed;
  // This member's watch hub and the one stream a watching client holds on it (created with the node).
  std::unique_ptr<server::watch::Hub> hub;
  std::shared_ptr<server::watch::Outbox> outbox;
  std::shared_ptr<void> leases;  // server/lease's service beside the node (its lessor), on the node's clock
  std::unique_ptr<server::node::Node> node;  // null while down; destroyed before the hub
  uint64_t generation = 0;                   // of `node`: answers from an abandoned node are ignored
  bool async_wal = false;                    // NodeConfig::async_wal_writes
  int64_t wal_due = -1;                      // when its WAL writer runs next (-1: nothing queued)
  int64_t next_tick = 0;
  int64_t restart_at = 0;
};

void open_watch_stream(Member& m, tests::fault::WatcherLog& log);

// A write the node refused before proposing it never takes effect (Node::propose_all); any other error
// leaves it unknown.
Outcome write_error_outcome(const server::node::EtcdError& e) {
  const bool refused = e == server::node::err_no_leader() || e == server::node::err_too_many_requests();
  return refused ? Outcome::kFailed : Outcome::kUnknown;
}

struct Client {
  int id = 0;
  size_t member = 0;
  std::optional<size_t> pending;  // index into the history
  uint64_t pending_generation = 0;
  int64_t next_at = 0;
  uint64_t seq = 0;
  std::map<std::string, std::string> last_seen;  // key -> the value this client last read or wrote
};

class ServerSim {
 public:
  explicit ServerSim(const ServerSimOptions& o);
  ~ServerSim();
  ServerSimResult run();

 private:
  server::node::NodeConfig config_of(const Member& m) const;
  bool start(Member& m);
  void watch(Member& m);
  void drain_watches();
  void crash(Member& m);
  void settle();
  void step_to_next_event(int64_t end, bool load);
  void run_due(bool load);
  void maybe_fault();
  void issue(Client& c);
  void issue_put(Client& c, Member& m, size_t at, const std::string& key);
  void issue_cas(Client& c, Member& m, size_t at, const std::string& key);
  void issue_get(Client& c, Member& m, size_t at, const std::string& key);
  void issue_lease_put(Client& c, Member& m, size_t at);
  std::optional<std::string> leases_left();
  std::function<bool()> answer_guard(Client& c, size_t at);
  void finish(Client& c, size_t at, Outcome outcome, const std::string& why = "");
  // A write answered with an error finishes its op (refused before proposing: failed; else unknown).
  bool finished_with_error(Client& c, size_t at, const server::node::Result<storage::ApplyResponse>& r);
  bool converge();
  void check_history();
  void check_watches();
  void fail(std::string why) {
    if (result_.failure.empty()) result_.failure = std::move(why);
  }
  int64_t now() const { return ns(clock_.now()); }
  size_t up_count() const;
  void note(const std::string& line) const {
    if (o_.verbose) std::printf("[%8.3f s] %s\n", static_cast<double>(now() - t0_) / 1e9, line.c_str());
  }

  ServerSimOptions o_;
  Rng rng_;
  base::SimClock clock_;
  Hub hub_{rng_, clock_};
  std::string root_;
  std::vector<Member> members_;
  std::vector<server::node::MemberInfo> infos_;
  std::vector<Client> clients_;
  std::vector<Op> history_;
  // Per member, what the client watching the key prefix there saw; it resumes after the member restarts.
  std::vector<tests::fault::WatcherLog> watch_logs_;
  boost::asio::io_context unused_ioc_;  // Node::start's transport context; NodeEnv::open_network replaces it
  int64_t t0_ = 0;
  int64_t next_fault_ = 0;
  int64_t heal_at_ = 0;
  ServerSimResult result_;
  std::map<std::string, uint64_t> not_ok_;  // why ops did not succeed (--verbose)
};

ServerSim::ServerSim(const ServerSimOptions& o) : o_(o), rng_(o.seed) {
  char tmpl[] = "/tmp/cairn-sim-XXXXXX";
  if (char* d = mkdtemp(tmpl)) root_ = d;
  t0_ = now();
  for (int i = 0; i < o_.members; ++i) {
    Member m;
    m.name = "m" + std::to_string(i + 1);
    std::string url = "http://" + m.name + ":2380";
    m.id = server::node::derive_member_id({url}, "sim");
    infos_.push_back(server::node::MemberInfo{m.id, m.name, {url}, {}, false});
    m.next_tick = t0_ + rng_.between(1, 100) * 1'000'000;
    m.async_wal = o_.async_wal == ServerSimOptions::AsyncWal::kAlways ||
                  (o_.async_wal == ServerSimOptions::AsyncWal::kSeed && rng_.chance(0.5));
    result_.async_members += m.async_wal ? 1 : 0;
    members_.push_back(std::move(m));
  }
  watch_logs_.resize(members_.size());
  for (auto& log : watch_logs_)
    log.start = 2;  // a new store is at revision 1; the first write makes revision 2
  for (int i = 0; i < o_.clients; ++i) {
    Client c;
    c.id = i;
    c.member = rng_.below(members_.size());
    c.next_at = t0_ + rng_.between(1, 50) * 1'000'000;
    clients_.push_back(std::move(c));
  }
}

ServerSim::~ServerSim() {
  for (auto& m : members_)
    if (m.node) m.node->stop();
  members_.clear();
  std::error_code ec;
  if (!root_.empty()) std::filesystem::remove_all(root_, ec);
}

server::node::NodeConfig ServerSim::config_of(const Member& m) const {
  server::node::NodeConfig cfg;
  cfg.member_id = m.id;
  cfg.name = m.name;
  cfg.data_dir = root_ + "/" + m.name;
  cfg.initial_members = infos_;
  cfg.cluster_token = "sim";
  cfg.advertise_client_urls = {"http://" + m.name + ":2379"};
  cfg.heartbeat = 100ms;
  cfg.election = 1000ms;
  cfg.snapshot_count = uint64_t{1} << 40;  // snapshots are not modelled (server_sim.h)
  cfg.log_cache_bytes_max = uint64_t{1} << 40;
  cfg.wal_segment_bytes = 256 << 10;  // segments roll over often, and the simulated disk stays small
  cfg.debug_unsafe_skip_read_index = o_.break_read_index;
  cfg.async_wal_writes = m.async_wal;
  return cfg;
}

bool ServerSim::start(Member& m) {
  server::node::NodeEnv env;
  env.wal_fs = m.fs.get();
  env.clock = &clock_;
  env.driven = true;
  env.open_engine =
      [disk = m.disk](const std::string&) -> Expected<std::unique_ptr<storage::KvEngine>, std::string> {
    return std::unique_ptr<storage::KvEngine>(std::make_unique<storage::MemoryEngine>(disk));
  };
  env.open_network = [this, id = m.id](server::net::PeerTransportCallbacks cb) {
    return hub_.attach(id, std::move(cb));
  };
  m.node = std::make_unique<server::node::Node>(config_of(m), std::move(env));
  ++m.generation;
  watch(m);
  if (!o_.break_lessor) m.leases = server::lease::install(*m.node, {});
  if (auto r = m.node->start(unused_ioc_); !r) {
    fail(m.name + " did not start: " + r.error());
    m.node.reset();
    return false;
  }
  open_watch_stream(m, watch_logs_[static_cast<size_t>(&m - members_.data())]);
  note(m.name + " started");
  return true;
}

// The watch hub for m's new node, wired as server/watch/install.cc wires it but on the simulated clock, and
// the watching client's stream: it asks for the revisions after the last one it saw on this member.
void ServerSim::watch(Member& m) {
  Member* mp = &m;
  m.hub = std::make_unique<server::watch::Hub>([mp]() -> storage::MvccStore& { return mp->node->store(); },
                                               [](etcdserverpb::ResponseHeader*) {});
  server::watch::Hub* hub = m.hub.get();
  server::node::NodeObserver ob;
  ob.on_applied = [hub](uint64_t) { hub->on_applied(); };
  ob.on_tick = [this, hub] { hub->on_tick(clock_.now()); };
  ob.on_leader_change = [this, hub](uint64_t leader, bool, uint64_t) {
    hub->on_leader_change(leader, clock_.now());
  };
  ob.on_store_restored = [hub] { hub->on_store_restored(); };
  ob.on_stop = [hub] { hub->stop(); };
  m.node->add_observer(std::move(ob));
}

// Opens the watching client's stream on m (after start: the hub reads the store).
void open_watch_stream(Member& m, tests::fault::WatcherLog& log) {
  m.outbox = std::make_shared<server::watch::Outbox>(1 << 20, 16 << 20);
  m.hub->open_stream(m.outbox);
  etcdserverpb::WatchRequest req;
  auto* create = req.mutable_create_request();
  create->set_key("k");  // k0.. and lease/..
  create->set_range_end("m");
  create->set_start_revision(log.events.empty() ? log.start : log.events.back().revision + 1);
  m.hub->handle(m.outbox.get(), req);
}

// What every watching client has been sent so far.
void ServerSim::drain_watches() {
  for (size_t i = 0; i < members_.size(); ++i) {
    Member& m = members_[i];
    if (!m.node || !m.outbox) continue;
    auto batch = m.outbox->take();
    for (const auto& bytes : batch.messages) {
      etcdserverpb::WatchResponse resp;
      if (!resp.ParseFromString(bytes)) {
        watch_logs_[i].problems.push_back("a watch response that does not parse");
        continue;
      }
      if (resp.canceled()) watch_logs_[i].problems.push_back("watch canceled: " + resp.cancel_reason());
      for (const auto& ev : resp.events())
        watch_logs_[i].events.push_back(tests::fault::WatchEvent{
            ev.kv().mod_revision(), ev.type() == mvccpb::Event::PUT, ev.kv().key(), ev.kv().value()});
    }
    if (batch.resume) m.hub->resume(m.outbox.get());
    if (batch.closed) watch_logs_[i].problems.push_back("watch stream closed");
  }
}

// A crash: the node stops where it is, its disk loses power, and maybe its store too.
void ServerSim::crash(Member& m) {
  drain_watches();  // what reached the watching client before the crash
  m.node->abandon();
  m.node.reset();
  m.wal_due = -1;
  m.outbox.reset();
  m.hub.reset();
  m.leases.reset();
  for (auto& c : clients_)
    if (c.pending && c.member == static_cast<size_t>(&m - members_.data()))
      finish(c, *c.pending, Outcome::kUnknown, "lost in a crash");
  m.fs->crash(rng_.next(), wal::CrashMode::kRandom);
  // The store keeps every applied batch, none, or those up to the engine's last flush.
  const uint64_t store = rng_.below(3);
  std::string what = " with its whole store";
  if (store == 1 || (store == 2 && !m.flushed)) {
    m.disk = std::make_shared<storage::MemoryDisk>();
    ++result_.store_losses;
    what = " and lost its store";
  } else if (store == 2) {
    m.disk = m.flushed;
    ++result_.store_rollbacks;
    what = " and its store went back to its last flush";
  }
  m.flushed.reset();
  ++result_.crashes;
  m.restart_at = now() + rng_.between(200, 3000) * 1'000'000;
  note(m.name + " crashed" + what);
}

size_t ServerSim::up_count() const {
  size_t n = 0;
  for (const auto& m : members_)
    n += m.node ? 1 : 0;
  return n;
}

// Runs every member's queued work and delivers due messages until nothing moves.
void ServerSim::settle() {
  for (;;) {
    bool moved = hub_.deliver_due();
    for (auto& m : members_) {
      if (!m.node) continue;
      if (m.node->poll() > 0) moved = true;
      if (!m.async_wal) continue;
      if (m.wal_due < 0 && m.node->wal_writes_queued()) m.wal_due = now() + rng_.between(0, 3) * 1'000'000;
      if (m.wal_due >= 0 && m.wal_due <= now()) {
        m.wal_due = -1;
        if (m.node->write_wal() > 0) moved = true;
      }
    }
    if (!moved) break;
  }
  drain_watches();
}

void ServerSim::step_to_next_event(int64_t end, bool load) {
  int64_t next = end;
  if (auto a = hub_.next_at()) next = std::min(next, *a);
  for (const auto& m : members_) {
    next = std::min(next, m.node ? m.next_tick : m.restart_at);
    if (m.node && m.wal_due >= 0) next = std::min(next, m.wal_due);
  }
  for (const auto& c : clients_)
    if (load && !c.pending) next = std::min(next, c.next_at);
  if (next_fault_ > 0) next = std::min(next, next_fault_);
  if (heal_at_ > 0) next = std::min(next, heal_at_);
  if (next > now()) clock_.advance(std::chrono::nanoseconds(next - now()));
}

// Ticks, restarts, client operations (with load) and faults that are due now.
void ServerSim::run_due(bool load) {
  const int64_t t = now();
  for (auto& m : members_) {
    if (!m.node && m.restart_at <= t && start(m)) m.next_tick = t + 100'000'000;
    if (m.node && m.next_tick <= t) {
      if (rng_.chance(0.1)) m.flushed = m.disk->copy();
      m.node->tick();
      m.next_tick += 100'000'000;
    }
  }
  if (load)
    for (auto& c : clients_)
      if (!c.pending && c.next_at <= t) issue(c);
  if (heal_at_ > 0 && heal_at_ <= t) {
    hub_.isolate(std::nullopt);
    hub_.set_drop_rate(0);
    heal_at_ = 0;
    note("network healed");
  }
  if (next_fault_ > 0 && next_fault_ <= t) maybe_fault();
}

void ServerSim::maybe_fault() {
  next_fault_ = now() + rng_.between(500, 2000) * 1'000'000;
  const uint64_t kind = rng_.below(3);
  const size_t may_be_down = static_cast<size_t>(o_.members - 1) / 2;  // a quorum stays up
  if (kind == 0 && up_count() > members_.size() - may_be_down) {
    std::vector<size_t> up;
    for (size_t i = 0; i < members_.size(); ++i)
      if (members_[i].node) up.push_back(i);
    // Half the time the leader, whose crash loses the most in flight.
    size_t pick = up[rng_.below(up.size())];
    for (size_t i : up)
      if (rng_.chance(0.5) && members_[i].node->leader() == members_[i].id) pick = i;
    crash(members_[pick]);
  } else if (kind == 1 && heal_at_ == 0) {
    size_t pick = rng_.below(members_.size());
    for (size_t i = 0; i < members_.size(); ++i)
      if (rng_.chance(0.5) && members_[i].node && members_[i].node->leader() == members_[i].id) pick = i;
    hub_.isolate(members_[pick].id);
    heal_at_ = now() + rng_.between(500, 3000) * 1'000'000;
    ++result_.partitions;
    note(members_[pick].name + " partitioned away");
  } else if (kind == 2 && heal_at_ == 0) {
    hub_.set_drop_rate(0.05 * static_cast<double>(rng_.between(1, 6)));
    heal_at_ = now() + rng_.between(300, 1500) * 1'000'000;
    note("messages dropped for a while");
  }
}

// An answer counts only if it comes from the node generation the op was sent to, for the op pending.
std::function<bool()> ServerSim::answer_guard(Client& c, size_t at) {
  return [this, &c, at, gen = members_[c.member].generation, mi = c.member] {
    return c.pending && *c.pending == at && members_[mi].generation == gen;
  };
}

void ServerSim::issue(Client& c) {
  if (!members_[c.member].node || rng_.chance(0.1)) {
    std::vector<size_t> up;
    for (size_t i = 0; i < members_.size(); ++i)
      if (members_[i].node) up.push_back(i);
    if (up.empty()) {
      c.next_at = now() + 50'000'000;
      return;
    }
    c.member = up[rng_.below(up.size())];
  }
  Member& m = members_[c.member];
  const std::string key = "k" + std::to_string(rng_.below(o_.keys));
  const size_t at = history_.size();
  Op op;
  op.client = c.id;
  op.key = key;
  op.invoke_ns = now();
  op.outcome = Outcome::kUnknown;
  history_.push_back(op);
  c.pending = at;
  c.pending_generation = m.generation;
  ++result_.ops;
  const uint64_t what = rng_.below(10);
  if (what == 0) {
    issue_lease_put(c, m, at);
  } else if (what < 4) {
    issue_put(c, m, at, key);
  } else if (what < 6) {
    issue_cas(c, m, at, key);
  } else {
    issue_get(c, m, at, key);
  }
}

void ServerSim::issue_put(Client& c, Member& m, size_t at, const std::string& key) {
  ++result_.puts;
  auto& op = history_[at];
  op.kind = OpKind::kPut;
  op.value = "c" + std::to_string(c.id) + "." + std::to_string(++c.seq);
  etcdserverpb::PutRequest pb;
  pb.set_key(key);
  pb.set_value(op.value);
  auto valid = answer_guard(c, at);
  m.node->propose(server::node::EntryKind::kPut, pb.SerializeAsString(),
                  [this, &c, at, valid](server::node::Result<storage::ApplyResponse> r) {
                    if (!valid()) return;
                    if (finished_with_error(c, at, r)) return;
                    c.last_seen[history_[at].key] = history_[at].value;
                    finish(c, at, Outcome::kOk);
                  });
}

// A lease granted for kLeaseTtlSeconds and never kept alive, then a put of a key of its own under it:
// the leader's lessor must revoke it, and the key with it, whatever crashes and elections come between.
constexpr int64_t kLeaseTtlSeconds = 3;

void ServerSim::issue_lease_put(Client& c, Member& m, size_t at) {
  ++result_.lease_puts;
  auto& op = history_[at];
  const int64_t id = (static_cast<int64_t>(c.id) + 1) << 32 | static_cast<int64_t>(++c.seq);
  op.kind = OpKind::kPut;
  op.key = "lease/" + std::to_string(id);
  op.value = "c" + std::to_string(c.id) + "." + std::to_string(c.seq);
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_id(id);
  grant.set_ttl(kLeaseTtlSeconds);
  auto valid = answer_guard(c, at);
  server::node::Node* n = m.node.get();
  n->propose(server::node::EntryKind::kLeaseGrant, grant.SerializeAsString(),
             [this, &c, at, valid, n, id](server::node::Result<storage::ApplyResponse> r) {
               if (!valid()) return;
               if (!r) {  // the put was never sent
                 finish(c, at, Outcome::kFailed, "lease grant: " + r.error().message);
                 return;
               }
               etcdserverpb::PutRequest pb;
               pb.set_key(history_[at].key);
               pb.set_value(history_[at].value);
               pb.set_lease(id);
               n->propose(server::node::EntryKind::kPut, pb.SerializeAsString(),
                          [this, &c, at, valid](server::node::Result<storage::ApplyResponse> p) {
                            if (!valid()) return;
                            if (finished_with_error(c, at, p)) return;
                            ++result_.lease_puts_ok;
                            finish(c, at, Outcome::kOk);
                          });
             });
}

void ServerSim::issue_cas(Client& c, Member& m, size_t at, const std::string& key) {
  ++result_.cas;
  auto& op = history_[at];
  op.kind = OpKind::kCas;
  op.expected = c.last_seen.count(key) ? c.last_seen[key] : "none";
  op.value = "c" + std::to_string(c.id) + "." + std::to_string(++c.seq);
  etcdserverpb::TxnRequest pb;
  auto* cmp = pb.add_compare();
  cmp->set_key(key);
  cmp->set_target(etcdserverpb::Compare::VALUE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_value(op.expected);
  auto* put = pb.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(op.value);
  auto valid = answer_guard(c, at);
  m.node->propose(server::node::EntryKind::kTxn, pb.SerializeAsString(),
                  [this, &c, at, valid](server::node::Result<storage::ApplyResponse> r) {
                    if (!valid()) return;
                    if (finished_with_error(c, at, r)) return;
                    auto* txn = std::get_if<storage::TxnResponse>(&*r);
                    if (!txn) {
                      finish(c, at, Outcome::kUnknown, "not a txn response");
                      return;
                    }
                    history_[at].cas_succeeded = txn->succeeded;
                    if (txn->succeeded) c.last_seen[history_[at].key] = history_[at].value;
                    finish(c, at, Outcome::kOk);
                  });
}

void ServerSim::issue_get(Client& c, Member& m, size_t at, const std::string& key) {
  ++result_.gets;
  history_[at].kind = OpKind::kGet;
  auto valid = answer_guard(c, at);
  server::node::Node* n = m.node.get();
  n->linearize([this, &c, at, valid, n, key](std::optional<server::node::EtcdError> e) {
    if (!valid()) return;
    if (e) {
      finish(c, at, Outcome::kFailed, e->message);
      return;
    }
    storage::RangeRequest req;
    req.key = key;
    auto r = n->store().range(req);
    if (!r) {
      finish(c, at, Outcome::kFailed, "range failed");
      return;
    }
    if (!r->kvs.empty()) {
      history_[at].read = r->kvs.front().value;
      c.last_seen[req.key] = r->kvs.front().value;
    }
    finish(c, at, Outcome::kOk);
  });
}

bool ServerSim::finished_with_error(Client& c, size_t at,
                                    const server::node::Result<storage::ApplyResponse>& r) {
  if (r) return false;
  finish(c, at, write_error_outcome(r.error()), r.error().message);
  return true;
}

void ServerSim::finish(Client& c, size_t at, Outcome outcome, const std::string& why) {
  auto& op = history_[at];
  if (!why.empty()) ++not_ok_[why];
  op.outcome = outcome;
  op.complete_ns = now();
  if (outcome == Outcome::kOk) {
    ++result_.ops_ok;
  } else if (outcome == Outcome::kFailed) {
    ++result_.ops_failed;
  } else {
    ++result_.ops_unknown;
  }
  result_.trace = fold(fold(result_.trace, at), static_cast<uint64_t>(outcome) * 7 + op.complete_ns);
  if (op.read) result_.trace = fold(result_.trace, std::hash<std::string>{}(*op.read));
  c.pending.reset();
  // A client backs off after an error (etcd's clients retry after about 25-100 ms), else goes on.
  c.next_at = now() + rng_.between(0, 20) * 1'000'000 + (outcome == Outcome::kOk ? 0 : 50'000'000);
}

// After the faults: every member up, the network whole; then every member must reach the same applied
// index, revision and HashKV.
bool ServerSim::converge() {
  hub_.isolate(std::nullopt);
  hub_.set_drop_rate(0);
  heal_at_ = 0;
  next_fault_ = 0;
  const int64_t deadline = now() + 30'000'000'000;
  int64_t next_check = now();
  while (now() < deadline && result_.failure.empty()) {
    settle();
    run_due(false);
    settle();
    if (now() >= next_check && up_count() == members_.size()) {
      next_check = now() + 100'000'000;
      bool pending = false;
      for (const auto& c : clients_)
        pending |= c.pending.has_value();
      std::set<std::tuple<uint64_t, int64_t, uint32_t>> states;
      uint64_t committed = 0;
      for (auto& m : members_) {
        auto h = m.node->store().hash_kv(0);
        if (!h) return false;
        states.insert({m.node->applied_index(), h->header.revision, h->hash});
        committed = std::max(committed, m.node->committed_index());
      }
      if (!pending && states.size() == 1 && std::get<0>(*states.begin()) == committed && !leases_left()) {
        result_.applied_index = std::get<0>(*states.begin());
        result_.revision = std::get<1>(*states.begin());
        return true;
      }
    }
    step_to_next_event(now() + 100'000'000, false);
  }
  if (result_.failure.empty()) {
    if (auto left = leases_left()) {
      fail("30 s after healing, " + *left);
      return false;
    }
    std::string seen;
    for (auto& m : members_)
      seen += " " + m.name + (m.node ? "@" + std::to_string(m.node->applied_index()) : " down");
    fail("the members did not converge within 30 s of healing:" + seen);
  }
  return false;
}

// Leases (none is kept alive) or leased keys some member still holds: nullopt when there are none.
std::optional<std::string> ServerSim::leases_left() {
  for (auto& m : members_) {
    if (!m.node) return m.name + " is down";
    auto ids = m.node->store().lease_ids();
    storage::RangeRequest req;
    req.key = "lease/";
    req.range_end = "lease0";
    req.count_only = true;
    auto keys = m.node->store().range(req);
    const int64_t held = keys ? keys->count : -1;
    if (!ids.empty() || held != 0)
      return m.name + " still holds " + std::to_string(ids.size()) + " leases (lease " +
             (ids.empty() ? std::string("-") : std::to_string(ids.front())) + ") and " +
             std::to_string(held) + " leased keys";
  }
  return std::nullopt;
}

void ServerSim::check_history() {
  for (const auto& k : tests::fault::check_history(history_)) {
    if (k.verdict == tests::fault::Verdict::kLinearizable) continue;
    std::string why =
        "key " + k.key +
        (k.verdict == tests::fault::Verdict::kInconclusive ? ": check inconclusive" : ": not linearizable");
    for (size_t i = 0; i < k.counterexample.size() && i < 12; ++i)
      why += "\n    " + tests::fault::describe(k.counterexample[i]);
    fail(why);
    return;
  }
}

void ServerSim::check_watches() {
  drain_watches();
  auto w = tests::fault::check_watch(watch_logs_, history_, result_.revision);
  result_.watch_events = w.events;
  if (w.anomalies.empty()) return;
  std::string why = "watch check: " + std::to_string(w.anomalies.size()) + " anomalies";
  for (size_t i = 0; i < w.anomalies.size() && i < 8; ++i)
    why += "\n    " + w.anomalies[i];
  fail(why);
}

ServerSimResult ServerSim::run() {
  if (root_.empty()) {
    fail("cannot create a temporary directory");
    return result_;
  }
  for (auto& m : members_)
    if (!start(m)) return result_;
  if (o_.faults) next_fault_ = now() + 1'000'000'000;
  const int64_t end = t0_ + std::chrono::duration_cast<std::chrono::nanoseconds>(o_.duration).count();
  while (now() < end && result_.failure.empty()) {
    settle();
    run_due(true);
    settle();
    step_to_next_event(end, true);
  }
  next_fault_ = 0;
  if (result_.failure.empty() && converge()) {
    check_history();
    check_watches();
  }
  if (hub_.snapshots_requested() > 0 && result_.failure.empty())
    fail("a snapshot was requested; the server simulator does not model them");
  result_.messages = hub_.delivered();
  result_.dropped = hub_.dropped();
  result_.trace = fold(fold(result_.trace, hub_.trace()), result_.applied_index);
  result_.ok = result_.failure.empty();
  for (const auto& [why, n] : not_ok_)
    note("ops not ok: " + std::to_string(n) + " x " + why);
  return result_;
}

}  // namespace

ServerSimResult run_server_sim(const ServerSimOptions& options) {
  server::log::configure(server::log::Format::kConsole,
                         options.verbose ? server::log::Level::kInfo : server::log::Level::kFatal);
  ServerSim sim(options);
  return sim.run();
}

}  // namespace cairn::sim
