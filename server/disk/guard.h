// The disk-space guard (--disk-free-reserve-bytes, cairn's own). etcd raises NOSPACE only when its
// store passes --quota-backend-bytes; a disk that fills up first fails etcd's next WAL write and the
// member panics. cairn looks at the free space of its data and WAL directories on the node's tick
// (every `period`) and, once either has less than `reserve_bytes` free, proposes the NOSPACE alarm for
// this member. The alarm goes through raft, so every member then refuses what could grow the store
// (Put, Txn with a put, LeaseGrant) with etcd's "etcdserver: mvcc: database space exceeded", while
// reads, deletes, compaction and defragment still run: the operator frees space and clears the alarm
// with `etcdctl alarm disarm`, as after a quota alarm. A disarm while the disk is still short raises
// it again at the next look. Nothing already acknowledged is touched.
//
// Effects: the free space comes from Options::free_bytes (statvfs by default; tests give their own),
// time from the node's tick. Everything runs on the node thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/node/node.h"

namespace cairn::server::disk {

struct Options {
  uint64_t reserve_bytes = 0;  // 0: no guard
  std::chrono::milliseconds period{1'000};
  std::vector<std::string> dirs;  // the data and WAL directories
  // Free bytes for an unprivileged writer under a directory; nullopt when it cannot be read. Unset:
  // node::free_bytes (statvfs).
  std::function<std::optional<uint64_t>(const std::string& dir)> free_bytes;
};

struct Shortage {
  std::string dir;
  uint64_t free_bytes = 0;
};

// The directory with the least free space, if that is below reserve_bytes (unreadable ones are skipped:
// a failing disk shows up as a failing write, which stops the member).
std::optional<Shortage> find_shortage(const Options& o);

// Watches on node's tick; nullptr when reserve_bytes is 0. Call before node.start(); keep the result
// alive as long as the node runs.
std::shared_ptr<void> install(node::Node& node, Options options);

}  // namespace cairn::server::disk
