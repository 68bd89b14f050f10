// The member's state for systemd (a Type=notify unit, packaging/systemd/cairn.service), through
// libsystemd's sd_notify: READY=1 once every client and metrics listener is open and the node runs,
// STOPPING=1 when a shutdown begins. Without $NOTIFY_SOCKET (not started by systemd) both do nothing.
//
// etcd sends READY=1 later, once the member has published itself through raft, which needs a quorum:
// its unit needs TimeoutStartSec=0 because the first member of a cluster started alone never becomes
// ready. cairn's READY=1 means "accepting connections"; whether it can serve linearizable reads is
// /readyz's question (docs/operations.md, "Probes").
#pragma once

#include <string>

namespace cairn::server::app {

void notify_ready(const std::string& status);
void notify_stopping();

}  // namespace cairn::server::app
