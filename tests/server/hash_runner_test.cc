// HashRunner (server/node/hash_runner.h): a hash runs in steps with the node's other handlers between
// them, gives the one-call answer, and is refused over the job bound or ended by cancel_all().
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "server/node/hash_runner.h"
#include "storage/memory_engine.h"

namespace cairn::server::node {
namespace {

std::unique_ptr<storage::MvccStore> store_with(int keys) {
  auto s = std::move(storage::MvccStore::open(std::make_unique<storage::MemoryEngine>())).value();
  for (int i = 0; i < keys; ++i) {
    storage::PutRequest p;
    p.key = "k" + std::to_string(i);
    p.value = "v";
    EXPECT_TRUE(s->apply(static_cast<uint64_t>(i + 1), 1, p));
  }
  return s;
}

using Answer = std::optional<Expected<storage::HashKvResponse, EtcdError>>;

TEST(HashRunnerTest, OtherHandlersRunBetweenStepsAndTheAnswerIsTheOneCallHash) {
  boost::asio::io_context ioc;
  auto store = store_with(200);
  const auto want = store->hash_kv(0);
  ASSERT_TRUE(want);
  HashRunner runner(ioc, 10, 8);
  Answer got;
  int ticks_before_answer = 0;
  auto hasher = store->start_hash_kv(0);
  ASSERT_TRUE(hasher);
  runner.run(std::move(*hasher), [&](auto r) { got = std::move(r); });
  // A "tick" that keeps re-posting itself: it runs between the hash's steps, as heartbeats would.
  std::function<void()> tick = [&] {
    if (got) return;
    ++ticks_before_answer;
    boost::asio::post(ioc, tick);
  };
  boost::asio::post(ioc, tick);
  ioc.run();
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->hash, want->hash);
  EXPECT_GE(ticks_before_answer, 20);  // 200 records, 10 a step: about one tick per step
  EXPECT_EQ(runner.running(), 0u);
}

TEST(HashRunnerTest, RefusesPastItsBoundAndCancelAllEndsEveryJob) {
  boost::asio::io_context ioc;
  auto store = store_with(50);
  HashRunner runner(ioc, 1, 2);
  std::vector<Answer> got(3);
  for (auto& g : got) {
    auto hasher = store->start_hash();
    ASSERT_TRUE(hasher);
    runner.run(std::move(*hasher), [&g](auto r) { g = std::move(r); });
  }
  EXPECT_EQ(runner.running(), 2u);
  ioc.run_one();  // the refusal of the third, or a first step
  ioc.poll_one();
  runner.cancel_all(EtcdError{net::StatusCode::kUnavailable, "replaced"});
  ioc.run();
  ASSERT_TRUE(got[2] && !got[2]->has_value());
  EXPECT_EQ(got[2]->error().message, err_too_many_requests().message);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(got[i] && !got[i]->has_value()) << i;
    EXPECT_EQ(got[i]->error().message, "replaced");
  }
  EXPECT_EQ(runner.running(), 0u);
}

}  // namespace
}  // namespace cairn::server::node
