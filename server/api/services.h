// etcd's v3 gRPC services (KV, Cluster, Maintenance) and the HTTP endpoints of the client port
// (/health, /version, /metrics, the JSON gateway), on top of a node::Node.
//
// Handlers run on the connection's strand and never block it: each one parses the request, hands the
// work to the node thread (Node::propose / linearize / run) and co_awaits a net::Completion that the
// node thread fulfils. Responses carry cluster_id, member_id, raft_term and revision (etcd's rules:
// docs/compatibility.md); errors are etcd's gRPC code and exact message.
#pragma once

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::api {

void register_kv(net::Server& server, node::Node& node);
void register_cluster(net::Server& server, node::Node& node);
void register_maintenance(net::Server& server, node::Node& node);
void register_http(net::Server& server, node::Node& node);
// /health, /metrics, /livez and /readyz alone (--listen-metrics-urls); the network counters are those of
// `stats_of`.
void register_monitoring(net::Server& server, node::Node& node, const net::Server& stats_of);
// etcd's JSON gateway: POST /v3/kv/{range,put,deleterange,txn,compaction},
// /v3/maintenance/{status,alarm,defragment,hash,transfer-leadership}, /v3/cluster/member/{list,add,remove,
// update,promote} (proto3 JSON, base64 bytes, int64 as strings). main.cc also serves them under /v3beta
// and /v3alpha.
void register_gateway(net::Server& server, node::Node& node);
// etcd's Auth service and its gateway routes /v3/auth/... (auth_service.cc).
void register_auth(net::Server& server, node::Node& node);

inline void register_all(net::Server& server, node::Node& node) {
  register_auth(server, node);
  register_kv(server, node);
  register_cluster(server, node);
  register_maintenance(server, node);
  register_http(server, node);
  register_gateway(server, node);
}

// The gRPC status for a server error (exposed for tests).
net::Status to_status(const node::EtcdError& e);

}  // namespace cairn::server::api
