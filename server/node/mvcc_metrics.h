// etcd's etcd_mvcc_{put,delete,range,txn}_total counters (mvcc/metrics_txn.go): every put, delete and
// range a member executes, counted per operation (the ones inside a transaction's executed branch
// included), and a transaction counted once when it executed more than one operation. Writes are counted
// where they are applied (every member), ranges where they are served.
#pragma once

#include <atomic>
#include <cstdint>

#include "storage/requests.h"

namespace cairn::server::node {

struct MvccOpCounts {
  uint64_t puts = 0;
  uint64_t deletes = 0;
  uint64_t ranges = 0;
  uint64_t total() const { return puts + deletes + ranges; }
};

// The operations a successful apply executed (a Txn's executed branch, nested ones included).
MvccOpCounts count_mvcc_ops(const storage::ApplyResponse& response);

struct MvccCounters {
  std::atomic<uint64_t> puts{0};
  std::atomic<uint64_t> deletes{0};
  std::atomic<uint64_t> ranges{0};
  std::atomic<uint64_t> txns{0};

  // One executed request: a Txn counts as a transaction when it ran more than one operation, as etcd's.
  void add(const MvccOpCounts& c, bool is_txn) {
    puts += c.puts;
    deletes += c.deletes;
    ranges += c.ranges;
    if (is_txn && c.total() > 1) ++txns;
  }
};

}  // namespace cairn::server::node
