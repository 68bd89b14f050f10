// Internal: state shared by the server's acceptor and its connections (server.cc, http1.cc).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "server/net/call_metrics.h"
#include "server/net/server.h"
#include "wire/byte_stream.h"

namespace cairn::server::net {

namespace detail {

// A live connection as the server sees it, so shutdown() can reach it from any thread.
class ConnectionHandle {
 public:
  virtual ~ConnectionHandle() = default;
  // Thread-safe: posts to the connection's strand.
  virtual void begin_shutdown() = 0;
};

class OpenConnectionCount;

// Starts serving HTTP/1.1 on `stream`; `initial` holds the bytes read while sniffing.
void start_http1(std::shared_ptr<Server::Impl> server, std::shared_ptr<OpenConnectionCount> count,
                 std::unique_ptr<ByteStream> stream, std::string initial);

}  // namespace detail

// An HTTP route: a unary handler or a streaming one.
struct HttpRoute {
  HttpHandler unary;
  HttpStreamHandler stream;
  std::string stream_content_type;
};

struct Server::Impl {
  Impl(boost::asio::io_context& ioc, ServerLimits l) : ioc(ioc), limits(l) {}

  boost::asio::io_context& ioc;
  const ServerLimits limits;
  std::unordered_map<std::string, UnaryHandler> unary_routes;
  std::unordered_map<std::string, StreamHandler> stream_routes;
  std::map<std::pair<std::string, std::string>, HttpRoute> http_routes;  // (method, path)
  ServerStats stats;
  CallMetrics call_metrics;

  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  std::optional<boost::asio::local::stream_protocol::acceptor> unix_acceptor;  // listen_unix()
  std::uint16_t port = 0;
  std::string address;           // as given to listen()
  std::optional<ServerTls> tls;  // set before listen()
  HttpAccess http_access;        // set before listen()

  std::mutex mu;  // guards the two fields below
  std::unordered_map<detail::ConnectionHandle*, std::weak_ptr<detail::ConnectionHandle>> connections;
  bool shutting_down = false;

  // Returns false (and registers nothing) when the server is shutting down.
  bool register_connection(const std::shared_ptr<detail::ConnectionHandle>& c) {
    std::lock_guard lock(mu);
    if (shutting_down) return false;
    connections.emplace(c.get(), c);
    return true;
  }
  void unregister_connection(detail::ConnectionHandle* c) {
    std::lock_guard lock(mu);
    connections.erase(c);
  }
};

namespace detail {
// Keeps ServerStats::connections_open accurate for as long as a connection (or its sniffing) lives.
class OpenConnectionCount {
 public:
  explicit OpenConnectionCount(std::shared_ptr<Server::Impl> s) : server_(std::move(s)) {
    server_->stats.connections_open.fetch_add(1);
  }
  ~OpenConnectionCount() { server_->stats.connections_open.fetch_sub(1); }
  OpenConnectionCount(const OpenConnectionCount&) = delete;
  OpenConnectionCount& operator=(const OpenConnectionCount&) = delete;

 private:
  std::shared_ptr<Server::Impl> server_;
};
}  // namespace detail

}  // namespace cairn::server::net
