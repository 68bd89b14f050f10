// Offline disaster recovery from a snapshot file saved with `cairnctl snapshot save` (or etcdctl's) from
// a cairn member: `snapshot status` reads one, `snapshot restore` turns one into a new member's data dir.
//
// Snapshot file (what the Maintenance/Snapshot service streams, server/api/services.cc):
//   per file of a store checkpoint: u32 BE name length | name | u64 BE size | bytes
//   | zero padding to a multiple of 512 bytes | SHA-256 of everything before it (32 bytes)
// A name length of 0 (or fewer than 4 bytes left) ends the files: it is the padding. A file copied from
// elsewhere may lack the trailing digest (size % 512 != 32): restore then needs skip_hash_check.
// etcd's snapshots are bbolt files (detected by the meta page's magic) and are refused: they hold etcd's
// backend, not a cairn store.
//
// A restored data dir, as a member's start (node.cc) reads it:
//   <data-dir>/member/db   the snapshot's store checkpoint (RocksDB), applied index A and term T as saved
//   <data-dir>/member/wal  a new WAL: the metadata blob (conf state = the new voters; member list with
//                          the new cluster id and this member's id), a snapshot marker at (A, T) with that
//                          conf state, and hard state {term T, commit A}.
// So the new raft log starts empty right after the store's applied index: the store neither replays
// the old cluster's entries (they are gone) nor skips the new cluster's (they start at A + 1), and every
// restored member starts from the same (A, T). As for etcd's restore, membership and the cluster id
// come from the flags (ids derived from peer URLs and token as a starting member derives them), the
// data from the snapshot. Members must then be started with the same --name, --initial-cluster,
// --initial-cluster-token and --initial-advertise-peer-urls (cairn derives its member id from them).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "raft/expected.h"

namespace cairn::server::node {

struct SnapshotFileContents {
  std::vector<std::pair<std::string, std::string>> files;  // name, bytes
  bool had_digest = false;                                 // a trailing SHA-256 was present
};
// Parses a snapshot file's bytes. verify_digest: a missing or wrong SHA-256 is an error.
Expected<SnapshotFileContents, std::string> parse_snapshot_file(const std::string& bytes, bool verify_digest);
// True for a bbolt file (an etcd snapshot or db).
bool is_bbolt(const std::string& bytes);

// etcdctl's snapshot status fields for a cairn snapshot.
struct SnapshotStatus {
  uint32_t hash = 0;       // HashKV of the store at `revision` (compare: endpoint hashkv --rev=revision)
  int64_t revision = 0;    // the store's current revision
  int64_t total_keys = 0;  // records in the store (every revision of every key, leases, meta)
  int64_t total_size = 0;  // bytes of the store's files
  uint64_t applied_index = 0;
};
Expected<SnapshotStatus, std::string> snapshot_status(const std::string& path);

struct RestoreOptions {
  std::string snapshot_path;
  std::string name;
  std::string data_dir;         // must not exist
  std::string initial_cluster;  // name=url,name=url (a name may repeat)
  std::string initial_cluster_token;
  std::string initial_advertise_peer_urls;  // comma list
  bool skip_hash_check = false;
};
struct RestoreResult {
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  uint64_t applied_index = 0;
  uint64_t applied_term = 0;
  int64_t revision = 0;
};
Expected<RestoreResult, std::string> restore_member(const RestoreOptions& o);

}  // namespace cairn::server::node
