// The corruption checks beside the node (rules in verdict.h):
//   * initial_check(): before the member serves clients, its HashKV at its current revision is compared
//     with every other member's at that revision; a member that differs (at the same compaction) stops
//     this one with "found data inconsistency with peers". Peers that do not answer within
//     initial_timeout (their client port is not up yet, e.g. the whole cluster restarts with the flag)
//     are skipped, as etcd skips them.
//   * install(): every `period` the leader asks every member for its HashKV at the leader's revision and
//     raises the CORRUPT alarm (through raft, so every member refuses writes) for the members that differ.
// Peers are asked on their advertised client URLs (Maintenance.HashKV over gRPC); https:// ones with
// `client_tls`.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "server/net/vocabulary.h"
#include "server/node/node.h"
#include "wire/tls.h"

namespace cairn::server::corrupt {

struct Options {
  std::chrono::milliseconds period{0};  // 0: no periodic check
  std::chrono::milliseconds rpc_timeout{5'000};
  std::chrono::milliseconds initial_timeout{10'000};  // the whole initial check
  std::shared_ptr<const net::TlsContext> client_tls;  // for peers with https:// client URLs
};

// Runs the initial check to its end on a private io_context (call after node.start(), before the client
// servers listen). An error is the line for the startup log.
std::optional<std::string> initial_check(node::Node& node, const Options& options);

// The leader's periodic check on `net_ioc`; nullptr when options.period is 0. Call before node.start().
std::shared_ptr<void> install(node::Node& node, boost::asio::io_context& net_ioc, const Options& options);

}  // namespace cairn::server::corrupt
