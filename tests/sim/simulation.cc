#include "tests/sim/simulation.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <set>
#include <sstream>

#include "raft/bootstrap.h"
#include "raft/rng.h"

namespace cairn::sim {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::Index;
using raft::MemoryStorage;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::RawNode;
using raft::Ready;
using raft::StateRole;
using raft::Term;

namespace {

// FNV-1a, for the determinism hash.
struct Hasher {
  uint64_t h = 1469598103934665603ULL;
  void add(const void* p, size_t n) {
    auto b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ULL;
    }
  }
  void add(uint64_t v) { add(&v, sizeof v); }
  void add(const std::string& s) {
    add(s.size());
    add(s.data(), s.size());
  }
};

std::string encode_sm(const std::vector<std::string>& sm) {
  std::string out;
  for (const auto& s : sm) {
    uint32_t n = static_cast<uint32_t>(s.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out += s;
  }
  return out;
}

std::vector<std::string> decode_sm(const std::string& data) {
  std::vector<std::string> sm;
  size_t at = 0;
  while (at + 4 <= data.size()) {
    uint32_t n;
    std::memcpy(&n, data.data() + at, 4);
    at += 4;
    sm.push_back(data.substr(at, n));
    at += n;
  }
  return sm;
}

std::string sm_record(const Entry& e) {
  return (e.type == EntryType::kConfChange ? "C:" : "N:") + e.data;
}

struct Member {
  NodeId id = 0;
  bool up = false;
  std::unique_ptr<MemoryStorage> disk;  // what survives a crash
  std::unique_ptr<RawNode> node;
  // Taken from the node, not yet durable, in the order they were taken (at most one unless async).
  std::deque<Ready> pending;
  bool async = false;           // raft::Config::async_storage_writes
  std::vector<std::string> sm;  // the state machine: one record per applied index
  ConfState cs;                 // configuration as of the applied index
  Index seen_commit = 0;
  uint64_t incarnation = 0;
};

struct InFlight {
  Message m;
  uint64_t deliver_at;
};

class Sim {
 public:
  Sim(uint64_t seed, const SimOptions& opts) : seed_(seed), opts_(opts), rng_(seed) {}

  SimResult run();

 private:
  // ---- set-up ----
  void draw_faults();
  void start_member(Member& mb);
  raft::Config config_for(const Member& mb) const;

  // ---- actions ----
  void act_deliver();
  void deliver(InFlight f);
  void act_take_ready(Member& mb);
  void act_persist(Member& mb, bool crash_mid = false, size_t keep_entries = 0);
  void take_effects(Member& mb, const Ready& rd);
  bool member_async(NodeId id) const { return (async_mask_ >> (id % 16)) & 1; }
  void act_tick(Member& mb);
  void act_propose(Member& mb);
  void act_read(Member& mb);
  void act_crash(Member& mb);
  void lose_tail(Member& mb);
  void act_restart(Member& mb);
  void act_partition();
  void act_snapshot(Member& mb);
  void act_conf_change();
  void act_transfer();
  void send(const Message& m);
  void apply(Member& mb, const Entry& e);

  // ---- checks ----
  void check_after_step();
  void check_entry(const Entry& e, Term prev_term, NodeId where);
  void fail(const std::string& what);

  Member* leader();
  Member* member(NodeId id) {
    for (auto& m : members_)
      if (m.id == id) return &m;
    return nullptr;
  }
  void trace(const std::string& s) {
    if (opts_.verbose) std::printf("[%llu] %s\n", static_cast<unsigned long long>(now_), s.c_str());
  }
  bool chance(double p) { return static_cast<double>(rng_.uniform(1000000)) < p * 1000000.0; }
  bool blocked(NodeId from, NodeId to) const { return cut_.count({from, to}) != 0; }

  uint64_t seed_;
  SimOptions opts_;
  raft::Rng rng_;
  SimResult res_;
  std::vector<Member> members_;
  std::vector<InFlight> net_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  uint64_t now_ = 0;
  uint64_t proposal_seq_ = 0;
  uint64_t read_seq_ = 0;
  bool failed_ = false;

  // fault mix
  double drop_p_ = 0, dup_p_ = 0;
  uint64_t delay_max_ = 1;
  bool crashes_ = false, partitions_ = false, snapshots_ = false, membership_ = false, transfers_ = false;
  bool torn_writes_ = false;
  bool lost_tails_ = false;
  uint64_t async_mask_ = 0;  // bit (id % 16): that member writes asynchronously
  uint64_t append_bytes_max_ = 64;

  // global knowledge for the checkers
  std::map<Term, NodeId> leader_of_term_;
  std::map<std::pair<Index, Term>, std::pair<std::string, Term>>
      entries_seen_;                                         // (i,t) -> (record, prev term)
  std::map<Index, std::pair<Term, std::string>> committed_;  // index -> (term, record)
  std::map<Index, std::string> applied_;                     // index -> record
  Index acked_max_ = 0;  // highest index of a normal entry applied anywhere (a client was answered)
  std::map<std::string, Index> read_required_;  // read ctx -> acked_max_ when it was issued
};

// ------------------------------------------------------------------------------------------------

void Sim::draw_faults() {
  static const double drops[] = {0.0, 0.02, 0.1, 0.25};
  drop_p_ = drops[rng_.uniform(4)];
  dup_p_ = rng_.uniform(3) == 0 ? 0.05 : 0.0;
  delay_max_ = 1 + rng_.uniform(20);
  crashes_ = rng_.uniform(4) != 0;
  torn_writes_ = crashes_ && rng_.uniform(2) == 0;
  partitions_ = rng_.uniform(3) != 0;
  snapshots_ = rng_.uniform(2) == 0;
  membership_ = opts_.membership_changes && rng_.uniform(3) == 0;
  transfers_ = rng_.uniform(4) == 0;
  static const uint64_t append_sizes[] = {1, 64, 4096};
  append_bytes_max_ = append_sizes[rng_.uniform(3)];
  // Drawn from a stream of its own, so that seeds without the fault replay as they did before it existed.
  raft::Rng extra(seed_ ^ 0x6c6f73745f7461ULL);
  switch (opts_.lost_tail) {
    case SimOptions::LostTail::kSeed:
      lost_tails_ = crashes_ && extra.uniform(2) == 0;
      break;
    case SimOptions::LostTail::kAlways:
      lost_tails_ = crashes_;
      break;
    case SimOptions::LostTail::kNever:
      lost_tails_ = false;
      break;
  }
  raft::Rng extra_async(seed_ ^ 0x6173796e635f7772ULL);
  switch (opts_.async_writes) {
    case SimOptions::AsyncWrites::kSeed:
      async_mask_ = extra_async.uniform(1 << 16);
      break;
    case SimOptions::AsyncWrites::kAlways:
      async_mask_ = 0xffff;
      break;
    case SimOptions::AsyncWrites::kNever:
      async_mask_ = 0;
      break;
  }
  std::ostringstream os;
  os << "drop=" << drop_p_ << " dup=" << dup_p_ << " delay<=" << delay_max_ << (crashes_ ? " crash" : "")
     << (torn_writes_ ? " torn" : "") << (lost_tails_ ? " lost-tail" : "")
     << (partitions_ ? " partition" : "") << (snapshots_ ? " snapshot" : "")
     << (membership_ ? " membership" : "") << (transfers_ ? " transfer" : "")
     << " append<=" << append_bytes_max_ << " async=" << std::hex << async_mask_ << std::dec;
  res_.fault_mix = os.str();
}

raft::Config Sim::config_for(const Member& mb) const {
  raft::Config c;
  c.id = mb.id;
  c.election_timeout_ticks = 10;
  c.heartbeat_interval_ticks = 1;
  c.applied = mb.sm.size();
  c.append_bytes_max = append_bytes_max_;  // small values split appends so the window matters
  c.inflight_msgs_max = 4;
  c.check_quorum = true;
  c.pre_vote = true;
  c.rng_seed = seed_ * 31 + mb.incarnation;
  c.async_storage_writes = mb.async;
#if CAIRN_INVARIANTS
  c.testing_break = opts_.break_rule;
#endif
  return c;
}

void Sim::start_member(Member& mb) {
  // The state machine restarts from the durable snapshot; the log after it is re-applied.
  auto snap = mb.disk->snapshot();
  mb.sm = decode_sm(snap->data);
  mb.cs = snap->metadata.index > 0 ? snap->metadata.conf_state : mb.disk->initial_state().conf_state;
  mb.pending.clear();
  mb.async = member_async(mb.id);
  ++mb.incarnation;
  mb.node = std::make_unique<RawNode>(config_for(mb), mb.disk.get());
  mb.seen_commit = mb.node->raft().log().committed();
  mb.up = true;
}

void Sim::send(const Message& m) {
  ++res_.messages;
  net_.push_back({m, now_ + rng_.uniform(delay_max_)});
  if (chance(dup_p_)) net_.push_back({m, now_ + rng_.uniform(delay_max_ * 2 + 1)});
  // Bound the network: a real transport drops when its queues are full.
  if (net_.size() > 4000) {
    const Message& old = net_.front().m;
    Member* from = member(old.from);
    if (old.type == MessageType::kSnap && from && from->up) from->node->report_snapshot(old.to, false);
    net_.erase(net_.begin());
  }
}

void Sim::act_deliver() {
  if (net_.empty()) return;
  // Pick a random message among the first few due ones: delays plus this choice reorder traffic.
  std::vector<size_t> due;
  for (size_t i = 0; i < net_.size() && due.size() < 8; ++i) {
    if (net_[i].deliver_at <= now_) due.push_back(i);
  }
  if (due.empty()) return;
  size_t i = due[rng_.uniform(due.size())];
  InFlight f = std::move(net_[i]);
  net_.erase(net_.begin() + i);
  if (chance(drop_p_) || blocked(f.m.from, f.m.to)) {
    Member* from = member(f.m.from);
    if (f.m.type == MessageType::kSnap && from && from->up) from->node->report_snapshot(f.m.to, false);
    if (from && from->up && chance(0.3)) from->node->report_unreachable(f.m.to);
    return;
  }
  deliver(std::move(f));
}

void Sim::deliver(InFlight f) {
  Member* to = member(f.m.to);
  bool snap = f.m.type == MessageType::kSnap;
  if (!to || !to->up) {
    // The transport of a real member reports a snapshot it could not deliver.
    Member* from = member(f.m.from);
    if (snap && from && from->up) from->node->report_snapshot(f.m.to, false);
    if (from && from->up) from->node->report_unreachable(f.m.to);
    return;
  }
  NodeId from_id = f.m.from, to_id = f.m.to;
  trace("deliver " + raft::describe(f.m));
  (void)to->node->step(std::move(f.m));
  if (snap) {
    ++res_.snapshots_sent;
    Member* from = member(from_id);
    if (from && from->up) from->node->report_snapshot(to_id, true);
  }
}

void Sim::act_take_ready(Member& mb) {
  if (!mb.up || !mb.node->has_ready()) return;
  Ready rd = mb.node->ready();
  if (rd.soft_state && rd.soft_state->role == StateRole::kLeader) ++res_.elections;
  // Entries are checked as soon as they exist, before they are durable.
  Term prev = 0;
  for (size_t i = 0; i < rd.entries.size(); ++i) {
    const Entry& e = rd.entries[i];
    prev = i == 0 ? mb.node->raft().log().zero_term_on_error(e.index - 1) : rd.entries[i - 1].term;
    check_entry(e, prev, mb.id);
  }
  for (const auto& m : rd.messages)
    send(m);
  // Asynchronous writes: the Ready is applied and advanced now, its write stays queued.
  if (mb.async && rd.snapshot.empty()) {
    take_effects(mb, rd);
    mb.node->advance(rd.number);
  }
  mb.pending.push_back(std::move(rd));
}

// Applies a Ready's committed entries (after its snapshot, if any) and checks its read states.
void Sim::take_effects(Member& mb, const Ready& rd) {
  if (!rd.snapshot.empty()) {
    mb.sm = decode_sm(rd.snapshot.data);
    mb.cs = rd.snapshot.metadata.conf_state;
    if (mb.sm.size() != rd.snapshot.metadata.index) fail("snapshot state does not match its index");
  }
  for (const auto& e : rd.committed_entries)
    apply(mb, e);
  for (const auto& rs : rd.read_states) {
    ++res_.reads;
    auto it = read_required_.find(rs.request_ctx);
    if (it != read_required_.end() && rs.index < it->second) {
      fail("read index " + std::to_string(rs.index) + " for " + rs.request_ctx +
           " is below the acknowledged index " + std::to_string(it->second) + " (stale read) on node " +
           std::to_string(mb.id));
    }
  }
}

// Makes the oldest taken Ready durable (or, with crash_mid, a torn prefix of its entries).
void Sim::act_persist(Member& mb, bool crash_mid, size_t keep_entries) {
  if (!mb.up || mb.pending.empty()) return;
  Ready& rd = mb.pending.front();
  if (!rd.snapshot.empty()) mb.disk->apply_snapshot(rd.snapshot);
  if (crash_mid) {
    // A torn write: a prefix of the entries reached the disk, the hard state (written after them) did not.
    std::vector<Entry> prefix(rd.entries.begin(),
                              rd.entries.begin() + std::min(keep_entries, rd.entries.size()));
    mb.disk->append(prefix);
    return;
  }
  if (!rd.entries.empty()) mb.disk->append(rd.entries);
  if (rd.hard_state) mb.disk->set_hard_state(*rd.hard_state);
  for (const auto& m : rd.messages_after_persist)
    send(m);
  const bool advanced = mb.async && rd.snapshot.empty();
  if (!advanced) take_effects(mb, rd);
  uint64_t n = rd.number;
  mb.pending.pop_front();
  if (advanced) {
    mb.node->persisted(n);
  } else {
    mb.node->advance(n);
  }
}

void Sim::apply(Member& mb, const Entry& e) {
  // An entry at or below the applied index comes again after a restart whose durable commit index
  // lagged what was applied (a commit-only hard state still in flight, or written without an fsync);
  // the member skips it, as server/node does for its store, if it is the entry it applied.
  if (e.index >= 1 && e.index <= mb.sm.size()) {
    if (mb.sm[e.index - 1] != sm_record(e))
      fail("node " + std::to_string(mb.id) + " is handed '" + sm_record(e) + "' at applied index " +
           std::to_string(e.index) + " where it applied '" + mb.sm[e.index - 1] + "'");
    return;
  }
  if (e.index != mb.sm.size() + 1) {
    fail("node " + std::to_string(mb.id) + " applies index " + std::to_string(e.index) + " after " +
         std::to_string(mb.sm.size()));
    return;
  }
  std::string rec = sm_record(e);
  auto [it, inserted] = applied_.emplace(e.index, rec);
  if (!inserted && it->second != rec) {
    fail("state machine safety: node " + std::to_string(mb.id) + " applied '" + rec + "' at index " +
         std::to_string(e.index) + " where another applied '" + it->second + "'");
  }
  mb.sm.push_back(rec);
  if (e.type == EntryType::kNormal && !e.data.empty()) acked_max_ = std::max(acked_max_, e.index);
  if (e.type == EntryType::kConfChange) {
    auto cc = ConfChange::decode(e.data);
    if (!cc) {
      fail("undecodable conf change");
      return;
    }
    mb.cs = mb.node->apply_conf_change(*cc);
    if (e.index > static_cast<Index>(opts_.nodes)) ++res_.conf_changes;  // not the bootstrap entries
    trace("node " + std::to_string(mb.id) + " applied " + raft::describe(e));
  }
}

void Sim::act_tick(Member& mb) {
  if (mb.up) mb.node->tick();
}

void Sim::act_propose(Member& mb) {
  if (!mb.up) return;
  std::string data = "p" + std::to_string(++proposal_seq_);
  (void)mb.node->propose(data);
}

void Sim::act_read(Member& mb) {
  if (!mb.up) return;
  std::string ctx = "r" + std::to_string(++read_seq_);
  read_required_[ctx] = acked_max_;
  mb.node->read_index(ctx);
}

void Sim::act_crash(Member& mb) {
  if (!mb.up) return;
  ++res_.crashes;
  if (!mb.pending.empty() && torn_writes_ && chance(0.5)) {
    act_persist(mb, true, rng_.uniform(mb.pending.front().entries.size() + 1));
  }
  trace("crash " + std::to_string(mb.id));
  mb.up = false;
  mb.node.reset();
  mb.pending.clear();
  if (lost_tails_ && chance(0.3)) lose_tail(mb);
}

// The disk lost a synced tail of the log: the entries after `keep` and every hard state written after
// them, except the term and vote (the vote record, wal/vote_record.h, is kept apart from the log). The
// member restarts marked lost_tail, as the WAL marks it after such a repair. Only one member at a time:
// what a majority lost is lost, and no protocol can bring it back.
void Sim::lose_tail(Member& mb) {
  for (const auto& other : members_) {
    if (other.id != mb.id && other.disk->hard_state().lost_tail) return;
  }
  const MemoryStorage& d = *mb.disk;
  auto snap = *d.snapshot();
  // The snapshot marker is written after the entries it covers: a tail that loses them loses the marker
  // too. Keep it simple and cut only after the snapshot (entries it covers are dropped with it).
  const Index snap_index = snap.metadata.index, last = d.last_index();
  if (last <= snap_index) return;  // nothing after the snapshot
  const Index keep = snap_index + rng_.uniform(last - snap_index);
  std::vector<Entry> ents;
  if (keep > snap_index) ents = *d.entries(snap_index + 1, keep + 1, UINT64_MAX);
  raft::HardState hs = d.hard_state();
  hs.commit = std::min(hs.commit, keep);
  hs.lost_tail = true;
  auto nd = std::make_unique<MemoryStorage>();
  if (!snap.empty()) {
    nd->apply_snapshot(snap);
  } else {
    nd->set_conf_state(d.initial_state().conf_state);
  }
  nd->append(ents);
  nd->set_hard_state(hs);
  mb.disk = std::move(nd);
  ++res_.lost_tails;
  trace("lost tail " + std::to_string(mb.id) + ": entries " + std::to_string(keep + 1) + ".." +
        std::to_string(last) + ", commit now " + std::to_string(hs.commit));
}

void Sim::act_restart(Member& mb) {
  if (mb.up) return;
  trace("restart " + std::to_string(mb.id));
  start_member(mb);
}

void Sim::act_partition() {
  cut_.clear();
  switch (rng_.uniform(4)) {
    case 0:
      trace("heal");
      return;
    case 1: {  // isolate one member both ways
      NodeId x = members_[rng_.uniform(members_.size())].id;
      for (auto& m : members_) {
        if (m.id == x) continue;
        cut_.insert({x, m.id});
        cut_.insert({m.id, x});
      }
      trace("isolate " + std::to_string(x));
      return;
    }
    case 2: {  // split into two random groups
      std::set<NodeId> a;
      for (auto& m : members_)
        if (rng_.uniform(2)) a.insert(m.id);
      for (auto& m1 : members_)
        for (auto& m2 : members_)
          if (a.count(m1.id) != a.count(m2.id)) cut_.insert({m1.id, m2.id});
      trace("split");
      return;
    }
    default: {  // one-way: x cannot send to anyone
      NodeId x = members_[rng_.uniform(members_.size())].id;
      for (auto& m : members_)
        if (m.id != x) cut_.insert({x, m.id});
      trace("one-way mute " + std::to_string(x));
      return;
    }
  }
}

void Sim::act_snapshot(Member& mb) {
  if (!mb.up) return;
  Index applied = mb.sm.size();
  if (applied < mb.disk->first_index() + 3) return;
  auto s = mb.disk->create_snapshot(applied, &mb.cs, encode_sm(mb.sm));
  if (!s) return;
  Index keep = rng_.uniform(4);
  if (applied > keep + mb.disk->first_index()) (void)mb.disk->compact(applied - keep);
  trace("snapshot " + std::to_string(mb.id) + " at " + std::to_string(applied));
}

void Sim::act_conf_change() {
  Member* l = leader();
  if (!l) return;
  const auto& cfg = l->node->raft().tracker().config();
  ConfChange cc;
  std::vector<NodeId> spares, learners, voters(cfg.voters.begin(), cfg.voters.end());
  for (auto& m : members_)
    if (!cfg.contains(m.id)) spares.push_back(m.id);
  learners.assign(cfg.learners.begin(), cfg.learners.end());
  uint64_t pick = rng_.uniform(3);
  if (pick == 0 && !spares.empty()) {
    cc.type = ConfChangeType::kAddLearnerNode;
    cc.node_id = spares[rng_.uniform(spares.size())];
  } else if (pick == 1 && !learners.empty()) {
    cc.type = ConfChangeType::kAddNode;
    cc.node_id = learners[rng_.uniform(learners.size())];
  } else if (pick == 2 && voters.size() > 3) {
    cc.type = ConfChangeType::kRemoveNode;
    cc.node_id = voters[rng_.uniform(voters.size())];
  } else if (!learners.empty() && rng_.uniform(2)) {
    cc.type = ConfChangeType::kRemoveNode;
    cc.node_id = learners[rng_.uniform(learners.size())];
  } else {
    return;
  }
  trace("propose conf change on " + std::to_string(l->id) + ": " + std::to_string(int(cc.type)) + " " +
        std::to_string(cc.node_id));
  (void)l->node->propose_conf_change(cc);
}

void Sim::act_transfer() {
  Member* l = leader();
  if (!l) return;
  const auto& voters = l->node->raft().tracker().config().voters;
  std::vector<NodeId> v(voters.begin(), voters.end());
  NodeId to = v[rng_.uniform(v.size())];
  trace("transfer leader " + std::to_string(l->id) + " -> " + std::to_string(to));
  l->node->transfer_leader(to);
}

Member* Sim::leader() {
  Member* best = nullptr;
  for (auto& m : members_) {
    if (!m.up || m.node->raft().role() != StateRole::kLeader) continue;
    if (!best || m.node->raft().term() > best->node->raft().term()) best = &m;
  }
  return best;
}

// ------------------------------------------------------------------------------------------------
// Checks

void Sim::fail(const std::string& what) {
  if (failed_) return;
  failed_ = true;
  res_.ok = false;
  res_.failure = "step " + std::to_string(now_) + ": " + what;
}

void Sim::check_entry(const Entry& e, Term prev_term, NodeId where) {
  auto key = std::make_pair(e.index, e.term);
  auto val = std::make_pair(sm_record(e), prev_term);
  auto [it, inserted] = entries_seen_.emplace(key, val);
  if (!inserted && it->second != val) {
    fail("log matching: node " + std::to_string(where) + " holds " + raft::describe(e) + " after term " +
         std::to_string(prev_term) + " but another log has '" + it->second.first + "' after term " +
         std::to_string(it->second.second));
  }
}

void Sim::check_after_step() {
  for (auto& mb : members_) {
    if (!mb.up) continue;
    const raft::Raft& r = mb.node->raft();
#if CAIRN_INVARIANTS
    r.check_invariants();
#endif
    // Election safety.
    if (r.role() == StateRole::kLeader) {
      auto [it, inserted] = leader_of_term_.emplace(r.term(), mb.id);
      if (!inserted && it->second != mb.id) {
        fail("election safety: nodes " + std::to_string(it->second) + " and " + std::to_string(mb.id) +
             " both lead term " + std::to_string(r.term()));
      }
      // Leader completeness: every committed entry is in the leader's log (if not compacted away).
      if (inserted) {
        const raft::RaftLog& log = r.log();
        for (const auto& [idx, te] : committed_) {
          if (idx < log.first_index()) continue;
          if (idx > log.last_index() || log.zero_term_on_error(idx) != te.first) {
            fail("leader completeness: leader " + std::to_string(mb.id) + " of term " +
                 std::to_string(r.term()) + " lacks committed entry " + std::to_string(te.first) + "/" +
                 std::to_string(idx));
            break;
          }
        }
      }
    }
    // Committed entries never change.
    const raft::RaftLog& log = r.log();
    Index c = log.committed();
    if (c > mb.seen_commit) {
      for (Index i = std::max(mb.seen_commit + 1, log.first_index()); i <= c; ++i) {
        auto ents = log.slice(i, i + 1, UINT64_MAX);
        if (!ents || ents->empty()) continue;
        const Entry& e = ents->front();
        auto rec = std::make_pair(e.term, sm_record(e));
        auto [it, inserted] = committed_.emplace(i, rec);
        if (!inserted && it->second != rec) {
          fail("committed entry changed at index " + std::to_string(i) + " on node " + std::to_string(mb.id));
        }
      }
      mb.seen_commit = c;
    } else if (c < mb.seen_commit) {
      mb.seen_commit = c;  // after a restart the commit index may start lower; it is relearned
    }
  }
}

// ------------------------------------------------------------------------------------------------

SimResult Sim::run() {
  draw_faults();
  int total = opts_.nodes + (opts_.membership_changes ? opts_.spare_nodes : 0);
  ConfState initial;
  for (int i = 1; i <= opts_.nodes; ++i)
    initial.voters.push_back(i);
  for (int i = 1; i <= total; ++i) {
    Member mb;
    mb.id = i;
    mb.disk = std::make_unique<MemoryStorage>();
    // Spare members start empty: they learn the membership from the leader's log or a snapshot.
    if (i <= opts_.nodes) {
      auto boot = raft::bootstrap_state(initial.voters);
      mb.disk->append(boot.entries);
      mb.disk->set_hard_state(boot.hard_state);
      mb.disk->set_conf_state(boot.conf_state);
    }
    members_.push_back(std::move(mb));
  }
  for (auto& mb : members_)
    start_member(mb);

  // Safety phase: chaos.
  for (int step = 0; step < opts_.safety_steps && !failed_; ++step) {
    ++now_;
    Member& mb = members_[rng_.uniform(members_.size())];
    uint64_t a = rng_.uniform(1000);
    if (a < 380) {
      act_deliver();
    } else if (a < 530) {
      act_take_ready(mb);
    } else if (a < 680) {
      act_persist(mb);
    } else if (a < 830) {
      act_tick(mb);
    } else if (a < 910) {
      act_propose(mb);
    } else if (a < 930) {
      act_read(mb);
    } else if (a < 945) {
      if (snapshots_) act_snapshot(mb);
    } else if (a < 960) {
      if (crashes_) act_crash(mb);
    } else if (a < 980) {
      act_restart(mb);
    } else if (a < 988) {
      if (partitions_) act_partition();
    } else if (a < 995) {
      if (membership_) act_conf_change();
    } else {
      if (transfers_) act_transfer();
    }
    check_after_step();
  }
  res_.steps = now_;
  if (failed_) return res_;

  // Liveness phase: heal everything, restart everyone, run fair rounds until a fresh write is applied
  // by every member of the final configuration.
  cut_.clear();
  drop_p_ = 0;
  dup_p_ = 0;
  for (auto& mb : members_)
    act_restart(mb);
  std::string marker;
  bool done = false;
  for (int round = 0; round < opts_.liveness_rounds_max && !failed_ && !done; ++round) {
    ++now_;
    for (auto& f : net_)
      f.deliver_at = 0;
    std::vector<InFlight> batch = std::move(net_);
    net_.clear();
    for (auto& f : batch)
      deliver(std::move(f));
    for (auto& mb : members_) {
      while (!mb.pending.empty())
        act_persist(mb);  // Readies taken during the chaos phase
      for (int k = 0; k < 4 && mb.node->has_ready(); ++k) {
        act_take_ready(mb);
        act_persist(mb);
      }
    }
    for (auto& mb : members_)
      mb.node->tick();
    check_after_step();
    Member* l = leader();
    if (l && round % 20 == 5) {
      marker = "live" + std::to_string(round);
      (void)l->node->propose(marker);
    }
    if (!marker.empty() && l) {
      const auto& cfg = l->node->raft().tracker().config();
      done = true;
      for (auto& mb : members_) {
        if (!cfg.contains(mb.id)) continue;
        if (std::find(mb.sm.begin(), mb.sm.end(), "N:" + marker) == mb.sm.end()) done = false;
      }
    }
  }
  if (!failed_ && !done) {
    std::string st;
    for (auto& mb : members_) {
      const auto& r = mb.node->raft();
      st += " [" + std::to_string(mb.id) + " " + raft::to_string(r.role()) +
            " term=" + std::to_string(r.term()) + " last=" + std::to_string(r.log().last_index()) +
            " commit=" + std::to_string(r.log().committed()) + " applied=" + std::to_string(mb.sm.size()) +
            "]";
    }
    fail("liveness: no write committed everywhere within " + std::to_string(opts_.liveness_rounds_max) +
         " healed rounds;" + st);
  }
  // A member of the final configuration whose log lost its tail has caught up by now (it votes again).
  // (A removed member hears no leader any more: it stays as it is.)
  Member* final_leader = failed_ ? nullptr : leader();
  for (auto& mb : members_) {
    if (failed_ || !mb.node->raft().lost_tail().active()) continue;
    if (final_leader && !final_leader->node->raft().tracker().config().contains(mb.id)) continue;
    const auto& lt = mb.node->raft().lost_tail();
    fail("liveness: node " + std::to_string(mb.id) + " never caught up after losing its log's tail (" +
         raft::to_string(lt.state()) + ", target " + std::to_string(lt.target()) + ", last " +
         std::to_string(mb.node->raft().log().last_index()) + ")");
  }
  // Nothing acknowledged is lost: every member of the final configuration applied it, identically.
  if (!failed_) {
    Member* l = leader();
    const auto& cfg = l->node->raft().tracker().config();
    for (auto& mb : members_) {
      if (!cfg.contains(mb.id)) continue;
      if (mb.sm.size() < acked_max_) {
        fail("node " + std::to_string(mb.id) + " applied only " + std::to_string(mb.sm.size()) +
             " entries; index " + std::to_string(acked_max_) + " was acknowledged");
      }
      for (Index i = 1; i <= mb.sm.size() && !failed_; ++i) {
        auto it = applied_.find(i);
        if (it != applied_.end() && it->second != mb.sm[i - 1])
          fail("final state differs at " + std::to_string(i));
      }
    }
  }
  Hasher h;
  for (auto& mb : members_) {
    const auto& r = mb.node->raft();
    h.add(r.term());
    h.add(r.vote());
    h.add(r.log().committed());
    h.add(r.log().last_index());
    for (const auto& s : mb.sm)
      h.add(s);
  }
  h.add(res_.messages);
  res_.state_hash = h.h;
  res_.committed = committed_.empty() ? 0 : committed_.rbegin()->first;
  return res_;
}

}  // namespace

SimResult run_simulation(uint64_t seed, const SimOptions& opts) {
  Sim sim(seed, opts);
  return sim.run();
}

}  // namespace cairn::sim
