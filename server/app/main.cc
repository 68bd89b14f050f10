// cairn: the server binary. Threads: the network io_context (client servers, metrics servers and the peer
// transport) runs on kNetThreads threads; the node (raft, WAL, store) runs on its own thread
// (server/node/node.h). `cairn gateway ...` and `cairn grpc-proxy ...` are etcd's subcommands
// (server/app/subcommands.h).
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "server/api/services.h"
#include "server/app/flags.h"
#include "server/app/subcommands.h"
#include "server/app/systemd_notify.h"
#include "server/corrupt/chain_check.h"
#include "server/corrupt/install.h"
#include "server/disk/guard.h"
#include "server/disk/quota_sync.h"
#include "server/log/log.h"
// Components beside the node. Each has `std::shared_ptr<void> install(node::Node&, const
// std::vector<net::Server*>&)`: it registers its NodeObserver and its routes on every client server,
// and the returned handle keeps it alive. Called before Node::start().
#if __has_include("server/lease/install.h")
#include "server/lease/install.h"
#define CAIRN_HAVE_LEASE 1
#endif
#if __has_include("server/watch/install.h")
#include "server/watch/install.h"
#define CAIRN_HAVE_WATCH 1
#endif
#if __has_include("server/compactor/install.h")
#include "server/compactor/install.h"
#define CAIRN_HAVE_COMPACTOR 1
#endif
#if __has_include("server/dashboard/install.h")
#include "server/dashboard/install.h"
#define CAIRN_HAVE_DASHBOARD 1
#endif
#if __has_include("server/lock/install.h")
#include "server/lock/install.h"
#define CAIRN_HAVE_LOCK 1
#endif

namespace {

using namespace cairn::server;

constexpr int kNetThreads = 2;

// --log-outputs: the log is this process's stderr; stdout or a file (appended) take its place.
std::optional<std::string> setup_log_output(const app::Flags& f) {
  const std::string& out = f.log_outputs;
  if (out.empty() || out == "default" || out == "stderr") return std::nullopt;
  int fd = -1;
  if (out == "stdout") {
    fd = STDOUT_FILENO;
  } else if (out.rfind("systemd/journal", 0) == 0) {
    return std::string("--log-outputs=systemd/journal: cairn writes to stderr (journald captures it)");
  } else {
    fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return "open " + out + ": " + std::strerror(errno);
  }
  if (::dup2(fd, STDERR_FILENO) < 0) return std::string("--log-outputs: ") + std::strerror(errno);
  if (fd != STDOUT_FILENO) ::close(fd);
  return std::nullopt;
}

net::ServerLimits server_limits(const app::ServerConfig& cfg) {
  auto ms = [](app::GoDuration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
  net::ServerLimits limits;
  limits.message_bytes_max = cfg.node.max_request_bytes + net::kGrpcOverheadBytes;
  limits.http_body_bytes_max = limits.message_bytes_max;
  limits.shutdown_grace = std::chrono::milliseconds(2000);
  limits.concurrent_streams_max = static_cast<uint32_t>(cfg.flags.max_concurrent_streams);
  limits.keepalive_min_ping_interval = ms(cfg.flags.grpc_keepalive_min_time);
  limits.keepalive_time = ms(cfg.flags.grpc_keepalive_interval);
  limits.keepalive_timeout = ms(cfg.flags.grpc_keepalive_timeout);
  return limits;
}

boost::system::error_code listen_on(net::Server& s, const net::Endpoint& ep) {
  if (!ep.unix_path.empty()) return s.listen_unix(ep.unix_path);
  return s.listen(ep.host, ep.port);
}

std::string where(const net::Server& s, const net::Endpoint& ep) {
  if (!ep.unix_path.empty()) return "unix:" + ep.unix_path;
  return ep.host + ":" + std::to_string(s.port());
}

// The gateway's old prefixes (etcd 3.4 serves /v3beta; /v3alpha is etcd 3.2/3.3's), or no gateway at all.
void finish_gateway_routes(net::Server& s, const app::Flags& f) {
  if (!f.enable_grpc_gateway) {
    s.drop_http_routes("/v3/");
    return;
  }
  s.alias_http_routes("/v3/", "/v3beta/");
  s.alias_http_routes("/v3/", "/v3alpha/");
#ifdef CAIRN_HAVE_DASHBOARD
  // The dashboard is a gateway client: without the gateway it has nothing to show.
  if (f.enable_dashboard) dashboard::add_routes(s);
#endif
}

std::vector<std::shared_ptr<void>> install_components(node::Node& node,
                                                      const std::vector<net::Server*>& servers,
                                                      const app::ServerConfig& cfg) {
  std::vector<std::shared_ptr<void>> components;
#ifdef CAIRN_HAVE_LEASE
  components.push_back(lease::install(node, servers));
#endif
#ifdef CAIRN_HAVE_WATCH
  components.push_back(watch::install(node, servers));
#endif
#ifdef CAIRN_HAVE_LOCK
  components.push_back(lock::install(node, servers));
#endif
#ifdef CAIRN_HAVE_COMPACTOR
  components.push_back(compactor::install(node, servers));
#endif
  (void)cfg;
  return components;
}

// --disk-free-reserve-bytes over the data dir and, when it is elsewhere, the WAL dir.
disk::Options disk_options(const app::ServerConfig& cfg) {
  disk::Options o;
  o.reserve_bytes = static_cast<uint64_t>(cfg.flags.disk_free_reserve_bytes);  // >= 0: make_config
  o.dirs = {cfg.node.data_dir};
  if (!cfg.node.wal_dir.empty()) o.dirs.push_back(cfg.node.wal_dir);
  return o;
}

// --experimental-corrupt-check-time (or etcd 3.5's compact hash check, which cairn runs the same way),
// and the client TLS context for peers with https:// client URLs.
corrupt::Options corrupt_options(const app::ServerConfig& cfg) {
  const app::Flags& f = cfg.flags;
  corrupt::Options o;
  auto period = f.corrupt_check_time.count() > 0 ? f.corrupt_check_time
                : f.compact_hash_check_enabled   ? f.compact_hash_check_time
                                                 : app::GoDuration(0);
  o.period = std::chrono::duration_cast<std::chrono::milliseconds>(period);
  net::TlsClientConfig tc;
  tc.ca_file = f.trusted_ca_file;
  tc.cert_file = f.client_cert_file.empty() ? f.cert_file : f.client_cert_file;
  tc.key_file = f.client_key_file.empty() ? f.key_file : f.client_key_file;
  tc.insecure_skip_verify = f.auto_tls && f.trusted_ca_file.empty();
  if (auto c = net::make_client_tls(tc)) o.client_tls = *c;
  return o;
}

// Process-wide settings before anything starts: the log output, memory locking, certificates.
std::optional<std::string> prepare_process(app::ServerConfig& cfg) {
  // Flag and environment warnings come before logging starts, as plain text on stderr (etcd prints
  // its flag-parsing warnings before its logger exists too).
  for (const auto& w : cfg.warnings)
    std::fprintf(stderr, "cairn: %s\n", w.c_str());
  if (auto e = setup_log_output(cfg.flags)) return e;
  // The flag table admits only etcd's names for both (an unknown one is a flag error before this).
  log::configure(log::parse_format(cfg.flags.log_format).value_or(log::Format::kJson),
                 cfg.flags.debug ? log::Level::kDebug
                                 : log::parse_level(cfg.flags.log_level).value_or(log::Level::kInfo));
  if (cfg.flags.memory_mlock && ::mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
    return std::string("--experimental-memory-mlock: mlockall: ") + std::strerror(errno);
  // Certificates are read (or generated) at startup; a bad one stops the member with status 1, as etcd.
  return app::setup_tls(cfg);
}

// The client servers (every service, the components' routes) and the metrics-only servers, in the order
// of cfg.client_listen then cfg.metrics_listen.
struct Servers {
  std::vector<std::unique_ptr<net::Server>> all;
  std::vector<net::Server*> client;
  std::vector<std::shared_ptr<void>> components;
};

void build_servers(Servers& sv, boost::asio::io_context& ioc, node::Node& node,
                   const app::ServerConfig& cfg) {
  const net::ServerLimits limits = server_limits(cfg);
  for (size_t i = 0; i < cfg.client_listen.size(); ++i) {
    sv.all.push_back(std::make_unique<net::Server>(ioc, limits));
    if (cfg.client_listen_tls[i]) sv.all.back()->set_tls(*cfg.client_tls);
    sv.all.back()->set_http_access(net::HttpAccess::from_flags(cfg.flags.cors, cfg.flags.host_whitelist));
    api::register_all(*sv.all.back(), node);
    // --metrics=extensive: per-method latency histograms (etcd's grpc_server_handling_seconds).
    sv.all.back()->call_metrics().enable_histograms(cfg.flags.metrics == "extensive");
    sv.client.push_back(sv.all.back().get());
  }
  sv.components = install_components(node, sv.client, cfg);
  for (auto* s : sv.client)
    finish_gateway_routes(*s, cfg.flags);
  for (size_t i = 0; i < cfg.metrics_listen.size(); ++i) {
    sv.all.push_back(std::make_unique<net::Server>(ioc, limits));
    if (cfg.metrics_listen_tls[i]) sv.all.back()->set_tls(*cfg.client_tls);
    api::register_monitoring(*sv.all.back(), node, sv.client.empty() ? *sv.all.back() : *sv.client[0]);
  }
}

// Listens on every client and metrics URL; the text names where (ports chosen for port 0 included).
cairn::Expected<std::string, std::string> listen_all(Servers& sv, const app::ServerConfig& cfg) {
  std::vector<net::Endpoint> eps = cfg.client_listen;
  eps.insert(eps.end(), cfg.metrics_listen.begin(), cfg.metrics_listen.end());
  std::string serving;
  for (size_t i = 0; i < eps.size(); ++i) {
    if (auto ec = listen_on(*sv.all[i], eps[i]))
      return cairn::unexpected(std::string("listen on ") +
                               (i < cfg.client_listen.size() ? "client" : "metrics") + " URL " +
                               (eps[i].unix_path.empty() ? eps[i].host : eps[i].unix_path) + ":" +
                               std::to_string(eps[i].port) + ": " + ec.message());
    serving += (serving.empty() ? "" : ",") + where(*sv.all[i], eps[i]);
  }
  return serving;
}

// Starts the node; with --experimental-initial-corrupt-check the client URLs open only after the check
// passed, otherwise before the node starts (a busy port stops the member before it touches its data).
cairn::Expected<std::string, std::string> start_member(Servers& sv, boost::asio::io_context& ioc,
                                                       node::Node& node, const app::ServerConfig& cfg) {
  const corrupt::Options opts = corrupt_options(cfg);
  sv.components.push_back(corrupt::install(node, ioc, opts));
  sv.components.push_back(corrupt::install_chain_check(
      node, std::chrono::duration_cast<std::chrono::milliseconds>(cfg.flags.state_check_interval)));
  sv.components.push_back(disk::install(node, disk_options(cfg)));
  // --state-check-interval=0s holds back both of the leader's newer entry kinds (quota_sync.h: upgrades).
  sv.components.push_back(disk::install_quota_sync(
      node, {node.config().quota_backend_bytes, cfg.flags.state_check_interval.count() > 0}));
  if (!cfg.flags.initial_corrupt_check) {
    auto serving = listen_all(sv, cfg);
    if (!serving) return serving;
    if (auto started = node.start(ioc); !started) return cairn::unexpected(started.error());
    return serving;
  }
  if (auto started = node.start(ioc); !started) return cairn::unexpected(started.error());
  if (auto e = corrupt::initial_check(node, opts)) return cairn::unexpected(*e);
  return listen_all(sv, cfg);
}

std::string hex_id(uint64_t id) {
  char b[17];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(id));
  return b;
}

// The milestones etcd logs once a member serves (embed/serve.go), which scripts and operators wait for:
// per client URL "ready to serve client requests", then "serving client traffic insecurely; ..." or
// "serving client traffic securely", with its address; then cairn's own one-line summary.
void log_serving(const app::ServerConfig& cfg, const std::string& serving, const std::string& peers) {
  const std::string member = hex_id(cfg.node.member_id);
  size_t start = 0;
  for (size_t i = 0; i < cfg.client_listen.size() && start <= serving.size(); ++i) {
    size_t comma = serving.find(',', start);
    const std::string address =
        serving.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? serving.size() + 1 : comma + 1;
    log::info("ready to serve client requests", {{"local-member-id", member}});
    if (cfg.client_listen_tls[i])
      log::info("serving client traffic securely", {{"traffic", "grpc+http"}, {"address", address}});
    else
      log::warn("serving client traffic insecurely; this is strongly discouraged!", {{"address", address}});
  }
  log::info("member " + member + " (" + cfg.node.name + ") serving clients on " + serving + ", peers on " +
                peers + ", cluster state " + cfg.flags.initial_cluster_state,
            {{"local-member-id", member}, {"name", cfg.node.name}});
}

int run_member(app::ServerConfig cfg) {
  if (auto e = prepare_process(cfg)) {
    std::fprintf(stderr, "cairn: %s\n", e->c_str());
    return 1;
  }
  boost::asio::io_context ioc;
  auto guard = boost::asio::make_work_guard(ioc);
  node::Node node(cfg.node);
  Servers sv;
  build_servers(sv, ioc, node, cfg);
  auto serving = start_member(sv, ioc, node, cfg);
  if (!serving) {
    std::fprintf(stderr, "cairn: %s\n", serving.error().c_str());
    for (auto& s : sv.all)
      s->shutdown();
    node.stop();
    return 1;
  }
  const auto& nc = cfg.node;
  std::string peers = nc.listen_peer_unix.empty()
                          ? nc.listen_peer_host + ":" + std::to_string(nc.listen_peer_port)
                          : "unix:" + nc.listen_peer_unix;
  log_serving(cfg, *serving, peers);
  app::notify_ready("serving clients on " + *serving);
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    log::info("received signal; shutting down", {{"member-id", hex_id(nc.member_id)}});
    app::notify_stopping();
    for (auto& s : sv.all)
      s->shutdown();
    node.stop();
    guard.reset();
    ioc.stop();
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < kNetThreads; ++i)
    threads.emplace_back([&, i] {
      pthread_setname_np(pthread_self(), ("cairn-net-" + std::to_string(i)).c_str());
      ioc.run();
    });
  for (auto& t : threads)
    t.join();
  node.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && app::is_subcommand(argv[1])) return app::run_subcommand(argc - 1, argv + 1);
  auto parsed = app::parse_flags(argc, argv);
  if (!parsed) {
    const auto& e = parsed.error();
    std::FILE* out = e.code == 0 ? stdout : stderr;
    std::fprintf(out, "%s%s%s", e.code == 1 ? "cairn: " : "", e.message.c_str(),
                 e.message.empty() || e.message.back() == '\n' ? "" : "\n");
    return e.code;
  }
  return run_member(std::move(*parsed));
}
