// ProgressTracker: the active configuration (voters and learners), the leader's Progress for every
// member, and the votes received in the current election.
#pragma once

#include <map>
#include <set>
#include <string>

#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/types.h"

namespace cairn::raft {

struct MembershipConfig {
  std::set<NodeId> voters;
  std::set<NodeId> learners;
  bool operator==(const MembershipConfig&) const = default;
  ConfState to_conf_state() const;
  static MembershipConfig from_conf_state(const ConfState& cs);
  bool contains(NodeId id) const { return voters.count(id) || learners.count(id); }
};

// Validates a single membership change against `current` and returns the resulting configuration,
// leaving `current` untouched. Rules: one node changes per step; a voter is never demoted to a
// learner in one step; the last voter cannot be removed; changes to unknown nodes are no-ops.
Expected<MembershipConfig, Error> apply_conf_change(const MembershipConfig& current, const ConfChange& cc);

class ProgressTracker {
 public:
  ProgressTracker(size_t inflight_msgs_max, uint64_t inflight_bytes_max)
      : inflight_msgs_max_(inflight_msgs_max), inflight_bytes_max_(inflight_bytes_max) {}

  const MembershipConfig& config() const { return config_; }
  // Switches to `cfg`; new members start probing at next_index, removed members are dropped.
  void set_config(const MembershipConfig& cfg, Index next_index);

  Progress* progress(NodeId id);
  const Progress* progress(NodeId id) const;
  std::map<NodeId, Progress>& all() { return progress_; }
  const std::map<NodeId, Progress>& all() const { return progress_; }
  bool is_voter(NodeId id) const { return config_.voters.count(id) != 0; }
  bool is_singleton() const { return config_.voters.size() == 1 && config_.learners.empty(); }

  Index committed() const;
  bool quorum_active() const;
  void reset_votes() { votes_.clear(); }
  void record_vote(NodeId id, bool granted);
  quorum::VoteResult tally_votes(size_t* granted, size_t* rejected) const;

 private:
  size_t inflight_msgs_max_;
  uint64_t inflight_bytes_max_;
  MembershipConfig config_;
  std::map<NodeId, Progress> progress_;
  std::map<NodeId, bool> votes_;
};

}  // namespace cairn::raft
