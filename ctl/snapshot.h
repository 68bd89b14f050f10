// The offline snapshot commands: `snapshot status <file>` and `snapshot restore <file> ...` of etcd
// snapshots (cairn's or etcd's) and etcd members' db files (server/node/restore.h does the work; this
// file is the command-line side).
#pragma once

#include "ctl/args.h"
#include "ctl/format.h"

namespace cairn::ctl {

int cmd_snapshot_status(const Invocation& inv, const PrintOptions& print);
int cmd_snapshot_restore(const Invocation& inv);

}  // namespace cairn::ctl
