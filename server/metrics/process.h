// The process_* series of Prometheus' process collector (client_golang's, which etcd exports), read from
// /proc at scrape time: CPU seconds, resident and virtual memory, open and maximum file descriptors, and
// the start time in seconds since the epoch. On a system without /proc the series are left out.
#pragma once

#include "server/metrics/families.h"

namespace cairn::server::metrics {

void collect_process(Families& out);

}  // namespace cairn::server::metrics
