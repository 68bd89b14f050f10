// `etcdctl snapshot status` of an etcd backend file, computed as etcdctl 3.4 does so that cairnctl
// prints the same figures for the same file (etcd's or cairn's):
//   * the file passes bbolt's consistency check (bbolt::Reader::check());
//   * hash: CRC-32C (Castagnoli) over, for each top-level bucket in order, its name, then each of its
//     keys and values in order (a nested bucket's element contributes its key only);
//   * revision: the main revision of the key bucket's last key (0 without a key bucket);
//   * total keys: the elements of every top-level bucket;
//   * total size: high-water mark x page size.
#pragma once

#include <cstdint>
#include <string>

#include "base/expected.h"
#include "storage/bbolt/reader.h"

namespace cairn::storage::etcd_backend {

struct BackendStatus {
  uint32_t hash = 0;
  int64_t revision = 0;
  int64_t total_keys = 0;
  int64_t total_size = 0;
};

Expected<BackendStatus, std::string> backend_status(bbolt::Reader& reader);

}  // namespace cairn::storage::etcd_backend
