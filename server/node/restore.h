// Offline disaster recovery and migration: `snapshot status` reads a snapshot file, `snapshot restore`
// turns one into a new member's data dir. cairnctl links this; nothing here runs inside a member.
//
// Accepted files:
//   * an etcd backend file (a bbolt file, storage/bbolt/format.h, with etcd's buckets,
//     storage/etcd_backend/layout.h): what `snapshot save` gets from a cairn member or from etcd, or an
//     etcd member's member/snap/db. A snapshot ends with the SHA-256 of the bytes before it (size % 512
//     == 32); a member's db has none, so it needs skip_hash_check, as with etcdctl. Status prints
//     etcdctl's figures (storage/etcd_backend/status.h); restore imports every record, lease and the
//     compaction point into a new store (storage/etcd_backend/import.h): nothing is held in memory but
//     the reader's pages and one write batch. Users, roles, the enabled flag and the auth revision are
//     restored too (server/auth/backend_format.h); tokens issued before the snapshot are void.
//   * the format cairn members streamed before they wrote etcd's (read for backups taken with those
//     builds; deprecated): per file of a store checkpoint u32 BE name length | name | u64 BE size |
//     bytes, zero padding to a multiple of 512, SHA-256 of everything before it. A name length of 0 (or
//     fewer than 4 bytes left) ends the files. The whole file is read into memory (at most 64 GiB).
// A bbolt file is told from the older format by its first meta page's magic.
//
// A restored data dir, as a member's start (node.cc) reads it:
//   <data-dir>/member/db   the store (RocksDB): applied index A and term T (an etcd snapshot's
//                          consistent_index and term; T = 1 when etcd 3.4 recorded none)
//   <data-dir>/member/wal  a new WAL: the metadata blob (conf state = the new voters; member list with
//                          the new cluster id and this member's id), a snapshot marker at (A, T) with that
//                          conf state, and hard state {term T, commit A}.
// So the new raft log starts empty right after the store's applied index: the store neither replays
// the old cluster's entries (they are gone) nor skips the new cluster's (they start at A + 1), and every
// restored member starts from the same (A, T). As for etcd's restore, membership and the cluster id
// come from the flags (ids derived from peer URLs and token as a starting member derives them), the
// data from the snapshot. Members must then be started with the same --name, --initial-cluster,
// --initial-cluster-token and --initial-advertise-peer-urls (cairn derives its member id from them).
// A restore that fails after creating the data dir removes it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/expected.h"

namespace cairn::server::node {

struct SnapshotFileContents {
  std::vector<std::pair<std::string, std::string>> files;  // name, bytes
  bool had_digest = false;                                 // a trailing SHA-256 was present
};
// Parses the bytes of a snapshot in cairn's older format. verify_digest: a missing or wrong SHA-256 is
// an error.
Expected<SnapshotFileContents, std::string> parse_snapshot_file(const std::string& bytes, bool verify_digest);
// True for a bbolt file (an etcd snapshot or db): the first meta page's magic.
bool is_bbolt(const std::string& bytes);

// etcdctl's snapshot status fields.
struct SnapshotStatus {
  // bbolt files: etcdctl's hash, last revision of the key bucket, keys of all buckets, database size.
  // Older cairn files: HashKV of the store at `revision`, its current revision, its records (every
  // revision of every key, leases, meta), the bytes of its files.
  uint32_t hash = 0;
  int64_t revision = 0;
  int64_t total_keys = 0;
  int64_t total_size = 0;
  uint64_t applied_index = 0;  // older cairn files only
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
  std::vector<std::string> warnings;  // what the etcd snapshot had that the restore did not carry over
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  uint64_t applied_index = 0;
  uint64_t applied_term = 0;
  int64_t revision = 0;
};
Expected<RestoreResult, std::string> restore_member(const RestoreOptions& o);

}  // namespace cairn::server::node
