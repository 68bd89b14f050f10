// cairnctl's offline snapshot commands, `snapshot status <file>` and `snapshot restore <file> ...`
// (etcdctl 3.4 has both), run cairnutl (utl/): it links the restore code, which writes a member's data
// dir (WAL, RocksDB), so that cairnctl links no server code. cairnutl is looked for in the directory of
// the running cairnctl binary (/proc/self/exe), where the build and the packages put both; without it
// the command fails with a clear error (exit 1). cairnutl's output and exit code become cairnctl's.
#pragma once

#include <string>
#include <vector>

#include "ctl/args.h"

namespace cairn::ctl {

// cairnutl's command line for a `snapshot status|restore` invocation (without argv[0]).
std::vector<std::string> cairnutl_args(const Invocation& inv);
// Replaces this process with cairnutl; returns (with the error printed) only when that fails.
int exec_cairnutl(const Invocation& inv);

}  // namespace cairn::ctl
