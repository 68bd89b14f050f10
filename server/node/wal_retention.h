// --max-wals: how far to release the WAL behind a snapshot so that at least max_wals segment files stay
// (etcd keeps that many WAL files and purges older ones once a snapshot covers them; 0 keeps every file).
// wal::Wal::release_to(i) deletes the oldest segment while the next one's first index - 1 <= i
// (wal/wal.h), so keeping the newest max_wals segments means releasing to the first index of the oldest
// kept one, minus one, and never past the snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cairn::server::node {

// 0: release nothing. `segment_first_indices` in segment order (wal::Wal::segments()).
uint64_t wal_release_index(const std::vector<uint64_t>& segment_first_indices, uint64_t snapshot_index,
                           size_t max_wals);

}  // namespace cairn::server::node
