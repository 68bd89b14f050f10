// etcd's command-line flags for cairn (CLI11), also read from ETCD_* environment variables.
#pragma once

#include <string>
#include <vector>

#include "raft/expected.h"
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
};

// etcd's --config-file: a YAML file whose top-level keys are the flag names without dashes
// ("name: m1", "initial-cluster: ..."), values plain or quoted scalars. As in etcd, when it is given,
// other flags and ETCD_* variables are ignored. Nested sections (e.g. client-transport-security) are
// accepted only when every value in them is empty or false (cairn has no TLS yet). Returns the
// equivalent command-line arguments, one "--key=value" per top-level key; parse_flags skips (with a
// note on stderr) the keys that name no cairn flag.
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
};

Expected<ServerConfig, ParseExit> parse_flags(int argc, const char* const* argv);

// Validates flags and derives the node configuration (member ids, initial members). Errors are etcd-style
// one-line messages.
Expected<ServerConfig, std::string> make_config(const Flags& f);

}  // namespace cairn::server::app
