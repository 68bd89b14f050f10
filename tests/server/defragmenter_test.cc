// Defragmenter (server/node/defragmenter.h): the compaction runs on its own thread and answers through
// the io_context; requests arriving meanwhile share its answer; finish() answers every waiter exactly
// once and joins, whether or not the compaction was done.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>

#include "server/node/defragmenter.h"
#include "storage/mvcc_store.h"
#include "storage/rocksdb_engine.h"

namespace cairn::server::node {
namespace {

struct Rocks {
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("cairn-defrag-test-" + std::to_string(::getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                        .string();
  std::unique_ptr<storage::MvccStore> store;
  explicit Rocks(int keys) {
    std::filesystem::remove_all(dir);
    storage::StoreOptions o;
    o.sync_writes = false;
    std::unique_ptr<storage::KvEngine> engine = std::move(storage::RocksEngine::open(dir)).value();
    store = std::move(storage::MvccStore::open(std::move(engine), o)).value();
    for (int i = 0; i < keys; ++i) {
      storage::PutRequest p;
      p.key = "k" + std::to_string(i % 500);
      p.value = std::string(200, 'v');
      EXPECT_TRUE(store->apply(static_cast<uint64_t>(i + 1), 1, p));
    }
  }
  ~Rocks() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

TEST(DefragmenterTest, RunsBesideTheCallerAndRequestsMeanwhileShareTheAnswer) {
  boost::asio::io_context ioc;
  auto guard = boost::asio::make_work_guard(ioc);  // run_one waits for the thread's answer
  Rocks r(5000);
  Defragmenter d(ioc);
  int answered = 0;
  auto done = [&](Expected<storage::Unit, EtcdError> res) {
    EXPECT_TRUE(res.has_value());
    ++answered;
  };
  d.start(r.store->engine(), done);
  d.start(r.store->engine(), done);  // while the first runs (or before its answer is delivered)
  EXPECT_TRUE(d.running());
  EXPECT_EQ(answered, 0);  // answers come through the io_context, never from inside start()
  while (answered < 2)
    ASSERT_EQ(ioc.run_one_for(std::chrono::seconds(60)), 1u);
  EXPECT_FALSE(d.running());
  d.start(r.store->engine(), done);  // a later request starts a new run
  while (answered < 3)
    ASSERT_EQ(ioc.run_one_for(std::chrono::seconds(60)), 1u);
  storage::RangeRequest get;
  get.key = "k1";
  EXPECT_TRUE(r.store->range(get));
}

TEST(DefragmenterTest, FinishAnswersEveryWaiterOnceAndJoins) {
  boost::asio::io_context ioc;
  Rocks r(20000);
  Defragmenter d(ioc);
  int answered = 0;
  for (int i = 0; i < 3; ++i)
    d.start(r.store->engine(), [&](Expected<storage::Unit, EtcdError>) { ++answered; });
  d.finish();
  EXPECT_EQ(answered, 3);
  EXPECT_FALSE(d.running());
  ioc.run();  // the thread's own answer, if it got that far, must not answer anyone again
  EXPECT_EQ(answered, 3);
}

}  // namespace
}  // namespace cairn::server::node
