// Helpers for the network tests: a server on 127.0.0.1 (OS-chosen port) driven by two io threads, a
// client io thread, and a way to run a coroutine there and wait for it with a generous hang guard.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "server/net/server.h"
#include "tests/net/test_service.h"
#include "wire/client.h"

namespace cairn::server::net::testing {

// Hang guard only: every wait below normally ends in milliseconds.
inline constexpr std::chrono::seconds kHangGuard{30};

class TestServer {
 public:
  explicit TestServer(ServerLimits limits = {}, HttpAccess access = {}) : server_(ioc_, limits) {
    service_.register_on(server_);
    server_.set_http_access(std::move(access));
    auto ec = server_.listen("127.0.0.1", 0);
    EXPECT_FALSE(ec) << ec.message();
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this] { ioc_.run(); });
  }
  ~TestServer() { stop(); }

  // Graceful shutdown; returns once every connection is closed and the io threads have exited.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    server_.shutdown();
    for (auto& t : threads_)
      t.join();
  }

  std::uint16_t port() const { return server_.port(); }
  Server& server() { return server_; }
  TestService& service() { return service_; }
  const ServerStats& stats() const { return server_.stats(); }

 private:
  boost::asio::io_context ioc_;
  TestService service_;
  Server server_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

// One client thread; coroutines run there one after another or concurrently (single-threaded strand).
class ClientThread {
 public:
  ClientThread() : guard_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
  ~ClientThread() {
    guard_.reset();
    thread_.join();
  }
  boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

  template <class T>
  T run(std::function<boost::asio::awaitable<T>()> fn) {
    auto fut = boost::asio::co_spawn(ioc_, fn(), boost::asio::use_future);
    if (fut.wait_for(kHangGuard) != std::future_status::ready) {
      ADD_FAILURE() << "coroutine did not finish within the hang guard";
      std::abort();
    }
    return fut.get();
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Polls `pred` until true or the hang guard passes.
inline bool eventually(const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + kHangGuard;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace cairn::server::net::testing
