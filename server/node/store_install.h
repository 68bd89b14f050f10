// StoreDir: a member's store directory and the files that replace it when a store snapshot arrives from
// the leader. Node owns one; it does every file operation of the snapshot protocol's receiving side.
//
// Layout under the member directory (<data-dir>/member):
//   db                    the store (the engine's files)
//   snap.in.N             a store snapshot being received or received (N: a transfer number, decimal), or
//                         waiting for raft to accept it (snapshot_stream.h writes it)
//   snap.out.N            a checkpoint of the store being sent to a follower
//   db.incoming           a received store, staged to replace db
//   db.incoming.index     the raft index of db.incoming's snapshot, in decimal and a newline
//   db.old                the store db.incoming replaced, being deleted
//
// Installing a received store takes three durable steps:
//   1. stage(): snap.in.N is synced and renamed to db.incoming; db.incoming.index is written and synced,
//      and so is the member directory;
//   2. the caller records the snapshot marker in the WAL and syncs it: from then on the WAL says the
//      store is the snapshot's;
//   3. finish(): db becomes db.old, db.incoming becomes db, db.old and the index file are deleted.
// Crash behaviour (recover(), at start, with the WAL's snapshot marker): a crash before step 2 leaves a
// db.incoming the WAL never adopted: it is deleted and the leader sends a new snapshot. A crash after it
// leaves a WAL that names db.incoming's index: the swap of step 3 is done (again). Leftover transfer
// directories (snap.in.*, snap.out.*) are deleted at start too: a transfer does not survive a restart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "raft/types.h"

namespace cairn::server::node {

// A received snapshot transfer's store is written to member/snap.in.N (snapshot_stream.h); raft's
// Snapshot::data on the receiving member is then encode_snapshot_data(membership, "snap.in.N").
inline constexpr std::string_view kSnapshotTransferDirPrefix = "snap.in.";
bool is_snapshot_transfer_dir(std::string_view name);

class StoreDir {
 public:
  explicit StoreDir(std::string member_dir);

  const std::string& member_dir() const { return member_dir_; }
  const std::string& db_dir() const { return db_dir_; }
  // Where transfer number n is received (snap.in.n) or a checkpoint for a follower is written (snap.out.n).
  std::string transfer_dir(uint64_t n) const;
  std::string checkpoint_dir(uint64_t n) const;

  // At start: deletes the transfers a restart ended, then finishes or undoes an install (above).
  Expected<bool, std::string> recover(const std::optional<raft::SnapshotMetadata>& wal_snapshot);
  // Step 1 for the transfer directory `received` (a name is_snapshot_transfer_dir accepts) at `index`.
  Expected<bool, std::string> stage(std::string_view received, uint64_t index);
  // Step 3, once the WAL holds the marker for `index` (the store must be closed).
  Expected<bool, std::string> finish(uint64_t index);

 private:
  Expected<bool, std::string> finish_or_undo(const std::optional<raft::SnapshotMetadata>& wal_snapshot);
  void remove_transfers_left();

  std::string member_dir_;
  std::string db_dir_;
  std::string incoming_;
  std::string index_file_;
  std::string old_;
};

}  // namespace cairn::server::node
