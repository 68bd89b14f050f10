// cairnutl's snapshot commands: `snapshot status <file>` and `snapshot restore <file> ...` of etcd
// snapshots (cairn's or etcd's) and etcd members' db files. server/node/restore.h does the work; this is
// the command-line side, with etcdctl 3.4's output (cairnctl runs these through cairnutl, ctl/snapshot.h).
#pragma once

#include "ctl/format.h"
#include "server/node/restore.h"

namespace cairn::utl {

int snapshot_status(const std::string& path, const ctl::PrintOptions& print);
int snapshot_restore(const server::node::RestoreOptions& options);

}  // namespace cairn::utl
