#include "server/net/wire.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "server/net/completion.h"

namespace cairn::server::net {
namespace {

TEST(Wire, PercentEncodingMatchesGrpc) {
  EXPECT_EQ(percent_encode("plain text: ok"), "plain text: ok");
  EXPECT_EQ(percent_encode("100%"), "100%25");
  EXPECT_EQ(percent_encode("a\nb"), "a%0Ab");
  EXPECT_EQ(percent_encode("\xc3\xbc"), "%C3%BC");
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  EXPECT_EQ(percent_decode(percent_encode(all)), all);
  EXPECT_EQ(percent_decode("bad%zzescape%4"), "bad%zzescape%4");
}

TEST(Wire, GrpcTimeoutParsing) {
  using namespace std::chrono;
  EXPECT_EQ(parse_grpc_timeout("4997372u"), duration_cast<nanoseconds>(microseconds(4997372)));
  EXPECT_EQ(parse_grpc_timeout("5010m"), duration_cast<nanoseconds>(milliseconds(5010)));
  EXPECT_EQ(parse_grpc_timeout("5S"), duration_cast<nanoseconds>(seconds(5)));
  EXPECT_EQ(parse_grpc_timeout("2H"), duration_cast<nanoseconds>(hours(2)));
  EXPECT_FALSE(parse_grpc_timeout(""));
  EXPECT_FALSE(parse_grpc_timeout("S"));
  EXPECT_FALSE(parse_grpc_timeout("123456789S"));  // more than 8 digits
  EXPECT_FALSE(parse_grpc_timeout("12x"));
  EXPECT_FALSE(parse_grpc_timeout("1-S"));
  for (auto t : {nanoseconds(1), nanoseconds(999), nanoseconds(milliseconds(5000)),
                 duration_cast<nanoseconds>(hours(100000))}) {
    auto s = format_grpc_timeout(t);
    auto back = parse_grpc_timeout(s);
    ASSERT_TRUE(back) << s;
    EXPECT_GE(*back, t) << s;  // rounded up, never shorter
  }
}

TEST(Wire, DeframerReassemblesAcrossAndWithinChunks) {
  std::string stream = frame_message("hello") + frame_message("") + frame_message(std::string(70000, 'x'));
  for (std::size_t chunk : {1u, 3u, 5u, 7u, 16384u, 1000000u}) {
    MessageDeframer d(1 << 20);
    std::deque<std::string> out;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      ASSERT_EQ(d.feed(std::string_view(stream).substr(i, chunk), out), MessageDeframer::Error::kNone);
    }
    ASSERT_EQ(out.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(out[0], "hello");
    EXPECT_EQ(out[1], "");
    EXPECT_EQ(out[2], std::string(70000, 'x'));
    EXPECT_FALSE(d.mid_message());
  }
}

TEST(Wire, DeframerRejectsOversizedCompressedAndBadFlag) {
  std::deque<std::string> out;
  MessageDeframer big(10);
  EXPECT_EQ(big.feed(frame_message(std::string(11, 'a')), out), MessageDeframer::Error::kTooLarge);
  EXPECT_EQ(big.declared_length(), 11u);
  EXPECT_EQ(deframer_error_status(MessageDeframer::Error::kTooLarge, 11, 10).message,
            "grpc: received message larger than max (11 vs. 10)");
  MessageDeframer comp(10);
  std::string m = frame_message("ab");
  m[0] = 1;
  EXPECT_EQ(comp.feed(m, out), MessageDeframer::Error::kCompressed);
  MessageDeframer bad(10);
  m[0] = 7;
  EXPECT_EQ(bad.feed(m, out), MessageDeframer::Error::kBadFlag);
  EXPECT_TRUE(out.empty());
}

TEST(Wire, Crc32cKnownVector) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c("6789", crc32c("12345")), crc32c("123456789"));
}

// Completion<T>: results posted from another thread resume the coroutine on its own executor.
TEST(Completion, DeliversFromAnotherThread) {
  boost::asio::io_context ioc;
  std::thread::id io_thread;
  auto fut = boost::asio::co_spawn(
      ioc,
      [&]() -> boost::asio::awaitable<std::optional<int>> {
        io_thread = std::this_thread::get_id();
        auto pc = make_completion<int>();
        std::thread worker([p = std::move(pc.first)]() mutable { p.set(42); });
        auto v = co_await pc.second.wait();
        EXPECT_EQ(std::this_thread::get_id(), io_thread);
        worker.join();
        co_return v;
      },
      boost::asio::use_future);
  ioc.run();
  EXPECT_EQ(fut.get(), 42);
}

TEST(Completion, AbandonedPromiseAndSetBeforeWait) {
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(
      ioc,
      []() -> boost::asio::awaitable<int> {
        auto a = make_completion<int>();
        { auto dropped = std::move(a.first); }
        auto none = co_await a.second.wait();
        auto b = make_completion<int>();
        b.first.set(7);
        auto seven = co_await b.second.wait();
        co_return (none ? 100 : 0) + seven.value_or(-1);
      },
      boost::asio::use_future);
  ioc.run();
  EXPECT_EQ(fut.get(), 7);
}

TEST(Completion, CancellationYieldsNullopt) {
  boost::asio::io_context ioc;
  auto pc = make_completion<int>();
  boost::asio::cancellation_signal sig;
  std::optional<std::optional<int>> result;
  boost::asio::co_spawn(
      ioc, [&]() -> boost::asio::awaitable<std::optional<int>> { co_return co_await pc.second.wait(); },
      boost::asio::bind_cancellation_slot(sig.slot(),
                                          [&](std::exception_ptr, std::optional<int> v) { result = v; }));
  ioc.poll();
  EXPECT_FALSE(result);
  sig.emit(boost::asio::cancellation_type::terminal);
  ioc.run();
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result);
  pc.first.set(1);  // too late: dropped
}

}  // namespace
}  // namespace cairn::server::net
