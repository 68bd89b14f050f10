// etcdctl 3.4's output formats (simple, json, fields, table, protobuf) for every response the tool prints.
// Pure functions from protobuf responses to text: no I/O, so they are tested against captured etcdctl output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/etcd/rpc.pb.h"

namespace cairn::ctl {

enum class OutputFormat { kSimple, kJson, kFields, kTable, kProtobuf };

// etcdctl's exit codes (etcdctl/ctlv3/command/error.go).
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitBadConnection = 2;
inline constexpr int kExitInvalidInput = 3;
inline constexpr int kExitBadFeature = 4;
inline constexpr int kExitInterrupted = 5;
inline constexpr int kExitIO = 6;
inline constexpr int kExitBadArgs = 128;

struct PrintOptions {
  OutputFormat format = OutputFormat::kSimple;
  bool hex = false;
};

// What a printer produced: text for stdout, text for stderr, and an error (printed as "Error: <msg>")
// with its exit code when the format is not supported for this response.
struct Printed {
  std::string out;
  std::string err;
  std::string error;  // empty: no error
  int exit_code = kExitSuccess;
};

// Small helpers, exposed for tests.
std::string base64(std::string_view bytes);
std::string go_quote(std::string_view bytes);       // Go's %q
std::string hex_escape(std::string_view bytes);     // etcdctl --hex: \x6c\x6b
std::string json_string(std::string_view s);        // Go encoding/json string
std::string humanize_bytes(std::uint64_t bytes);    // go-humanize Bytes (SI)
std::string go_duration(std::int64_t nanoseconds);  // Go time.Duration.String()
std::string hex_id(std::uint64_t id);               // %x
std::string hex_id16(std::uint64_t id);             // %016x
// tablewriter as etcdctl configures it: centred headers, right-aligned cells.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

Printed print_get(const etcdserverpb::RangeResponse& r, const PrintOptions& o, bool keys_only,
                  bool print_value_only);
Printed print_put(const etcdserverpb::PutResponse& r, const PrintOptions& o);
Printed print_del(const etcdserverpb::DeleteRangeResponse& r, const PrintOptions& o);
Printed print_txn(const etcdserverpb::TxnResponse& r, const PrintOptions& o);
Printed print_compaction(const etcdserverpb::CompactionResponse& r, std::int64_t rev, const PrintOptions& o);
// One watch response (several events); `first_for_json` is unused by all formats but kept for symmetry.
Printed print_watch(const etcdserverpb::WatchResponse& r, const PrintOptions& o);

Printed print_lease_grant(const etcdserverpb::LeaseGrantResponse& r, const PrintOptions& o);
Printed print_lease_revoke(std::int64_t id, const etcdserverpb::LeaseRevokeResponse& r,
                           const PrintOptions& o);
Printed print_lease_ttl(const etcdserverpb::LeaseTimeToLiveResponse& r, bool keys, const PrintOptions& o);
Printed print_lease_list(const etcdserverpb::LeaseLeasesResponse& r, const PrintOptions& o);
Printed print_lease_keepalive(const etcdserverpb::LeaseKeepAliveResponse& r, const PrintOptions& o);

Printed print_member_list(const etcdserverpb::MemberListResponse& r, const PrintOptions& o);
Printed print_member_add(const etcdserverpb::MemberAddResponse& r, const std::string& name,
                         const PrintOptions& o);
Printed print_member_remove(std::uint64_t id, const etcdserverpb::MemberRemoveResponse& r,
                            const PrintOptions& o);
Printed print_member_update(std::uint64_t id, const etcdserverpb::MemberUpdateResponse& r,
                            const PrintOptions& o);
Printed print_member_promote(std::uint64_t id, const etcdserverpb::MemberPromoteResponse& r,
                             const PrintOptions& o);

struct EndpointStatus {
  std::string endpoint;
  etcdserverpb::StatusResponse status;
};
struct EndpointHash {
  std::string endpoint;
  etcdserverpb::HashKVResponse hash;
};
struct EndpointHealth {
  std::string endpoint;
  bool health = false;
  std::int64_t took_ns = 0;
  std::string error;
};
Printed print_endpoint_status(const std::vector<EndpointStatus>& s, const PrintOptions& o);
Printed print_endpoint_hashkv(const std::vector<EndpointHash>& s, const PrintOptions& o);
Printed print_endpoint_health(const std::vector<EndpointHealth>& s, const PrintOptions& o);
Printed print_alarm(const etcdserverpb::AlarmResponse& r, const PrintOptions& o);

// `snapshot status` (etcdctl's snapshot.Status: hash, revision, total keys, total size).
struct SnapshotStatusView {
  std::uint32_t hash = 0;
  std::int64_t revision = 0;
  std::int64_t total_keys = 0;
  std::int64_t total_size = 0;
};
Printed print_snapshot_status(const SnapshotStatusView& s, const PrintOptions& o);

// The user and role commands: `simple` is etcdctl's simple text; json, fields and protobuf print the
// response (etcdctl has no fields output for user get/list, and no table output for any of them).
Printed print_auth_plain(const google::protobuf::Message& r, const etcdserverpb::ResponseHeader& h,
                         const std::string& simple, const PrintOptions& o);
Printed print_role_get(const etcdserverpb::AuthRoleGetResponse& r, const std::string& simple,
                       const PrintOptions& o);
Printed print_role_list(const etcdserverpb::AuthRoleListResponse& r, const std::string& simple,
                        const PrintOptions& o);
Printed print_user_get(const etcdserverpb::AuthUserGetResponse& r, const std::string& simple,
                       const PrintOptions& o);
Printed print_user_list(const etcdserverpb::AuthUserListResponse& r, const std::string& simple,
                        const PrintOptions& o);

}  // namespace cairn::ctl
