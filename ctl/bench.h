// cairnctl bench put|range: etcd's benchmark-tool workloads with its summary, histogram and percentiles.
#pragma once

#include <string>

#include "ctl/args.h"
#include "ctl/rpc.h"

namespace cairn::ctl {

int run_bench(const std::string& workload, const Invocation& inv, const ConnectionOptions& copts);
// etcdctl's `check perf`: rate-limited puts of 256-byte keys and 1 KiB values from many connections,
// then etcd's verdict lines (throughput > 90% of the load's rate, slowest <= 0.5 s, stddev <= 0.1 s).
int run_check_perf(const Invocation& inv, const ConnectionOptions& copts);

}  // namespace cairn::ctl
