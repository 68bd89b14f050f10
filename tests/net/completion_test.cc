#include "server/net/completion.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

namespace cairn::server::net {
namespace {

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
