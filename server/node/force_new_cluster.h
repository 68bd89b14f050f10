// --force-new-cluster: restart a member as a one-member cluster from its own data, the recovery path once
// the other members are lost for good (etcd's restartAsStandaloneNode). Nothing already committed is lost:
// the log is cut after the commit index (entries never committed were never acknowledged to a client),
// and real membership-change entries are appended there and marked committed, removing every other
// member (and adding this one if it was a learner). They are applied like any conf change, so the store,
// the WAL metadata and every log a later member replays agree that the cluster now has one member. The
// cluster id does not change: clients and new members see the same cluster.
//
// Idempotent: a member that is already alone gets no entries, so restarting with the flag left on is
// harmless.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/types.h"

namespace cairn::server::node {

struct ForcedRestart {
  std::vector<raft::Entry> entries;  // to append at commit + 1 (overwriting any uncommitted tail)
  raft::HardState hard_state;        // commit: the last forced entry
};

// `log`: the entries after the snapshot (contiguous). `conf_state` reflects the conf changes up to
// `conf_index`; committed conf changes after it are replayed here so that a member added by one of them
// is removed too. nullopt when this member is already the only one.
std::optional<ForcedRestart> force_new_cluster(const std::vector<raft::Entry>& log, const raft::HardState& hs,
                                               uint64_t snapshot_index, uint64_t snapshot_term,
                                               const raft::ConfState& conf_state, uint64_t conf_index,
                                               uint64_t self);

}  // namespace cairn::server::node
