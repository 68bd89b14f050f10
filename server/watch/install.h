// The Watch service (etcd's /etcdserverpb.Watch/Watch bidirectional stream) beside a node::Node.
//
// install() creates the member's Hub (watch_hub.h), registers it as a NodeObserver (applied entries,
// ticks, store restores, stop) and adds the Watch route to every client server. Call it before
// Node::start(); the returned handle keeps the hub alive.
//
// Per stream, two coroutines run on the connection's strand: a reader that parses WatchRequests and
// hands each to the node thread (Node::run, in order), and a writer that sends what the hub queued
// in the stream's Outbox (outbox.h). A client half-close ends only the reader: events keep flowing
// until the client cancels or the call fails, like etcd.
//
// Progress notifications: etcd's 10-minute default; CAIRN_WATCH_PROGRESS_NOTIFY_INTERVAL_MS in the
// environment overrides it (tests), until the server grows etcd's
// --experimental-watch-progress-notify-interval flag.
#pragma once

#include <memory>
#include <vector>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::watch {

class Hub;

std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& servers);

// The hub install() created for `node`, or nullptr: for the Lock and Election services (which wait
// for key deletions in-process, Hub::wait_for_delete). Hub functions are node-thread only.
std::shared_ptr<Hub> hub_for(const node::Node& node);

}  // namespace cairn::server::watch
