#include "raft/tracker.h"

namespace cairn::raft {

ConfState MembershipConfig::to_conf_state() const {
  return ConfState{{voters.begin(), voters.end()}, {learners.begin(), learners.end()}};
}

MembershipConfig MembershipConfig::from_conf_state(const ConfState& cs) {
  MembershipConfig c;
  c.voters.insert(cs.voters.begin(), cs.voters.end());
  c.learners.insert(cs.learners.begin(), cs.learners.end());
  return c;
}

Expected<MembershipConfig, Error> apply_conf_change(const MembershipConfig& current, const ConfChange& cc) {
  MembershipConfig next = current;
  if (cc.node_id == kNone) return next;  // a no-op change (used to leave nothing pending)
  switch (cc.type) {
    case ConfChangeType::kAddNode:
      next.learners.erase(cc.node_id);  // promoting a learner
      next.voters.insert(cc.node_id);
      break;
    case ConfChangeType::kAddLearnerNode:
      if (next.voters.count(cc.node_id)) return unexpected(Error::kInvalidConfChange);
      next.learners.insert(cc.node_id);
      break;
    case ConfChangeType::kRemoveNode:
      next.voters.erase(cc.node_id);
      next.learners.erase(cc.node_id);
      if (next.voters.empty()) return unexpected(Error::kInvalidConfChange);
      break;
    case ConfChangeType::kUpdateNode:
      break;  // addresses live outside the core
  }
  return next;
}

void ProgressTracker::set_config(const MembershipConfig& cfg, Index next_index) {
  config_ = cfg;
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!cfg.contains(it->first)) {
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  auto ensure = [&](NodeId id, bool learner) {
    auto it = progress_.find(id);
    if (it == progress_.end()) {
      Progress p(next_index, inflight_msgs_max_, inflight_bytes_max_, learner);
      // New members are considered active so that a check-quorum right after the change does not
      // depose the leader before they had a chance to answer.
      p.recent_active = true;
      progress_.emplace(id, std::move(p));
    } else {
      it->second.is_learner = learner;
    }
  };
  for (NodeId id : cfg.voters)
    ensure(id, false);
  for (NodeId id : cfg.learners)
    ensure(id, true);
}

Progress* ProgressTracker::progress(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::progress(NodeId id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

Index ProgressTracker::committed() const {
  return quorum::committed_index(config_.voters, [this](NodeId id) -> Index {
    const Progress* p = progress(id);
    return p ? p->match_index : 0;
  });
}

bool ProgressTracker::quorum_active() const {
  return quorum::has_quorum(config_.voters, [this](NodeId id) {
    const Progress* p = progress(id);
    return p && p->recent_active;
  });
}

void ProgressTracker::record_vote(NodeId id, bool granted) {
  votes_.emplace(id, granted);
}

quorum::VoteResult ProgressTracker::tally_votes(size_t* granted, size_t* rejected) const {
  size_t g = 0, r = 0;
  for (const auto& [id, v] : votes_) {
    if (!config_.voters.count(id)) continue;
    (v ? g : r)++;
  }
  if (granted) *granted = g;
  if (rejected) *rejected = r;
  return quorum::vote_result(config_.voters, votes_);
}

}  // namespace cairn::raft
