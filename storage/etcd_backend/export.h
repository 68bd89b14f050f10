// Writing a cairn store as an etcd backend file (layout.h) that etcd 3.4 opens and `etcdctl snapshot
// status/restore` read: what Maintenance.Snapshot streams.
//
// The store is read from a KvEngine nobody writes to while the export runs: a checkpoint of the live
// store (MvccStore::snapshot), opened on its own. Its three spaces map onto etcd's buckets:
//   kKeys   -> key      every record (the full history above the compaction point), in revision order
//   kLeases -> lease    {ID, TTL, RemainingTTL}
//   kMeta   -> meta     consistent_index / term = the store's applied index and term;
//                       scheduledCompactRev = finishedCompactRev = its compaction revision (if any)
//              alarm    the NOSPACE alarm, raised by `member_id`
// and the server adds what the store does not hold: the members (members, members_removed), the
// cluster version (cluster) and the auth state (auth, authUsers, authRoles; AuthExport).
//
// One pass over the engine in key order into a bbolt::Writer: memory is the writer's few pages plus
// one record at a time, whatever the store's size.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/expected.h"
#include "storage/bbolt/writer.h"
#include "storage/etcd_backend/layout.h"
#include "storage/kv_engine.h"

namespace cairn::storage::etcd_backend {

// The auth buckets. The default is what a fresh etcd writes, auth never enabled and no users: only
// authRevision = 1. The auth store (issue 12) fills this from its own records.
struct AuthExport {
  std::optional<bool> enabled;  // nullopt: no authEnabled key (auth never enabled)
  uint64_t revision = 1;
  std::map<std::string, std::string> users;  // name -> authpb.User bytes
  std::map<std::string, std::string> roles;  // name -> authpb.Role bytes
};

struct ExportInfo {
  uint64_t member_id = 0;  // the member the snapshot comes from (raised its alarms)
  std::vector<MemberRecord> members;
  std::vector<uint64_t> removed_member_ids;
  std::string cluster_version = "3.4.0";
  AuthExport auth;
  // Polled before every record: set it to stop the export early (the result is then an error).
  const std::atomic<bool>* cancel = nullptr;
};

struct ExportSummary {
  uint64_t bytes = 0;  // the file's size
  uint64_t applied_index = 0;
  uint64_t applied_term = 0;
  int64_t revision = 0;
  int64_t compact_revision = -1;
  uint64_t key_records = 0;  // records of the key bucket (every revision of every key)
  uint64_t leases = 0;
};

Expected<ExportSummary, std::string> export_store(KvEngine& engine, const ExportInfo& info,
                                                  bbolt::PageSink& sink);

}  // namespace cairn::storage::etcd_backend
