// The lease component beside the node: etcd's Lease gRPC service (Grant, Revoke, KeepAlive, TimeToLive,
// Leases), the lease routes of the JSON gateway, and the leader's lessor (server/lease/lessor.h) driven by
// the node's observer callbacks. Design: docs/leases.md.
#pragma once

#include <memory>
#include <vector>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::lease {

// Registers the NodeObserver and adds the routes to every server. Call before node.start() and before
// the servers listen. The handle keeps the lessor alive.
std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& servers);

}  // namespace cairn::server::lease
