#include "server/node/request_codec.h"

#include <algorithm>

#include "storage/codec.h"

namespace cairn::server::node {

namespace {
void put_u64(std::string& s, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}
constexpr size_t kPayloadHeaderBytes = 17;
}  // namespace

std::string encode_entry_payload(const EntryPayload& p) {
  std::string out;
  size_t user_bytes = p.auth ? std::min(p.auth->user.size(), kEntryUserBytesMax) : 0;
  out.reserve(kPayloadHeaderBytes + (p.auth ? 10 + user_bytes : 0) + p.body.size());
  out.push_back(static_cast<char>(static_cast<uint8_t>(p.kind) | (p.auth ? kEntryAuthFlag : 0)));
  put_u64(out, p.request_id);
  put_u64(out, p.origin);
  if (p.auth) {
    put_u64(out, p.auth->revision);
    out.push_back(static_cast<char>((user_bytes >> 8) & 0xff));
    out.push_back(static_cast<char>(user_bytes & 0xff));
    out.append(p.auth->user, 0, user_bytes);
  }
  out += p.body;
  return out;
}

std::string encode_state_check(const StateCheck& c) {
  std::string out;
  storage::codec::put_i64(&out, c.revision);
  storage::codec::put_u32(&out, c.chain);
  return out;
}

std::optional<StateCheck> decode_state_check(std::string_view body) {
  StateCheck c;
  storage::codec::Reader r(body);
  if (!r.i64(&c.revision) || !r.u32(&c.chain) || !r.done() || c.revision < 1) return std::nullopt;
  return c;
}

std::string encode_quota(uint64_t bytes) {
  std::string out;
  storage::codec::put_u64(&out, bytes);
  return out;
}

std::optional<uint64_t> decode_quota(std::string_view body) {
  uint64_t bytes = 0;
  storage::codec::Reader r(body);
  if (!r.u64(&bytes) || !r.done() || bytes == 0) return std::nullopt;
  return bytes;
}

std::optional<EntryPayload> decode_entry_payload(std::string_view data) {
  if (data.size() < kPayloadHeaderBytes) return std::nullopt;
  EntryPayload p;
  auto k = static_cast<uint8_t>(data[0]);
  bool has_auth = (k & kEntryAuthFlag) != 0;
  k = static_cast<uint8_t>(k & ~kEntryAuthFlag);
  if (k < 1 || k > kEntryKindMax) return std::nullopt;
  p.kind = static_cast<EntryKind>(k);
  p.request_id = get_u64(data.substr(1));
  p.origin = get_u64(data.substr(9));
  data.remove_prefix(kPayloadHeaderBytes);
  if (has_auth) {
    if (data.size() < 10) return std::nullopt;
    EntryAuth a;
    a.revision = get_u64(data);
    size_t n = (static_cast<size_t>(static_cast<uint8_t>(data[8])) << 8) | static_cast<uint8_t>(data[9]);
    if (data.size() < 10 + n) return std::nullopt;
    a.user = std::string(data.substr(10, n));
    data.remove_prefix(10 + n);
    p.auth = std::move(a);
  }
  p.body = std::string(data);
  return p;
}

storage::RangeRequest from_pb(const etcdserverpb::RangeRequest& r) {
  storage::RangeRequest o;
  o.key = r.key();
  o.range_end = r.range_end();
  o.limit = r.limit();
  o.revision = r.revision();
  o.sort_order = static_cast<storage::SortOrder>(r.sort_order());
  o.sort_target = static_cast<storage::SortTarget>(r.sort_target());
  o.serializable = r.serializable();
  o.keys_only = r.keys_only();
  o.count_only = r.count_only();
  o.min_mod_revision = r.min_mod_revision();
  o.max_mod_revision = r.max_mod_revision();
  o.min_create_revision = r.min_create_revision();
  o.max_create_revision = r.max_create_revision();
  return o;
}

storage::PutRequest from_pb(const etcdserverpb::PutRequest& r) {
  storage::PutRequest o;
  o.key = r.key();
  o.value = r.value();
  o.lease = r.lease();
  o.prev_kv = r.prev_kv();
  o.ignore_value = r.ignore_value();
  o.ignore_lease = r.ignore_lease();
  return o;
}

storage::DeleteRangeRequest from_pb(const etcdserverpb::DeleteRangeRequest& r) {
  storage::DeleteRangeRequest o;
  o.key = r.key();
  o.range_end = r.range_end();
  o.prev_kv = r.prev_kv();
  return o;
}

namespace {
storage::Compare compare_from_pb(const etcdserverpb::Compare& c) {
  storage::Compare o;
  o.result = static_cast<storage::Compare::Result>(c.result());
  o.target = static_cast<storage::Compare::Target>(c.target());
  o.key = c.key();
  o.range_end = c.range_end();
  switch (c.target_union_case()) {
    case etcdserverpb::Compare::kVersion:
      o.version = c.version();
      break;
    case etcdserverpb::Compare::kCreateRevision:
      o.create_revision = c.create_revision();
      break;
    case etcdserverpb::Compare::kModRevision:
      o.mod_revision = c.mod_revision();
      break;
    case etcdserverpb::Compare::kValue:
      o.value = c.value();
      break;
    case etcdserverpb::Compare::kLease:
      o.lease = c.lease();
      break;
    default:
      break;
  }
  return o;
}

storage::RequestOp op_from_pb(const etcdserverpb::RequestOp& op) {
  storage::RequestOp o;
  switch (op.request_case()) {
    case etcdserverpb::RequestOp::kRequestRange:
      o.request = from_pb(op.request_range());
      break;
    case etcdserverpb::RequestOp::kRequestPut:
      o.request = from_pb(op.request_put());
      break;
    case etcdserverpb::RequestOp::kRequestDeleteRange:
      o.request = from_pb(op.request_delete_range());
      break;
    case etcdserverpb::RequestOp::kRequestTxn:
      o.request = storage::Box<storage::TxnRequest>(from_pb(op.request_txn()));
      break;
    default:
      o.request = storage::RangeRequest{};
      break;  // etcd treats an unset op as an empty range
  }
  return o;
}
}  // namespace

storage::TxnRequest from_pb(const etcdserverpb::TxnRequest& r) {
  storage::TxnRequest o;
  for (const auto& c : r.compare())
    o.compare.push_back(compare_from_pb(c));
  for (const auto& op : r.success())
    o.success.push_back(op_from_pb(op));
  for (const auto& op : r.failure())
    o.failure.push_back(op_from_pb(op));
  return o;
}

storage::CompactionRequest from_pb(const etcdserverpb::CompactionRequest& r) {
  return storage::CompactionRequest{r.revision(), r.physical()};
}

void to_pb(const storage::KeyValue& kv, mvccpb::KeyValue* out) {
  out->set_key(kv.key);
  out->set_create_revision(kv.create_revision);
  out->set_mod_revision(kv.mod_revision);
  out->set_version(kv.version);
  out->set_value(kv.value);
  out->set_lease(kv.lease);
}

void to_pb(const storage::RangeResponse& r, etcdserverpb::RangeResponse* out) {
  out->mutable_header()->set_revision(r.header.revision);
  for (const auto& kv : r.kvs)
    to_pb(kv, out->add_kvs());
  out->set_more(r.more);
  out->set_count(r.count);
}

void to_pb(const storage::PutResponse& r, etcdserverpb::PutResponse* out) {
  out->mutable_header()->set_revision(r.header.revision);
  if (r.prev_kv) to_pb(*r.prev_kv, out->mutable_prev_kv());
}

void to_pb(const storage::DeleteRangeResponse& r, etcdserverpb::DeleteRangeResponse* out) {
  out->mutable_header()->set_revision(r.header.revision);
  out->set_deleted(r.deleted);
  for (const auto& kv : r.prev_kvs)
    to_pb(kv, out->add_prev_kvs());
}

void to_pb(const storage::TxnResponse& r, etcdserverpb::TxnResponse* out) {
  out->mutable_header()->set_revision(r.header.revision);
  out->set_succeeded(r.succeeded);
  for (const auto& op : r.responses) {
    auto* o = out->add_responses();
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, storage::RangeResponse>) {
            to_pb(v, o->mutable_response_range());
          } else if constexpr (std::is_same_v<T, storage::PutResponse>) {
            to_pb(v, o->mutable_response_put());
          } else if constexpr (std::is_same_v<T, storage::DeleteRangeResponse>) {
            to_pb(v, o->mutable_response_delete_range());
          } else {
            to_pb(*v, o->mutable_response_txn());
          }
        },
        op.response);
  }
}

storage::LeaseGrantRequest from_pb(const etcdserverpb::LeaseGrantRequest& r) {
  storage::LeaseGrantRequest o;
  o.ttl = r.ttl();
  o.id = r.id();
  return o;
}

storage::LeaseRevokeRequest from_pb(const etcdserverpb::LeaseRevokeRequest& r) {
  storage::LeaseRevokeRequest o;
  o.id = r.id();
  return o;
}

storage::LeaseCheckpointRequest from_pb(const etcdserverpb::LeaseCheckpointRequest& r) {
  storage::LeaseCheckpointRequest o;
  o.checkpoints.reserve(static_cast<size_t>(r.checkpoints_size()));
  for (const auto& c : r.checkpoints())
    o.checkpoints.push_back(storage::LeaseCheckpoint{c.id(), c.remaining_ttl()});
  return o;
}

etcdserverpb::LeaseCheckpointRequest to_pb(const storage::LeaseCheckpointRequest& r) {
  etcdserverpb::LeaseCheckpointRequest o;
  for (const auto& c : r.checkpoints) {
    auto* pb = o.add_checkpoints();
    pb->set_id(c.id);
    pb->set_remaining_ttl(c.remaining_ttl);
  }
  return o;
}

std::optional<storage::ApplyRequest> to_apply_request(EntryKind kind, std::string_view body) {
  switch (kind) {
    case EntryKind::kPut: {
      etcdserverpb::PutRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      return storage::ApplyRequest{from_pb(r)};
    }
    case EntryKind::kDeleteRange: {
      etcdserverpb::DeleteRangeRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      return storage::ApplyRequest{from_pb(r)};
    }
    case EntryKind::kTxn: {
      etcdserverpb::TxnRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      return storage::ApplyRequest{from_pb(r)};
    }
    case EntryKind::kCompaction: {
      etcdserverpb::CompactionRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      return storage::ApplyRequest{from_pb(r)};
    }
    case EntryKind::kAlarm: {
      etcdserverpb::AlarmRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      storage::AlarmRequest a;
      a.action = static_cast<storage::AlarmRequest::Action>(r.action());
      a.alarm = static_cast<storage::AlarmType>(r.alarm());
      a.member = r.memberid();
      return storage::ApplyRequest{a};
    }
    case EntryKind::kLeaseGrant: {
      etcdserverpb::LeaseGrantRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      return storage::ApplyRequest{from_pb(r)};
    }
    case EntryKind::kLeaseRevoke: {
      etcdserverpb::LeaseRevokeRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      return storage::ApplyRequest{from_pb(r)};
    }
    case EntryKind::kLeaseCheckpoint: {
      etcdserverpb::LeaseCheckpointRequest r;
      if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) return std::nullopt;
      return storage::ApplyRequest{from_pb(r)};
    }
    case EntryKind::kQuota: {
      auto bytes = decode_quota(body);
      if (!bytes) return std::nullopt;
      return storage::ApplyRequest{storage::QuotaRequest{*bytes}};
    }
    default:
      return std::nullopt;  // kPublish and the auth kinds are not store requests
  }
  return std::nullopt;
}

}  // namespace cairn::server::node
