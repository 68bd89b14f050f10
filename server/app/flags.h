// etcd's command line for cairn: every flag of etcd 3.4's `etcd --help`, the names etcd 3.5 and 3.6 added
// or renamed, each also read from its ETCD_* environment variable and from --config-file (YAML). The
// table of flags (name, type, default, what cairn does with it) is server/app/flag_table.cc; the value
// syntax and error text are Go's (server/app/go_flags.h), as etcd's are.
//
// Parsing happens in etcd's order and with etcd's outcomes:
//   1. the command line (Go flag syntax: -name or --name, =value or a separate value, bools alone);
//      an unknown flag or a bad value prints etcd's message and the usage, exit status 2;
//   2. positional arguments are refused ("'x' is not a valid flag"), --version / --help exit 0;
//   3. with --config-file (or ETCD_CONFIG_FILE) the file alone configures the member (flags and
//      variables are ignored, as etcd does); otherwise ETCD_* variables fill the flags the command line
//      did not set (a variable for a flag that was also given is an error, as in etcd);
//   4. validation (etcd's messages; status 1).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/expected.h"
#include "server/app/go_flags.h"
#include "server/net/vocabulary.h"
#include "server/node/node.h"
#include "wire/tls.h"

namespace cairn::server::app {

// Every value a flag can set. Defaults are etcd's, except where the table (flag_table.cc) says cairn
// chose otherwise (--pre-vote, --logger: etcd 3.5's defaults).
struct Flags {
  // Member
  std::string name = "default";
  std::string data_dir;  // default: <name>.etcd
  std::string wal_dir;
  std::string listen_client_urls = "http://localhost:2379";
  std::string listen_client_http_urls;
  std::string advertise_client_urls = "http://localhost:2379";
  std::string listen_peer_urls = "http://localhost:2380";
  std::string initial_advertise_peer_urls = "http://localhost:2380";
  std::string listen_metrics_urls;
  uint64_t snapshot_count = 10'000;  // etcd 3.6's default (3.4 and 3.5: 100,000)
  uint64_t snapshot_catchup_entries = 5'000;
  uint64_t heartbeat_interval_ms = 100;
  uint64_t election_timeout_ms = 1000;
  bool initial_election_tick_advance = true;
  uint64_t max_snapshots = 5;
  uint64_t max_wals = 5;
  int64_t quota_backend_bytes = 0;  // 0: 2 GiB
  int64_t disk_free_reserve_bytes = 256ll
                                    << 20;  // cairn's own: NOSPACE below this much free disk (server/disk)
  uint64_t max_txn_ops = 128;
  uint64_t max_request_bytes = 1536 * 1024;
  uint64_t max_concurrent_streams = 4294967295u;
  GoDuration grpc_keepalive_min_time = std::chrono::seconds(5);
  GoDuration grpc_keepalive_interval = std::chrono::hours(2);
  GoDuration grpc_keepalive_timeout = std::chrono::seconds(20);
  bool enable_grpc_gateway = true;
  bool enable_dashboard = true;  // cairn: /ui/ (server/dashboard)
  // Clustering
  std::string initial_cluster;  // default: <name>=<initial-advertise-peer-urls>
  std::string initial_cluster_state = "new";
  std::string initial_cluster_token = "etcd-cluster";
  std::string discovery, discovery_srv, discovery_endpoints;
  bool strict_reconfig_check = true;
  bool pre_vote = true;
  std::string auto_compaction_mode = "periodic";  // periodic | revision
  std::string wal_write_mode = "sync";            // sync | async (cairn's own)
  std::string auto_compaction_retention = "0";    // 0: off; periodic: hours or a duration (30m, 1h30m)
  bool enable_v2 = false;
  uint64_t max_learners = 1;
  // Security (client port, then peer port)
  std::string cert_file, key_file, trusted_ca_file, client_cert_file, client_key_file;
  bool client_cert_auth = false;
  bool auto_tls = false;  // self-signed certificate under <data-dir>/fixtures/client
  std::string client_crl_file, client_cert_allowed_hostname;
  std::string peer_cert_file, peer_key_file, peer_trusted_ca_file, peer_client_cert_file,
      peer_client_key_file;
  bool peer_client_cert_auth = false;
  bool peer_auto_tls = false;  // self-signed certificate under <data-dir>/fixtures/peer
  // Auth (server/auth): token provider ("simple" or "jwt,pub-key=..,priv-key=..,sign-method=..[,ttl=..]"),
  // the simple tokens' TTL in seconds, the bcrypt cost of password hashes.
  std::string auth_token = "simple";
  uint64_t auth_token_ttl = 300;
  int64_t bcrypt_cost = 10;
  std::string peer_crl_file, peer_cert_allowed_cn, peer_cert_allowed_hostname;
  // --peer-skip-client-san-verification (etcd 3.6; 3.5's --experimental-...): turns off the check that a
  // peer's certificate is valid for the peer URL of the member it claims to be (peer_transport.h).
  bool peer_skip_client_san_verification = false;
  std::string cipher_suites;
  std::string cors = "*";  // etcd's default; server/net/http_access.h (the dashboard reads other members)
  std::string host_whitelist = "*";
  std::string tls_min_version = "TLS1.2";
  std::string tls_max_version;
  // Profiling and monitoring
  bool enable_pprof = false;
  std::string metrics = "basic";
  // Logging
  std::string logger = "zap";
  std::string log_outputs = "default";
  std::string log_level = "info";
  std::string log_format = "json";
  bool enable_log_rotation = false;
  bool debug = false;
  std::string log_package_levels;
  bool enable_distributed_tracing = false;
  // v2 proxy
  std::string proxy = "off";
  // Experimental features (etcd 3.6 names share these fields)
  bool initial_corrupt_check = false;
  GoDuration corrupt_check_time{0};
  // cairn's own: how often the leader proposes a state check (server/corrupt/chain_check.h); 0: never.
  GoDuration state_check_interval = std::chrono::seconds(1);
  bool compact_hash_check_enabled = false;
  GoDuration compact_hash_check_time = std::chrono::minutes(1);
  std::string enable_v2v3;
  bool enable_lease_checkpoint = false;
  bool enable_lease_checkpoint_persist = false;
  int64_t compaction_batch_limit = 1000;
  GoDuration compaction_sleep_interval = std::chrono::milliseconds(10);
  GoDuration watch_progress_notify_interval = std::chrono::minutes(10);
  GoDuration warning_apply_duration = std::chrono::milliseconds(100);
  bool memory_mlock = false;
  std::string feature_gates;
  // Unsafe
  bool force_new_cluster = false;
  bool unsafe_no_fsync = false;
  // Debug builds only (tests/fault proves its checker catches it): linearizable reads skip ReadIndex.
  bool debug_unsafe_skip_read_index = false;
  // Debug builds only (tests/server/e2e_corrupt.sh): this member alters every value it applies.
  bool debug_unsafe_corrupt_puts = false;
  // Flags cairn accepts and validates but needs no field for (etcd's bbolt, v2 proxy and discovery
  // tuning, ...): their last value, by flag name.
  std::map<std::string, std::string> other;
};

// etcd's --config-file: a YAML mapping whose keys are the flag names without dashes, plus the
// client-transport-security and peer-transport-security sections (their cert-file, key-file,
// client-cert-auth, trusted-ca-file, auto-tls, client-cert-file, client-key-file, crl-file, allowed-cn,
// allowed-hostname, skip-client-san-verification map onto --cert-file ... and --peer-cert-file ...).
// Sequences (log-outputs: [stderr]) become comma lists; a duration may be Go's text ("5s") or, as in
// etcd's files, an integer number of nanoseconds. Returns the equivalent "--key=value" arguments in file
// order; a key that names no etcd setting is reported by parse_flags and skipped (etcd ignores them).
Expected<std::vector<std::string>, std::string> config_file_args(const std::string& text);

// The outcome of parsing: either a runnable configuration, or an exit: help/version (code 0, text for
// stdout), a command-line error (code 2, etcd's message and the usage, for stderr) or a configuration
// error (code 1, "error verifying flags, ...", for stderr).
struct ParseExit {
  int code = 2;
  std::string message;
};

struct ServerConfig {
  Flags flags;
  node::NodeConfig node;
  // Client listeners (--listen-client-urls, then --listen-client-http-urls); each is TCP (host, port)
  // or, for unix:// URLs, a socket path (Endpoint::unix_path).
  std::vector<net::Endpoint> client_listen;
  std::vector<bool> client_listen_tls;        // per client_listen entry: an https:// URL
  std::vector<net::Endpoint> metrics_listen;  // --listen-metrics-urls (plain HTTP: /metrics, /health)
  std::vector<bool> metrics_listen_tls;
  bool peer_tls = false;  // --listen-peer-urls is https://
  // Filled by setup_tls(): the context of the https:// client listeners.
  std::optional<net::ServerTls> client_tls;
  // Warnings for the startup log (flags accepted whose effect is not there yet, ignored values).
  std::vector<std::string> warnings;
};

Expected<ServerConfig, ParseExit> parse_flags(int argc, const char* const* argv);

// Validates flags and derives the node configuration (member ids, initial members). Errors are etcd's
// messages (without the "error verifying flags" prefix).
Expected<ServerConfig, std::string> make_config(const Flags& f);

// Loads the certificates the configuration needs (generating the --auto-tls / --peer-auto-tls ones
// under <data-dir>/fixtures/{client,peer}) into sc.client_tls and sc.node.peer_transport. An error is
// one line for the startup log (etcd exits with status 1 for these: a missing or unreadable file, a key
// that does not match its certificate).
std::optional<std::string> setup_tls(ServerConfig& sc);

// `cairn --help`: etcd's layout, every flag with its default.
std::string help_text();
// The usage header etcd prints after a command-line error.
std::string usage_text();

}  // namespace cairn::server::app
