// A small in-process cluster for the Raft core's tests: each member is a RawNode over a MemoryStorage,
// driven exactly as raw_node.h prescribes (persist the Ready, then send messages_after_persist and
// apply committed entries, then advance). Messages travel through an in-memory network with
// per-recipient queues and cuttable links, so a test decides exactly when each message is delivered.
//
// Shared by the unit tests (raft_paper_test.cc, raft_features_test.cc) and the transcript driver
// (interaction_test.cc).
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/log_storage.h"
#include "raft/raw_node.h"
#include "raft/types.h"

namespace cairn::raft::test {

// Tests spell out every option they depend on; these are the paper's plain Raft (no pre-vote, no
// check-quorum) so the paper tests see exactly the behaviour the paper describes.
inline Config plain_config(NodeId id) {
  Config c;
  c.id = id;
  c.election_timeout_ticks = 10;
  c.heartbeat_interval_ticks = 1;
  c.pre_vote = false;
  c.check_quorum = false;
  c.rng_seed = 7;
  return c;
}

// One member: its durable storage, its RawNode and what it has applied so far.
class TestNode {
 public:
  // Bootstraps a member of `cs`. If snapshot_index > 0 the storage starts from a snapshot at that
  // index (term 1) carrying the configuration, like a member restored from a backup.
  TestNode(const Config& cfg, const ConfState& cs, Index snapshot_index = 0) : cfg_(cfg) {
    if (snapshot_index > 0) {
      Snapshot s;
      s.metadata.index = snapshot_index;
      s.metadata.term = 1;
      s.metadata.conf_state = cs;
      storage.apply_snapshot(s);
      storage.set_hard_state(HardState{1, kNone, snapshot_index});
      cfg_.applied = snapshot_index;
    } else {
      storage.set_conf_state(cs);
    }
    node = std::make_unique<RawNode>(cfg_, &storage);
  }
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  NodeId id() const { return cfg_.id; }
  const Config& config() const { return cfg_; }
  Raft& raft() { return node->raft_for_testing(); }
  const Raft& raft() const { return node->raft(); }

  // Simulates a crash and restart: everything durable in storage survives, the rest is lost.
  void restart() {
    cfg_.applied = applied_index();
    node = std::make_unique<RawNode>(cfg_, &storage);
  }

  Index applied_index() const {
    Index snap = storage.snapshot() ? storage.snapshot()->metadata.index : 0;
    return applied.empty() ? snap : std::max(snap, applied.back().index);
  }

  // Handles one Ready by the book. Returns it so tests can inspect what came out; the conf states
  // produced by applying conf change entries are recorded in conf_states_applied.
  Ready handle_ready() {
    Ready rd = node->ready();
    if (!rd.snapshot.empty()) {
      storage.apply_snapshot(rd.snapshot);
      snapshots_installed.push_back(rd.snapshot.metadata.index);
    }
    storage.append(rd.entries);
    if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
    for (const Entry& e : rd.committed_entries) {
      applied.push_back(e);
      if (e.type == EntryType::kConfChange) {
        auto cc = ConfChange::decode(e.data);
        ConfState cs = node->apply_conf_change(*cc);
        conf_states_applied.push_back(cs);
      }
    }
    for (const ReadState& rs : rd.read_states)
      read_states.push_back(rs);
    node->advance(rd.number);
    return rd;
  }

  // Handles Readies until none is left; returns every message they carried, in send order
  // (immediate ones of a Ready before its after-persist ones).
  std::vector<Message> flush() {
    std::vector<Message> out;
    while (node->has_ready()) {
      Ready rd = handle_ready();
      for (auto& m : rd.messages)
        out.push_back(std::move(m));
      for (auto& m : rd.messages_after_persist)
        out.push_back(std::move(m));
    }
    return out;
  }

  MemoryStorage storage;
  std::unique_ptr<RawNode> node;
  std::vector<Entry> applied;
  std::vector<ConfState> conf_states_applied;
  std::vector<ReadState> read_states;
  std::vector<Index> snapshots_installed;

 private:
  Config cfg_;
};

// The network: per-recipient FIFO queues and a set of cut (directed) links.
class Cluster {
 public:
  TestNode& add(const Config& cfg, const ConfState& cs, Index snapshot_index = 0) {
    auto n = std::make_unique<TestNode>(cfg, cs, snapshot_index);
    TestNode& ref = *n;
    nodes_[cfg.id] = std::move(n);
    return ref;
  }
  // A cluster of voters 1..n with the config produced by `cfg_of(id)`.
  template <typename F>
  static std::unique_ptr<Cluster> voters(size_t n, F cfg_of) {
    auto c = std::make_unique<Cluster>();
    ConfState cs;
    for (NodeId id = 1; id <= n; ++id)
      cs.voters.push_back(id);
    for (NodeId id = 1; id <= n; ++id)
      c->add(cfg_of(id), cs);
    return c;
  }
  static std::unique_ptr<Cluster> plain(size_t n) { return voters(n, plain_config); }

  TestNode& operator[](NodeId id) { return *nodes_.at(id); }
  bool has(NodeId id) const { return nodes_.count(id) != 0; }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (const auto& [id, n] : nodes_)
      out.push_back(id);
    return out;
  }

  // Puts messages on the wire. Messages over a cut link, or to a node that does not exist, vanish;
  // like a real transport, the network tells the sender when a snapshot could not be delivered.
  void send(std::vector<Message> msgs) {
    for (auto& m : msgs) {
      if (!reachable(m.from, m.to) || !has(m.to)) {
        lose(m);
        continue;
      }
      inbox_[m.to].push_back(std::move(m));
    }
  }
  // Takes (and removes) the messages queued for `id`.
  std::vector<Message> take(NodeId id) {
    auto& q = inbox_[id];
    std::vector<Message> out(q.begin(), q.end());
    q.clear();
    return out;
  }
  std::vector<Message> take_all() {
    std::vector<Message> out;
    for (auto& [id, q] : inbox_) {
      out.insert(out.end(), q.begin(), q.end());
      q.clear();
    }
    return out;
  }
  size_t pending(NodeId id) const {
    auto it = inbox_.find(id);
    return it == inbox_.end() ? 0 : it->second.size();
  }

  // Flushes one node's Readies onto the network.
  void flush(NodeId id) { send((*this)[id].flush()); }

  // Delivers every queued message for `id` (steps them into its RawNode).
  void deliver(NodeId id) {
    for (auto& m : take(id)) {
      if (observer) observer(m);
      (void)(*this)[id].node->step(std::move(m));
    }
  }

  // Runs Ready handling and delivery until the cluster is quiet. Returns the number of messages
  // delivered (so tests can count round trips and messages).
  size_t stabilize(size_t max_rounds = 1000) {
    size_t delivered = 0;
    for (size_t round = 0; round < max_rounds; ++round) {
      bool busy = false;
      for (auto& [id, n] : nodes_) {
        if (n->node->has_ready()) {
          busy = true;
          send(n->flush());
        }
      }
      for (auto& [id, n] : nodes_) {
        auto msgs = take(id);
        if (msgs.empty()) continue;
        busy = true;
        delivered += msgs.size();
        for (auto& m : msgs) {
          if (observer) observer(m);
          (void)n->node->step(std::move(m));
        }
      }
      if (!busy) return delivered;
    }
    return delivered;
  }

  void tick(NodeId id, int n = 1) {
    for (int i = 0; i < n; ++i)
      (*this)[id].node->tick();
  }

  // Cuts every link between `group` and the other nodes (both directions).
  void partition(const std::set<NodeId>& group) {
    for (const auto& [a, na] : nodes_) {
      for (const auto& [b, nb] : nodes_) {
        if (group.count(a) != group.count(b)) cut_.insert({a, b});
      }
    }
  }
  void isolate(NodeId id) { partition({id}); }
  void cut(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void heal() { cut_.clear(); }
  bool reachable(NodeId from, NodeId to) const { return cut_.count({from, to}) == 0; }
  size_t dropped() const { return dropped_; }

  // A message lost in transit (tests that drop messages themselves call this too).
  void lose(const Message& m) {
    ++dropped_;
    if (m.type == MessageType::kSnap && has(m.from)) (*this)[m.from].node->report_snapshot(m.to, false);
  }

  // Called with every message just before it is delivered.
  std::function<void(const Message&)> observer;

  // Elects `id` (plain or pre-vote configs alike) and brings every reachable member up to date.
  void elect(NodeId id) {
    (*this)[id].node->campaign();
    stabilize();
  }

  // Every reachable member agrees on these checks after each step in debug builds.
  void check_invariants() const {
    for (const auto& [id, n] : nodes_)
      n->node->raft().check_invariants();
  }

 private:
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::map<NodeId, std::deque<Message>> inbox_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  size_t dropped_ = 0;
};

// An entry of the given term at the given index (payload optional).
inline Entry entry(Term term, Index index, std::string data = "") {
  return Entry{term, index, EntryType::kNormal, std::move(data)};
}

// Gives a member a durable log whose entry i+1 has term terms[i], and a durable term, then restarts
// it so the RawNode starts from that state (nothing committed).
inline void set_log(TestNode& n, const std::vector<Term>& terms, Term term, NodeId vote = kNone) {
  std::vector<Entry> ents;
  for (size_t i = 0; i < terms.size(); ++i)
    ents.push_back(entry(terms[i], i + 1));
  n.storage.append(ents);
  n.storage.set_hard_state(HardState{term, vote, 0});
  n.restart();
}

inline std::vector<Term> log_terms(const TestNode& n) {
  std::vector<Term> out;
  for (const auto& e : n.raft().log().all_entries())
    out.push_back(e.term);
  return out;
}

// Makes `n` leader without a network: campaigns and answers its own (pre-)vote requests with grants.
inline void win_election(TestNode& n) {
  n.node->campaign();
  for (int round = 0; round < 4 && n.raft().role() != StateRole::kLeader; ++round) {
    for (const Message& m : n.flush()) {
      if (m.type != MessageType::kVote && m.type != MessageType::kPreVote) continue;
      Message r;
      r.type = m.type == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
      r.from = m.to;
      r.to = m.from;
      r.term = m.term;
      (void)n.node->step(r);
    }
  }
}

// Filters messages by type.
inline std::vector<Message> of_type(const std::vector<Message>& msgs, MessageType t) {
  std::vector<Message> out;
  for (const auto& m : msgs) {
    if (m.type == t) out.push_back(m);
  }
  return out;
}

inline std::string describe_all(const std::vector<Message>& msgs) {
  std::string s;
  for (const auto& m : msgs)
    s += describe(m) + "\n";
  return s;
}

}  // namespace cairn::raft::test
