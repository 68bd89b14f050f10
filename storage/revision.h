// Revisions: the logical clock of the MVCC store.
//
// Every write request that changes something (Put, a DeleteRange that deletes at least one key, a
// Txn with at least one change, a LeaseRevoke that deletes keys) gets the next `main` revision;
// the individual changes inside it are numbered by `sub` from 0. An empty store is at main
// revision 1, so the first write is revision 2 (etcd's convention, which clients observe).
//
// Engine key format (the key of every record in Space::kKeys, see kv_engine.h):
//
//   byte  0..7   main, big-endian (non-negative int64)
//   byte  8..15  sub,  big-endian (non-negative int64)
//   byte 16      mark: 'p' for a put record, 't' for a tombstone (delete) record
//
// Big-endian fixed-width integers make byte-wise key order equal revision order, so an ordered
// scan of Space::kKeys replays history in the order it was written. A revision holds exactly one
// record, so the mark never has to break ties; it lets recovery and compaction tell a tombstone
// from a put without decoding the value.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::storage {

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;

  auto operator<=>(const Revision&) const = default;
  bool operator==(const Revision&) const = default;
};

inline constexpr size_t kRevisionKeyBytes = 17;
inline constexpr char kMarkPut = 'p';
inline constexpr char kMarkTombstone = 't';

struct RevisionKey {
  Revision rev;
  bool tombstone = false;
};

std::string encode_revision_key(Revision rev, bool tombstone);
// Bytes that sort before every record key of `main` (for scans bounded by main revision).
std::string encode_revision_prefix(int64_t main);
std::optional<RevisionKey> decode_revision_key(std::string_view key);

}  // namespace cairn::storage
