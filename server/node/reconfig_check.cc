#include "server/node/reconfig_check.h"

#include <algorithm>

namespace cairn::server::node {

namespace {

size_t quorum(size_t voters) {
  return voters / 2 + 1;
}

size_t count_in(const std::vector<uint64_t>& ids, const std::set<uint64_t>& set, uint64_t except = 0) {
  return static_cast<size_t>(
      std::count_if(ids.begin(), ids.end(), [&](uint64_t id) { return id != except && set.count(id) > 0; }));
}

// A new voter (or a promoted learner) joins: the voters that are already started must be a quorum of the
// larger cluster, except when a one-member cluster adds its second member (it cannot be otherwise).
std::optional<EtcdError> check_add_voter(const MembershipView& v, uint64_t id) {
  const size_t members = v.voters.size() + 1;
  size_t started = count_in(v.voters, v.started);
  const bool promote = v.learners.count(id) > 0;
  if (promote && v.started.count(id)) ++started;
  if (!promote && started == 1 && members == 2) return std::nullopt;
  if (started < quorum(members)) return err_not_enough_started_members();
  // The leader must hear from every voter: the new member is not caught up yet, so the old ones alone
  // carry the quorum until it is.
  if (!promote && v.active && count_in(v.voters, *v.active) < v.voters.size()) return err_unhealthy();
  return std::nullopt;
}

std::optional<EtcdError> check_remove(const MembershipView& v, uint64_t id) {
  if (std::find(v.voters.begin(), v.voters.end(), id) == v.voters.end()) return std::nullopt;  // a learner
  const size_t remaining = v.voters.size() - 1;
  if (count_in(v.voters, v.started, id) < quorum(remaining)) return err_not_enough_started_members();
  // etcd: the active voters other than the one removed must still be a quorum of the remaining ones.
  if (v.active && count_in(v.voters, *v.active, id) < 1 + remaining / 2) return err_unhealthy();
  return std::nullopt;
}

}  // namespace

std::optional<EtcdError> check_reconfig(const MembershipView& view, const raft::ConfChange& cc, bool strict,
                                        size_t max_learners) {
  switch (cc.type) {
    case raft::ConfChangeType::kAddLearnerNode:
      if (view.learners.size() >= max_learners) return err_too_many_learners();
      return std::nullopt;
    case raft::ConfChangeType::kAddNode:
      return strict ? check_add_voter(view, cc.node_id) : std::nullopt;
    case raft::ConfChangeType::kRemoveNode:
      return strict ? check_remove(view, cc.node_id) : std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace cairn::server::node
