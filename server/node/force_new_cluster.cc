#include "server/node/force_new_cluster.h"

#include <algorithm>
#include <set>

namespace cairn::server::node {

namespace {

// Members (voters and learners) once every committed conf change after conf_index is applied.
std::set<uint64_t> members_at_commit(const std::vector<raft::Entry>& log, uint64_t commit,
                                     const raft::ConfState& cs, uint64_t conf_index, bool* self_voter,
                                     uint64_t self) {
  std::set<uint64_t> voters(cs.voters.begin(), cs.voters.end());
  std::set<uint64_t> learners(cs.learners.begin(), cs.learners.end());
  for (const auto& e : log) {
    if (e.index <= conf_index || e.index > commit || e.type != raft::EntryType::kConfChange) continue;
    auto cc = raft::ConfChange::decode(e.data);
    if (!cc) continue;
    switch (cc->type) {
      case raft::ConfChangeType::kAddNode:
        learners.erase(cc->node_id);
        voters.insert(cc->node_id);
        break;
      case raft::ConfChangeType::kAddLearnerNode:
        if (!voters.count(cc->node_id)) learners.insert(cc->node_id);
        break;
      case raft::ConfChangeType::kRemoveNode:
        voters.erase(cc->node_id);
        learners.erase(cc->node_id);
        break;
      default:
        break;
    }
  }
  *self_voter = voters.count(self) > 0;
  std::set<uint64_t> all = voters;
  all.insert(learners.begin(), learners.end());
  return all;
}

}  // namespace

std::optional<ForcedRestart> force_new_cluster(const std::vector<raft::Entry>& log, const raft::HardState& hs,
                                               uint64_t snapshot_index, uint64_t snapshot_term,
                                               const raft::ConfState& conf_state, uint64_t conf_index,
                                               uint64_t self) {
  const uint64_t commit = std::max(hs.commit, snapshot_index);
  bool self_voter = false;
  std::set<uint64_t> members = members_at_commit(log, commit, conf_state, conf_index, &self_voter, self);
  std::vector<raft::ConfChange> changes;
  for (uint64_t id : members) {
    if (id == self) continue;
    raft::ConfChange cc;
    cc.type = raft::ConfChangeType::kRemoveNode;
    cc.node_id = id;
    changes.push_back(cc);
  }
  if (!self_voter) {
    raft::ConfChange cc;
    cc.type = raft::ConfChangeType::kAddNode;
    cc.node_id = self;
    changes.push_back(cc);
  }
  if (changes.empty()) return std::nullopt;
  // The forced entries follow the committed log in a term no older than any entry before them; term 1
  // is the bootstrap's (its conf changes derive the cluster id), so they are at least term 2.
  uint64_t term = std::max<uint64_t>({hs.term, snapshot_term, 2});
  for (const auto& e : log)
    if (e.index <= commit) term = std::max(term, e.term);
  ForcedRestart out;
  uint64_t index = commit;
  for (const auto& cc : changes) {
    raft::Entry e;
    e.term = term;
    e.index = ++index;
    e.type = raft::EntryType::kConfChange;
    e.data = cc.encode();
    out.entries.push_back(std::move(e));
  }
  out.hard_state.term = term;
  out.hard_state.vote = term == hs.term ? hs.vote : raft::kNone;
  out.hard_state.commit = index;
  return out;
}

}  // namespace cairn::server::node
