#include "server/app/subcommands.h"

#include <pthread.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "server/app/go_flags.h"
#include "server/gateway/tcp_proxy.h"
#include "server/node/url.h"

namespace cairn::server::app {

namespace {

constexpr const char* kGatewayHelp =
    "cairn gateway start: a TCP pass-through proxy to the cluster's client URLs.\n"
    "\n"
    "Usage:\n"
    "  cairn gateway start [flags]\n"
    "\n"
    "Flags:\n"
    "      --endpoints strings       comma-separated client endpoints, host:port (default [127.0.0.1:2379])\n"
    "      --listen-addr string      listen address (default \"127.0.0.1:23790\")\n"
    "      --retry-delay duration    how long an endpoint that refused a connection is skipped (default "
    "1m0s)\n"
    "      --discovery-srv string    DNS SRV discovery (not supported)\n"
    "      --discovery-srv-name string\n"
    "      --insecure-discovery      (accepted)\n"
    "      --trusted-ca-file string  (accepted: TLS passes through the proxy untouched)\n"
    "  -h, --help                    this help\n";

constexpr const char* kGrpcProxyRefusal =
    "cairn grpc-proxy: etcd's gRPC proxy is not supported by cairn. Point clients at the members' client "
    "URLs (every member serves reads and forwards writes), or use `cairn gateway start` for a TCP proxy.\n";

// pflag's syntax (etcd's subcommands use cobra): --name=value or --name value, bools alone.
int gateway_start(const std::vector<std::string>& args) {
  gateway::TcpProxyOptions o;
  o.endpoints = {"127.0.0.1:2379"};
  bool endpoints_given = false;
  std::string listen = "127.0.0.1:23790", discovery;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    if (a == "-h" || a == "--help") {
      std::fputs(kGatewayHelp, stdout);
      return 0;
    }
    auto eq = a.find('=');
    bool has_value = eq != std::string::npos;
    std::string name = has_value ? a.substr(0, eq) : a;
    if (has_value) value = a.substr(eq + 1);
    if (name == "--insecure-discovery") continue;
    if (name != "--endpoints" && name != "--listen-addr" && name != "--retry-delay" &&
        name != "--discovery-srv" && name != "--discovery-srv-name" && name != "--trusted-ca-file") {
      std::fprintf(stderr, "Error: unknown flag: %s\n%s", name.c_str(), kGatewayHelp);
      return 1;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "Error: flag needs an argument: %s\n", name.c_str());
        return 1;
      }
      value = args[++i];
    }
    if (name == "--endpoints") {
      if (!endpoints_given) o.endpoints.clear();
      endpoints_given = true;
      for (const auto& e : node::split_list(value))
        o.endpoints.push_back(e);
    } else if (name == "--listen-addr") {
      listen = value;
    } else if (name == "--retry-delay") {
      auto d = go_parse_duration(value);
      if (!d) {
        std::fprintf(stderr, "Error: invalid argument \"%s\" for \"--retry-delay\" flag: %s\n", value.c_str(),
                     d.error().c_str());
        return 1;
      }
      o.retry_delay = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    } else if (name == "--discovery-srv") {
      discovery = value;
    }
  }
  if (!discovery.empty()) {
    std::fprintf(stderr,
                 "cairn gateway: --discovery-srv is not supported; list the members with --endpoints\n");
    return 1;
  }
  for (const auto& e : o.endpoints) {
    std::string h;
    uint16_t p = 0;
    if (!gateway::split_host_port(e, &h, &p)) {
      std::fprintf(stderr, "cairn gateway: endpoint %s is not host:port\n", e.c_str());
      return 1;
    }
  }
  if (!gateway::split_host_port(listen, &o.listen_host, &o.listen_port)) {
    std::fprintf(stderr, "cairn gateway: --listen-addr %s is not host:port\n", listen.c_str());
    return 1;
  }
  if (o.listen_host == "localhost") o.listen_host = "127.0.0.1";
  boost::asio::io_context ioc;
  gateway::TcpProxy proxy(ioc, o);
  if (auto ec = proxy.listen()) {
    std::fprintf(stderr, "cairn gateway: listen on %s: %s\n", listen.c_str(), ec.message().c_str());
    return 1;
  }
  std::string eps;
  for (const auto& e : o.endpoints)
    eps += (eps.empty() ? "" : ",") + e;
  std::fprintf(stderr, "cairn gateway: ready to proxy client requests to [%s] on %s:%u\n", eps.c_str(),
               o.listen_host.c_str(), proxy.port());
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    proxy.shutdown();
    ioc.stop();
  });
  std::thread extra([&] {
    pthread_setname_np(pthread_self(), "cairn-gw-net");
    ioc.run();
  });
  ioc.run();
  extra.join();
  return 0;
}

}  // namespace

bool is_subcommand(std::string_view arg) {
  return arg == "gateway" || arg == "grpc-proxy";
}

int run_subcommand(int argc, char** argv) {
  std::string cmd = argv[0];
  std::vector<std::string> args(argv + 1, argv + argc);
  if (cmd == "grpc-proxy") {
    std::fputs(kGrpcProxyRefusal, stderr);
    return 1;
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(kGatewayHelp, stdout);
    return 0;
  }
  if (args[0] != "start") {
    std::fprintf(stderr, "Error: unknown command \"%s\" for \"cairn gateway\"\n%s", args[0].c_str(),
                 kGatewayHelp);
    return 1;
  }
  return gateway_start(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace cairn::server::app
