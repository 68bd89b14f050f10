// The client-port server: gRPC over HTTP/2 (h2c, prior knowledge) and HTTP/1.1 on one TCP port, told
// apart by the HTTP/2 client connection preface. The network layer moves bytes: services parse protobuf.
//
// Threading: every connection lives on its own strand of the caller's io_context (run it from at most one
// thread per core). Handlers run on their connection's strand and must not block it: long work goes
// elsewhere and comes back through Completion<T> (completion.h). Routes are registered before listen().
// Lifecycle and limits: docs/network.md.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "server/metrics/families.h"
#include "server/net/call_metrics.h"
#include "server/net/http_access.h"
#include "server/net/limits.h"
#include "server/net/vocabulary.h"
#include "wire/byte_stream.h"
#include "wire/endpoint.h"
#include "wire/framing.h"
#include "wire/tls.h"

namespace cairn::server::net {

namespace detail {
struct ServerCall;
}

// What a handler knows about its call. Valid for the duration of the handler.
class ServerContext {
 public:
  explicit ServerContext(detail::ServerCall& call) : call_(&call) {}
  // ":path", e.g. "/etcdserverpb.KV/Range".
  const std::string& method() const;
  // Request headers other than pseudo-headers and the gRPC transport ones (te, content-type, grpc-*).
  const Metadata& metadata() const;
  std::optional<std::string_view> metadata_value(std::string_view name) const;
  // From grpc-timeout; when it passes the client gets DEADLINE_EXCEEDED and the handler is cancelled.
  std::optional<std::chrono::steady_clock::time_point> deadline() const;
  // True once the client reset the stream, the deadline passed or the connection closed.
  bool cancelled() const;
  const std::string& peer() const;
  // The verified client certificate's common name (a TLS port that requires client certificates);
  // empty otherwise.
  const std::string& peer_common_name() const;

 private:
  detail::ServerCall* call_;
};

// The message side of a streaming call (server-streaming and bidirectional).
class ServerStream {
 public:
  explicit ServerStream(detail::ServerCall& call) : call_(&call) {}
  // Next request message; nullopt once the client half-closed (or the call was cancelled).
  boost::asio::awaitable<std::optional<std::string>> read();
  // Queues one response message. Waits while the stream already holds
  // ServerLimits::stream_pending_write_bytes_max unsent bytes. False if the call is over (cancelled).
  boost::asio::awaitable<bool> write(std::string message);

 private:
  detail::ServerCall* call_;
};

// A response message already in gRPC's length-prefixed form, in pieces: the concatenation of `chunks`
// starts with the 5-byte prefix (wire.h kMessagePrefixBytes). A handler that builds a large response
// straight into these buffers (KV.Range) saves the copy frame_message() would make, and the pieces
// (about a MiB each) can reuse the memory the handler frees as it encodes: the server queues them as
// they are.
struct FramedMessage {
  std::vector<std::string> chunks;
  std::size_t size_bytes() const {
    std::size_t n = 0;
    for (const auto& c : chunks)
      n += c.size();
    return n;
  }
};

// A unary handler's answer: one response message (status OK) or an error status.
class Reply {
 public:
  Reply(std::string message) : value_(std::move(message)) {}  // NOLINT: implicit by design
  Reply(FramedMessage framed) : value_(std::move(framed)) {}  // NOLINT
  Reply(Status status) : value_(std::move(status)) {}         // NOLINT
  bool has_message() const { return !std::holds_alternative<Status>(value_); }
  bool is_framed() const { return std::holds_alternative<FramedMessage>(value_); }
  // The message without prefix; a framed reply is joined into one string first (a copy: the JSON
  // gateway's path, not the gRPC one).
  std::string& message();
  // The framed pieces (is_framed() only).
  FramedMessage& framed() { return std::get<FramedMessage>(value_); }
  Status& status() { return std::get<Status>(value_); }

 private:
  std::variant<std::string, FramedMessage, Status> value_;
};

using UnaryHandler = std::function<boost::asio::awaitable<Reply>(ServerContext&, std::string_view request)>;
// The returned status is the call's final status (sent in the trailers).
using StreamHandler = std::function<boost::asio::awaitable<Status>(ServerContext&, ServerStream&)>;

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // "/health?x=1"
  Metadata headers;    // lower-case names
  std::string body;
  std::string peer_common_name;  // as ServerContext::peer_common_name
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain";
  std::string body;
  Metadata headers;
};

// A unary HTTP handler. When the client closes its connection before the response is ready the handler
// is cancelled (Asio per-operation cancellation of what it awaits, e.g. Completion::wait), as Go's
// net/http cancels a request's context.
using HttpHandler = std::function<boost::asio::awaitable<HttpResponse>(const HttpRequest&)>;

// One streaming HTTP/1.1 exchange (the JSON gateway's /v3/watch, /v3/election/observe): the request body
// is handed over as it arrives and the response goes out with chunked transfer encoding, status 200.
// The connection closes when the handler returns. Bounds: read_body() holds at most one socket read of
// decoded body (the handler bounds what it accumulates); write() waits for the socket
// (ServerLimits::write_stall_timeout closes a client that does not read). One read and one write may be
// outstanding at once (from two coroutines on the connection's strand).
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  // The next request body bytes (chunked framing removed); nullopt once the body is complete or the
  // client went away.
  virtual boost::asio::awaitable<std::optional<std::string>> read_body() = 0;
  // Completes when the client closes the connection (bytes after the body are read and dropped).
  virtual boost::asio::awaitable<void> wait_closed() = 0;
  // Sends one chunk (the first call sends the status line and headers first). False once the client
  // is gone.
  virtual boost::asio::awaitable<bool> write(std::string bytes) = 0;
};
using HttpStreamHandler = std::function<boost::asio::awaitable<void>(const HttpRequest&, HttpStream&)>;

// Counters, readable from any thread (for /metrics and tests).
struct ServerStats {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_rejected{0};  // over connections_max
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> h2_connections{0};
  std::atomic<std::uint64_t> http1_connections{0};
  std::atomic<std::uint64_t> handshake_timeouts{0};
  // TLS port: handshakes that failed (bad or missing client certificate, not TLS at all).
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::atomic<std::uint64_t> calls_started{0};
  std::atomic<std::uint64_t> calls_cancelled{0};
  std::atomic<std::uint64_t> streams_refused{0};
  std::atomic<std::uint64_t> protocol_errors{0};       // HTTP/2 input nghttp2 rejected (GOAWAY sent)
  std::atomic<std::uint64_t> keepalive_pings_sent{0};  // server keepalive PINGs (idle connections)
  std::atomic<std::uint64_t> keepalive_timeouts{0};    // connections closed: PING not answered in time
  // Response bytes queued in all streams and not yet handed to nghttp2, and the highest value seen: the
  // bound on this is what keeps never-reading clients from growing server memory.
  std::atomic<std::uint64_t> pending_write_bytes{0};
  std::atomic<std::uint64_t> pending_write_bytes_peak{0};
  // gRPC message bytes (length-prefixed frames) received from and sent to clients:
  // etcd_network_client_grpc_{received,sent}_bytes_total.
  std::atomic<std::uint64_t> grpc_received_bytes{0};
  std::atomic<std::uint64_t> grpc_sent_bytes{0};
  // Unary calls refused with "etcdserver: too many requests" while pending_write_bytes was at or over
  // ServerLimits::pending_write_bytes_max.
  std::atomic<std::uint64_t> calls_refused_pending_write{0};
};

// The counters above as metric families (cairn_net_* and etcd's client gRPC byte counters), and the same
// in Prometheus text format (for a /metrics route).
void collect_prometheus(const ServerStats& stats, metrics::Families& out);
std::string render_prometheus(const ServerStats& stats);

class Server {
 public:
  explicit Server(boost::asio::io_context& ioc, ServerLimits limits = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes; register before listen(). `path` is the gRPC :path ("/pkg.Service/Method").
  void add_unary(std::string path, UnaryHandler handler);
  void add_stream(std::string path, StreamHandler handler);
  void add_http(std::string method, std::string target, HttpHandler handler);
  // `content_type` is the streamed response's (e.g. "application/json").
  void add_http_stream(std::string method, std::string target, std::string content_type,
                       HttpStreamHandler handler);

  // Serve TLS (from make_server_tls) instead of plain text; call before listen(). Every connection then
  // starts with a TLS handshake within ServerLimits::handshake_timeout; plain-text HTTP gets Go's
  // "400 Client sent an HTTP request to an HTTPS server." and other non-TLS bytes a close.
  void set_tls(ServerTls tls);
  bool tls() const;
  // Browser access to the HTTP/1.1 side (--cors, --host-whitelist; http_access.h). Call before listen();
  // the default sends no CORS headers and accepts every Host.
  void set_http_access(HttpAccess access);

  // Binds (port 0: the OS chooses) and starts accepting.
  boost::system::error_code listen(const std::string& address, std::uint16_t port);
  // Listens on a unix domain socket (etcd's unix:// client URLs), replacing a stale socket file. Plain
  // text only. May be called instead of listen() or in addition to it.
  boost::system::error_code listen_unix(const std::string& path);
  // Serves every HTTP route under `from_prefix` also under `to_prefix` (etcd 3.4's gateway answers
  // /v3beta/... as /v3/...). Routes already registered under the new path are kept.
  void alias_http_routes(std::string_view from_prefix, std::string_view to_prefix);
  // Removes the HTTP routes whose path starts with `prefix` (--enable-grpc-gateway=false drops "/v3").
  void drop_http_routes(std::string_view prefix);
  std::uint16_t port() const;
  // Serves one already connected stream exactly as an accepted connection (sniffing, HTTP/2 or HTTP/1.1,
  // limits), for in-memory transports: the fuzz targets feed hostile bytes through it. Plain text only.
  void serve_stream(std::unique_ptr<ByteStream> stream);
  // How this process reaches its own listener with a Channel: the listen address (127.0.0.1 for a
  // wildcard one), the port, and for a TLS port the loopback client context (see ServerTls).
  Endpoint self_endpoint() const;
  // How this process calls its own routes without a socket: dialling the endpoint connects an in-memory
  // pipe (memory_pipe.h) served as an accepted plain-text connection, whose calls see
  // `caller_common_name` as their verified client certificate's CN (the identity of the outside call
  // being served, so an inner call may do exactly what the caller may). Valid while the server lives.
  Endpoint in_process_endpoint(std::string caller_common_name) const;

  // Thread-safe, returns at once. Stops accepting, sends GOAWAY to every HTTP/2 connection, lets in-flight
  // calls finish (up to ServerLimits::shutdown_grace, then cancels them) and closes every connection.
  // The io_context runs out of work once everything is closed.
  void shutdown();

  const ServerStats& stats() const;
  // Per-method gRPC counters (and, once enabled, latency histograms) of this server's calls.
  CallMetrics& call_metrics();
  const CallMetrics& call_metrics() const;
  const ServerLimits& limits() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cairn::server::net
