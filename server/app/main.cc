// cairn: the server binary. Threads: the network io_context (client server and peer transport) runs
// on kNetThreads threads; the node (raft, WAL, store) runs on its own thread (server/node/node.h).
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <thread>
#include <vector>

#include "server/api/services.h"
#include "server/app/flags.h"
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
#if __has_include("server/lock/install.h")
#include "server/lock/install.h"
#define CAIRN_HAVE_LOCK 1
#endif

namespace {
constexpr int kNetThreads = 2;
}

int main(int argc, char** argv) {
  using namespace cairn::server;
  auto parsed = app::parse_flags(argc, argv);
  if (!parsed) {
    const auto& e = parsed.error();
    std::fprintf(e.code == 0 ? stdout : stderr, "%s%s", e.message.c_str(),
                 e.message.empty() || e.message.back() == '\n' ? "" : "\n");
    return e.code;
  }
  app::ServerConfig cfg = std::move(*parsed);
  // Certificates are read (or generated) at startup; a bad one stops the member with status 1, as etcd.
  if (auto e = app::setup_tls(cfg)) {
    std::fprintf(stderr, "cairn: %s\n", e->c_str());
    return 1;
  }
  boost::asio::io_context ioc;
  auto guard = boost::asio::make_work_guard(ioc);
  node::Node node(cfg.node);

  net::ServerLimits limits;
  limits.message_bytes_max = cfg.node.max_request_bytes + net::kGrpcOverheadBytes;
  limits.http_body_bytes_max = limits.message_bytes_max;
  limits.shutdown_grace = std::chrono::milliseconds(2000);
  std::vector<std::unique_ptr<net::Server>> servers;
  std::vector<net::Server*> server_ptrs;
  for (size_t i = 0; i < cfg.client_listen.size(); ++i) {
    servers.push_back(std::make_unique<net::Server>(ioc, limits));
    if (cfg.client_listen_tls[i]) servers.back()->set_tls(*cfg.client_tls);
    api::register_all(*servers.back(), node);
    server_ptrs.push_back(servers.back().get());
  }
  std::vector<std::shared_ptr<void>> components;
#ifdef CAIRN_HAVE_LEASE
  components.push_back(lease::install(node, server_ptrs));
#endif
#ifdef CAIRN_HAVE_WATCH
  components.push_back(watch::install(node, server_ptrs));
#endif
#ifdef CAIRN_HAVE_LOCK
  components.push_back(lock::install(node, server_ptrs));
#endif
#ifdef CAIRN_HAVE_COMPACTOR
  components.push_back(compactor::install(node, server_ptrs));
#endif
  for (size_t i = 0; i < cfg.client_listen.size(); ++i) {
    const auto& ep = cfg.client_listen[i];
    if (auto ec = servers[i]->listen(ep.host, ep.port)) {
      std::fprintf(stderr, "cairn: listen on client URL %s:%u: %s\n", ep.host.c_str(), ep.port,
                   ec.message().c_str());
      return 1;
    }
  }
  auto started = node.start(ioc);
  if (!started) {
    std::fprintf(stderr, "cairn: %s\n", started.error().c_str());
    for (auto& s : servers)
      s->shutdown();
    return 1;
  }
  std::fprintf(stderr, "cairn: member %llx (%s) serving clients on %s, peers on %s:%u, cluster state %s\n",
               static_cast<unsigned long long>(cfg.node.member_id), cfg.node.name.c_str(),
               cfg.flags.listen_client_urls.c_str(), cfg.node.listen_peer_host.c_str(),
               cfg.node.listen_peer_port, cfg.flags.initial_cluster_state.c_str());

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    std::fprintf(stderr, "cairn: shutting down\n");
    for (auto& s : servers)
      s->shutdown();
    node.stop();
    guard.reset();
    ioc.stop();
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < kNetThreads; ++i)
    threads.emplace_back([&] { ioc.run(); });
  for (auto& t : threads)
    t.join();
  node.stop();
  return 0;
}
