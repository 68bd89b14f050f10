#include "server/app/flags.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "server/node/url.h"

namespace cairn::server::app {

namespace {
std::string listen_host(const std::string& host) {
  return host == "localhost" ? "127.0.0.1" : host;
}

// "http://host:port" or "https://host:port" (node::parse_url knows only http://).
std::optional<net::Endpoint> parse_any_url(const std::string& url) {
  static const std::string kHttps = "https://";
  if (url.compare(0, kHttps.size(), kHttps) == 0)
    return node::parse_url("http://" + url.substr(kHttps.size()));
  return node::parse_url(url);
}

bool is_https(const std::string& url) {
  return url.rfind("https://", 0) == 0;
}

// The config file's TLS sections: their keys and the flag each one sets.
std::optional<std::string> tls_section_flag(const std::string& section, const std::string& key) {
  static const char* const kKeys[] = {"cert-file", "key-file", "trusted-ca-file", "client-cert-auth",
                                      "auto-tls"};
  for (const char* k : kKeys) {
    if (key != k) continue;
    if (section == "client-transport-security") return "--" + key;
    if (section == "peer-transport-security") return "--peer-" + key;
  }
  return std::nullopt;
}

// Go's time.ParseDuration subset: a sequence of <number><unit> with units h, m, s, ms. nullopt: malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& v) {
  if (v.empty()) return std::nullopt;
  double total_ms = 0;
  size_t i = 0;
  while (i < v.size()) {
    size_t j = i;
    while (j < v.size() && (std::isdigit(static_cast<unsigned char>(v[j])) || v[j] == '.'))
      ++j;
    if (j == i) return std::nullopt;
    double num = 0;
    try {
      num = std::stod(v.substr(i, j - i));
    } catch (...) {
      return std::nullopt;
    }
    size_t k = j;
    while (k < v.size() && std::isalpha(static_cast<unsigned char>(v[k])))
      ++k;
    std::string unit = v.substr(j, k - j);
    double scale = unit == "h"    ? 3'600'000.0
                   : unit == "m"  ? 60'000.0
                   : unit == "s"  ? 1000.0
                   : unit == "ms" ? 1.0
                                  : -1;
    if (scale < 0) return std::nullopt;
    total_ms += num * scale;
    i = k;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// A YAML scalar: quoted ('..' with '' for a quote, ".." with backslash escapes) or plain up to a comment.
std::optional<std::string> yaml_scalar(const std::string& raw) {
  std::string v = trim(raw);
  if (v.empty()) return std::string();
  if (v[0] == '\'' || v[0] == '"') {
    char q = v[0];
    std::string out;
    size_t i = 1;
    for (; i < v.size(); ++i) {
      if (q == '\'' && v[i] == '\'') {
        if (i + 1 < v.size() && v[i + 1] == '\'') {
          out.push_back('\'');
          ++i;
          continue;
        }
        break;
      }
      if (q == '"' && v[i] == '\\' && i + 1 < v.size()) {
        out.push_back(v[++i]);
        continue;
      }
      if (q == '"' && v[i] == '"') break;
      out.push_back(v[i]);
    }
    if (i >= v.size()) return std::nullopt;
    std::string rest = trim(v.substr(i + 1));
    if (!rest.empty() && rest[0] != '#') return std::nullopt;
    return out;
  }
  size_t hash = v.find(" #");
  if (hash != std::string::npos) v = trim(v.substr(0, hash));
  if (v == "~" || v == "null") return std::string();
  return v;
}
}  // namespace

Expected<std::vector<std::string>, std::string> config_file_args(const std::string& text) {
  std::vector<std::string> args;
  std::string section;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t == "---") continue;
    bool indented = line[0] == ' ' || line[0] == '\t';
    size_t colon = t.find(':');
    if (colon == std::string::npos)
      return unexpected("config file line " + std::to_string(line_no) + ": expected 'key: value'");
    std::string key = trim(t.substr(0, colon));
    auto value = yaml_scalar(t.substr(colon + 1));
    if (!value) return unexpected("config file line " + std::to_string(line_no) + ": bad value for " + key);
    if (indented) {
      if (section.empty())
        return unexpected("config file line " + std::to_string(line_no) + ": unexpected indentation");
      if (auto flag = tls_section_flag(section, key)) {
        if (!value->empty()) args.push_back(*flag + "=" + *value);
        continue;
      }
      if (!value->empty() && *value != "false" && *value != "0")
        return unexpected("config file: " + section + "." + key + " is not supported by cairn yet");
      continue;
    }
    section.clear();
    if (trim(t.substr(colon + 1)).empty()) {  // "key:" alone starts a section (or an empty value)
      section = key;
      continue;
    }
    args.push_back("--" + key + "=" + *value);
  }
  return args;
}

Expected<ServerConfig, std::string> make_config(const Flags& f) {
  ServerConfig sc;
  sc.flags = f;
  Flags& g = sc.flags;
  if (g.name.empty()) return unexpected(std::string("--name must not be empty"));
  if (g.data_dir.empty()) g.data_dir = g.name + ".etcd";
  if (g.initial_cluster.empty()) {
    for (const auto& u : node::split_list(g.initial_advertise_peer_urls))
      g.initial_cluster += (g.initial_cluster.empty() ? "" : ",") + g.name + "=" + u;
  }
  if (g.initial_cluster_state != "new" && g.initial_cluster_state != "existing")
    return unexpected("invalid value \"" + g.initial_cluster_state +
                      "\" for flag -initial-cluster-state: must be one of new, existing");
  if (g.heartbeat_interval_ms == 0) return unexpected(std::string("--heartbeat-interval must be > 0"));
  if (g.election_timeout_ms < 5 * g.heartbeat_interval_ms)
    return unexpected("--election-timeout[" + std::to_string(g.election_timeout_ms) +
                      "ms] should be at least as 5 times as --heartbeat-interval[" +
                      std::to_string(g.heartbeat_interval_ms) + "ms]");
  if (g.election_timeout_ms > 50000)
    return unexpected("--election-timeout[" + std::to_string(g.election_timeout_ms) +
                      "ms] is too long, and should be set less than 50000ms");

  auto urls = [](const std::string& flag,
                 const std::string& v) -> Expected<std::vector<std::string>, std::string> {
    auto list = node::split_list(v);
    if (list.empty()) return unexpected("--" + flag + " must not be empty");
    for (const auto& u : list)
      if (!parse_any_url(u))
        return unexpected("invalid URL \"" + u + "\" for --" + flag +
                          " (want http://host:port or https://host:port)");
    return list;
  };
  auto lc = urls("listen-client-urls", g.listen_client_urls);
  if (!lc) return unexpected(lc.error());
  auto ac = urls("advertise-client-urls", g.advertise_client_urls);
  if (!ac) return unexpected(ac.error());
  auto lp = urls("listen-peer-urls", g.listen_peer_urls);
  if (!lp) return unexpected(lp.error());
  auto ap = urls("initial-advertise-peer-urls", g.initial_advertise_peer_urls);
  if (!ap) return unexpected(ap.error());
  if (lp->size() != 1) return unexpected(std::string("--listen-peer-urls: exactly one URL is supported"));

  // --initial-cluster: name=url,name=url (a name may repeat for several URLs).
  std::map<std::string, std::vector<std::string>> by_name;
  std::vector<std::string> order;
  for (const auto& item : node::split_list(g.initial_cluster)) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return unexpected("--initial-cluster: \"" + item + "\" is not name=url");
    std::string n = item.substr(0, eq), u = item.substr(eq + 1);
    if (!parse_any_url(u)) return unexpected("--initial-cluster: invalid URL \"" + u + "\"");
    if (!by_name.count(n)) order.push_back(n);
    by_name[n].push_back(u);
  }
  if (!by_name.count(g.name))
    return unexpected("couldn't find local name \"" + g.name + "\" in the initial cluster configuration");
  {
    auto a = by_name[g.name], b = *ap;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b)
      return unexpected("--initial-cluster has " + g.name + "=" + by_name[g.name].front() +
                        " but missing from --initial-advertise-peer-urls=" + g.initial_advertise_peer_urls);
  }

  node::NodeConfig& nc = sc.node;
  nc.name = g.name;
  nc.data_dir = g.data_dir;
  nc.wal_dir = g.wal_dir;
  nc.cluster_token = g.initial_cluster_token;
  nc.new_cluster = g.initial_cluster_state == "new";
  nc.advertise_client_urls = *ac;
  for (const auto& n : order) {
    node::MemberInfo m;
    m.name = n;
    m.peer_urls = by_name[n];
    m.id = node::derive_member_id(m.peer_urls, g.initial_cluster_token);
    nc.initial_members.push_back(m);
  }
  nc.member_id = node::derive_member_id(*ap, g.initial_cluster_token);
  auto pe = *parse_any_url(lp->front());
  sc.peer_tls = is_https(lp->front());
  if (sc.peer_tls && !g.peer_auto_tls && (g.peer_cert_file.empty() || g.peer_key_file.empty()))
    return unexpected("TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url " +
                      lp->front() + " with HTTPS scheme");
  nc.listen_peer_host = listen_host(pe.host);
  nc.listen_peer_port = pe.port;
  nc.heartbeat = std::chrono::milliseconds(g.heartbeat_interval_ms);
  nc.election = std::chrono::milliseconds(g.election_timeout_ms);
  if (g.snapshot_count == 0) return unexpected(std::string("--snapshot-count must be at least 1"));
  nc.snapshot_count = g.snapshot_count;
  nc.snapshot_catchup_entries = g.snapshot_catchup_entries;
  nc.quota_backend_bytes = g.quota_backend_bytes == 0 ? (2ull << 30) : g.quota_backend_bytes;
  nc.max_request_bytes = g.max_request_bytes;
  auto progress = parse_duration(g.watch_progress_notify_interval);
  if (!progress || progress->count() < 100)
    return unexpected("invalid experimental-watch-progress-notify-interval \"" +
                      g.watch_progress_notify_interval + "\" (a duration of at least 100ms)");
  nc.watch_progress_notify_interval = *progress;
#ifdef NDEBUG
  if (g.debug_unsafe_skip_read_index)
    return unexpected(std::string("--debug-unsafe-skip-read-index is only available in debug builds"));
#endif
  nc.debug_unsafe_skip_read_index = g.debug_unsafe_skip_read_index;
  if (auto spec = auth::parse_token_spec(g.auth_token); !spec) return unexpected(spec.error());
  if (g.bcrypt_cost < auth::kBcryptCostMin || g.bcrypt_cost > auth::kBcryptCostMax)
    return unexpected("invalid --bcrypt-cost " + std::to_string(g.bcrypt_cost) + " (4-31)");
  if (g.auth_token_ttl == 0) return unexpected(std::string("--auth-token-ttl must be at least 1 second"));
  nc.auth.token = g.auth_token;
  nc.auth.token_ttl = std::chrono::seconds(g.auth_token_ttl);
  nc.auth.bcrypt_cost = g.bcrypt_cost;
  if (g.auto_compaction_mode != "periodic" && g.auto_compaction_mode != "revision")
    return unexpected("invalid auto-compaction-mode \"" + g.auto_compaction_mode +
                      "\" (must be \"periodic\" or \"revision\")");
  if (g.auto_compaction_mode == "revision") {
    char* end = nullptr;
    long long n = std::strtoll(g.auto_compaction_retention.c_str(), &end, 10);
    if (g.auto_compaction_retention.empty() || *end != '\0' || n < 0)
      return unexpected("invalid auto-compaction-retention \"" + g.auto_compaction_retention +
                        "\" for revision mode (a revision count)");
    nc.auto_compaction_revisions = n;
  } else {
    // etcd: a bare number is hours; otherwise a Go duration.
    std::optional<std::chrono::milliseconds> d;
    char* end = nullptr;
    double hours = std::strtod(g.auto_compaction_retention.c_str(), &end);
    if (!g.auto_compaction_retention.empty() && *end == '\0' && hours >= 0)
      d = std::chrono::milliseconds(static_cast<int64_t>(hours * 3'600'000.0));
    else
      d = parse_duration(g.auto_compaction_retention);
    if (!d || d->count() < 0)
      return unexpected("invalid auto-compaction-retention \"" + g.auto_compaction_retention +
                        "\" (hours, or a duration such as 30m or 1h30m)");
    nc.auto_compaction_period = *d;
  }
  for (const auto& u : *lc) {
    auto e = *parse_any_url(u);
    e.host = listen_host(e.host);
    sc.client_listen.push_back(e);
    sc.client_listen_tls.push_back(is_https(u));
    if (is_https(u) && !g.auto_tls && (g.cert_file.empty() || g.key_file.empty()))
      return unexpected("TLS key/cert (--cert-file, --key-file) must be provided for client url " + u +
                        " with HTTPS scheme");
  }
  return sc;
}

std::optional<std::string> setup_tls(ServerConfig& sc) {
  const Flags& g = sc.flags;
  auto hosts_of = [](const std::string& urls) {
    std::vector<std::string> hosts;
    for (const auto& u : node::split_list(urls))
      if (auto e = parse_any_url(u)) hosts.push_back(e->host);
    return hosts;
  };
  // etcd: given certificate files win over --auto-tls (with a warning).
  auto server_config = [&](const std::string& cert, const std::string& key, const std::string& ca, bool cca,
                           bool auto_tls, const char* fixture,
                           const std::string& urls) -> Expected<net::TlsServerConfig, std::string> {
    net::TlsServerConfig c;
    if (!cert.empty() || !key.empty() || !auto_tls) {
      if (auto_tls) std::fprintf(stderr, "cairn: ignoring %s auto TLS since certs given\n", fixture);
      c.cert_file = cert;
      c.key_file = key;
    } else {
      auto self = net::make_self_signed_cert(g.data_dir + "/fixtures/" + fixture, hosts_of(urls));
      if (!self) return unexpected(self.error());
      c = *self;
    }
    c.trusted_ca_file = ca;
    c.client_cert_auth = cca;
    return c;
  };
  bool any_client_tls = false;
  for (bool t : sc.client_listen_tls)
    any_client_tls = any_client_tls || t;
  if (any_client_tls) {
    auto c = server_config(g.cert_file, g.key_file, g.trusted_ca_file, g.client_cert_auth, g.auto_tls,
                           "client", g.listen_client_urls);
    if (!c) return c.error();
    auto tls = net::make_server_tls(*c);
    if (!tls)
      return "client TLS (--cert-file " + c->cert_file + ", --key-file " + c->key_file + "): " + tls.error();
    sc.client_tls = *tls;
  }
  if (sc.peer_tls) {
    bool self_signed = g.peer_cert_file.empty() && g.peer_key_file.empty() && g.peer_auto_tls;
    auto c = server_config(g.peer_cert_file, g.peer_key_file, g.peer_trusted_ca_file, g.peer_client_cert_auth,
                           g.peer_auto_tls, "peer", g.listen_peer_urls);
    if (!c) return c.error();
    c->alpn_http = false;
    auto server = net::make_server_tls(*c);
    if (!server)
      return "peer TLS (--peer-cert-file " + c->cert_file + ", --peer-key-file " + c->key_file +
             "): " + server.error();
    // Dialing the other members: the peer certificate is also our client certificate; with
    // --peer-auto-tls nobody's certificate can be verified, so none is (etcd does the same).
    net::TlsClientConfig cc;
    cc.cert_file = c->cert_file;
    cc.key_file = c->key_file;
    cc.ca_file = g.peer_trusted_ca_file;
    cc.insecure_skip_verify = self_signed;
    cc.alpn_h2 = false;
    auto client = net::make_client_tls(cc);
    if (!client) return "peer TLS: " + client.error();
    sc.node.peer_transport.tls_server = server->server;
    sc.node.peer_transport.tls_client = *client;
  }
  return std::nullopt;
}

namespace {
// Every server option, on `app`, stored in `f`; with_env also binds each one's ETCD_* variable.
void add_server_options(CLI::App& app, Flags& f, bool with_env) {
  auto opt = [&](const char* name, auto& var, const char* env, const char* help) {
    auto* o = app.add_option(name, var, help)->capture_default_str();
    if (with_env) o->envname(env);
  };
  opt("--name", f.name, "ETCD_NAME", "Human-readable name for this member.");
  opt("--data-dir", f.data_dir, "ETCD_DATA_DIR", "Path to the data directory (default: <name>.etcd).");
  opt("--wal-dir", f.wal_dir, "ETCD_WAL_DIR", "Path to a dedicated WAL directory.");
  opt("--listen-client-urls", f.listen_client_urls, "ETCD_LISTEN_CLIENT_URLS",
      "URLs to listen on for client traffic.");
  opt("--advertise-client-urls", f.advertise_client_urls, "ETCD_ADVERTISE_CLIENT_URLS",
      "This member's client URLs to advertise to the rest of the cluster.");
  opt("--listen-peer-urls", f.listen_peer_urls, "ETCD_LISTEN_PEER_URLS",
      "URL to listen on for peer traffic.");
  opt("--initial-advertise-peer-urls", f.initial_advertise_peer_urls, "ETCD_INITIAL_ADVERTISE_PEER_URLS",
      "This member's peer URLs to advertise to the rest of the cluster.");
  opt("--initial-cluster", f.initial_cluster, "ETCD_INITIAL_CLUSTER",
      "Initial cluster configuration (name=url,...).");
  opt("--initial-cluster-state", f.initial_cluster_state, "ETCD_INITIAL_CLUSTER_STATE",
      "Initial cluster state ('new' or 'existing').");
  opt("--initial-cluster-token", f.initial_cluster_token, "ETCD_INITIAL_CLUSTER_TOKEN",
      "Initial cluster token for the cluster during bootstrap.");
  opt("--heartbeat-interval", f.heartbeat_interval_ms, "ETCD_HEARTBEAT_INTERVAL",
      "Time (in milliseconds) of a heartbeat interval.");
  opt("--election-timeout", f.election_timeout_ms, "ETCD_ELECTION_TIMEOUT",
      "Time (in milliseconds) for an election to timeout.");
  opt("--snapshot-count", f.snapshot_count, "ETCD_SNAPSHOT_COUNT",
      "Number of committed transactions to trigger a snapshot to disk.");
  opt("--experimental-snapshot-catchup-entries", f.snapshot_catchup_entries,
      "ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES",
      "Number of entries for a slow follower to catch up after compacting the raft log.");
  opt("--quota-backend-bytes", f.quota_backend_bytes, "ETCD_QUOTA_BACKEND_BYTES",
      "Raise alarms when backend size exceeds the given quota (0 defaults to 2 GiB).");
  opt("--max-request-bytes", f.max_request_bytes, "ETCD_MAX_REQUEST_BYTES",
      "Maximum client request size in bytes the server will accept.");
  opt("--auto-compaction-mode", f.auto_compaction_mode, "ETCD_AUTO_COMPACTION_MODE",
      "Interpret 'auto-compaction-retention' one of: periodic|revision.");
  opt("--auto-compaction-retention", f.auto_compaction_retention, "ETCD_AUTO_COMPACTION_RETENTION",
      "Auto compaction retention for mvcc key value store. 0 means disable auto compaction.");
  opt("--experimental-watch-progress-notify-interval", f.watch_progress_notify_interval,
      "ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL",
      "Duration of periodic watch progress notifications (at least 100ms).");
  opt("--log-level", f.log_level, "ETCD_LOG_LEVEL", "Log level (accepted for compatibility).");
  opt("--cert-file", f.cert_file, "ETCD_CERT_FILE", "Path to the client server TLS cert file.");
  opt("--key-file", f.key_file, "ETCD_KEY_FILE", "Path to the client server TLS key file.");
  opt("--trusted-ca-file", f.trusted_ca_file, "ETCD_TRUSTED_CA_FILE",
      "Path to the client server TLS trusted CA file.");
  auto flag = [&](const char* name, bool& var, const char* env, const char* help) {
    auto* o = app.add_flag(name, var, help);
    if (with_env) o->envname(env);
  };
  flag("--client-cert-auth", f.client_cert_auth, "ETCD_CLIENT_CERT_AUTH",
       "Enable client cert authentication.");
  flag("--auto-tls", f.auto_tls, "ETCD_AUTO_TLS", "Client TLS using generated certificates.");
  opt("--peer-cert-file", f.peer_cert_file, "ETCD_PEER_CERT_FILE", "Path to the peer server TLS cert file.");
  opt("--peer-key-file", f.peer_key_file, "ETCD_PEER_KEY_FILE", "Path to the peer server TLS key file.");
  opt("--peer-trusted-ca-file", f.peer_trusted_ca_file, "ETCD_PEER_TRUSTED_CA_FILE",
      "Path to the peer server TLS trusted CA file.");
  flag("--peer-client-cert-auth", f.peer_client_cert_auth, "ETCD_PEER_CLIENT_CERT_AUTH",
       "Enable peer client cert authentication.");
  flag("--peer-auto-tls", f.peer_auto_tls, "ETCD_PEER_AUTO_TLS", "Peer TLS using generated certificates.");
  opt("--auth-token", f.auth_token, "ETCD_AUTH_TOKEN",
      "Auth token type: simple, or jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256[,ttl=5m].");
  opt("--auth-token-ttl", f.auth_token_ttl, "ETCD_AUTH_TOKEN_TTL",
      "Seconds a simple token lives after its last use.");
  opt("--bcrypt-cost", f.bcrypt_cost, "ETCD_BCRYPT_COST", "bcrypt cost of password hashes (4-31).");
  // Deliberately unsafe, debug builds only: answers linearizable reads from the local store without a
  // ReadIndex round, so a deposed or partitioned member serves stale data. The fault harness turns it
  // on to show that its linearizability checker catches the anomaly.
  app.add_flag("--debug-unsafe-skip-read-index", f.debug_unsafe_skip_read_index,
               "(debug builds, testing only) serve linearizable reads without ReadIndex");
}
}  // namespace

Expected<ServerConfig, ParseExit> parse_flags(int argc, const char* const* argv) {
  CLI::App app{"cairn: a distributed key-value store that speaks etcd's v3 API", "cairn"};
  Flags f;
  add_server_options(app, f, /*with_env=*/true);
  std::string config_file;
  app.add_option("--config-file", config_file,
                 "Path to the server configuration file (YAML). Other flags and variables are then ignored.")
      ->envname("ETCD_CONFIG_FILE");
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and exit.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return unexpected(ParseExit{0, app.help()});
  } catch (const CLI::ParseError& e) {
    return unexpected(ParseExit{2, std::string(e.what()) + "\nRun 'cairn --help' for the list of flags."});
  }
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) return unexpected(ParseExit{2, "cannot read config file " + config_file});
    std::stringstream text;
    text << in.rdbuf();
    auto args = config_file_args(text.str());
    if (!args) return unexpected(ParseExit{2, args.error()});
    // Re-parse from the file alone: defaults, then the file's values (etcd ignores flags and env then).
    f = Flags{};
    CLI::App file_app{"cairn", "cairn"};
    add_server_options(file_app, f, /*with_env=*/false);
    std::vector<std::string> fargs;
    for (auto it = args->rbegin(); it != args->rend(); ++it) {  // CLI11 takes the vector form reversed
      std::string name = it->substr(0, it->find('='));
      if (!file_app.get_option_no_throw(name)) {
        std::fprintf(stderr, "cairn: config file: '%s' is not used by cairn, skipped\n",
                     name.substr(2).c_str());
        continue;
      }
      fargs.push_back(*it);
    }
    try {
      file_app.parse(fargs);
    } catch (const CLI::ParseError& e) {
      return unexpected(ParseExit{2, "config file " + config_file + ": " + e.what()});
    }
  }
  if (show_version)
    return unexpected(ParseExit{0, "cairn Version: 0.1.0 (etcd API 3.4)\netcd Version: 3.4.23\n"});
  auto sc = make_config(f);
  if (!sc) return unexpected(ParseExit{2, sc.error()});
  return std::move(*sc);
}

}  // namespace cairn::server::app
