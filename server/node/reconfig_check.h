// Membership-change admission: etcd's --strict-reconfig-check (a change must not leave the cluster
// without a quorum of started, reachable voters) and the learner limit (--max-learners). Pure functions
// of what the member knows, so they are unit-tested without a cluster (tests/server/reconfig_check_test.cc).
//
// "Started" members have published their client URLs (they have run and joined); "active" ones were heard
// from recently. Only the leader hears from every voter, so `active` is known there alone; elsewhere the
// reachability checks are skipped and raft forwards the change to the leader.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "raft/types.h"
#include "server/node/errors.h"

namespace cairn::server::node {

struct MembershipView {
  std::vector<uint64_t> voters;
  std::set<uint64_t> learners;
  std::set<uint64_t> started;                // members with client URLs
  std::optional<std::set<uint64_t>> active;  // leader only: voters heard from recently, itself included
};

inline EtcdError err_not_enough_started_members() {
  return {net::StatusCode::kFailedPrecondition,
          "etcdserver: re-configuration failed due to not enough started members"};
}

// The change `cc` (add voter, add learner, promote = add voter for a learner, remove) against the view.
// strict: apply the quorum checks (--strict-reconfig-check); the learner limit applies always.
std::optional<EtcdError> check_reconfig(const MembershipView& view, const raft::ConfChange& cc, bool strict,
                                        size_t max_learners);

}  // namespace cairn::server::node
