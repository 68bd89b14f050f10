// etcd's backend schema: the buckets of the bbolt file (storage/bbolt/format.h) in which etcd 3.4 and
// 3.5 keep their state and which `Maintenance.Snapshot` streams, as cairn writes them (export.h) and
// reads them (import.h, status.h). Integers are big-endian unless a protobuf carries them.
//
//   bucket           key                         value
//   ---------------  --------------------------  ------------------------------------------------------
//   key              revision key (below)        mvccpb.KeyValue; a tombstone's carries only `key`
//   meta             "consistent_index"          u64: index of the last raft entry applied to the store
//                    "term"                      u64: its term (written by etcd 3.5+, ignored by 3.4)
//                    "scheduledCompactRev"       revision key {main: compaction revision, sub: 0}, 17
//                    "finishedCompactRev"        bytes; scheduled > finished: a compaction that etcd
//                                                redoes on start
//                    (3.5+ "confState", 3.6 "storageVersion": not written; ignored when read)
//   lease            u64 lease id                leasepb.Lease {ID, TTL, RemainingTTL (0: unset)}
//   members          member id, lower-case hex   Go JSON of etcd's Member: {"id":<decimal>,"peerURLs":
//                                                [...],"isLearner":true (only when true),"name":"...",
//                                                "clientURLs":[...]} (name and clientURLs omitted when
//                                                empty)
//   members_removed  member id, lower-case hex   "removed"
//   cluster          "clusterVersion"            "3.4.0"
//   auth             "authEnabled"               one byte, 1 or 0; absent until auth was first enabled
//                    "authRevision"              u64; 1 on a cluster whose auth was never touched
//   authUsers        user name                   authpb.User (bcrypt password hash, role names)
//   authRoles        role name                   authpb.Role (key permissions)
//   alarm            etcdserverpb.AlarmMember    empty
//
// A revision key is main (8 bytes), '_', sub (8 bytes): 17 bytes, with a trailing 't' (18 bytes) on a
// tombstone. Byte order is revision order, so the key bucket is the store's history in revision order,
// which is also the order of cairn's own revision keys (storage/revision.h: main, sub, 'p' | 't').
//
// etcd derives its current revision from the key bucket's last key (or the finished compaction
// revision, when that is higher); `etcdctl snapshot status` reports the last key's main revision.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/requests.h"
#include "storage/revision.h"

namespace cairn::storage::etcd_backend {

inline constexpr std::string_view kAlarmBucket = "alarm";
inline constexpr std::string_view kAuthBucket = "auth";
inline constexpr std::string_view kAuthRolesBucket = "authRoles";
inline constexpr std::string_view kAuthUsersBucket = "authUsers";
inline constexpr std::string_view kClusterBucket = "cluster";
inline constexpr std::string_view kKeyBucket = "key";
inline constexpr std::string_view kLeaseBucket = "lease";
inline constexpr std::string_view kMembersBucket = "members";
inline constexpr std::string_view kMembersRemovedBucket = "members_removed";
inline constexpr std::string_view kMetaBucket = "meta";

inline constexpr std::string_view kConsistentIndexKey = "consistent_index";
inline constexpr std::string_view kTermKey = "term";
inline constexpr std::string_view kScheduledCompactKey = "scheduledCompactRev";
inline constexpr std::string_view kFinishedCompactKey = "finishedCompactRev";
inline constexpr std::string_view kClusterVersionKey = "clusterVersion";
inline constexpr std::string_view kAuthEnabledKey = "authEnabled";
inline constexpr std::string_view kAuthRevisionKey = "authRevision";

inline constexpr size_t kRevisionBytes = 17;

struct EtcdRevision {
  Revision rev;
  bool tombstone = false;
};
std::string encode_revision(Revision rev, bool tombstone);
// nullopt unless 17 bytes with '_' at 8, or 18 ending in 't'.
std::optional<EtcdRevision> decode_revision(std::string_view key);

// mvccpb.KeyValue for a key bucket value (a tombstone: only the key).
std::string encode_kv(const KeyValue& kv, bool tombstone);
std::optional<KeyValue> decode_kv(std::string_view value);

std::string encode_lease_id(int64_t id);
std::string encode_lease(const LeaseInfo& lease);
// id from the key; nullopt when malformed or the value's ID disagrees with the key.
std::optional<LeaseInfo> decode_lease(std::string_view key, std::string_view value);

std::string encode_u64(uint64_t v);
std::optional<uint64_t> decode_u64(std::string_view v);  // exactly 8 bytes

struct MemberRecord {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool learner = false;
};
std::string member_key(uint64_t id);  // lower-case hex, no leading zeros (Go's types.ID.String())
std::string member_json(const MemberRecord& m);
// A JSON string as Go's encoding/json writes it (HTML characters and U+2028/9 escaped, invalid UTF-8
// replaced by U+FFFD).
std::string go_json_string(std::string_view s);

}  // namespace cairn::storage::etcd_backend
