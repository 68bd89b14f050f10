// Command-line parsing (CLI11): etcdctl 3.4's global flags, ETCDCTL_* environment variables and every
// command's flags, into one Invocation that the commands execute.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ctl/format.h"
#include "ctl/requests.h"

namespace cairn::ctl {

struct Globals {
  std::string endpoints = "127.0.0.1:2379";
  std::string dial_timeout = "2s";
  std::string command_timeout = "5s";
  std::string keepalive_time = "2s";
  std::string keepalive_timeout = "6s";
  std::string write_out = "simple";
  bool hex = false;
  bool debug = false;
  std::string user, password, cacert, cert, key;
  bool insecure_skip_tls_verify = false;
  bool insecure_transport = true;
  std::string discovery_srv;
  // etcdctl 3.5's --max-recv-bytes: largest response accepted; 0 is clientv3's default, math.MaxInt32.
  uint64_t max_recv_bytes = 0;
};

struct Invocation {
  Globals g;
  std::string command;                 // "get", "lease grant", ...
  std::vector<std::string> args;       // positional arguments
  std::vector<std::string> exec_args;  // after "--" (lock, watch)
  GetOptions get;
  PutOptions put;
  DelOptions del;
  bool interactive = false;  // txn -i, watch -i
  bool physical = false;     // compaction
  bool keys = false;         // lease timetolive --keys
  bool once = false;         // lease keep-alive --once
  bool watch_prefix = false, watch_prev_kv = false;
  std::int64_t watch_rev = 0;
  std::string peer_urls;  // member add/update
  bool learner = false;   // member add
  bool cluster = false;   // endpoint *, defrag
  std::int64_t hashkv_rev = 0;
  std::int64_t lock_ttl = 10;
  bool listen = false;  // elect -l
  // snapshot restore
  std::string data_dir, name = "default", initial_cluster = "default=http://localhost:2380",
                        initial_cluster_token = "etcd-cluster",
                        initial_advertise_peer_urls = "http://localhost:2380";
  bool skip_hash_check = false;
  // bench: etcd benchmark's flags. -1 = the workload's own default (key/value sizes: 8 for put and txn,
  // 32 for watch).
  int conns = 1, clients = 1;
  std::int64_t total = 10000;
  int key_size = -1, val_size = -1;
  double rate = 0;                  // requests/s across all clients; 0 = unlimited
  std::int64_t key_space_size = 1;  // put, txn
  bool sequential_keys = false;     // put
  int txn_ops = 1;                  // txn: puts per transaction
  std::string bench_consistency = "l";
  int streams = 10, watchers_per_stream = 10, watched_key_total = 1;  // watch
  std::int64_t put_total = 1000;                                      // watch
  double put_rate = 100;                                              // watch; 0 = unlimited
  std::int64_t lease_ttl = 100;                                       // lease-keepalive
  // user / role (auth commands)
  bool no_password = false;
  bool password_interactive = true;
  std::string new_user_password;
  bool perm_prefix = false, perm_from_key = false;
  // check perf
  std::string perf_load = "s";
  std::string perf_prefix = "/etcdctl-check-perf/";
  int perf_duration_s = 60;  // cairnctl only: etcdctl always runs 60 s
};

// Parses argv. Returns nullopt when the command should run; otherwise the exit code (after printing help
// or an error to the given strings).
std::optional<int> parse_args(int argc, const char* const* argv, Invocation& inv, std::string& out,
                              std::string& err);

// Go duration strings: "2s", "500ms", "1m30s", "1.5s". nullopt when malformed.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s);

std::optional<OutputFormat> parse_output_format(std::string_view s);

}  // namespace cairn::ctl
