// Automatic compaction beside the node (see compactor.h): observes the node's tick and, on the leader,
// proposes etcd's CompactionRequest through raft when the AutoCompactor says one is due.
#pragma once

#include <memory>
#include <vector>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::compactor {

// Registers the observer (no routes); the handle keeps the compactor alive. Does nothing when
// --auto-compaction-retention is 0.
std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& servers);

}  // namespace cairn::server::compactor
