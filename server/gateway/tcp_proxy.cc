#include "server/gateway/tcp_proxy.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <random>

namespace cairn::server::gateway {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

bool split_host_port(const std::string& hp, std::string* host, uint16_t* port) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hp.size()) return false;
  std::string h = hp.substr(0, colon);
  if (h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(hp.data() + colon + 1, hp.data() + hp.size(), p);
  if (ec != std::errc() || ptr != hp.data() + hp.size() || p > 65535) return false;
  *host = h;
  *port = static_cast<uint16_t>(p);
  return true;
}

struct TcpProxy::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, TcpProxyOptions o)
      : ioc(io), options(std::move(o)), acceptor(asio::make_strand(io)) {}

  asio::io_context& ioc;
  const TcpProxyOptions options;
  tcp::acceptor acceptor;
  uint16_t port = 0;

  std::mutex mu;                                          // guards everything below
  std::map<std::string, Clock::time_point> failed_until;  // endpoint -> skipped until then
  std::map<tcp::socket*, asio::any_io_executor> open;     // both ends of every splice, with their strand
  TcpProxyStats stats;
  bool stopped = false;
  std::mt19937_64 rng{std::random_device{}()};

  // Endpoints to try, in random order; those marked failed last (they may have recovered).
  std::vector<std::string> candidates() {
    std::lock_guard lk(mu);
    std::vector<std::string> up, down;
    auto now = Clock::now();
    for (const auto& e : options.endpoints) {
      auto it = failed_until.find(e);
      (it != failed_until.end() && it->second > now ? down : up).push_back(e);
    }
    std::shuffle(up.begin(), up.end(), rng);
    up.insert(up.end(), down.begin(), down.end());
    return up;
  }

  void mark(const std::string& endpoint, bool ok) {
    std::lock_guard lk(mu);
    if (ok) {
      failed_until.erase(endpoint);
    } else {
      failed_until[endpoint] = Clock::now() + options.retry_delay;
      ++stats.dial_failures;
    }
  }

  awaitable<std::optional<tcp::socket>> dial(const std::string& endpoint) {
    std::string host;
    uint16_t p = 0;
    if (!split_host_port(endpoint, &host, &p)) co_return std::nullopt;
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(host, std::to_string(p), asio::as_tuple(use_awaitable));
    if (rec) co_return std::nullopt;
    for (const auto& r : results) {
      tcp::socket s(ex);
      asio::steady_timer timer(ex);
      auto done = std::make_shared<bool>(false);
      timer.expires_after(options.dial_timeout);
      timer.async_wait([&s, done](boost::system::error_code ec) {
        if (ec || *done) return;
        *done = true;
        boost::system::error_code ignored;
        s.close(ignored);
      });
      auto [ec] = co_await s.async_connect(r.endpoint(), asio::as_tuple(use_awaitable));
      bool expired = *done;
      *done = true;
      timer.cancel();
      if (!ec && !expired) co_return std::move(s);
    }
    co_return std::nullopt;
  }

  // Copies from one socket to the other until either side ends, then half-closes the writer.
  static awaitable<void> pump(tcp::socket& from, tcp::socket& to, size_t buffer_bytes) {
    std::vector<char> buf(buffer_bytes);
    while (true) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
      if (n > 0) {
        auto [wec, w] =
            co_await asio::async_write(to, asio::buffer(buf.data(), n), asio::as_tuple(use_awaitable));
        if (wec) break;
      }
      if (ec) break;
    }
    boost::system::error_code ignored;
    to.shutdown(tcp::socket::shutdown_send, ignored);
  }

  bool track(tcp::socket* s, bool add) {
    std::lock_guard lk(mu);
    if (!add) return open.erase(s) > 0;
    if (stopped) return false;
    open.emplace(s, s->get_executor());
    return true;
  }

  static awaitable<void> serve(std::shared_ptr<Impl> self, tcp::socket client) {
    std::optional<tcp::socket> backend;
    for (const auto& e : self->candidates()) {
      backend = co_await self->dial(e);
      self->mark(e, backend.has_value());
      if (backend) break;
    }
    if (!backend) {
      std::lock_guard lk(self->mu);
      ++self->stats.rejected;
      co_return;
    }
    if (!self->track(&client, true)) co_return;
    if (!self->track(&*backend, true)) {
      self->track(&client, false);
      co_return;
    }
    auto ex = co_await asio::this_coro::executor;
    auto remaining = std::make_shared<int>(2);
    auto timer = std::make_shared<asio::steady_timer>(ex, Clock::time_point::max());
    auto finish = [remaining, timer](std::exception_ptr) {
      if (--*remaining == 0) timer->cancel();
    };
    asio::co_spawn(ex, pump(client, *backend, self->options.buffer_bytes), finish);
    asio::co_spawn(ex, pump(*backend, client, self->options.buffer_bytes), finish);
    co_await timer->async_wait(asio::as_tuple(use_awaitable));
    self->track(&client, false);
    self->track(&*backend, false);
  }

  static awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (true) {
      auto [ec, socket] =
          co_await self->acceptor.async_accept(asio::make_strand(self->ioc), asio::as_tuple(use_awaitable));
      if (ec) {
        if (!self->acceptor.is_open()) co_return;
        asio::steady_timer t(self->ioc, std::chrono::milliseconds(50));
        co_await t.async_wait(asio::as_tuple(use_awaitable));
        continue;
      }
      {
        std::lock_guard lk(self->mu);
        ++self->stats.accepted;
        if (self->open.size() / 2 >= self->options.connections_max) {
          ++self->stats.rejected;
          continue;  // the socket closes as it goes out of scope
        }
      }
      auto ex = socket.get_executor();
      asio::co_spawn(ex, serve(self, std::move(socket)), asio::detached);
    }
  }
};

TcpProxy::TcpProxy(asio::io_context& ioc, TcpProxyOptions options)
    : impl_(std::make_shared<Impl>(ioc, std::move(options))) {}

TcpProxy::~TcpProxy() {
  shutdown();
}

boost::system::error_code TcpProxy::listen() {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(impl_->options.listen_host, ec);
  if (ec) return ec;
  tcp::endpoint ep(addr, impl_->options.listen_port);
  auto& acc = impl_->acceptor;
  if (acc.open(ep.protocol(), ec); ec) return ec;
  if (acc.set_option(asio::socket_base::reuse_address(true), ec); ec) return ec;
  if (acc.bind(ep, ec); ec) return ec;
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) return ec;
  impl_->port = acc.local_endpoint(ec).port();
  asio::co_spawn(acc.get_executor(), Impl::accept_loop(impl_), asio::detached);
  return {};
}

uint16_t TcpProxy::port() const {
  return impl_->port;
}

void TcpProxy::shutdown() {
  auto impl = impl_;
  std::map<tcp::socket*, asio::any_io_executor> open;
  {
    std::lock_guard lk(impl->mu);
    if (impl->stopped) return;
    impl->stopped = true;
    open = impl->open;
  }
  asio::post(impl->acceptor.get_executor(), [impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  for (auto& [s, ex] : open)
    asio::post(ex, [impl, s = s] {
      std::lock_guard lk(impl->mu);
      if (!impl->open.count(s)) return;  // already finished
      boost::system::error_code ignored;
      s->close(ignored);
    });
}

TcpProxyStats TcpProxy::stats() const {
  std::lock_guard lk(impl_->mu);
  return impl_->stats;
}

}  // namespace cairn::server::gateway
