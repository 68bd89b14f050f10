// The only translation unit of the tool that sees Asio: a Channel on a private io thread, driven through
// futures from the command thread.
#include "ctl/rpc.h"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include "proto/etcd/rpc.pb.h"
#include "wire/client.h"
#include "wire/tls.h"

namespace cairn::ctl {

namespace asio = boost::asio;
namespace wire = cairn::wire;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port) {
  std::string ep = endpoint;
  for (const char* scheme : {"http://", "https://", "unix://", "unixs://"}) {
    if (ep.rfind(scheme, 0) == 0) ep = ep.substr(std::string(scheme).size());
  }
  while (!ep.empty() && ep.back() == '/')
    ep.pop_back();
  auto colon = ep.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= ep.size()) return false;
  host = ep.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long p = 0;
  for (char c : ep.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + static_cast<unsigned long>(c - '0');
    if (p > 65535) return false;
  }
  if (p == 0) return false;
  port = static_cast<std::uint16_t>(p);
  return true;
}

namespace {

bool configured_tls(const ConnectionOptions& o) {
  return !o.cacert.empty() || !o.cert.empty() || !o.key.empty() || !o.insecure_transport;
}

// The TLS context etcdctl builds from its flags (cfg.TLS), or nullptr when it builds none.
Expected<std::shared_ptr<const wire::TlsContext>, std::string> configured_context(
    const ConnectionOptions& o) {
  if (!configured_tls(o)) return std::shared_ptr<const wire::TlsContext>();
  wire::TlsClientConfig c;
  c.ca_file = o.cacert;
  c.cert_file = o.cert;
  c.key_file = o.key;
  c.insecure_skip_verify = o.insecure_skip_tls_verify;
  return wire::make_client_tls(c);
}

// Go-style JSON string escaping for the warning line.
std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::optional<std::string> check_tls_options(const ConnectionOptions& options) {
  auto ctx = configured_context(options);
  if (!ctx) return ctx.error();
  return std::nullopt;
}

struct Connection::Impl {
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
  std::unique_ptr<wire::Channel> channel;
  std::thread thread;
  std::atomic<bool> stopping{false};

  // etcdctl's retry-interceptor warning, which is where it shows why no connection could be made
  // (the handshake failure); the command's own error stays "context deadline exceeded".
  void warn_connect_failure(StatusCode code) {
    auto now = std::chrono::system_clock::now();
    auto t = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    char ts[64];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    const auto& ep = channel->current_endpoint() < endpoints.size() ? endpoints[channel->current_endpoint()]
                                                                    : std::string();
    std::string error = std::string("rpc error: code = ") +
                        (code == StatusCode::kDeadlineExceeded ? "DeadlineExceeded" : "Unavailable") +
                        " desc = latest balancer error: " + channel->last_connect_error();
    std::string line =
        std::string("{\"level\":\"warn\",\"ts\":\"") + ts +
        "\",\"caller\":\"cairnctl/rpc.cc\",\"msg\":\"retrying of unary invoker failed\",\"target\":" +
        json_quote(ep) + ",\"attempt\":0,\"error\":" + json_quote(error) + "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

  std::vector<std::string> endpoints;

  template <typename F>
  auto run(F&& f) {
    return asio::co_spawn(ioc, std::forward<F>(f), asio::use_future).get();
  }
};

Connection::Connection(ConnectionOptions options) : options_(std::move(options)), impl_(new Impl) {
  std::vector<wire::Endpoint> eps;
  auto configured = configured_context(options_);  // checked by check_tls_options() beforehand
  std::shared_ptr<const wire::TlsContext> tls = configured ? *configured : nullptr;
  std::shared_ptr<const wire::TlsContext> system_roots;  // "https://" without TLS flags
  for (const auto& e : options_.endpoints) {
    wire::Endpoint ep;
    if (!split_endpoint(e, ep.host, ep.port)) continue;
    if (e.rfind("https://", 0) == 0 || e.rfind("unixs://", 0) == 0) {
      if (!tls && !system_roots) {
        auto d = wire::make_client_tls(wire::TlsClientConfig{});
        if (d) system_roots = *d;
      }
      ep.tls = tls ? tls : system_roots;
    } else if (e.rfind("http://", 0) != 0 && e.rfind("unix://", 0) != 0) {
      ep.tls = tls;
    }
    eps.push_back(ep);
  }
  wire::ChannelOptions co;
  co.connect_timeout = options_.dial_timeout;
  co.keepalive_time = options_.keepalive_time;
  co.keepalive_timeout = options_.keepalive_timeout;
  co.backoff_initial = std::chrono::milliseconds(50);
  co.backoff_max = std::chrono::milliseconds(1'000);
  co.user_agent = "cairnctl/0.1 grpc-go/1.33";
  co.message_bytes_max = options_.recv_bytes_max;
  impl_->endpoints = options_.endpoints;
  impl_->channel = std::make_unique<wire::Channel>(impl_->ioc.get_executor(), std::move(eps), co);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

Connection::~Connection() {
  Impl* impl = impl_.get();
  impl->stopping = true;
  asio::post(impl->ioc, [impl] {
    impl->channel->close();
    impl->guard.reset();
  });
  // Open calls fail with UNAVAILABLE once the channel is closed, so the io thread normally runs dry.
  auto deadline = Clock::now() + std::chrono::seconds(2);
  while (!impl->ioc.stopped() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  bool clean = impl->ioc.stopped();
  impl->ioc.stop();
  impl->thread.join();
  // A coroutine still suspended would outlive the channel it refers to: keep everything (the process
  // is about to end anyway).
  if (!clean) static_cast<void>(impl_.release());
}

RpcResult Connection::unary(const std::string& method, const std::string& request, bool idempotent,
                            std::optional<std::chrono::milliseconds> timeout) {
  auto limit = timeout.value_or(options_.command_timeout);
  Impl* impl = impl_.get();
  auto deadline = Clock::now() + limit;
  std::string token = options_.token;
  return impl->run([impl, method, request, idempotent, deadline, token]() -> awaitable<RpcResult> {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        co_return RpcResult{{StatusCode::kDeadlineExceeded, "context deadline exceeded"}, {}};
      wire::CallOptions co;
      co.timeout = left;
      co.wait_for_ready = true;
      if (!token.empty()) co.metadata.emplace_back("token", token);
      auto r = co_await impl->channel->unary(method, request, co);
      if (r.status.code == StatusCode::kUnavailable && idempotent && Clock::now() < deadline) {
        asio::steady_timer t(impl->ioc, std::chrono::milliseconds(25));
        co_await t.async_wait(asio::use_awaitable);
        continue;
      }
      if (r.status.code == StatusCode::kDeadlineExceeded && !impl->channel->connected() &&
          !impl->channel->last_connect_error().empty()) {
        impl->warn_connect_failure(r.status.code);
      }
      co_return RpcResult{r.status, std::move(r.response)};
    }
  });
}

// Stream state shared by the command thread and a reader coroutine on the io thread.
struct Stream::State {
  static constexpr std::size_t kQueuedMessagesMax = 4096;
  std::optional<wire::ClientCall> call;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool ended = false;
  std::optional<net_status> status;
};

std::unique_ptr<Stream> Connection::stream(const std::string& method, bool metadata_hasleader) {
  Impl* impl = impl_.get();
  auto st = std::make_shared<Stream::State>();
  std::string token = options_.token;
  impl->run([impl, st, method, metadata_hasleader, token]() -> awaitable<void> {
    wire::CallOptions co;
    co.wait_for_ready = true;
    if (!token.empty()) co.metadata.emplace_back("token", token);
    if (metadata_hasleader) co.metadata.emplace_back("hasleader", "true");
    st->call.emplace(co_await impl->channel->start_call(method, co));
    co_return;
  });
  // The reader: moves responses into the queue, waiting while the queue is full.
  asio::co_spawn(
      impl->ioc,
      [impl, st]() -> awaitable<void> {
        for (;;) {
          for (;;) {
            {
              std::lock_guard lk(st->mu);
              if (st->queue.size() < Stream::State::kQueuedMessagesMax) break;
            }
            asio::steady_timer t(impl->ioc, std::chrono::milliseconds(5));
            co_await t.async_wait(asio::use_awaitable);
          }
          auto m = co_await st->call->read();
          if (!m) break;
          std::lock_guard lk(st->mu);
          st->queue.push_back(std::move(*m));
          st->cv.notify_all();
        }
        auto s = co_await st->call->finish();
        std::lock_guard lk(st->mu);
        st->status = s;
        st->ended = true;
        st->cv.notify_all();
      },
      asio::detached);
  return std::make_unique<Stream>(impl, st);
}

Stream::Stream(Connection::Impl* impl, std::shared_ptr<State> state)
    : impl_(impl), state_(std::move(state)) {}
Stream::~Stream() {
  bool ended;
  {
    std::lock_guard lk(state_->mu);
    ended = state_->ended;
  }
  if (!ended && !impl_->stopping) cancel();
}

bool Stream::write(std::string message) {
  auto st = state_;
  return impl_->run([st, message]() -> awaitable<bool> { co_return co_await st->call->write(message); });
}

void Stream::writes_done() {
  auto st = state_;
  impl_->run([st]() -> awaitable<void> {
    st->call->writes_done();
    co_return;
  });
}

std::optional<std::string> Stream::read(std::optional<std::chrono::milliseconds> timeout) {
  timed_out_ = false;
  std::unique_lock lk(state_->mu);
  auto ready = [this] { return !state_->queue.empty() || state_->ended; };
  if (timeout) {
    if (!state_->cv.wait_for(lk, *timeout, ready)) {
      timed_out_ = true;
      return std::nullopt;
    }
  } else {
    state_->cv.wait(lk, ready);
  }
  if (state_->queue.empty()) return std::nullopt;
  std::string m = std::move(state_->queue.front());
  state_->queue.pop_front();
  return m;
}

net_status Stream::finish() {
  std::unique_lock lk(state_->mu);
  state_->cv.wait(lk, [this] { return state_->ended; });
  return *state_->status;
}

void Stream::cancel() {
  auto st = state_;
  impl_->run([st]() -> awaitable<void> {
    st->call->cancel();
    co_return;
  });
}

void Connection::keep_alive_in_background(std::int64_t lease_id, std::int64_t ttl_seconds) {
  Impl* impl = impl_.get();
  auto period = std::chrono::milliseconds(std::max<std::int64_t>(ttl_seconds * 1000 / 3, 500));
  asio::co_spawn(
      impl->ioc,
      [impl, lease_id, period, token = options_.token]() -> awaitable<void> {
        while (!impl->stopping) {
          wire::CallOptions co;
          co.wait_for_ready = true;
          if (!token.empty()) co.metadata.emplace_back("token", token);
          co.metadata.emplace_back("hasleader", "true");
          auto call = co_await impl->channel->start_call("/etcdserverpb.Lease/LeaseKeepAlive", co);
          etcdserverpb::LeaseKeepAliveRequest req;
          req.set_id(lease_id);
          for (;;) {
            if (impl->stopping || !co_await call.write(req.SerializeAsString())) break;
            auto m = co_await call.read();
            if (!m) break;
            // Short steps so that shutdown never waits a whole period.
            for (auto waited = std::chrono::milliseconds(0); waited < period && !impl->stopping;
                 waited += std::chrono::milliseconds(100)) {
              asio::steady_timer t(impl->ioc, std::chrono::milliseconds(100));
              co_await t.async_wait(asio::use_awaitable);
            }
          }
          call.cancel();
          if (impl->stopping) break;
          asio::steady_timer t(impl->ioc, std::chrono::milliseconds(200));
          co_await t.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
}

}  // namespace cairn::ctl
