#include "server/app/flag_table.h"

#include <cctype>
#include <cstdio>

namespace cairn::server::app {

namespace {

constexpr std::string_view kMember = "Member";
constexpr std::string_view kClustering = "Clustering";
constexpr std::string_view kSecurity = "Security";
constexpr std::string_view kMonitoring = "Profiling and Monitoring";
constexpr std::string_view kLogging = "Logging";
constexpr std::string_view kTracing = "Distributed tracing";
constexpr std::string_view kProxy = "v2 Proxy (not supported by cairn)";
constexpr std::string_view kExperimental = "Experimental feature";
constexpr std::string_view kUnsafe = "Unsafe feature";
constexpr std::string_view kDeprecated = "TO BE DEPRECATED";

using F = Flags;
using K = FlagKind;

std::vector<FlagSpec> build_table() {
  return {
      // ---- Member ----
      {"name", K::kString, &F::name, "'default'", kMember, "Human-readable name of this member."},
      {"data-dir", K::kString, &F::data_dir, "'${name}.etcd'", kMember,
       "Data directory: member/wal (the raft log) and member/db (the store)."},
      {"wal-dir", K::kString, &F::wal_dir, "''", kMember, "Keep the WAL in this directory instead."},
      {"snapshot-count", K::kUint, &F::snapshot_count, "'10000'", kMember,
       "Applied entries between snapshots (etcd 3.6's default); the WAL is released behind each snapshot."},
      {"heartbeat-interval", K::kUint, &F::heartbeat_interval_ms, "'100'", kMember,
       "Heartbeat interval in milliseconds (the raft tick)."},
      {"election-timeout", K::kUint, &F::election_timeout_ms, "'1000'", kMember,
       "Election timeout in milliseconds, at least 5 heartbeats."},
      {"initial-election-tick-advance", K::kBool, &F::initial_election_tick_advance, "'true'", kMember,
       "On boot, fast-forward the election clock so a leaderless cluster elects one sooner."},
      {"listen-peer-urls", K::kUrls, &F::listen_peer_urls, "'http://localhost:2380'", kMember,
       "URL to listen on for other members (http://, https://, unix://).", ""},
      {"listen-client-urls", K::kUrls, &F::listen_client_urls, "'http://localhost:2379'", kMember,
       "URLs to listen on for clients: gRPC and HTTP on each; port 0 picks a free port.", ""},
      {"listen-client-http-urls", K::kUrls, &F::listen_client_http_urls, "''", kMember,
       "More client URLs (etcd 3.5: HTTP only; cairn serves gRPC there too).", ""},
      {"max-snapshots", K::kUint, &F::max_snapshots, "'5'", kMember,
       "Snapshot files to retain (cairn keeps no snapshot files: the store is the snapshot)."},
      {"max-wals", K::kUint, &F::max_wals, "'5'", kMember,
       "WAL segment files to keep behind the latest snapshot (0: keep all)."},
      {"wal-write-mode", K::kEnum, &F::wal_write_mode, "'sync'", kMember,
       "cairn's own: 'sync' writes and fsyncs the WAL on the node thread; 'async' on a thread of its own "
       "while the member goes on stepping, sending and applying (nothing is acknowledged before it is "
       "durable). See docs/benchmarks.md for which wins where.",
       "async|sync"},
      {"quota-backend-bytes", K::kInt, &F::quota_backend_bytes, "'0'", kMember,
       "Store size that raises the NOSPACE alarm (0: 2 GiB)."},
      {"disk-free-reserve-bytes", K::kInt, &F::disk_free_reserve_bytes, "'268435456'", kMember,
       "cairn's own: raise the NOSPACE alarm once the data or WAL directory's file system has less than "
       "this many bytes free, before a write could fail (0: off). See docs/operations.md."},
      {"backend-bbolt-freelist-type", K::kEnum, std::monostate{}, "'map'", kMember,
       "bbolt's freelist type (etcd 3.5 name; cairn's store is RocksDB: accepted, no effect).", "array|map"},
      {"backend-batch-interval", K::kDuration, std::monostate{}, "''", kMember,
       "bbolt commit interval (accepted, no effect: every entry is one atomic RocksDB batch)."},
      {"backend-batch-limit", K::kInt, std::monostate{}, "'0'", kMember,
       "bbolt commit batch size (accepted, no effect)."},
      {"max-txn-ops", K::kUint, &F::max_txn_ops, "'128'", kMember,
       "Most operations (compares, then-ops or else-ops) in one transaction."},
      {"max-request-bytes", K::kUint, &F::max_request_bytes, "'1572864'", kMember,
       "Largest client request accepted, in bytes."},
      {"max-concurrent-streams", K::kUint32, &F::max_concurrent_streams, "'math.MaxUint32'", kMember,
       "HTTP/2 streams one client connection may have open at a time."},
      {"grpc-keepalive-min-time", K::kDuration, &F::grpc_keepalive_min_time, "'5s'", kMember,
       "A client pinging more often than this gets GOAWAY (too_many_pings)."},
      {"grpc-keepalive-interval", K::kDuration, &F::grpc_keepalive_interval, "'2h'", kMember,
       "Ping a client connection idle this long (0: never)."},
      {"grpc-keepalive-timeout", K::kDuration, &F::grpc_keepalive_timeout, "'20s'", kMember,
       "Close a connection whose ping is not answered within this (0: wait forever)."},
      {"socket-reuse-port", K::kBool, std::monostate{}, "'false'", kMember,
       "SO_REUSEPORT on listeners (etcd 3.5; accepted, no effect)."},
      {"socket-reuse-address", K::kBool, std::monostate{}, "'false'", kMember,
       "SO_REUSEADDR on listeners (etcd 3.5; cairn always sets it)."},
      {"raft-read-timeout", K::kDuration, std::monostate{}, "'5s'", kMember,
       "Peer connection read timeout (etcd 3.5; accepted, cairn's peer transport has its own)."},
      {"raft-write-timeout", K::kDuration, std::monostate{}, "'5s'", kMember,
       "Peer connection write timeout (etcd 3.5; accepted, cairn's peer transport has its own)."},
      {"enable-grpc-gateway", K::kBool, &F::enable_grpc_gateway, "'true'", kMember,
       "Serve the JSON gateway (/v3/...) on the client URLs."},
      {"enable-dashboard", K::kBool, &F::enable_dashboard, "'true'", kMember,
       "Serve the web dashboard under /ui/ on the client URLs (cairn; needs the JSON gateway)."},

      // ---- Clustering ----
      {"initial-advertise-peer-urls", K::kUrls, &F::initial_advertise_peer_urls, "'http://localhost:2380'",
       kClustering, "This member's peer URLs, as the other members reach them.", ""},
      {"initial-cluster", K::kString, &F::initial_cluster, "'default=http://localhost:2380'", kClustering,
       "The members a new cluster starts with: name=url,..."},
      {"initial-cluster-state", K::kEnum, &F::initial_cluster_state, "'new'", kClustering,
       "'new' to bootstrap, 'existing' to join a running cluster (ignored once the WAL exists).",
       "new|existing"},
      {"initial-cluster-token", K::kString, &F::initial_cluster_token, "'etcd-cluster'", kClustering,
       "Part of every member id and of the cluster id: keeps separate clusters apart."},
      {"advertise-client-urls", K::kUrls, &F::advertise_client_urls, "'http://localhost:2379'", kClustering,
       "This member's client URLs, published in the member list.", ""},
      {"discovery", K::kString, &F::discovery, "''", kClustering,
       "Discovery service URL (not supported: use --initial-cluster)."},
      {"discovery-fallback", K::kEnum, std::monostate{}, "'proxy'", kClustering,
       "What a failed discovery does (accepted; discovery is not supported).", "proxy|exit"},
      {"discovery-proxy", K::kString, std::monostate{}, "''", kClustering,
       "HTTP proxy for the discovery service (accepted; discovery is not supported)."},
      {"discovery-srv", K::kString, &F::discovery_srv, "''", kClustering,
       "DNS SRV bootstrap domain (not supported: use --initial-cluster)."},
      {"discovery-srv-name", K::kString, std::monostate{}, "''", kClustering,
       "Suffix of the DNS SRV name (accepted; DNS discovery is not supported)."},
      {"discovery-endpoints", K::kString, &F::discovery_endpoints, "''", kClustering,
       "etcd 3.6 v3 discovery endpoints (not supported: use --initial-cluster)."},
      {"discovery-token",
       K::kString,
       std::monostate{},
       "''",
       kClustering,
       "v3 discovery token (accepted).",
       {},
       false},
      {"discovery-dial-timeout", K::kDuration, std::monostate{}, "'2s'", kClustering, "", {}, false},
      {"discovery-request-timeout", K::kDuration, std::monostate{}, "'5s'", kClustering, "", {}, false},
      {"discovery-keepalive-time", K::kDuration, std::monostate{}, "'2s'", kClustering, "", {}, false},
      {"discovery-keepalive-timeout", K::kDuration, std::monostate{}, "'6s'", kClustering, "", {}, false},
      {"discovery-insecure-transport", K::kBool, std::monostate{}, "'true'", kClustering, "", {}, false},
      {"discovery-insecure-skip-tls-verify",
       K::kBool,
       std::monostate{},
       "'false'",
       kClustering,
       "",
       {},
       false},
      {"discovery-cert", K::kString, std::monostate{}, "''", kClustering, "", {}, false},
      {"discovery-key", K::kString, std::monostate{}, "''", kClustering, "", {}, false},
      {"discovery-cacert", K::kString, std::monostate{}, "''", kClustering, "", {}, false},
      {"discovery-user", K::kString, std::monostate{}, "''", kClustering, "", {}, false},
      {"discovery-password", K::kString, std::monostate{}, "''", kClustering, "", {}, false},
      {"strict-reconfig-check", K::kBool, &F::strict_reconfig_check, "'true'", kClustering,
       "Refuse member changes that would leave the cluster without a quorum of connected members."},
      {"pre-vote", K::kBool, &F::pre_vote, "'true'", kClustering,
       "Raft pre-vote: a member that was cut off cannot disrupt the leader (cairn's default, as etcd "
       "3.5's)."},
      {"auto-compaction-retention", K::kString, &F::auto_compaction_retention, "'0'", kClustering,
       "History to keep: hours or a duration (periodic), or revisions (revision). 0: off."},
      {"auto-compaction-mode", K::kString, &F::auto_compaction_mode, "'periodic'", kClustering,
       "How to read --auto-compaction-retention: periodic or revision."},
      {"enable-v2", K::kBool, &F::enable_v2, "'false'", kClustering,
       "The v2 API (not supported: true is refused)."},
      {"v2-deprecation", K::kEnum, std::monostate{}, "'not-yet'", kClustering,
       "etcd 3.5's v2 store phase (accepted: cairn has no v2 store).",
       "not-yet|write-only|write-only-drop-data|gone"},
      {"max-learners", K::kUint, &F::max_learners, "'1'", kClustering,
       "Most learners the membership may hold (etcd 3.6 name)."},

      // ---- Security ----
      {"cert-file", K::kString, &F::cert_file, "''", kSecurity, "Certificate of the https:// client URLs."},
      {"key-file", K::kString, &F::key_file, "''", kSecurity, "Key of --cert-file."},
      {"client-cert-auth", K::kBool, &F::client_cert_auth, "'false'", kSecurity,
       "Require client certificates signed by --trusted-ca-file."},
      {"client-crl-file", K::kString, &F::client_crl_file, "''", kSecurity,
       "Client certificate revocation list (PEM or DER): listed serial numbers are refused; re-read when it "
       "changes."},
      {"client-cert-allowed-hostname", K::kString, &F::client_cert_allowed_hostname, "''", kSecurity,
       "With --client-cert-auth: client certificates must be valid for one of these names (comma-separated; "
       "a DNS or IP SAN)."},
      {"trusted-ca-file", K::kString, &F::trusted_ca_file, "''", kSecurity,
       "CA bundle client certificates are verified against."},
      {"auto-tls", K::kBool, &F::auto_tls, "'false'", kSecurity,
       "Self-signed certificate for the https:// client URLs."},
      {"client-cert-file", K::kString, &F::client_cert_file, "''", kSecurity,
       "Client certificate this member presents to its own client port (etcd 3.5)."},
      {"client-key-file", K::kString, &F::client_key_file, "''", kSecurity, "Key of --client-cert-file."},
      {"peer-cert-file", K::kString, &F::peer_cert_file, "''", kSecurity, "Certificate of the peer port."},
      {"peer-key-file", K::kString, &F::peer_key_file, "''", kSecurity, "Key of --peer-cert-file."},
      {"peer-client-cert-auth", K::kBool, &F::peer_client_cert_auth, "'false'", kSecurity,
       "Require peer certificates signed by --peer-trusted-ca-file."},
      {"peer-trusted-ca-file", K::kString, &F::peer_trusted_ca_file, "''", kSecurity,
       "CA bundle peer certificates are verified against."},
      {"peer-cert-allowed-cn", K::kString, &F::peer_cert_allowed_cn, "''", kSecurity,
       "Required CN of peer certificates (both ends of a peer connection)."},
      {"peer-cert-allowed-hostname", K::kString, &F::peer_cert_allowed_hostname, "''", kSecurity,
       "Peer certificates must be valid for this name or address (both ends of a peer connection)."},
      {"peer-auto-tls", K::kBool, &F::peer_auto_tls, "'false'", kSecurity,
       "Self-signed certificate for the peer port when no peer certificate is given."},
      {"peer-client-cert-file", K::kString, &F::peer_client_cert_file, "''", kSecurity,
       "Certificate presented when dialing other members (default: --peer-cert-file; etcd 3.5)."},
      {"peer-client-key-file", K::kString, &F::peer_client_key_file, "''", kSecurity,
       "Key of --peer-client-cert-file."},
      {"self-signed-cert-validity", K::kUint, std::monostate{}, "'1'", kSecurity,
       "Years the auto TLS certificates are valid (etcd 3.5; cairn's are valid one year)."},
      {"peer-crl-file", K::kString, &F::peer_crl_file, "''", kSecurity,
       "Peer certificate revocation list (PEM or DER): listed serial numbers are refused; re-read when it "
       "changes."},
      {"auth-token", K::kString, &F::auth_token, "'simple'", kSecurity,
       "Token provider: simple, or jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256[,ttl=5m]."},
      {"auth-token-ttl", K::kUint, &F::auth_token_ttl, "300", kSecurity,
       "Seconds a simple token lives after its last use."},
      {"bcrypt-cost", K::kInt, &F::bcrypt_cost, "10", kSecurity, "bcrypt cost of password hashes (4-31)."},
      {"cipher-suites", K::kString, &F::cipher_suites, "''", kSecurity,
       "Comma-separated TLS 1.2 cipher suites (Go names), in order of preference; empty: OpenSSL's "
       "defaults."},
      {"cors", K::kUrls, &F::cors, "'*'", kSecurity,
       "Origins whose web pages may call the HTTP API (CORS); '*' (etcd's default) allows any, "
       "empty sends no CORS headers.",
       "*|"},
      {"host-whitelist", K::kString, &F::host_whitelist, "'*'", kSecurity,
       "Host headers accepted on plain-text HTTP (others get 421); '*' accepts any."},
      {"tls-min-version", K::kEnum, &F::tls_min_version, "'TLS1.2'", kSecurity,
       "Oldest TLS version (etcd 3.5; cairn speaks TLS 1.2 and 1.3).", "TLS1.2|TLS1.3"},
      {"tls-max-version", K::kEnum, &F::tls_max_version, "''", kSecurity,
       "Newest TLS version (etcd 3.5); empty: TLS 1.3.", "|TLS1.2|TLS1.3"},
      {"experimental-peer-skip-client-san-verification", K::kBool, &F::peer_skip_client_san_verification,
       "'false'", kSecurity,
       "Skip the check that a peer's certificate is valid for the peer URL of the member it claims to be."},
      {"peer-skip-client-san-verification",
       K::kBool,
       &F::peer_skip_client_san_verification,
       "'false'",
       kSecurity,
       "etcd 3.6 name of the flag above.",
       {},
       false},

      // ---- Profiling and Monitoring ----
      {"enable-pprof", K::kBool, &F::enable_pprof, "'false'", kMonitoring,
       "Go's pprof endpoints (not supported: true is refused; profile cairn with perf)."},
      {"metrics", K::kEnum, &F::metrics, "'basic'", kMonitoring,
       "'extensive' adds per-method gRPC latency histograms to /metrics.", "basic|extensive"},
      {"listen-metrics-urls", K::kUrls, &F::listen_metrics_urls, "''", kMonitoring,
       "More URLs serving only /metrics and /health (http:// or https:// with the client TLS files).", ""},

      // ---- Logging ----
      {"logger", K::kString, &F::logger, "'zap'", kLogging,
       "'zap' or 'capnslog' (accepted: cairn writes one plain-text line per event).", "zap|capnslog"},
      {"log-outputs", K::kString, &F::log_outputs, "'default'", kLogging,
       "Where the log goes: 'default' or 'stderr', 'stdout', or a file path to append to."},
      {"log-output",
       K::kString,
       &F::log_outputs,
       "'default'",
       kLogging,
       "etcd 3.4's old name of --log-outputs.",
       {},
       false},
      {"log-level", K::kEnum, &F::log_level, "'info'", kLogging,
       "debug, info, warn, error, panic or fatal (accepted; cairn logs what an operator needs).",
       "debug|info|warn|error|dpanic|panic|fatal"},
      {"log-format", K::kEnum, &F::log_format, "'json'", kLogging,
       "etcd 3.6's json or console (accepted: cairn's lines are plain text).", "json|console"},
      {"enable-log-rotation", K::kBool, &F::enable_log_rotation, "'false'", kLogging,
       "Rotate a file log (etcd 3.5; not supported: true is refused, use logrotate's copytruncate)."},
      {"log-rotation-config-json", K::kString, std::monostate{},
       "'{\"maxsize\": 100, \"maxage\": 0, \"maxbackups\": 0, \"localtime\": false, \"compress\": false}'",
       kLogging, "Log rotation settings (etcd 3.5; accepted)."},
      {"disable-log-sampling",
       K::kBool,
       std::monostate{},
       "'false'",
       kLogging,
       "etcd 3.6 (accepted).",
       {},
       false},

      // ---- Distributed tracing (etcd 3.5 experimental names, 3.6 stable names) ----
      {"experimental-enable-distributed-tracing", K::kBool, &F::enable_distributed_tracing, "'false'",
       kTracing, "OpenTelemetry tracing (not supported: true is refused)."},
      {"experimental-distributed-tracing-address", K::kString, std::monostate{}, "'localhost:4317'", kTracing,
       "Collector address (accepted)."},
      {"experimental-distributed-tracing-service-name", K::kString, std::monostate{}, "'etcd'", kTracing,
       "Service name (accepted)."},
      {"experimental-distributed-tracing-instance-id", K::kString, std::monostate{}, "''", kTracing,
       "Instance id (accepted)."},
      {"experimental-distributed-tracing-sampling-rate", K::kInt, std::monostate{}, "'0'", kTracing,
       "Samples per million spans (accepted)."},
      {"enable-distributed-tracing",
       K::kBool,
       &F::enable_distributed_tracing,
       "'false'",
       kTracing,
       "",
       {},
       false},
      {"distributed-tracing-address",
       K::kString,
       std::monostate{},
       "'localhost:4317'",
       kTracing,
       "",
       {},
       false},
      {"distributed-tracing-service-name", K::kString, std::monostate{}, "'etcd'", kTracing, "", {}, false},
      {"distributed-tracing-instance-id", K::kString, std::monostate{}, "''", kTracing, "", {}, false},
      {"distributed-tracing-sampling-rate", K::kInt, std::monostate{}, "'0'", kTracing, "", {}, false},

      // ---- v2 proxy ----
      {"proxy", K::kEnum, &F::proxy, "'off'", kProxy, "v2 proxy mode: only 'off' is accepted.",
       "off|readonly|on"},
      {"proxy-failure-wait", K::kUint, std::monostate{}, "5000", kProxy, "Accepted, no effect."},
      {"proxy-refresh-interval", K::kUint, std::monostate{}, "30000", kProxy, "Accepted, no effect."},
      {"proxy-dial-timeout", K::kUint, std::monostate{}, "1000", kProxy, "Accepted, no effect."},
      {"proxy-write-timeout", K::kUint, std::monostate{}, "5000", kProxy, "Accepted, no effect."},
      {"proxy-read-timeout", K::kUint, std::monostate{}, "0", kProxy, "Accepted, no effect."},

      // ---- Experimental (etcd 3.4/3.5 names; the 3.6 names below share the fields) ----
      {"experimental-initial-corrupt-check", K::kBool, &F::initial_corrupt_check, "'false'", kExperimental,
       "Before serving, compare this member's HashKV with the other members'; exit on a mismatch."},
      {"experimental-corrupt-check-time", K::kDuration, &F::corrupt_check_time, "'0s'", kExperimental,
       "The leader compares every member's HashKV this often and raises CORRUPT on a mismatch (0: off)."},
      {"state-check-interval", K::kDuration, &F::state_check_interval, "'1s'", kExperimental,
       "cairn's own: while keys change, the leader puts its state chain (a running hash of every key "
       "change) in the log this often; a member whose own chain differs at that revision raises CORRUPT "
       "(0: this member never proposes one; it still compares the others'). See docs/operations.md."},
      {"experimental-compact-hash-check-enabled", K::kBool, &F::compact_hash_check_enabled, "'false'",
       kExperimental, "Run the leader's HashKV comparison every --experimental-compact-hash-check-time."},
      {"experimental-compact-hash-check-time", K::kDuration, &F::compact_hash_check_time, "'1m'",
       kExperimental, "Period of the check above."},
      {"experimental-enable-v2v3", K::kString, &F::enable_v2v3, "''", kExperimental,
       "v2 emulation prefix (not supported: a prefix is refused)."},
      {"experimental-backend-bbolt-freelist-type", K::kEnum, std::monostate{}, "'array'", kExperimental,
       "bbolt's freelist type (accepted, no effect: the store is RocksDB).", "array|map"},
      {"experimental-enable-lease-checkpoint", K::kBool, &F::enable_lease_checkpoint, "'false'",
       kExperimental, "Checkpoint remaining lease TTLs through raft (cairn always does)."},
      {"experimental-enable-lease-checkpoint-persist", K::kBool, &F::enable_lease_checkpoint_persist,
       "'false'", kExperimental, "Persist those checkpoints (cairn always does)."},
      {"experimental-compaction-batch-limit", K::kInt, &F::compaction_batch_limit, "1000", kExperimental,
       "Compacted records deleted per batch, between the node's other work (0 or less: 1000)."},
      {"experimental-compaction-sleep-interval", K::kDuration, &F::compaction_sleep_interval, "'10ms'",
       kExperimental, "Pause between two such batches (0 or less: 10ms)."},
      {"experimental-watch-progress-notify-interval", K::kDuration, &F::watch_progress_notify_interval,
       "'10m'", kExperimental, "How often idle progress_notify watchers hear the current revision."},
      {"experimental-warning-apply-duration", K::kDuration, &F::warning_apply_duration, "'100ms'",
       kExperimental, "Log a warning for an entry whose apply takes longer than this."},
      {"experimental-warning-unary-request-duration", K::kDuration, std::monostate{}, "'300ms'",
       kExperimental, "Slow request warning threshold (etcd 3.5; accepted)."},
      {"experimental-txn-mode-write-with-shared-buffer", K::kBool, std::monostate{}, "'true'", kExperimental,
       "etcd 3.5 bbolt read buffer mode (accepted, no effect)."},
      {"experimental-bootstrap-defrag-threshold-megabytes", K::kUint, std::monostate{}, "'0'", kExperimental,
       "Defragment on boot above this much free space (etcd 3.5; accepted, RocksDB compacts on its own)."},
      {"experimental-max-learners", K::kUint, &F::max_learners, "'1'", kExperimental,
       "Most learners the membership may hold."},
      {"experimental-snapshot-catchup-entries", K::kUint, &F::snapshot_catchup_entries, "'5000'",
       kExperimental, "Entries kept in memory behind a snapshot for slow followers."},
      {"experimental-downgrade-check-time", K::kDuration, std::monostate{}, "'5s'", kExperimental,
       "Downgrade status check period (etcd 3.5; accepted)."},
      {"experimental-memory-mlock", K::kBool, &F::memory_mlock, "'false'", kExperimental,
       "Lock the process's memory in RAM (mlockall)."},
      {"experimental-stop-grpc-service-on-defrag", K::kBool, std::monostate{}, "'false'", kExperimental,
       "Report not-serving while defragmenting (etcd 3.5; accepted)."},
      {"experimental-wait-cluster-ready-timeout",
       K::kDuration,
       std::monostate{},
       "'5s'",
       kExperimental,
       "etcd 3.5 (accepted).",
       {},
       false},
      {"experimental-set-member-localaddr",
       K::kBool,
       std::monostate{},
       "'false'",
       kExperimental,
       "etcd 3.5 (accepted).",
       {},
       false},
      // etcd 3.6's stable names
      {"corrupt-check-time", K::kDuration, &F::corrupt_check_time, "'0s'", kExperimental, "", {}, false},
      {"compact-hash-check-time",
       K::kDuration,
       &F::compact_hash_check_time,
       "'1m'",
       kExperimental,
       "",
       {},
       false},
      {"compaction-batch-limit", K::kInt, &F::compaction_batch_limit, "1000", kExperimental, "", {}, false},
      {"compaction-sleep-interval",
       K::kDuration,
       &F::compaction_sleep_interval,
       "'10ms'",
       kExperimental,
       "",
       {},
       false},
      {"watch-progress-notify-interval",
       K::kDuration,
       &F::watch_progress_notify_interval,
       "'10m'",
       kExperimental,
       "",
       {},
       false},
      {"warning-apply-duration",
       K::kDuration,
       &F::warning_apply_duration,
       "'100ms'",
       kExperimental,
       "",
       {},
       false},
      {"warning-unary-request-duration",
       K::kDuration,
       std::monostate{},
       "'300ms'",
       kExperimental,
       "",
       {},
       false},
      {"downgrade-check-time", K::kDuration, std::monostate{}, "'5s'", kExperimental, "", {}, false},
      {"memory-mlock", K::kBool, &F::memory_mlock, "'false'", kExperimental, "", {}, false},
      {"bootstrap-defrag-threshold-megabytes",
       K::kUint,
       std::monostate{},
       "'0'",
       kExperimental,
       "",
       {},
       false},
      {"snapshot-catchup-entries",
       K::kUint,
       &F::snapshot_catchup_entries,
       "'5000'",
       kExperimental,
       "",
       {},
       false},
      {"feature-gates", K::kString, &F::feature_gates, "''", kExperimental,
       "etcd 3.6 feature gates, Name=true|false,...: InitialCorruptCheck and CompactHashCheck switch the "
       "checks above; the others are accepted."},

      // ---- Unsafe ----
      {"force-new-cluster", K::kBool, &F::force_new_cluster, "'false'", kUnsafe,
       "Restart this member as a one-member cluster from its data (recovery after losing quorum)."},
      {"unsafe-no-fsync", K::kBool, &F::unsafe_no_fsync, "'false'", kUnsafe,
       "Skip fsync (ignored with a warning: cairn always syncs its WAL)."},

      // ---- To be deprecated ----
      {"debug", K::kBool, &F::debug, "'false'", kDeprecated, "Same as --log-level=debug."},
      {"log-package-levels", K::kString, &F::log_package_levels, "''", kDeprecated,
       "Per-package levels, pkg=LEVEL,... (validated; cairn has one log)."},

      // ---- Not listed: etcd's removed v1/v2 flags (accepted and ignored, as etcd does) ----
      {"cluster-active-size", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"cluster-remove-delay", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"cluster-sync-interval", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"config", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"force", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"max-result-buffer", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"max-retry-attempts", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"peer-heartbeat-interval", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"peer-election-timeout", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"retry-interval", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"snapshot", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"v", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      {"vv", K::kIgnored, std::monostate{}, "", kDeprecated, "", {}, false},
      // cairn's own (debug builds only): linearizable reads without ReadIndex, for the fault harness.
      {"debug-unsafe-skip-read-index",
       K::kBool,
       &F::debug_unsafe_skip_read_index,
       "'false'",
       kUnsafe,
       "",
       {},
       false},
      // cairn's own (debug builds only): this member corrupts what it applies, for the corruption checks'
      // test.
      {"debug-unsafe-corrupt-puts",
       K::kBool,
       &F::debug_unsafe_corrupt_puts,
       "'false'",
       kUnsafe,
       "",
       {},
       false},
  };
}

bool one_of(std::string_view values, std::string_view v) {
  size_t start = 0;
  while (true) {
    size_t bar = values.find('|', start);
    std::string_view item = values.substr(start, bar == std::string_view::npos ? values.npos : bar - start);
    if (item == v) return true;
    if (bar == std::string_view::npos) return false;
    start = bar + 1;
  }
}

template <class T>
void store(Flags& f, const FlagSpec& spec, T value, std::string_view text) {
  if (auto* m = std::get_if<T Flags::*>(&spec.field)) {
    f.*(*m) = std::move(value);
  } else {
    f.other[std::string(spec.name)] = std::string(text);
  }
}

}  // namespace

const std::vector<FlagSpec>& flag_table() {
  static const std::vector<FlagSpec> table = build_table();
  return table;
}

const FlagSpec* find_flag(std::string_view name) {
  for (const auto& s : flag_table())
    if (s.name == name) return &s;
  return nullptr;
}

std::string flag_env_name(std::string_view name) {
  std::string env = "ETCD_";
  for (char c : name)
    env += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

std::optional<std::string> set_flag(Flags& f, const FlagSpec& spec, std::string_view v) {
  switch (spec.kind) {
    case FlagKind::kBool: {
      auto b = go_parse_bool(v);
      if (!b) return b.error();
      store<bool>(f, spec, *b, v);
      return std::nullopt;
    }
    case FlagKind::kIgnored:
      std::fprintf(stderr, "cairn: flag \"%.*s\" is no longer supported - ignoring.\n",
                   static_cast<int>(spec.name.size()), spec.name.data());
      return std::nullopt;
    case FlagKind::kString:
      store<std::string>(f, spec, std::string(v), v);
      return std::nullopt;
    case FlagKind::kEnum:
      if (!one_of(spec.values, v)) return std::string("invalid value");
      store<std::string>(f, spec, std::string(v), v);
      return std::nullopt;
    case FlagKind::kUint:
    case FlagKind::kUint32: {
      bool u32 = spec.kind == FlagKind::kUint32;
      auto n = go_parse_uint(v, u32 ? 32 : 64, u32);
      if (!n) return n.error();
      store<uint64_t>(f, spec, *n, v);
      return std::nullopt;
    }
    case FlagKind::kInt: {
      auto n = go_parse_int(v);
      if (!n) return n.error();
      store<int64_t>(f, spec, *n, v);
      return std::nullopt;
    }
    case FlagKind::kDuration: {
      auto d = go_parse_duration(v);
      if (!d) return d.error();
      store<GoDuration>(f, spec, *d, v);
      return std::nullopt;
    }
    case FlagKind::kUrls: {
      if (!spec.values.empty() || spec.values.data() != nullptr) {
        if (one_of(spec.values, v)) {
          store<std::string>(f, spec, std::string(v), v);
          return std::nullopt;
        }
      }
      auto urls = etcd_parse_urls(v);
      if (!urls) return urls.error();
      std::string joined;
      for (const auto& u : *urls)
        joined += (joined.empty() ? "" : ",") + u;
      store<std::string>(f, spec, joined, v);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace cairn::server::app
