// Our gRPC client against our gRPC server: unary, streaming, errors, deadlines, cancellation, failover,
// reconnect, keepalive, graceful shutdown.
#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "tests/net/net_test_util.h"

namespace cairn::server::net::testing {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace std::chrono_literals;

Endpoint local(std::uint16_t port) {
  return {"127.0.0.1", port};
}

// A port with nothing listening (bound, then closed).
std::uint16_t dead_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

CallOptions with_timeout(std::chrono::milliseconds t) {
  CallOptions o;
  o.timeout = t;
  return o;
}

TEST(Grpc, UnaryEchoSmallEmptyAndLarge) {
  TestServer server;
  ClientThread client;
  auto results = client.run<std::vector<UnaryResult>>([&]() -> awaitable<std::vector<UnaryResult>> {
    Channel ch(client.executor(), {local(server.port())});
    std::vector<UnaryResult> r;
    r.push_back(co_await ch.unary("/cairn.test.Echo/Unary", "hello", with_timeout(10s)));
    r.push_back(co_await ch.unary("/cairn.test.Echo/Unary", ""));
    r.push_back(co_await ch.unary("/cairn.test.Echo/Unary", std::string(1 << 20, 'z')));
    r.push_back(co_await ch.unary("/cairn.test.Echo/Offload", "abc"));
    co_return r;
  });
  ASSERT_EQ(results.size(), 4u);
  for (auto& r : results)
    EXPECT_TRUE(r.status.is_ok()) << r.status.message;
  EXPECT_EQ(results[0].response, "hello");
  EXPECT_EQ(results[1].response, "");
  EXPECT_EQ(results[2].response, std::string(1 << 20, 'z'));
  EXPECT_EQ(results[3].response, "offloaded:abc:3");
}

TEST(Grpc, ServerStreamingInOrder) {
  TestServer server;
  ClientThread client;
  auto got = client.run<std::vector<std::string>>([&]() -> awaitable<std::vector<std::string>> {
    Channel ch(client.executor(), {local(server.port())});
    ClientCall call = co_await ch.start_call("/cairn.test.Echo/ServerStream", with_timeout(20s));
    co_await call.write("1000:200");
    call.writes_done();
    std::vector<std::string> msgs;
    while (auto m = co_await call.read())
      msgs.push_back(std::move(*m));
    Status st = co_await call.finish();
    EXPECT_TRUE(st.is_ok()) << st.message;
    co_return msgs;
  });
  ASSERT_EQ(got.size(), 1000u);
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], stream_message(i, 200));
}

TEST(Grpc, BidiPingPong) {
  TestServer server;
  ClientThread client;
  bool ok = client.run<bool>([&]() -> awaitable<bool> {
    Channel ch(client.executor(), {local(server.port())});
    ClientCall call = co_await ch.start_call("/cairn.test.Echo/Bidi");
    for (int i = 0; i < 100; ++i) {
      std::string m = "ping " + std::to_string(i);
      if (!co_await call.write(m)) co_return false;
      auto back = co_await call.read();
      if (!back || *back != m) co_return false;
    }
    call.writes_done();
    auto end = co_await call.read();
    Status st = co_await call.finish();
    co_return !end && st.is_ok();
  });
  EXPECT_TRUE(ok);
}

TEST(Grpc, ErrorStatusUnknownMethodAndTooLarge) {
  TestServer server;
  ClientThread client;
  auto r = client.run<std::vector<UnaryResult>>([&]() -> awaitable<std::vector<UnaryResult>> {
    Channel ch(client.executor(), {local(server.port())});
    std::vector<UnaryResult> v;
    v.push_back(co_await ch.unary("/cairn.test.Echo/Fail", "9:etcdserver: not leader \xe2\x98\x83 100%\n"));
    v.push_back(co_await ch.unary("/cairn.test.Echo/Missing", "x"));
    v.push_back(
        co_await ch.unary("/cairn.test.Echo/Unary", std::string(kGrpcMessageBytesMaxDefault + 1, 'x')));
    v.push_back(co_await ch.unary("/cairn.test.Echo/Unary", "still fine"));
    co_return v;
  });
  EXPECT_EQ(r[0].status.code, StatusCode::kFailedPrecondition);
  EXPECT_EQ(r[0].status.message, "etcdserver: not leader \xe2\x98\x83 100%\n");
  EXPECT_EQ(r[1].status.code, StatusCode::kUnimplemented);
  EXPECT_EQ(r[2].status.code, StatusCode::kResourceExhausted);
  EXPECT_EQ(r[2].status.message, "grpc: received message larger than max (2097153 vs. 2097152)");
  EXPECT_TRUE(r[3].status.is_ok());
  EXPECT_EQ(r[3].response, "still fine");
}

TEST(Grpc, DeadlineExceededCancelsTheHandler) {
  TestServer server;
  ClientThread client;
  auto r = client.run<UnaryResult>([&]() -> awaitable<UnaryResult> {
    Channel ch(client.executor(), {local(server.port())});
    co_return co_await ch.unary("/cairn.test.Echo/Sleep", "60000", with_timeout(200ms));
  });
  EXPECT_EQ(r.status.code, StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(eventually([&] { return server.service().sleeps_cancelled.load() == 1; }));
}

TEST(Grpc, ServerSideDeadlineFromGrpcTimeout) {
  // The server enforces grpc-timeout itself: with a client that waits longer than the deadline it sends,
  // the status comes from the server.
  TestServer server;
  ClientThread client;
  auto st = client.run<Status>([&]() -> awaitable<Status> {
    Channel ch(client.executor(), {local(server.port())});
    CallOptions o;
    o.metadata.emplace_back("x-test", "1");
    o.timeout = 300ms;
    ClientCall call = co_await ch.start_call("/cairn.test.Echo/Bidi", o);
    auto m = co_await call.read();  // the server sends nothing; its deadline ends the call
    EXPECT_FALSE(m);
    co_return co_await call.finish();
  });
  EXPECT_EQ(st.code, StatusCode::kDeadlineExceeded);
}

TEST(Grpc, ClientCancellationResetsStreamAndCancelsHandler) {
  TestServer server;
  ClientThread client;
  auto st = client.run<Status>([&]() -> awaitable<Status> {
    Channel ch(client.executor(), {local(server.port())});
    ClientCall call = co_await ch.start_call("/cairn.test.Echo/Sleep");
    co_await call.write("60000");
    call.writes_done();
    asio::steady_timer t(client.executor());
    while (server.service().sleeps_started.load() == 0) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    call.cancel();
    Status s = co_await call.finish();
    // The connection stays usable.
    auto again = co_await ch.unary("/cairn.test.Echo/Unary", "after cancel");
    EXPECT_EQ(again.response, "after cancel");
    co_return s;
  });
  EXPECT_EQ(st.code, StatusCode::kCancelled);
  EXPECT_TRUE(eventually([&] { return server.service().sleeps_cancelled.load() == 1; }));
}

TEST(Grpc, FailoverToNextEndpointAndReconnectAfterServerGoesAway) {
  auto a = std::make_unique<TestServer>();
  TestServer b;
  std::uint16_t dead = dead_port();
  ClientThread client;
  std::thread stopper;
  client.run<int>([&]() -> awaitable<int> {
    ChannelOptions opts;
    opts.backoff_initial = 10ms;
    Channel ch(client.executor(), {local(dead), local(a->port()), local(b.port())}, opts);
    auto r1 = co_await ch.unary("/cairn.test.Echo/Unary", "one");
    EXPECT_TRUE(r1.status.is_ok()) << r1.status.message;
    EXPECT_EQ(ch.current_endpoint(), 1u);
    // Server A shuts down (two-phase GOAWAY; the client thread must stay free to answer its PING).
    stopper = std::thread([&] { a->stop(); });
    asio::steady_timer t(client.executor());
    while (ch.connected()) {  // the client notices the GOAWAY
      t.expires_after(2ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    CallOptions o;
    o.wait_for_ready = true;
    o.timeout = 10s;
    auto r2 = co_await ch.unary("/cairn.test.Echo/Unary", "two", o);
    EXPECT_TRUE(r2.status.is_ok()) << r2.status.message;
    EXPECT_EQ(r2.response, "two");
    EXPECT_EQ(ch.current_endpoint(), 2u);
    EXPECT_GE(ch.connects(), 2u);
    co_return 0;
  });
  stopper.join();
}

TEST(Grpc, AllEndpointsDownFailsFastOrAtDeadline) {
  std::uint16_t dead = dead_port();
  ClientThread client;
  auto r = client.run<std::vector<UnaryResult>>([&]() -> awaitable<std::vector<UnaryResult>> {
    ChannelOptions opts;
    opts.backoff_initial = 20ms;
    Channel ch(client.executor(), {local(dead)}, opts);
    std::vector<UnaryResult> v;
    v.push_back(co_await ch.unary("/cairn.test.Echo/Unary", "x"));
    CallOptions o;
    o.wait_for_ready = true;
    o.timeout = 200ms;
    v.push_back(co_await ch.unary("/cairn.test.Echo/Unary", "x", o));
    co_return v;
  });
  EXPECT_EQ(r[0].status.code, StatusCode::kUnavailable);
  EXPECT_EQ(r[1].status.code, StatusCode::kDeadlineExceeded);
}

TEST(Grpc, KeepalivePingsAreAnsweredAndExcessIsRefused) {
  ServerLimits lenient;
  lenient.keepalive_min_ping_interval = 0ms;
  TestServer server(lenient);
  ServerLimits strict;  // etcd's policy: pings closer than 5 s are strikes
  TestServer strict_server(strict);
  ClientThread client;
  auto st = client.run<std::vector<Status>>([&]() -> awaitable<std::vector<Status>> {
    ChannelOptions opts;
    opts.keepalive_time = 20ms;
    opts.keepalive_timeout = 10s;
    std::vector<Status> v;
    {
      Channel ch(client.executor(), {local(server.port())}, opts);
      ClientCall call = co_await ch.start_call("/cairn.test.Echo/Sleep");
      co_await call.write("400");
      call.writes_done();
      auto m = co_await call.read();
      EXPECT_EQ(m.value_or(""), "slept");
      v.push_back(co_await call.finish());
      EXPECT_GE(ch.keepalive_pings_sent(), 1u);
    }
    {
      Channel ch(client.executor(), {local(strict_server.port())}, opts);
      ClientCall call = co_await ch.start_call("/cairn.test.Echo/Sleep");
      co_await call.write("20000");
      call.writes_done();
      v.push_back(co_await call.finish());  // GOAWAY too_many_pings ends it
    }
    co_return v;
  });
  EXPECT_TRUE(st[0].is_ok()) << st[0].message;
  EXPECT_EQ(st[1].code, StatusCode::kUnavailable) << st[1].message;
}

// kube-apiserver's client pings every 30 s (keepalive 30 s, timeout 10 s) while its watches are open;
// etcd's minimum interval is 5 s. Scaled by 1/50: pings every 600 ms against a 100 ms minimum, over a
// 3 s call, are all answered and never make the server send GOAWAY (later pings than planned, as on a
// loaded machine, only widen the gap).
TEST(Grpc, KeepalivePingsAtTheClientsIntervalAreAccepted) {
  ServerLimits limits;
  limits.keepalive_min_ping_interval = 100ms;
  TestServer server(limits);
  ClientThread client;
  auto st = client.run<std::vector<Status>>([&]() -> awaitable<std::vector<Status>> {
    ChannelOptions opts;
    opts.keepalive_time = 600ms;
    opts.keepalive_timeout = 10s;
    std::vector<Status> v;
    Channel ch(client.executor(), {local(server.port())}, opts);
    ClientCall call = co_await ch.start_call("/cairn.test.Echo/Sleep");
    co_await call.write("3000");
    call.writes_done();
    auto m = co_await call.read();
    EXPECT_EQ(m.value_or(""), "slept");
    v.push_back(co_await call.finish());
    EXPECT_GE(ch.keepalive_pings_sent(), 2u);
    co_return v;
  });
  EXPECT_TRUE(st[0].is_ok()) << st[0].message;
}

TEST(Grpc, ShutdownDrainsInFlightCall) {
  TestServer server;
  ClientThread client;
  std::thread stopper;
  auto r = client.run<std::vector<UnaryResult>>([&]() -> awaitable<std::vector<UnaryResult>> {
    Channel ch(client.executor(), {local(server.port())});
    ClientCall call = co_await ch.start_call("/cairn.test.Echo/Sleep");
    co_await call.write("300");
    call.writes_done();
    asio::steady_timer t(client.executor());
    while (server.service().sleeps_started.load() == 0) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    stopper = std::thread([&] { server.stop(); });  // GOAWAY now; the sleeping call must still complete
    std::vector<UnaryResult> v(2);
    auto m = co_await call.read();
    v[0].status = co_await call.finish();
    v[0].response = m.value_or("");
    v[1] = co_await ch.unary("/cairn.test.Echo/Unary", "late");  // no server any more
    co_return v;
  });
  stopper.join();
  EXPECT_TRUE(r[0].status.is_ok()) << r[0].status.message;
  EXPECT_EQ(r[0].response, "slept");
  EXPECT_EQ(r[1].status.code, StatusCode::kUnavailable);
  EXPECT_EQ(server.stats().connections_open.load(), 0u);
}

TEST(Grpc, ManyConcurrentCallsOnOneConnection) {
  TestServer server;
  ClientThread client;
  int ok = client.run<int>([&]() -> awaitable<int> {
    Channel ch(client.executor(), {local(server.port())});
    co_await ch.unary("/cairn.test.Echo/Unary", "warm up");
    int done = 0, good = 0;
    constexpr int kCalls = 200;
    for (int i = 0; i < kCalls; ++i) {
      asio::co_spawn(
          client.executor(),
          [&, i]() -> awaitable<void> {
            auto r = co_await ch.unary("/cairn.test.Echo/Unary", "c" + std::to_string(i));
            if (r.response == "c" + std::to_string(i)) ++good;
            ++done;
          },
          asio::detached);
    }
    asio::steady_timer t(client.executor());
    while (done < kCalls) {
      t.expires_after(2ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return good;
  });
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(server.stats().h2_connections.load(), 1u);
}

TEST(Grpc, RefusedStreamsAreRetriedTransparently) {
  // Before our client has read the server's SETTINGS it does not know the stream limit: the calls above it
  // are refused (never processed) and sent again.
  ServerLimits limits;
  limits.concurrent_streams_max = 2;
  TestServer server(limits);
  ClientThread client;
  int good = client.run<int>([&]() -> awaitable<int> {
    Channel ch(client.executor(), {local(server.port())});
    int done = 0, ok = 0;
    constexpr int kCalls = 20;
    for (int i = 0; i < kCalls; ++i) {
      asio::co_spawn(
          client.executor(),
          [&]() -> awaitable<void> {
            auto r = co_await ch.unary("/cairn.test.Echo/Sleep", "20", with_timeout(20s));
            if (r.status.is_ok())
              ++ok;
            else
              ADD_FAILURE() << static_cast<int>(r.status.code) << " " << r.status.message;
            ++done;
          },
          asio::detached);
    }
    asio::steady_timer t(client.executor());
    while (done < kCalls) {
      t.expires_after(2ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    co_return ok;
  });
  EXPECT_EQ(good, 20);
}

}  // namespace
}  // namespace cairn::server::net::testing
