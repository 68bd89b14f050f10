// `cairn gateway start`: etcd's L4 gateway, a stateless TCP pass-through proxy in front of the cluster's
// client URLs (etcd's proxy/tcpproxy). Each accepted connection is spliced to one endpoint, chosen at
// random among those not marked failed; an endpoint that refuses a dial is skipped for retry_delay.
// Nothing is parsed: gRPC, the JSON gateway and TLS pass through untouched.
//
// Bounds: connections_max open client connections (more are closed at once); each one holds two
// buffer_bytes buffers. A dial waits at most dial_timeout per endpoint.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cairn::server::gateway {

struct TcpProxyOptions {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 23790;
  std::vector<std::string> endpoints;  // "host:port"
  std::chrono::milliseconds retry_delay{60'000};
  std::chrono::milliseconds dial_timeout{1'000};
  size_t connections_max = 10'000;
  size_t buffer_bytes = 16 * 1024;
};

struct TcpProxyStats {
  uint64_t accepted = 0;
  uint64_t rejected = 0;  // over connections_max, or no endpoint reachable
  uint64_t dial_failures = 0;
};

class TcpProxy {
 public:
  TcpProxy(boost::asio::io_context& ioc, TcpProxyOptions options);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Binds (port 0: any) and starts accepting on the io_context.
  boost::system::error_code listen();
  uint16_t port() const;
  // Stops accepting and closes every spliced connection. Thread-safe.
  void shutdown();
  TcpProxyStats stats() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Parses "host:port" (IPv6 in brackets). False if malformed.
bool split_host_port(const std::string& hp, std::string* host, uint16_t* port);

}  // namespace cairn::server::gateway
