// The cluster's quota (cairn's; etcd checks each member's own --quota-backend-bytes where a request
// enters). cairn refuses a put past the quota when it applies the entry, so every member must apply it
// against the same number: with each member's own flag, a rolling change of --quota-backend-bytes near
// the limit would let one member refuse a put that another applied, and their stores would part.
//
// So the quota is state in the log: the leader proposes a kQuota entry with its --quota-backend-bytes
// when the store holds none yet or holds another value (storage::QuotaRequest; the store keeps it in
// kMeta "quota", and it travels with snapshots). Until one is applied, each member uses its flag. When
// members' flags differ, the quota of the current leader holds, on every member alike; a rolling change
// of the flag takes effect once a member with the new value leads. Raising the quota does not clear a
// NOSPACE alarm (disarm it, as in etcd).
//
// Upgrades: a member of a build older than kQuota stops on it ("unknown entry kind 24 ... upgrade this
// member and restart it"), as for kStateCheck; `enabled` false (main: --state-check-interval=0s, the one
// switch that holds back the leader's newer entry kinds during such an upgrade) proposes nothing.
//
// Effects: time from the node's tick (every `period` at most one proposal). Everything runs on the node
// thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "server/node/node.h"

namespace cairn::server::disk {

struct QuotaSyncOptions {
  uint64_t quota_bytes = 2ull << 30;  // this member's --quota-backend-bytes (its default applied)
  bool enabled = true;
  std::chrono::milliseconds period{1'000};
};

// Watches on node's tick; nullptr when not enabled. Call before node.start(); keep the result alive as
// long as the node runs.
std::shared_ptr<void> install_quota_sync(node::Node& node, QuotaSyncOptions options);

}  // namespace cairn::server::disk
