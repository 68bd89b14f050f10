// The continuous corruption check (cairn's own, --state-check-interval; etcd has only the HashKV checks of
// install.h). Every member keeps a state chain: a running CRC-32C of every key change it applied, in
// revision order (storage/mvcc_store.h "State chain"), so members that applied the same log agree on it at
// every revision, whatever they compacted.
//   * The leader, at most once per interval and only when the revision moved since its last check,
//     proposes a kStateCheck entry carrying its chain at its current revision R (request_codec.h).
//   * Every member applying that entry compares its own chain at R (it has applied R: the entries that
//     made R come before the check in the log). A member whose chain differs logs the revision window the
//     divergence lies in (after the last check that matched, at or before R) and raises the CORRUPT alarm
//     for itself through raft (an AlarmMember with its id), so the whole cluster refuses writes at once, as
//     etcd does on a HashKV mismatch. If the leader is the member that diverged, every follower raises it:
//     the alarm list then names all followers, and the leader is the odd one out (docs/operations.md).
//   * A member that does not keep R (restarted since, or rebuilt from a snapshot past R) skips the check.
// A divergence is found one interval after the revision where it happens, not a HashKV period later, and
// the check costs one small entry per interval while keys change and nothing while they do not.
// It compares what members applied; records damaged at rest are the HashKV checks' and the engine's
// block checksums' to find.
#pragma once

#include <chrono>
#include <memory>

#include "server/node/node.h"

namespace cairn::server::corrupt {

// Installs the check on `node` (before node.start()). Every member compares the checks it applies whatever
// its own interval, which only says how often it proposes one while it leads (0: never).
std::shared_ptr<void> install_chain_check(node::Node& node, std::chrono::milliseconds interval);

}  // namespace cairn::server::corrupt
