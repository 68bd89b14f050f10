#include "server/node/wal_retention.h"

#include <algorithm>

namespace cairn::server::node {

uint64_t wal_release_index(const std::vector<uint64_t>& first, uint64_t snapshot_index, size_t max_wals) {
  if (max_wals == 0 || first.size() <= max_wals) return 0;
  uint64_t keep_from = first[first.size() - max_wals];  // the oldest segment that stays
  if (keep_from == 0) return 0;
  return std::min(keep_from - 1, snapshot_index);
}

}  // namespace cairn::server::node
