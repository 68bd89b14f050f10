// HTTP/1.1 on the client port (health, version, metrics, later the JSON gateway), parsed with Beast's
// buffer-oriented request_parser so it runs over any ByteStream.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
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

namespace {

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
      if (self->idle_) self->stream_->close();
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

  awaitable<HttpResponse> dispatch(const http::request<http::string_body>& req, HttpRequest& out) {
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.body = req.body();
    out.peer_common_name = stream_->peer_common_name();
    // --host-whitelist guards plain-text HTTP against DNS rebinding (http_access.h); TLS is not checked.
    std::string_view host(req[http::field::host].data(), req[http::field::host].size());
    if (!server_->tls && !server_->http_access.host_allowed(host))
      co_return error_response(421, misdirected_host_text(host_without_port(host)));
    if (out.method == "OPTIONS") co_return HttpResponse{};
    std::string path = out.target.substr(0, out.target.find('?'));
    auto it = server_->http_routes.find({out.method, path});
    if (it == server_->http_routes.end()) co_return error_response(404, "404 page not found");
    co_return co_await it->second(out);
  }

  awaitable<void> run(std::string buf) {
    const ServerLimits& limits = server_->limits;
    std::array<char, 8192> tmp{};
    bool first = true;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes_max));
      parser.body_limit(limits.http_body_bytes_max);
      parser.eager(true);
      bool continue_sent = false;
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
      HttpRequest request;
      HttpResponse response = co_await dispatch(req, request);
      std::optional<std::string> origin;
      if (auto it = req.find(http::field::origin); it != req.end()) origin = std::string(it->value());
      if (!co_await write(serialize(response, keep_alive, server_->http_access.allow_origin(origin))))
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
  bool shutting_down_ = false;
};

}  // namespace

void start_http1(std::shared_ptr<Server::Impl> server, std::shared_ptr<OpenConnectionCount> count,
                 std::unique_ptr<ByteStream> stream, std::string initial) {
  auto c = std::make_shared<Http1Connection>(std::move(server), std::move(count), std::move(stream));
  c->start(std::move(initial));
}

}  // namespace cairn::server::net::detail
