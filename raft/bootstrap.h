// Bootstrapping a new cluster: the initial membership is written into the log as committed
// configuration-change entries (term 1, indexes 1..n) as well as into the conf state. A member that
// joins later replays the log from index 1 (or receives a snapshot) and so learns the whole membership
// history, not just the changes made after it was added.
#pragma once

#include <vector>

#include "raft/types.h"

namespace cairn::raft {

struct BootstrapState {
  std::vector<Entry> entries;
  HardState hard_state;
  ConfState conf_state;
};

// The durable state every initial member persists before constructing its RawNode. voters must be
// non-empty and contain no duplicates or kNone.
BootstrapState bootstrap_state(std::vector<NodeId> voters);

}  // namespace cairn::raft
