// Request and response types of the MVCC store: plain C++ mirrors of etcd's rpc.proto / kv.proto
// messages (field names and meanings match, so the server maps them 1:1). Header fields other than
// `revision` (cluster_id, member_id, raft_term) belong to the server and are not here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cairn::storage {

// A deep-copying owning pointer, for the recursive Txn types (a RequestOp may hold a TxnRequest).
template <typename T>
class Box {
 public:
  Box() : p_(std::make_unique<T>()) {}
  Box(T v) : p_(std::make_unique<T>(std::move(v))) {}
  Box(const Box& o) : p_(std::make_unique<T>(*o.p_)) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& o) {
    p_ = std::make_unique<T>(*o.p_);
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }
  bool operator==(const Box& o) const { return *p_ == *o.p_; }

 private:
  std::unique_ptr<T> p_;
};

// mvccpb.KeyValue
struct KeyValue {
  std::string key;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  std::string value;
  int64_t lease = 0;
  bool operator==(const KeyValue&) const = default;
};

// One change of one key, as a watcher sees it (etcd's mvccpb.Event). A PUT carries the key-value
// after the change; a DELETE carries only key and mod_revision (the deleting revision), every other
// field zero, exactly as the tombstone record stores it.
struct Event {
  enum class Type : uint8_t { kPut = 0, kDelete = 1 };
  Type type = Type::kPut;
  KeyValue kv;
  bool operator==(const Event&) const = default;
};

struct ResponseHeader {
  int64_t revision = 0;
  bool operator==(const ResponseHeader&) const = default;
};

// RangeRequest.SortOrder / SortTarget (same numbering as rpc.proto).
enum class SortOrder : uint8_t { kNone = 0, kAscend = 1, kDescend = 2 };
enum class SortTarget : uint8_t { kKey = 0, kVersion = 1, kCreate = 2, kMod = 3, kValue = 4 };

struct RangeRequest {
  std::string key;
  std::string range_end;  // empty: only `key`; "\0": every key >= key; else [key, range_end)
  int64_t limit = 0;      // <= 0: no limit
  int64_t revision = 0;   // <= 0: current revision
  SortOrder sort_order = SortOrder::kNone;
  SortTarget sort_target = SortTarget::kKey;
  bool serializable = false;  // the server's concern; the store ignores it
  bool keys_only = false;
  bool count_only = false;
  int64_t min_mod_revision = 0;
  int64_t max_mod_revision = 0;
  int64_t min_create_revision = 0;
  int64_t max_create_revision = 0;
  bool operator==(const RangeRequest&) const = default;
};

struct RangeResponse {
  ResponseHeader header;
  std::vector<KeyValue> kvs;
  bool more = false;
  int64_t count = 0;
  bool operator==(const RangeResponse&) const = default;
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
  bool prev_kv = false;
  bool ignore_value = false;
  bool ignore_lease = false;
  bool operator==(const PutRequest&) const = default;
};

struct PutResponse {
  ResponseHeader header;
  std::optional<KeyValue> prev_kv;
  bool operator==(const PutResponse&) const = default;
};

struct DeleteRangeRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
  bool operator==(const DeleteRangeRequest&) const = default;
};

struct DeleteRangeResponse {
  ResponseHeader header;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
  bool operator==(const DeleteRangeResponse&) const = default;
};

struct Compare {
  enum class Result : uint8_t { kEqual = 0, kGreater = 1, kLess = 2, kNotEqual = 3 };
  enum class Target : uint8_t { kVersion = 0, kCreate = 1, kMod = 2, kValue = 3, kLease = 4 };
  Result result = Result::kEqual;
  Target target = Target::kVersion;
  std::string key;
  // target_union: only the field that matches `target` is read (unset fields are 0 / empty,
  // exactly like an unset proto3 oneof).
  int64_t version = 0;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  std::string value;
  int64_t lease = 0;
  std::string range_end;
  bool operator==(const Compare&) const = default;
};

struct TxnRequest;
struct TxnResponse;

struct RequestOp {
  std::variant<RangeRequest, PutRequest, DeleteRangeRequest, Box<TxnRequest>> request;
  bool operator==(const RequestOp&) const = default;
};

struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<RequestOp> success;
  std::vector<RequestOp> failure;
  bool operator==(const TxnRequest&) const = default;
};

struct ResponseOp {
  std::variant<RangeResponse, PutResponse, DeleteRangeResponse, Box<TxnResponse>> response;
  bool operator==(const ResponseOp&) const = default;
};

struct TxnResponse {
  ResponseHeader header;
  bool succeeded = false;
  std::vector<ResponseOp> responses;
  bool operator==(const TxnResponse&) const = default;
};

struct CompactionRequest {
  int64_t revision = 0;
  bool physical = false;  // the store ignores it; the server answers once the records are deleted
  bool operator==(const CompactionRequest&) const = default;
};

struct CompactionResponse {
  ResponseHeader header;
  bool operator==(const CompactionResponse&) const = default;
};

// Lease operations that go through the log. ID and the effective TTL are chosen by the leader
// before proposing (etcd raises TTLs below its minimum there), so apply is deterministic.
struct LeaseGrantRequest {
  int64_t ttl = 0;  // seconds
  int64_t id = 0;
  bool operator==(const LeaseGrantRequest&) const = default;
};

struct LeaseGrantResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;
  bool operator==(const LeaseGrantResponse&) const = default;
};

struct LeaseRevokeRequest {
  int64_t id = 0;
  bool operator==(const LeaseRevokeRequest&) const = default;
};

struct LeaseRevokeResponse {
  ResponseHeader header;
  bool operator==(const LeaseRevokeResponse&) const = default;
};

// etcd's internal LeaseCheckpointRequest: persists the remaining TTL of leases.
struct LeaseCheckpoint {
  int64_t id = 0;
  int64_t remaining_ttl = 0;  // seconds
  bool operator==(const LeaseCheckpoint&) const = default;
};

struct LeaseCheckpointRequest {
  std::vector<LeaseCheckpoint> checkpoints;
  bool operator==(const LeaseCheckpointRequest&) const = default;
};

struct LeaseCheckpointResponse {
  ResponseHeader header;
  bool operator==(const LeaseCheckpointResponse&) const = default;
};

enum class AlarmType : uint8_t { kNone = 0, kNoSpace = 1, kCorrupt = 2 };

// A raised alarm, as etcd's AlarmMember: the member it was raised for and its type. The store keeps every
// raised pair; the effect is the cluster's (etcd's appliers): while any member has CORRUPT every write is
// refused, while any has NOSPACE everything that could grow the store is.
struct AlarmMember {
  uint64_t member = 0;
  AlarmType type = AlarmType::kNone;
  auto operator<=>(const AlarmMember&) const = default;
};

struct AlarmRequest {
  enum class Action : uint8_t { kGet = 0, kActivate = 1, kDeactivate = 2 };
  Action action = Action::kGet;
  AlarmType alarm = AlarmType::kNone;
  uint64_t member = 0;  // etcd's memberID: whose alarm it raises or clears
  bool operator==(const AlarmRequest&) const = default;
};

// As etcd answers: kGet every raised alarm; kActivate the alarm (raised now or already; none for kNone);
// kDeactivate the alarm cleared (none if it was not raised).
struct AlarmResponse {
  ResponseHeader header;
  std::vector<AlarmMember> alarms;
  bool operator==(const AlarmResponse&) const = default;
};

// The cluster's quota (cairn's; etcd has none in its log): the logical size past which Puts, Txns with a
// put and LeaseGrants raise NOSPACE. Applied through the log, so every member refuses the same requests
// whatever its own --quota-backend-bytes (the leader proposes its flag: server/disk/quota_sync.h).
// bytes == 0 is refused (kInvalidArgument); answered with a NoopResponse.
struct QuotaRequest {
  uint64_t bytes = 0;
  bool operator==(const QuotaRequest&) const = default;
};

// A log entry that carries no store request (e.g. a configuration change or an empty leader entry):
// applying it only advances the applied index.
struct NoopRequest {
  bool operator==(const NoopRequest&) const = default;
};
struct NoopResponse {
  ResponseHeader header;
  bool operator==(const NoopResponse&) const = default;
};

using ApplyRequest =
    std::variant<PutRequest, DeleteRangeRequest, TxnRequest, CompactionRequest, LeaseGrantRequest,
                 LeaseRevokeRequest, LeaseCheckpointRequest, AlarmRequest, QuotaRequest, NoopRequest>;
using ApplyResponse =
    std::variant<PutResponse, DeleteRangeResponse, TxnResponse, CompactionResponse, LeaseGrantResponse,
                 LeaseRevokeResponse, LeaseCheckpointResponse, AlarmResponse, NoopResponse>;

struct HashResponse {
  ResponseHeader header;
  uint32_t hash = 0;
};

struct HashKvResponse {
  ResponseHeader header;
  uint32_t hash = 0;
  int64_t compact_revision = -1;  // -1: never compacted
};

struct LeaseInfo {
  int64_t id = 0;
  int64_t ttl = 0;                // granted TTL, seconds
  int64_t remaining_ttl = 0;      // last checkpointed remaining TTL, seconds; 0 = none
  std::vector<std::string> keys;  // attached keys, sorted
  bool operator==(const LeaseInfo&) const = default;
};

}  // namespace cairn::storage
