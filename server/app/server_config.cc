// make_config: validates parsed flags (etcd's checks and messages) and derives the node configuration;
// setup_tls: loads the certificates that configuration needs.
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstdio>
#include <fstream>
#include <map>

#include "server/app/flag_table.h"
#include "server/app/flags.h"
#include "server/node/size_policy.h"
#include "server/node/url.h"

namespace cairn::server::app {

namespace {

std::string listen_host(const std::string& host) {
  return host == "localhost" ? "127.0.0.1" : host;
}

bool is_tls_url(const std::string& url) {
  return url.rfind("https://", 0) == 0 || url.rfind("unixs://", 0) == 0;
}

bool is_ip(const std::string& host) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);
  return !ec;
}

// A URL list flag: etcd's syntax was checked when it was set; here every URL must also be one cairn
// can listen on or dial.
Expected<std::vector<std::string>, std::string> url_list(const std::string& flag, const std::string& value) {
  auto list = node::split_list(value);
  for (const auto& u : list)
    if (!node::parse_url(u)) return unexpected("invalid URL \"" + u + "\" for --" + flag);
  return list;
}

// The host of "scheme://host:port" as etcd's net.SplitHostPort sees it (brackets removed).
std::string url_host(const std::string& u) {
  auto sep = u.find("://");
  std::string authority = sep == std::string::npos ? u : u.substr(sep + 3);
  authority = authority.substr(0, authority.find('/'));
  auto colon = authority.rfind(':');
  std::string host = colon == std::string::npos ? authority : authority.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return host;
}

// etcd's checkBindURLs: a listener's host is an IP address or localhost.
std::optional<std::string> check_bind_urls(const std::string& value) {
  for (const auto& u : node::split_list(value)) {
    if (node::is_unix_url(u)) continue;
    std::string host = url_host(u);
    if (host != "localhost" && !is_ip(host)) return "expected IP in URL for binding (" + u + ")";
  }
  return std::nullopt;
}

// etcd's checkHostURLs: an advertised URL names a host.
std::optional<std::string> check_host_urls(const std::string& flag, const std::string& value) {
  for (const auto& u : node::split_list(value))
    if (url_host(u).empty())
      return "--" + flag + " " + go_quote(value) + " must be \"host:port\" (unexpected empty host (" + u +
             "))";
  return std::nullopt;
}

// What cairn deliberately does not do: a value that asks for it stops the member, naming the flag.
std::optional<std::string> refuse_unsupported(const Flags& g) {
  if (!g.discovery.empty() || !g.discovery_srv.empty() || !g.discovery_endpoints.empty())
    return "cairn does not support discovery (--discovery, --discovery-srv, --discovery-endpoints): list the "
           "members with --initial-cluster";
  if (g.enable_v2) return "--enable-v2=true: cairn serves the v3 API only";
  if (!g.enable_v2v3.empty()) return "--experimental-enable-v2v3: cairn serves the v3 API only";
  if (g.proxy != "off")
    return "--proxy=" + g.proxy +
           ": cairn has no v2 proxy (cairn gateway start is a TCP proxy to the cluster)";
  if (g.enable_pprof)
    return "--enable-pprof=true: cairn has no pprof endpoint (profile it with perf; see docs/operations.md)";
  if (g.enable_distributed_tracing)
    return "--enable-distributed-tracing=true: cairn has no OpenTelemetry tracing";
  if (g.enable_lease_checkpoint_persist && !g.enable_lease_checkpoint)
    return "setting experimental-enable-lease-checkpoint-persist requires "
           "experimental-enable-lease-checkpoint";
  if (g.enable_log_rotation)
    return "--enable-log-rotation=true: cairn does not rotate its log (use logrotate with copytruncate)";
#ifdef NDEBUG
  if (g.debug_unsafe_skip_read_index)
    return "--debug-unsafe-skip-read-index is only available in debug builds";
  if (g.debug_unsafe_corrupt_puts) return "--debug-unsafe-corrupt-puts is only available in debug builds";
#endif
  return std::nullopt;
}

// etcd 3.6's --feature-gates=Name=bool,...: the gates cairn knows switch the matching flags.
std::optional<std::string> apply_feature_gates(Flags& g) {
  static const char* const kGates[] = {"AllAlpha",
                                       "AllBeta",
                                       "CompactHashCheck",
                                       "FastLeaseKeepAlive",
                                       "InitialCorruptCheck",
                                       "LeaseCheckpoint",
                                       "LeaseCheckpointPersist",
                                       "PriorityRequest",
                                       "SetMemberLocalAddr",
                                       "StopGRPCServiceOnDefrag",
                                       "TxnModeWriteWithSharedBuffer"};
  for (const auto& item : node::split_list(g.feature_gates)) {
    auto eq = item.find('=');
    if (eq == std::string::npos) return "missing bool value for " + item;
    std::string name = item.substr(0, eq), value = item.substr(eq + 1);
    if (std::none_of(std::begin(kGates), std::end(kGates), [&](const char* k) { return name == k; }))
      return "unrecognized feature gate: " + name;
    auto b = go_parse_bool(value);
    if (!b)
      return "invalid value of " + item + ", err: strconv.ParseBool: parsing " + go_quote(value) +
             ": invalid syntax";
    if (name == "InitialCorruptCheck") g.initial_corrupt_check = *b;
    if (name == "CompactHashCheck") g.compact_hash_check_enabled = *b;
    if (name == "LeaseCheckpoint") g.enable_lease_checkpoint = *b;
    if (name == "LeaseCheckpointPersist") g.enable_lease_checkpoint_persist = *b;
  }
  return std::nullopt;
}

std::optional<std::string> check_logging(const Flags& g, std::vector<std::string>& warnings) {
  if (g.logger != "zap" && g.logger != "capnslog") return "unknown logger option " + go_quote(g.logger);
  auto outputs = node::split_list(g.log_outputs);
  if (outputs.size() > 1)
    return "--log-outputs: cairn writes its log to one output (got " + go_quote(g.log_outputs) + ")";
  for (const auto& item : node::split_list(g.log_package_levels)) {
    static const char* const kLevels[] = {"CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG", "TRACE"};
    auto eq = item.find('=');
    std::string level = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (std::none_of(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return level == l; }))
      warnings.push_back("couldn't parse log level string: " + item + ", continuing with default levels");
  }
  return std::nullopt;
}

// Flags cairn accepts without doing what etcd does with them: a warning so nobody mistakes them for
// enforced.
void not_enforced_warnings(const Flags& g, std::vector<std::string>& w) {
  if (g.unsafe_no_fsync) w.push_back("--unsafe-no-fsync is ignored: cairn always syncs its WAL");
}

// --initial-cluster: name=url,name=url (a name may repeat for several URLs).
std::optional<std::string> initial_members(const Flags& g, const std::vector<std::string>& ap,
                                           node::NodeConfig& nc) {
  std::map<std::string, std::vector<std::string>> by_name;
  std::vector<std::string> order;
  for (const auto& item : node::split_list(g.initial_cluster)) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) return "--initial-cluster: \"" + item + "\" is not name=url";
    std::string n = item.substr(0, eq), u = item.substr(eq + 1);
    if (!node::parse_url(u)) return "--initial-cluster: invalid URL \"" + u + "\"";
    if (!by_name.count(n)) order.push_back(n);
    by_name[n].push_back(u);
  }
  if (!by_name.count(g.name))
    return "couldn't find local name \"" + g.name + "\" in the initial cluster configuration";
  auto a = by_name[g.name], b = ap;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a != b)
    return "--initial-cluster has " + g.name + "=" + by_name[g.name].front() +
           " but missing from --initial-advertise-peer-urls=" + g.initial_advertise_peer_urls;
  for (const auto& n : order) {
    node::MemberInfo m;
    m.name = n;
    m.peer_urls = by_name[n];
    m.id = node::derive_member_id(m.peer_urls, g.initial_cluster_token);
    nc.initial_members.push_back(m);
  }
  nc.member_id = node::derive_member_id(ap, g.initial_cluster_token);
  return std::nullopt;
}

std::optional<std::string> auto_compaction(const Flags& g, node::NodeConfig& nc) {
  if (g.auto_compaction_mode != "periodic" && g.auto_compaction_mode != "revision")
    return "unknown auto-compaction-mode " + go_quote(g.auto_compaction_mode);
  if (g.auto_compaction_mode == "revision") {
    auto n = go_parse_int(g.auto_compaction_retention);
    if (!n || *n < 0)
      return "invalid auto-compaction-retention \"" + g.auto_compaction_retention +
             "\" for revision mode (a revision count)";
    nc.auto_compaction_revisions = *n;
    return std::nullopt;
  }
  // etcd: a bare number is hours; otherwise a Go duration.
  char* end = nullptr;
  double hours = std::strtod(g.auto_compaction_retention.c_str(), &end);
  if (!g.auto_compaction_retention.empty() && *end == '\0' && hours >= 0) {
    nc.auto_compaction_period = std::chrono::milliseconds(static_cast<int64_t>(hours * 3'600'000.0));
    return std::nullopt;
  }
  auto d = go_parse_duration(g.auto_compaction_retention);
  if (!d || d->count() < 0)
    return "invalid auto-compaction-retention \"" + g.auto_compaction_retention +
           "\" (hours, or a duration such as 30m or 1h30m)";
  nc.auto_compaction_period = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  return std::nullopt;
}

// Client and metrics listeners; an https:// (unixs://) one needs a certificate.
std::optional<std::string> listeners(ServerConfig& sc, const std::vector<std::string>& client,
                                     const std::vector<std::string>& metrics) {
  const Flags& g = sc.flags;
  auto add = [&](const std::string& u, std::vector<net::Endpoint>& eps,
                 std::vector<bool>& tls) -> std::optional<std::string> {
    auto e = *node::parse_url(u);
    e.host = listen_host(e.host);
    eps.push_back(e);
    tls.push_back(is_tls_url(u));
    if (is_tls_url(u) && !g.auto_tls && (g.cert_file.empty() || g.key_file.empty()))
      return "TLS key/cert (--cert-file, --key-file) must be provided for client url " + u +
             " with HTTPS scheme";
    return std::nullopt;
  };
  for (const auto* list : {&client, &metrics})
    for (const auto& u : *list)
      if (u.rfind("unixs://", 0) == 0)
        return "unixs:// URLs are not supported (TLS over a unix socket): " + u;
  for (const auto& u : client)
    if (auto e = add(u, sc.client_listen, sc.client_listen_tls)) return e;
  for (const auto& u : metrics)
    if (auto e = add(u, sc.metrics_listen, sc.metrics_listen_tls)) return e;
  return std::nullopt;
}

std::optional<std::string> peer_listener(ServerConfig& sc, const std::vector<std::string>& lp) {
  const Flags& g = sc.flags;
  node::NodeConfig& nc = sc.node;
  if (lp.size() != 1) return "--listen-peer-urls: exactly one URL is supported";
  if (lp.front().rfind("unixs://", 0) == 0)
    return "unixs:// URLs are not supported (TLS over a unix socket): " + lp.front();
  auto pe = *node::parse_url(lp.front());
  sc.peer_tls = is_tls_url(lp.front());
  if (sc.peer_tls && !g.peer_auto_tls && (g.peer_cert_file.empty() || g.peer_key_file.empty()))
    return "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url " + lp.front() +
           " with HTTPS scheme";
  nc.listen_peer_host = listen_host(pe.host);
  nc.listen_peer_port = pe.port;
  nc.listen_peer_unix = pe.unix_path;
  return std::nullopt;
}

void member_options(const Flags& g, node::NodeConfig& nc) {
  nc.name = g.name;
  nc.data_dir = g.data_dir;
  nc.wal_dir = g.wal_dir;
  nc.cluster_token = g.initial_cluster_token;
  nc.new_cluster = g.initial_cluster_state == "new";
  nc.heartbeat = std::chrono::milliseconds(g.heartbeat_interval_ms);
  nc.election = std::chrono::milliseconds(g.election_timeout_ms);
  nc.snapshot_count = g.snapshot_count;
  nc.snapshot_catchup_entries = g.snapshot_catchup_entries;
  nc.quota_backend_bytes =
      g.quota_backend_bytes <= 0 ? (2ull << 30) : static_cast<uint64_t>(g.quota_backend_bytes);
  nc.max_request_bytes = g.max_request_bytes;
  nc.watch_progress_notify_interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(g.watch_progress_notify_interval);
  nc.debug_unsafe_skip_read_index = g.debug_unsafe_skip_read_index;
  nc.debug_unsafe_corrupt_puts = g.debug_unsafe_corrupt_puts;
  nc.pre_vote = g.pre_vote;
  nc.initial_election_tick_advance = g.initial_election_tick_advance;
  nc.strict_reconfig_check = g.strict_reconfig_check;
  nc.max_learners = g.max_learners;
  nc.max_txn_ops = g.max_txn_ops;
  nc.warning_apply_duration = g.warning_apply_duration;
  // etcd's mvcc takes 0 as "the default"; a negative value means the same here.
  nc.compaction_batch_limit =
      g.compaction_batch_limit > 0 ? static_cast<size_t>(g.compaction_batch_limit) : 1000;
  nc.compaction_sleep_interval =
      g.compaction_sleep_interval.count() > 0
          ? std::chrono::duration_cast<std::chrono::milliseconds>(g.compaction_sleep_interval)
          : std::chrono::milliseconds(10);
  nc.max_wals = g.max_wals;
  nc.async_wal_writes = g.wal_write_mode == "async";
  nc.force_new_cluster = g.force_new_cluster;
  // Peer port bounds in bytes (peer_transport.h). The largest legitimate MESSAGE frame is a MsgApp
  // carrying one entry of --max-request-bytes next to a batch of up to raft's 1 MiB, plus framing; the
  // node's default (size_policy.h: one WAL record plus overhead) stays the floor so members with different
  // flags still understand each other. A
  // snapshot is a store checkpoint, which the quota bounds (twice it for SST overhead and data not
  // compacted yet, at least 1 GiB); all snapshot transfers on the port share that budget.
  nc.peer_transport.frame_bytes_max = std::max<std::size_t>(nc.peer_transport.frame_bytes_max,
                                                            g.max_request_bytes + (1u << 20) + (64u << 10));
  nc.peer_transport.large_payload_bytes_max = std::max<std::uint64_t>(1ull << 30, 2 * nc.quota_backend_bytes);
  nc.auth.token = g.auth_token;
  nc.auth.token_ttl = std::chrono::seconds(g.auth_token_ttl);
  nc.auth.bcrypt_cost = static_cast<int>(g.bcrypt_cost);
}

// --auth-token, --auth-token-ttl, --bcrypt-cost (server/auth).
std::optional<std::string> check_auth(const Flags& g) {
  if (auto spec = auth::parse_token_spec(g.auth_token); !spec) return spec.error();
  if (g.bcrypt_cost < auth::kBcryptCostMin || g.bcrypt_cost > auth::kBcryptCostMax)
    return "invalid --bcrypt-cost " + std::to_string(g.bcrypt_cost) + " (4-31)";
  if (g.auth_token_ttl == 0) return std::string("--auth-token-ttl must be at least 1 second");
  return std::nullopt;
}

std::optional<std::string> check_timing(const Flags& g) {
  if (g.heartbeat_interval_ms == 0) return "--heartbeat-interval must be >0 (set to 0ms)";
  if (g.election_timeout_ms == 0) return "--election-timeout must be >0 (set to 0ms)";
  if (g.election_timeout_ms < 5 * g.heartbeat_interval_ms)
    return "--election-timeout[" + std::to_string(g.election_timeout_ms) +
           "ms] should be at least as 5 times as --heartbeat-interval[" +
           std::to_string(g.heartbeat_interval_ms) + "ms]";
  if (g.election_timeout_ms > 50000)
    return "--election-timeout[" + std::to_string(g.election_timeout_ms) +
           "ms] is too long, and should be set less than 50000ms";
  if (g.snapshot_count == 0) return "--snapshot-count must be at least 1";
  if (g.max_request_bytes > node::kMaxRequestBytesLimit)  // server/node/size_policy.h
    return "--max-request-bytes " + std::to_string(g.max_request_bytes) + " is larger than " +
           std::to_string(node::kMaxRequestBytesLimit) +
           ", the largest request one WAL record (16 MiB) and one peer frame carry";
  if (g.watch_progress_notify_interval < std::chrono::milliseconds(100))
    return "--experimental-watch-progress-notify-interval must be at least 100ms (got " +
           go_format_duration(g.watch_progress_notify_interval) + ")";
  if (g.corrupt_check_time.count() < 0 || g.compact_hash_check_time.count() <= 0)
    return "--experimental-corrupt-check-time and --experimental-compact-hash-check-time must be positive";
  if (g.state_check_interval.count() < 0)
    return "--state-check-interval must not be negative (0: never propose a check)";
  if (g.disk_free_reserve_bytes < 0) return "--disk-free-reserve-bytes must not be negative (0: off)";
  return std::nullopt;
}

}  // namespace

Expected<ServerConfig, std::string> make_config(const Flags& f) {
  ServerConfig sc;
  sc.flags = f;
  Flags& g = sc.flags;
  if (g.name.empty()) return unexpected(std::string("--name must not be empty"));
  if (g.data_dir.empty()) g.data_dir = g.name + ".etcd";
  if (g.initial_cluster.empty())
    for (const auto& u : node::split_list(g.initial_advertise_peer_urls))
      g.initial_cluster += (g.initial_cluster.empty() ? "" : ",") + g.name + "=" + u;
  for (auto check : {refuse_unsupported(g), apply_feature_gates(g), check_timing(g), check_auth(g),
                     check_logging(g, sc.warnings)})
    if (check) return unexpected(*check);
  if (g.max_concurrent_streams == 0) g.max_concurrent_streams = 4294967295u;  // grpc-go: 0 means no limit

  for (const std::string* v :
       {&g.listen_peer_urls, &g.listen_client_urls, &g.listen_client_http_urls, &g.listen_metrics_urls})
    if (auto e = check_bind_urls(*v)) return unexpected(*e);
  if (auto e = check_host_urls("initial-advertise-peer-urls", g.initial_advertise_peer_urls))
    return unexpected(*e);
  if (auto e = check_host_urls("advertise-client-urls", g.advertise_client_urls)) return unexpected(*e);
  auto lc = url_list("listen-client-urls", g.listen_client_urls);
  auto lch = url_list("listen-client-http-urls", g.listen_client_http_urls);
  auto ac = url_list("advertise-client-urls", g.advertise_client_urls);
  auto lp = url_list("listen-peer-urls", g.listen_peer_urls);
  auto ap = url_list("initial-advertise-peer-urls", g.initial_advertise_peer_urls);
  auto lm = url_list("listen-metrics-urls", g.listen_metrics_urls);
  for (auto* r : {&lc, &lch, &ac, &lp, &ap, &lm})
    if (!*r) return unexpected(r->error());
  std::vector<std::string> client = *lc;
  client.insert(client.end(), lch->begin(), lch->end());
  if (ap->empty()) return unexpected(std::string("--initial-advertise-peer-urls must not be empty"));

  node::NodeConfig& nc = sc.node;
  member_options(g, nc);
  nc.advertise_client_urls = *ac;
  if (auto e = initial_members(g, *ap, nc)) return unexpected(*e);
  if (auto e = peer_listener(sc, *lp)) return unexpected(*e);
  if (auto e = auto_compaction(g, nc)) return unexpected(*e);
  if (auto e = listeners(sc, client, *lm)) return unexpected(*e);
  not_enforced_warnings(g, sc.warnings);
  return sc;
}

std::optional<std::string> setup_tls(ServerConfig& sc) {
  const Flags& g = sc.flags;
  auto hosts_of = [](const std::string& urls) {
    std::vector<std::string> hosts;
    for (const auto& u : node::split_list(urls))
      if (auto e = node::parse_url(u)) hosts.push_back(e->host);
    return hosts;
  };
  // --cipher-suites, --tls-min-version, --tls-max-version: both ports, both directions (as etcd).
  net::TlsProtocolPolicy policy;
  policy.min_version = g.tls_min_version.empty() ? "TLS1.2" : g.tls_min_version;
  policy.max_version = g.tls_max_version;
  std::vector<std::string> suites = node::split_list(g.cipher_suites);
  if (auto ciphers = net::openssl_cipher_list(suites); !ciphers) {
    return ciphers.error();
  } else {
    policy.cipher_list = *ciphers;
  }
  if (auto e = net::check_tls_policy(policy, !suites.empty())) return *e;
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
    c.policy = policy;
    return c;
  };
  for (const std::string* crl : {&g.client_crl_file, &g.peer_crl_file})
    if (!crl->empty() && !std::ifstream(*crl)) return "open " + *crl + ": no such file or directory";
  bool any_client_tls = std::find(sc.client_listen_tls.begin(), sc.client_listen_tls.end(), true) !=
                            sc.client_listen_tls.end() ||
                        std::find(sc.metrics_listen_tls.begin(), sc.metrics_listen_tls.end(), true) !=
                            sc.metrics_listen_tls.end();
  if (any_client_tls) {
    auto c = server_config(g.cert_file, g.key_file, g.trusted_ca_file, g.client_cert_auth, g.auto_tls,
                           "client", g.listen_client_urls);
    if (!c) return c.error();
    c->crl_file = g.client_crl_file;
    c->allowed_client_hostnames = node::split_list(g.client_cert_allowed_hostname);
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
    c->crl_file = g.peer_crl_file;
    auto server = net::make_server_tls(*c);
    if (!server)
      return "peer TLS (--peer-cert-file " + c->cert_file + ", --peer-key-file " + c->key_file +
             "): " + server.error();
    // Dialing the other members: the peer certificate (or etcd 3.5's --peer-client-cert-file) is our
    // client certificate; with --peer-auto-tls nobody's certificate can be verified, so none is (etcd
    // does the same).
    net::TlsClientConfig cc;
    cc.cert_file = g.peer_client_cert_file.empty() ? c->cert_file : g.peer_client_cert_file;
    cc.key_file = g.peer_client_key_file.empty() ? c->key_file : g.peer_client_key_file;
    cc.ca_file = g.peer_trusted_ca_file;
    cc.insecure_skip_verify = self_signed;
    cc.alpn_h2 = false;
    cc.policy = policy;
    auto client = net::make_client_tls(cc);
    if (!client) return "peer TLS: " + client.error();
    sc.node.peer_transport.tls_server = server->server;
    sc.node.peer_transport.tls_client = *client;
    if (!g.peer_cert_allowed_cn.empty() && !g.peer_cert_allowed_hostname.empty())  // etcd's rule and words
      return "AllowedCN and AllowedHostname are mutually exclusive (cn=\"" + g.peer_cert_allowed_cn +
             "\", hostname=\"" + g.peer_cert_allowed_hostname + "\")";
    auto& rules = sc.node.peer_transport.cert_rules;
    rules.allowed_cn = g.peer_cert_allowed_cn;
    rules.allowed_hostname = g.peer_cert_allowed_hostname;
    // --peer-auto-tls certificates name this member's own hosts but nobody verifies them (etcd neither).
    rules.cert_must_match_member_url = !g.peer_skip_client_san_verification && !self_signed;
  }
  return std::nullopt;
}

}  // namespace cairn::server::app
