// Conversions between etcd's wire messages (etcdserverpb::, mvccpb::) and the MVCC store's plain
// request/response structs (storage/requests.h), and the layout of cairn's raft entry payloads.
//
// Entry payload (kNormal entries; an empty payload is raft's own empty entry and applies as a no-op):
//   u8 kind | u64 BE request id | u64 BE origin member id | [auth] | body (a serialized etcd message)
// The origin member is the one holding a waiter for the request id; other members only apply.
// A client's request carries [auth] (the kind byte has kEntryAuthFlag set): u64 BE auth revision | u16 BE
// user name length | user name: who the request acts for and the auth revision its token was checked
// at (server/auth decides at apply time against them; a user name may be empty: no credentials). The
// member's own requests (lease expiry, checkpoints, auto-compaction, publish) have no [auth].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/etcd/rpc.pb.h"
#include "storage/requests.h"

namespace cairn::server::node {

enum class EntryKind : uint8_t {
  kPut = 1,          // body: etcdserverpb::PutRequest
  kDeleteRange = 2,  // body: etcdserverpb::DeleteRangeRequest
  kTxn = 3,          // body: etcdserverpb::TxnRequest
  kCompaction = 4,   // body: etcdserverpb::CompactionRequest
  kPublish = 5,      // body: etcdserverpb::Member (name and client URLs of the origin member)
  kAlarm = 6,        // body: etcdserverpb::AlarmRequest
  // Leases (server/lease/). ID and TTL are final when proposed: the proposer picks a server-chosen ID and
  // raises a TTL below the minimum, so apply stays deterministic.
  kLeaseGrant = 7,       // body: etcdserverpb::LeaseGrantRequest
  kLeaseRevoke = 8,      // body: etcdserverpb::LeaseRevokeRequest (client revoke or leader expiry)
  kLeaseCheckpoint = 9,  // body: etcdserverpb::LeaseCheckpointRequest (remaining TTLs, from the leader)
  // Auth (server/auth/). Passwords never enter the log: UserAdd and UserChangePassword carry the bcrypt
  // hash in their password field, made by the proposer.
  kAuthEnable = 10,                // body: etcdserverpb::AuthEnableRequest
  kAuthDisable = 11,               // body: etcdserverpb::AuthDisableRequest
  kAuthenticate = 12,              // body: server/auth/auth.h's authenticate record (user, revision, token)
  kAuthUserAdd = 13,               // body: etcdserverpb::AuthUserAddRequest (password: the hash)
  kAuthUserDelete = 14,            // body: etcdserverpb::AuthUserDeleteRequest
  kAuthUserChangePassword = 15,    // body: etcdserverpb::AuthUserChangePasswordRequest (password: the hash)
  kAuthUserGrantRole = 16,         // body: etcdserverpb::AuthUserGrantRoleRequest
  kAuthUserRevokeRole = 17,        // body: etcdserverpb::AuthUserRevokeRoleRequest
  kAuthRoleAdd = 18,               // body: etcdserverpb::AuthRoleAddRequest
  kAuthRoleDelete = 19,            // body: etcdserverpb::AuthRoleDeleteRequest
  kAuthRoleGrantPermission = 20,   // body: etcdserverpb::AuthRoleGrantPermissionRequest
  kAuthRoleRevokePermission = 21,  // body: etcdserverpb::AuthRoleRevokePermissionRequest
  kDowngrade = 22,                 // body: server/node/version.h's DowngradeInfo record (ENABLE, CANCEL)
  kStateCheck = 23,                // body: a StateCheck record (below), from the leader
  kQuota = 24,                     // body: u64 BE quota bytes (storage::QuotaRequest), from the leader
};
// The highest EntryKind value; payloads with a larger kind byte do not decode.
inline constexpr uint8_t kEntryKindMax = 24;
// Set in the kind byte of a payload that carries [auth].
inline constexpr uint8_t kEntryAuthFlag = 0x80;
inline constexpr size_t kEntryUserBytesMax = 0xffff;

// Who a client request acts for (see the payload layout above).
struct EntryAuth {
  std::string user;       // empty: the request named no user
  uint64_t revision = 0;  // the auth revision when its token was checked
  bool operator==(const EntryAuth&) const = default;
};

struct EntryPayload {
  EntryKind kind = EntryKind::kPut;
  uint64_t request_id = 0;
  uint64_t origin = 0;
  std::string body;
  std::optional<EntryAuth> auth;  // client requests only
};

// The continuous corruption check (server/corrupt/chain_check.h): the leader's state chain
// (storage/mvcc_store.h) at one revision it applied. Every member applying the entry compares its own
// chain at that revision; the entry changes no state. Record: i64 BE revision | u32 BE chain.
struct StateCheck {
  int64_t revision = 0;
  uint32_t chain = 0;
  bool operator==(const StateCheck&) const = default;
};
std::string encode_state_check(const StateCheck& c);
std::optional<StateCheck> decode_state_check(std::string_view body);

// kQuota's body: u64 BE bytes (> 0).
std::string encode_quota(uint64_t bytes);
std::optional<uint64_t> decode_quota(std::string_view body);

std::string encode_entry_payload(const EntryPayload& p);
std::optional<EntryPayload> decode_entry_payload(std::string_view data);

// etcd -> store
storage::RangeRequest from_pb(const etcdserverpb::RangeRequest& r);
storage::PutRequest from_pb(const etcdserverpb::PutRequest& r);
storage::DeleteRangeRequest from_pb(const etcdserverpb::DeleteRangeRequest& r);
storage::TxnRequest from_pb(const etcdserverpb::TxnRequest& r);
storage::CompactionRequest from_pb(const etcdserverpb::CompactionRequest& r);
storage::LeaseGrantRequest from_pb(const etcdserverpb::LeaseGrantRequest& r);
storage::LeaseRevokeRequest from_pb(const etcdserverpb::LeaseRevokeRequest& r);
storage::LeaseCheckpointRequest from_pb(const etcdserverpb::LeaseCheckpointRequest& r);
// store -> etcd for the lease requests the lessor proposes
etcdserverpb::LeaseCheckpointRequest to_pb(const storage::LeaseCheckpointRequest& r);

// store -> etcd (header.revision only; the server fills cluster_id, member_id and raft_term)
void to_pb(const storage::KeyValue& kv, mvccpb::KeyValue* out);
void to_pb(const storage::RangeResponse& r, etcdserverpb::RangeResponse* out);
void to_pb(const storage::PutResponse& r, etcdserverpb::PutResponse* out);
void to_pb(const storage::DeleteRangeResponse& r, etcdserverpb::DeleteRangeResponse* out);
void to_pb(const storage::TxnResponse& r, etcdserverpb::TxnResponse* out);

// Decodes an entry body of the given kind into the store request it carries (nullopt: not a store
// request, e.g. kPublish, or an undecodable body).
std::optional<storage::ApplyRequest> to_apply_request(EntryKind kind, std::string_view body);

}  // namespace cairn::server::node
