// Where a Channel or the peer transport dials (or a server listens): host and port or a unix socket path
// and, for TLS, the client context to use.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace cairn::wire {

class TlsContext;
class ByteStream;

struct Endpoint {
  Endpoint() = default;
  // Not an aggregate, so that {host, port} keeps compiling warning-free as fields are added.
  Endpoint(std::string h, std::uint16_t p) : host(std::move(h)), port(p) {}

  std::string host;  // numeric address or name
  std::uint16_t port = 0;
  // Dial TLS with this client context (make_client_tls); null: plain TCP.
  std::shared_ptr<const TlsContext> tls;
  // The name the server's certificate must be valid for, and the SNI; empty: `host`.
  std::string tls_server_name;
  // Non-empty: a unix domain socket (etcd's unix://NAME:PORT URLs name the socket file "NAME:PORT");
  // host and port are then only for logs.
  std::string unix_path;
  // Set: an in-process endpoint (Server::in_process_endpoint): dialling calls this for a connected
  // stream on the given executor instead of opening a socket; host and port are then only for logs.
  std::function<std::unique_ptr<ByteStream>(boost::asio::any_io_executor)> dial;
};

}  // namespace cairn::wire
