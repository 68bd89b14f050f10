// RequestWaiters (server/node/request_waiters.h): one answer per waiter, by outcome, deadline or stop.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/node/request_waiters.h"

namespace cairn::server::node {
namespace {

using Clock = std::chrono::steady_clock;

TEST(RequestWaiters, TakeFinishTransfersExpireAndStop) {
  std::vector<std::string> got;
  auto err = [&](const std::string& n) {
    return [&got, n](std::optional<EtcdError> e) { got.push_back(n + (e ? ":" + e->message : ":ok")); };
  };
  RequestWaiters w(2);
  const auto now = Clock::now(), later = now + std::chrono::hours(1);
  w.add(1, {nullptr, err("cc1"), later});
  w.add(2, {nullptr, err("cc2"), now});
  EXPECT_TRUE(w.full());
  EXPECT_FALSE(w.take(9)) << "another member's request";
  w.finish(1, std::nullopt);
  EXPECT_FALSE(w.take(1)) << "answered once, then gone";
  w.add_transfer(3, err("t3"), later);
  w.add_transfer(4, err("t4"), now);
  w.on_leader(3);
  EXPECT_EQ(w.expire(now), 1u);
  w.add(5, {nullptr, err("cc5"), later});
  w.fail_all(err_stopped());
  EXPECT_EQ(got, (std::vector<std::string>{"cc1:ok", "t3:ok", "cc2:" + err_timeout().message,
                                           "t4:" + err_timeout().message, "cc5:" + err_stopped().message}));
  EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace cairn::server::node
