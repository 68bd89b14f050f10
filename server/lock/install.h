// etcd's v3lock and v3election services (/v3lockpb.Lock/*, /v3electionpb.Election/*) and their JSON
// gateway routes (/v3/lock/*, /v3/election/*), served on every client server of this member.
//
// The services run etcd's recipes (server/lock/recipes.h) as clients of this member
// (server/lock/local_client.h): each incoming call opens one HTTP/2 connection over an in-memory pipe to
// the server it came in on (net::Server::in_process_endpoint: no socket, no TLS) and issues ordinary KV,
// Lease and Watch calls as its caller (token, or verified certificate CN), as etcd's v3lock/v3election
// do through their in-process clientv3.
#pragma once

#include <memory>
#include <vector>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::lock {

// Adds the routes to every server (before they listen). The handle keeps the services' state alive;
// destroy it after the servers have shut down.
std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& servers);

}  // namespace cairn::server::lock
