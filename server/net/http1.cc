// HTTP/1.1 on the client port (health, version, metrics, the JSON gateway, the dashboard), parsed with
// Beast's buffer-oriented request_parser so it runs over any ByteStream.
//
// While a unary handler runs, the connection keeps reading: bytes of a pipelined next request are kept
// (up to one request's bounds), and end of stream cancels the handler (the client went away, as Go's
// net/http cancels the request context). A streaming route (HttpStream) takes over the connection
// once the request header is parsed and the connection closes after it.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>

#include "server/net/server_internal.h"

namespace cairn::server::net::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {

using RequestParser = http::request_parser<http::string_body>;

class Http1Connection final : public ConnectionHandle, public std::enable_shared_from_this<Http1Connection> {
 public:
  Http1Connection(std::shared_ptr<Server::Impl> server, std::shared_ptr<OpenConnectionCount> count,
                  std::unique_ptr<ByteStream> stream)
      : server_(std::move(server)),
        count_(std::move(count)),
        stream_(std::move(stream)),
        timer_(stream_->get_executor()) {}

  void start(std::string initial) {
    auto self = shared_from_this();
    if (!server_->register_connection(self)) {
      stream_->close();
      return;
    }
    asio::co_spawn(stream_->get_executor(), run(std::move(initial)), [self](std::exception_ptr) {
      self->disarm();
      self->stream_->close();
      self->server_->unregister_connection(self.get());
    });
  }

  void begin_shutdown() override {
    auto self = shared_from_this();
    asio::post(stream_->get_executor(), [self] {
      self->shutting_down_ = true;
      // A stream (a watch) has no natural end: it is closed, and its client reconnects elsewhere.
      if (self->idle_ || self->streaming_) self->stream_->close();
    });
  }

 private:
  // Closes the stream if the current phase (waiting for / reading a request) takes longer than `d`.
  void arm(std::chrono::milliseconds d) {
    ++generation_;
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this(), gen = generation_](boost::system::error_code ec) {
      if (!ec && gen == self->generation_) self->stream_->close();
    });
  }
  void disarm() {
    ++generation_;
    timer_.cancel();
  }

  awaitable<bool> write(std::string bytes) {
    arm(server_->limits.write_stall_timeout);  // a client that does not read its responses is dropped
    IoResult r = co_await stream_->write_all(asio::buffer(bytes));
    disarm();
    co_return !r.ec;
  }

  // `allow_origin`: the CORS origin to allow (HttpAccess::allow_origin), if any.
  static std::string serialize(const HttpResponse& r, bool keep_alive,
                               const std::optional<std::string>& allow_origin = std::nullopt) {
    http::response<http::string_body> res;
    res.version(11);
    res.result(r.status);
    res.set(http::field::content_type, r.content_type);
    if (allow_origin) {  // the headers etcd sends with an allowed origin (wire-compat doc 1.12)
      res.set(http::field::access_control_allow_origin, *allow_origin);
      res.set(http::field::access_control_allow_methods, "POST, GET, OPTIONS, PUT, DELETE");
      res.set(http::field::access_control_allow_headers, "accept, content-type, authorization");
    }
    for (const auto& [k, v] : r.headers)
      res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    std::ostringstream os;
    os << res;
    return std::move(os).str();
  }

  static HttpResponse error_response(unsigned status, std::string text) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(text) + "\n";
    return r;
  }

  HttpRequest describe(const http::request<http::string_body>& req) const {
    HttpRequest out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.peer_common_name = stream_->peer_common_name();
    return out;
  }

  // --host-whitelist guards plain-text HTTP against DNS rebinding (http_access.h); TLS is not checked.
  std::optional<HttpResponse> refused_host(const http::request<http::string_body>& req) const {
    std::string_view host(req[http::field::host].data(), req[http::field::host].size());
    if (server_->tls || server_->http_access.host_allowed(host)) return std::nullopt;
    return error_response(421, misdirected_host_text(host_without_port(host)));
  }

  const HttpRoute* route_of(const http::request<http::string_body>& req) const {
    std::string_view target = req.target();
    auto it = server_->http_routes.find(
        {std::string(req.method_string()), std::string(target.substr(0, target.find('?')))});
    return it == server_->http_routes.end() ? nullptr : &it->second;
  }

  awaitable<HttpResponse> dispatch(const HttpRequest& req) {
    if (req.method == "OPTIONS") co_return HttpResponse{};
    std::string path = req.target.substr(0, req.target.find('?'));
    auto it = server_->http_routes.find({req.method, path});
    if (it == server_->http_routes.end() || !it->second.unary)
      co_return error_response(404, "404 page not found");
    co_return co_await it->second.unary(req);
  }

  // Reads while a unary handler runs; returns when the client closed the connection. Bytes that arrive
  // (a pipelined request) are kept in `buf` up to one request's bounds, then reading pauses.
  awaitable<void> watch_disconnect(std::string& buf) {
    const std::size_t keep_bytes_max = server_->limits.header_bytes_max + server_->limits.http_body_bytes_max;
    std::array<char, 4096> tmp{};
    while (buf.size() < keep_bytes_max) {
      IoResult r = co_await stream_->read_some(asio::buffer(tmp));
      if (r.ec) co_return;
      buf.append(tmp.data(), r.bytes);
    }
    // Paused until the handler finishes (which cancels this wait: it throws, and never wins).
    asio::steady_timer forever(stream_->get_executor(), asio::steady_timer::time_point::max());
    co_await forever.async_wait(use_awaitable);
  }

  // Runs the handler; nullopt if the client went away first (the handler was cancelled).
  awaitable<std::optional<HttpResponse>> dispatch_watched(const HttpRequest& req, std::string& buf) {
    auto v = co_await (dispatch(req) || watch_disconnect(buf));
    if (v.index() == 1) {
      server_->stats.calls_cancelled.fetch_add(1);
      co_return std::nullopt;
    }
    co_return std::move(std::get<0>(v));
  }

  class Stream;
  awaitable<void> serve_stream(const HttpRoute& route, RequestParser& parser, std::string& buf);

  awaitable<void> run(std::string buf) {
    const ServerLimits& limits = server_->limits;
    std::array<char, 8192> tmp{};
    bool first = true;
    while (true) {
      RequestParser parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes_max));
      parser.body_limit(limits.http_body_bytes_max);
      parser.eager(true);
      bool continue_sent = false;
      bool stream_checked = false;
      idle_ = buf.empty();
      if (idle_ && shutting_down_) co_return;
      arm(first || !idle_ ? limits.handshake_timeout : limits.idle_timeout);
      while (!parser.is_done()) {
        boost::beast::error_code ec;
        std::size_t n = buf.empty() ? 0 : parser.put(asio::buffer(buf), ec);
        buf.erase(0, n);
        if (ec && ec != http::error::need_more) {
          unsigned status = ec == http::error::header_limit ? 431 : ec == http::error::body_limit ? 413 : 400;
          co_await write(serialize(error_response(status, ec.message()), false));
          co_return;
        }
        if (parser.is_header_done() && !stream_checked) {
          stream_checked = true;
          if (const HttpRoute* route = route_of(parser.get()); route && route->stream) {
            if (auto refused = refused_host(parser.get())) {
              co_await write(serialize(*refused, false));
              co_return;
            }
            disarm();
            co_await serve_stream(*route, parser, buf);
            co_return;
          }
        }
        if (parser.is_done()) break;
        if (parser.is_header_done() && !continue_sent) {
          continue_sent = true;
          auto expect = parser.get()[http::field::expect];
          if (expect.size() == 12 && boost::beast::iequals(expect, "100-continue")) {
            if (!co_await write("HTTP/1.1 100 Continue\r\n\r\n")) co_return;
            arm(limits.handshake_timeout);
          }
        }
        if (n > 0 && !ec && !buf.empty()) continue;
        IoResult r = co_await stream_->read_some(asio::buffer(tmp));
        if (r.ec) co_return;
        if (idle_) {
          idle_ = false;
          arm(limits.handshake_timeout);  // a started request must complete in time (slowloris)
        }
        buf.append(tmp.data(), r.bytes);
      }
      disarm();
      first = false;
      const auto& req = parser.get();
      bool keep_alive = req.keep_alive() && !shutting_down_;
      std::optional<HttpResponse> response = refused_host(req);
      if (!response) {
        HttpRequest request = describe(req);
        request.body = req.body();
        response = co_await dispatch_watched(request, buf);
        if (!response) co_return;
      }
      std::optional<std::string> origin;
      if (auto it = req.find(http::field::origin); it != req.end()) origin = std::string(it->value());
      if (!co_await write(serialize(*response, keep_alive, server_->http_access.allow_origin(origin))))
        co_return;
      if (!keep_alive) co_return;
    }
  }

  std::shared_ptr<Server::Impl> server_;
  std::shared_ptr<OpenConnectionCount> count_;
  std::unique_ptr<ByteStream> stream_;
  asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
  bool idle_ = true;
  bool streaming_ = false;
  bool shutting_down_ = false;
};

// HttpStream over the connection: body bytes from the live parser, chunked writes.
class Http1Connection::Stream final : public HttpStream {
 public:
  Stream(Http1Connection& c, RequestParser& parser, std::string& buf, std::string content_type)
      : c_(c), parser_(parser), buf_(buf), content_type_(std::move(content_type)) {}

  awaitable<std::optional<std::string>> read_body() override {
    std::array<char, 8192> tmp{};
    for (;;) {
      std::string& body = parser_.get().body();
      if (!body.empty()) co_return std::exchange(body, std::string());
      if (gone_ || parser_.is_done()) co_return std::nullopt;
      if (!buf_.empty()) {
        boost::beast::error_code ec;
        std::size_t n = parser_.put(asio::buffer(buf_), ec);
        buf_.erase(0, n);
        if (ec && ec != http::error::need_more) {
          gone_ = true;  // malformed framing: nothing more can be read
          co_return std::nullopt;
        }
        if (n > 0) continue;
      }
      IoResult r = co_await c_.stream_->read_some(asio::buffer(tmp));
      if (r.ec) {
        gone_ = true;
        co_return std::nullopt;
      }
      buf_.append(tmp.data(), r.bytes);
    }
  }

  awaitable<void> wait_closed() override {
    std::array<char, 4096> tmp{};
    while (!gone_) {
      IoResult r = co_await c_.stream_->read_some(asio::buffer(tmp));
      if (r.ec) gone_ = true;
    }
  }

  awaitable<bool> write(std::string bytes) override {
    if (bytes.empty()) co_return !broken_;  // an empty chunk would end the response
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
    co_return co_await send(size + std::move(bytes) + "\r\n");
  }

  // Ends the chunked body (the headers alone when nothing was written).
  awaitable<void> finish() { (void)co_await send("0\r\n\r\n"); }

 private:
  awaitable<bool> send(std::string chunk) {
    if (broken_) co_return false;
    std::string out;
    if (!started_) {
      started_ = true;
      out = "HTTP/1.1 200 OK\r\nContent-Type: " + content_type_ +
            "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n"
            "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n\r\n";
    }
    out += chunk;
    broken_ = true;  // until the write completes: a cancelled or failed write leaves a partial chunk
    if (!co_await c_.write(std::move(out))) co_return false;
    broken_ = false;
    co_return true;
  }

  Http1Connection& c_;
  RequestParser& parser_;
  std::string& buf_;
  std::string content_type_;
  bool started_ = false;
  bool broken_ = false;
  bool gone_ = false;
};

awaitable<void> Http1Connection::serve_stream(const HttpRoute& route, RequestParser& parser,
                                              std::string& buf) {
  // The body of a stream has no total bound (a watch sends requests for as long as it lives); what is
  // buffered at once is bounded by the reads above and the handler.
  parser.body_limit(boost::none);
  streaming_ = true;
  if (shutting_down_) co_return;
  auto expect = parser.get()[http::field::expect];
  if (boost::beast::iequals(expect, "100-continue") && !co_await write("HTTP/1.1 100 Continue\r\n\r\n"))
    co_return;
  HttpRequest request = describe(parser.get());
  Stream s(*this, parser, buf, route.stream_content_type);
  try {
    co_await route.stream(request, s);
  } catch (const std::exception&) {
    co_return;  // cancelled mid-operation: the connection closes
  }
  co_await s.finish();
}

}  // namespace

void start_http1(std::shared_ptr<Server::Impl> server, std::shared_ptr<OpenConnectionCount> count,
                 std::unique_ptr<ByteStream> stream, std::string initial) {
  auto c = std::make_shared<Http1Connection>(std::move(server), std::move(count), std::move(stream));
  c->start(std::move(initial));
}

}  // namespace cairn::server::net::detail
