// A small gRPC service used by the network tests and the grpcio interop test. Messages are raw bytes.
//   /cairn.test.Echo/Unary         echoes the request
//   /cairn.test.Echo/Whoami        -> "<peer address>|<peer certificate CN>"
//   /cairn.test.Echo/Fail          request "code:message" -> that status
//   /cairn.test.Echo/Sleep         request "<ms>" -> waits, then "slept" (cancellable)
//   /cairn.test.Echo/Offload       computes on a worker thread, result delivered through Completion<T>
//   /cairn.test.Echo/ServerStream  request "<count>:<size>" -> count messages of size bytes, each
//                                  starting with its index ("000042|xxxx...")
//   /cairn.test.Echo/Bidi          echoes every message until the client half-closes
//   /cairn.test.Echo/Flood         writes 64 KiB messages until the call ends (never-reading clients)
//   GET /health, GET /version      HTTP/1.1
#pragma once

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <string>
#include <thread>

#include "server/net/completion.h"
#include "server/net/server.h"

namespace cairn::server::net::testing {

inline std::string stream_message(std::size_t index, std::size_t size) {
  char head[16];
  std::snprintf(head, sizeof head, "%06zu|", index);
  std::string m(head);
  if (m.size() < size) m.append(size - m.size(), static_cast<char>('a' + index % 26));
  return m;
}

class TestService {
 public:
  TestService() : work_(worker_.get_executor()), thread_([this] { worker_.run(); }) {}
  ~TestService() {
    work_.reset();
    thread_.join();
  }

  std::atomic<int> flood_writes_blocked_or_done{0};
  std::atomic<int> sleeps_cancelled{0};
  std::atomic<int> sleeps_started{0};

  void register_on(Server& server) {
    namespace asio = boost::asio;
    using asio::awaitable;
    server.add_unary("/cairn.test.Echo/Unary", [](ServerContext&, std::string_view req) -> awaitable<Reply> {
      co_return std::string(req);
    });
    server.add_unary("/cairn.test.Echo/Whoami", [](ServerContext& ctx, std::string_view) -> awaitable<Reply> {
      co_return ctx.peer() + "|" + ctx.peer_common_name();
    });
    server.add_unary("/cairn.test.Echo/Fail", [](ServerContext&, std::string_view req) -> awaitable<Reply> {
      auto colon = req.find(':');
      int code = std::stoi(std::string(req.substr(0, colon)));
      co_return Status{static_cast<StatusCode>(code), std::string(req.substr(colon + 1))};
    });
    server.add_unary("/cairn.test.Echo/Sleep",
                     [this](ServerContext&, std::string_view req) -> awaitable<Reply> {
                       asio::steady_timer t(co_await asio::this_coro::executor);
                       t.expires_after(std::chrono::milliseconds(std::stoi(std::string(req))));
                       sleeps_started.fetch_add(1);
                       auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
                       if (ec) {
                         sleeps_cancelled.fetch_add(1);
                         co_return Status{StatusCode::kCancelled, "sleep cancelled"};
                       }
                       co_return std::string("slept");
                     });
    server.add_unary("/cairn.test.Echo/Offload",
                     [this](ServerContext&, std::string_view req) -> awaitable<Reply> {
                       auto [promise, completion] = make_completion<std::string>();
                       asio::post(worker_, [p = std::move(promise), in = std::string(req)]() mutable {
                         p.set("offloaded:" + in + ":" + std::to_string(in.size()));
                       });
                       auto result = co_await completion.wait();
                       if (!result) co_return Status{StatusCode::kCancelled, "worker gave up"};
                       co_return std::move(*result);
                     });
    server.add_stream("/cairn.test.Echo/ServerStream",
                      [](ServerContext&, ServerStream& stream) -> awaitable<Status> {
                        auto req = co_await stream.read();
                        if (!req) co_return Status{StatusCode::kInvalidArgument, "no request"};
                        auto colon = req->find(':');
                        std::size_t count = std::stoul(req->substr(0, colon));
                        std::size_t size = std::stoul(req->substr(colon + 1));
                        for (std::size_t i = 0; i < count; ++i) {
                          if (!co_await stream.write(stream_message(i, size))) co_return Status::ok();
                        }
                        co_return Status::ok();
                      });
    server.add_stream("/cairn.test.Echo/Bidi", [](ServerContext&, ServerStream& stream) -> awaitable<Status> {
      while (auto m = co_await stream.read()) {
        if (!co_await stream.write(std::move(*m))) break;
      }
      co_return Status::ok();
    });
    server.add_stream("/cairn.test.Echo/Flood",
                      [this](ServerContext&, ServerStream& stream) -> awaitable<Status> {
                        std::string chunk(64 * 1024, 'f');
                        while (co_await stream.write(chunk)) {
                        }
                        flood_writes_blocked_or_done.fetch_add(1);
                        co_return Status::ok();
                      });
    server.add_http("GET", "/health", [](const HttpRequest&) -> awaitable<HttpResponse> {
      HttpResponse r;
      r.content_type = "application/json";
      r.body = R"({"health":"true"})";
      co_return r;
    });
    server.add_http("GET", "/version", [](const HttpRequest&) -> awaitable<HttpResponse> {
      HttpResponse r;
      r.content_type = "application/json";
      r.body = R"({"etcdserver":"3.4.23","etcdcluster":"3.4.0"})";
      co_return r;
    });
    server.add_http("GET", "/metrics", [&server](const HttpRequest&) -> awaitable<HttpResponse> {
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = render_prometheus(server.stats());
      co_return r;
    });
    server.add_http("POST", "/echo", [](const HttpRequest& req) -> awaitable<HttpResponse> {
      HttpResponse r;
      r.body = req.body;
      co_return r;
    });
  }

 private:
  boost::asio::io_context worker_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace cairn::server::net::testing
