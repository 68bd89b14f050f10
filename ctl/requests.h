// Request builders shared by the commands and by txn's operation lines, and etcdctl's txn grammar.
// No I/O: unit-tested directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/etcd/rpc.pb.h"

namespace cairn::ctl {

struct GetOptions {
  bool prefix = false;
  bool from_key = false;
  std::int64_t rev = 0;
  std::int64_t limit = 0;
  std::string sort_by;  // CREATE, KEY, MODIFY, VALUE, VERSION (case-insensitive)
  std::string order;    // ASCEND, DESCEND
  bool keys_only = false;
  bool count_only = false;
  bool print_value_only = false;
  std::string consistency = "l";
  bool stream = false;  // KV.RangeStream (etcd 3.7's etcdctl get --stream)
};
struct PutOptions {
  std::string lease;  // hex
  bool prev_kv = false;
  bool ignore_value = false;
  bool ignore_lease = false;
};
struct DelOptions {
  bool prefix = false;
  bool from_key = false;
  bool prev_kv = false;
};

// The end of the range of keys with prefix `key` (clientv3.GetPrefixRangeEnd): "\0" for an empty key.
std::string prefix_range_end(std::string_view key);

// Parses a hex lease or member id as etcdctl does (strconv.ParseInt/ParseUint base 16).
std::optional<std::int64_t> parse_hex_i64(std::string_view s);
std::optional<std::uint64_t> parse_hex_u64(std::string_view s);
std::optional<std::int64_t> parse_i64(std::string_view s);

// Each returns an error message (empty: success) in etcdctl's words.
std::string build_range(std::string key, std::optional<std::string> end, const GetOptions& o,
                        etcdserverpb::RangeRequest& out);
std::string build_put(std::string key, std::string value, const PutOptions& o, etcdserverpb::PutRequest& out);
std::string build_delete(std::string key, std::optional<std::string> end, const DelOptions& o,
                         etcdserverpb::DeleteRangeRequest& out);

// Splits a line into words as etcdctl's argify does: whitespace separates, double-quoted words are
// unquoted with Go's escapes, single quotes keep their content literally.
std::vector<std::string> argify(std::string_view line);

// txn lines: `<target>("<key>") <op> "<value>"` with target value|version|create|mod|lease (or
// val|ver|c|m) and op = == != < >; and `get|put|del [flags] args` operation lines.
std::string parse_compare(std::string_view line, etcdserverpb::Compare& out);
std::string parse_request_op(std::string_view line, etcdserverpb::RequestOp& out);

}  // namespace cairn::ctl
