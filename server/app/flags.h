// etcd's command-line flags for cairn (CLI11), also read from ETCD_* environment variables.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "raft/expected.h"
#include "server/net/tls.h"
#include "server/node/node.h"

namespace cairn::server::app {

struct Flags {
  std::string name = "default";
  std::string data_dir;  // default: <name>.etcd
  std::string wal_dir;
  std::string listen_client_urls = "http://localhost:2379";
  std::string advertise_client_urls = "http://localhost:2379";
  std::string listen_peer_urls = "http://localhost:2380";
  std::string initial_advertise_peer_urls = "http://localhost:2380";
  std::string initial_cluster;  // default: <name>=<initial-advertise-peer-urls>
  std::string initial_cluster_state = "new";
  std::string initial_cluster_token = "etcd-cluster";
  uint64_t heartbeat_interval_ms = 100;
  uint64_t election_timeout_ms = 1000;
  uint64_t snapshot_count = 100'000;
  uint64_t snapshot_catchup_entries = 5'000;
  uint64_t quota_backend_bytes = 0;  // 0: 2 GiB
  uint64_t max_request_bytes = 1536 * 1024;
  std::string auto_compaction_mode = "periodic";  // periodic | revision
  std::string auto_compaction_retention = "0";    // 0: off; periodic: hours or a duration (30m, 1h30m)
  std::string watch_progress_notify_interval = "10m";
  std::string log_level = "info";
  // Debug builds only (tests/fault proves its checker catches it): linearizable reads skip ReadIndex.
  bool debug_unsafe_skip_read_index = false;
  // Client TLS: used by the https:// listeners of --listen-client-urls (etcd's flags).
  std::string cert_file, key_file, trusted_ca_file;
  bool client_cert_auth = false;
  bool auto_tls = false;  // self-signed certificate under <data-dir>/fixtures/client
  // Peer TLS: used when --listen-peer-urls is https:// (and for dialing the other members).
  std::string peer_cert_file, peer_key_file, peer_trusted_ca_file;
  bool peer_client_cert_auth = false;
  bool peer_auto_tls = false;  // self-signed certificate under <data-dir>/fixtures/peer
  // Auth (server/auth): token provider ("simple" or "jwt,pub-key=..,priv-key=..,sign-method=..[,ttl=..]"),
  // the simple tokens' TTL in seconds, the bcrypt cost of password hashes.
  std::string auth_token = "simple";
  uint64_t auth_token_ttl = 300;
  int bcrypt_cost = 10;
};

// etcd's --config-file: a YAML file whose top-level keys are the flag names without dashes
// ("name: m1", "initial-cluster: ..."), values plain or quoted scalars. As in etcd, when it is given,
// other flags and ETCD_* variables are ignored. The client-transport-security and
// peer-transport-security sections map cert-file, key-file, trusted-ca-file, client-cert-auth and
// auto-tls onto --cert-file ... and --peer-cert-file ...; their other keys, and other nested sections,
// are accepted only when empty or false. Returns the equivalent command-line arguments, one
// "--key=value" per key; parse_flags skips (with a note on stderr) the keys that name no cairn flag.
Expected<std::vector<std::string>, std::string> config_file_args(const std::string& text);

// The outcome of parsing: either a runnable configuration, or an exit (help/version: code 0 with
// text for stdout; a bad flag: code 2 with a message for stderr).
struct ParseExit {
  int code = 2;
  std::string message;
};

struct ServerConfig {
  Flags flags;
  node::NodeConfig node;
  std::vector<net::Endpoint> client_listen;
  std::vector<bool> client_listen_tls;  // per client_listen entry: an https:// URL
  bool peer_tls = false;                // --listen-peer-urls is https://
  // Filled by setup_tls(): the context of the https:// client listeners.
  std::optional<net::ServerTls> client_tls;
};

Expected<ServerConfig, ParseExit> parse_flags(int argc, const char* const* argv);

// Validates flags and derives the node configuration (member ids, initial members). Errors are etcd-style
// one-line messages.
Expected<ServerConfig, std::string> make_config(const Flags& f);

// Loads the certificates the configuration needs (generating the --auto-tls / --peer-auto-tls ones
// under <data-dir>/fixtures/{client,peer}) into sc.client_tls and sc.node.peer_transport. An error is
// one line for the startup log (etcd exits with status 1 for these: a missing or unreadable file, a key
// that does not match its certificate).
std::optional<std::string> setup_tls(ServerConfig& sc);

}  // namespace cairn::server::app
