// Building a cairn store from an etcd backend file (layout.h): an etcd snapshot or an etcd member's
// member/snap/db, read with storage/bbolt's Reader.
//
// What is kept, bucket by bucket:
//   key      every record, so the full revision history above etcd's compaction point: revisions,
//            create/mod revisions, versions, leases of keys, tombstones (cairn's record of a
//            tombstone states its mod_revision, the revision it sits at)
//   lease    every lease: ID, granted TTL, remaining TTL
//   meta     applied index/term = consistent_index / term (1 when etcd 3.4 wrote none), the
//            compaction revision = the scheduled one when etcd had not finished it (etcd would redo it
//            on start; records it had not yet removed stay, below the compaction point, and
//            tombstones whose put it had removed are dropped), the current revision = the last
//            record's, or the compaction revision when that is higher (as etcd derives it)
//   alarm    NOSPACE stays raised; other alarms (CORRUPT) are reported in warnings and dropped
//   auth     returned in the summary (ImportSummary::auth) for the caller to store
//            (server/auth/backend_format.h)
//   members, members_removed, cluster: reported (member count), not imported: a restored member's
//            membership comes from its flags, as with etcdctl snapshot restore
// Unknown buckets are reported in warnings.
//
// The engine must be empty. Records go in as they are read, in batches of at most
// ImportOptions::batch_bytes_max, so memory stays bounded by the reader's path and one batch (and, only
// when etcd's compaction was unfinished, the set of keys live at each point of the history). Every
// record is validated (revision keys, protobufs, revisions and versions that agree with the history);
// MvccStore::open then checks the whole store as it rebuilds its index.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/expected.h"
#include "storage/bbolt/reader.h"
#include "storage/etcd_backend/export.h"
#include "storage/kv_engine.h"

namespace cairn::storage::etcd_backend {

struct ImportOptions {
  uint64_t batch_bytes_max = 4ull << 20;
  // Bounds the auth buckets read into ImportSummary::auth (etcd's auth data is small).
  uint64_t auth_bytes_max = 64ull << 20;
  const std::atomic<bool>* cancel = nullptr;
};

struct ImportSummary {
  uint64_t consistent_index = 0;
  uint64_t term = 0;  // 0: the file has none (etcd 3.4)
  int64_t revision = 1;
  int64_t compact_revision = -1;
  uint64_t key_records = 0;
  uint64_t tombstones_dropped = 0;  // removed by etcd's unfinished compaction's rule
  uint64_t leases = 0;
  uint64_t members = 0;
  std::vector<AlarmMember> alarms;  // NOSPACE alarms, with the members of the file's cluster
  AuthExport auth;                  // as found; enabled == nullopt when the file has no authEnabled key
  bool has_auth = false;            // the file has auth buckets at all
  std::vector<std::string> warnings;
};

Expected<ImportSummary, std::string> import_backend(bbolt::Reader& reader, KvEngine& engine,
                                                    const ImportOptions& options = {});

}  // namespace cairn::storage::etcd_backend
