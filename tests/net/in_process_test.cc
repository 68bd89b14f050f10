// Calls a server makes to itself over an in-memory pipe (Server::in_process_endpoint, memory_pipe.h):
// every kind of call, the caller's identity, bounded buffering, and the end of the pipe.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>

#include "server/net/vocabulary.h"
#include "tests/net/net_test_util.h"
#include "wire/memory_pipe.h"

namespace cairn::server::net::testing {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace std::chrono_literals;

TEST(InProcess, UnaryStreamingAndIdentity) {
  // The client first, so it outlives the server: the pipe's queues belong to the client's io_context,
  // and the server's end of a connection may go only after the server stops.
  ClientThread client;
  TestServer server;
  Endpoint ep = server.server().in_process_endpoint("alice");
  auto r = client.run<std::vector<std::string>>([&]() -> awaitable<std::vector<std::string>> {
    Channel ch(client.executor(), {ep});
    std::vector<std::string> out;
    CallOptions o;
    o.timeout = 10s;
    UnaryResult u = co_await ch.unary("/cairn.test.Echo/Unary", std::string(1 << 20, 'q'), o);
    out.push_back(u.status.is_ok() && u.response == std::string(1 << 20, 'q') ? "large ok"
                                                                              : u.status.message);
    u = co_await ch.unary("/cairn.test.Echo/Whoami", "", o);
    out.push_back(u.response);
    ClientCall call = co_await ch.start_call("/cairn.test.Echo/ServerStream", o);
    co_await call.write("300:5000");
    call.writes_done();
    std::size_t n = 0;
    while (auto m = co_await call.read())
      n += (*m == stream_message(n, 5000));
    Status st = co_await call.finish();
    out.push_back(std::to_string(n) + " " + std::to_string(st.is_ok()));
    co_return out;
  });
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], "large ok");
  EXPECT_EQ(r[1], "in-process|alice");  // the caller's identity, not a certificate of ours
  EXPECT_EQ(r[2], "300 1");
  EXPECT_EQ(server.stats().connections_accepted.load(), 1u);  // no socket was used for it
}

TEST(InProcess, ClosingTheClientEndsTheServersConnection) {
  // The client first, so it outlives the server: the pipe's queues belong to the client's io_context,
  // and the server's end of a connection may go only after the server stops.
  ClientThread client;
  TestServer server;
  Endpoint ep = server.server().in_process_endpoint("");
  client.run<bool>([&]() -> awaitable<bool> {
    Channel ch(client.executor(), {ep});
    UnaryResult u = co_await ch.unary("/cairn.test.Echo/Unary", "x");
    EXPECT_TRUE(u.status.is_ok()) << u.status.message;
    ch.close();
    co_return true;
  });
  for (int i = 0; i < 500 && server.stats().connections_open.load() != 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.stats().connections_open.load(), 0u);
}

TEST(InProcess, DialAfterTheServerIsGoneFails) {
  Endpoint ep;
  {
    TestServer server;
    ep = server.server().in_process_endpoint("");
  }
  ClientThread client;
  auto st = client.run<Status>([&]() -> awaitable<Status> {
    Channel ch(client.executor(), {ep});
    UnaryResult u = co_await ch.unary("/cairn.test.Echo/Unary", "x");
    EXPECT_NE(ch.last_connect_error().find("in-process server has shut down"), std::string::npos)
        << ch.last_connect_error();
    co_return u.status;
  });
  EXPECT_EQ(st.code, StatusCode::kUnavailable);
}

// A writer whose reader does not read stops after the pipe's byte bound; closing wakes it with an error.
TEST(MemoryPipe, WritesWaitAtTheBoundAndCloseWakesThem) {
  asio::io_context ioc;
  MemoryPipe pipe = make_memory_pipe({asio::make_strand(ioc), "b", ""}, {asio::make_strand(ioc), "a", "cn"});
  EXPECT_EQ(pipe.b->peer_common_name(), "cn");
  EXPECT_EQ(pipe.a->remote_address(), "b");
  std::size_t written = 0;
  bool writer_done = false;
  boost::system::error_code writer_ec;
  const std::string chunk(MemoryPipe::kChunkBytes, 'w');
  asio::co_spawn(
      pipe.a->get_executor(),
      [&]() -> awaitable<void> {
        while (true) {
          IoResult r = co_await pipe.a->write_all(asio::buffer(chunk));
          if (r.ec) {
            writer_ec = r.ec;
            break;
          }
          written += r.bytes;
        }
        writer_done = true;
      },
      asio::detached);
  ioc.run_for(200ms);
  EXPECT_FALSE(writer_done);
  EXPECT_EQ(written, MemoryPipe::kChunksMax * MemoryPipe::kChunkBytes);  // 1 MiB queued, then it waits
  pipe.b->close();
  ioc.restart();
  ioc.run_for(200ms);
  EXPECT_TRUE(writer_done);
  EXPECT_TRUE(writer_ec);
  EXPECT_FALSE(pipe.b->is_open());
}

// An end destroyed while its own read waits: the read completes with an error and touches nothing of the
// destroyed end (ASan would report it), as a socket destroyed under a pending read.
TEST(MemoryPipe, DestroyingAnEndUnderAPendingReadIsSafe) {
  asio::io_context ioc;
  auto strand = asio::make_strand(ioc);
  MemoryPipe pipe = make_memory_pipe({strand, "b", ""}, {strand, "a", ""});
  boost::system::error_code read_ec;
  bool read_done = false;
  ByteStream* b = pipe.b.get();
  asio::co_spawn(
      strand,
      [&]() -> awaitable<void> {
        char buf[16];
        IoResult r = co_await b->read_some(asio::buffer(buf));
        read_ec = r.ec;
        read_done = true;
      },
      asio::detached);
  ioc.run_for(50ms);
  EXPECT_FALSE(read_done);
  asio::post(strand, [&] { pipe.b.reset(); });
  ioc.restart();
  ioc.run_for(200ms);
  EXPECT_TRUE(read_done);
  EXPECT_TRUE(read_ec);
}

TEST(MemoryPipe, BytesArriveInOrderAcrossChunks) {
  asio::io_context ioc;
  MemoryPipe pipe = make_memory_pipe({asio::make_strand(ioc), "b", ""}, {asio::make_strand(ioc), "a", ""});
  std::string sent;
  for (int i = 0; i < 200'000; ++i)
    sent.push_back(static_cast<char>('a' + i % 26));
  std::string got;
  asio::co_spawn(
      pipe.a->get_executor(),
      [&]() -> awaitable<void> {
        co_await pipe.a->write_all(asio::buffer(sent));
        pipe.a.reset();  // the reader then sees the end of the stream
      },
      asio::detached);
  asio::co_spawn(
      pipe.b->get_executor(),
      [&]() -> awaitable<void> {
        char buf[7000];
        while (true) {
          IoResult r = co_await pipe.b->read_some(asio::buffer(buf));
          if (r.ec) break;
          got.append(buf, r.bytes);
        }
      },
      asio::detached);
  ioc.run_for(2s);
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

}  // namespace
}  // namespace cairn::server::net::testing
