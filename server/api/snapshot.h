// Maintenance.Snapshot: the member's store as an etcd backend file (storage/etcd_backend/export.h, a
// bbolt file with etcd's buckets) followed by its SHA-256, which `etcdctl snapshot status/restore` and
// `cairnctl snapshot status/restore` read and from which etcd 3.4 starts.
//
// Steps and threads:
//   1. node thread: a checkpoint of the store (MvccStore::snapshot: hard links after a memtable
//      flush, consistent with the applied index) into member/snapshot-export/<n>, with the membership
//      of that moment;
//   2. a worker thread of this request (never the node or network threads): opens the checkpoint as
//      its own RocksDB, writes the etcd file member/snapshot-export/<n>.db in one pass (a few pages of
//      memory), drops the checkpoint, then reads the file back in 32 KiB chunks (etcd's chunk size) into
//      a queue of at most kSnapshotQueuedChunksMax chunks, hashing them, and adds the digest;
//   3. the stream's coroutine sends each chunk as a SnapshotResponse (remaining_bytes counts what is
//      left after the chunk, as etcd does) and the digest as the last message.
// The members bucket lists the member table of step 1; members_removed stays empty (cairn keeps no
// record of removed member ids); the auth buckets are a never-enabled auth store's until cairn has one
// (ExportInfo::auth is where its users and roles go, read in step 1).
// The file is unlinked as soon as the worker has it open, so nothing is left behind when the stream
// ends, however it ends. A client that goes away cancels the worker (the coroutine's end joins it; the
// export polls for cancellation between records). At most kSnapshotsInFlightMax snapshots run at once
// (etcd's "too many requests" beyond); a crash mid-export leaves member/snapshot-export behind, which
// the member's first snapshot after its restart removes.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/net/server.h"
#include "server/node/node.h"

namespace cairn::server::api {

inline constexpr size_t kSnapshotChunkBytes = 32 * 1024;
inline constexpr size_t kSnapshotQueuedChunksMax = 32;  // 1 MiB buffered per stream
inline constexpr int kSnapshotsInFlightMax = 2;

boost::asio::awaitable<net::Status> maintenance_snapshot(node::Node* node, net::ServerStream& stream);

}  // namespace cairn::server::api
