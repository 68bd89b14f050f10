// cairnctl bench put|range: etcd's benchmark-tool workloads with its summary, histogram and percentiles.
#pragma once

#include <string>

#include "ctl/args.h"
#include "ctl/rpc.h"

namespace cairn::ctl {

int run_bench(const std::string& workload, const Invocation& inv, const ConnectionOptions& copts);

}  // namespace cairn::ctl
