// Byte budgets of the node (server/node/node.h), on a real one-member node::Node: its peer port is opened
// (14100-14101), so this binary runs under the e2e lock, not in server_tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "proto/etcd/rpc.pb.h"
#include "server/app/flags.h"
#include "server/node/node.h"

namespace cairn::server {
namespace {

using namespace std::chrono_literals;

class OneMember : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-node-budget.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string peer = "http://127.0.0.1:14101";
    std::vector<std::string> args{"cairn",
                                  "--name",
                                  "m1",
                                  "--data-dir",
                                  dir_ + "/m1",
                                  "--listen-peer-urls",
                                  peer,
                                  "--initial-advertise-peer-urls",
                                  peer,
                                  "--initial-cluster",
                                  "m1=" + peer,
                                  "--listen-client-urls",
                                  "http://127.0.0.1:14100",
                                  "--advertise-client-urls",
                                  "http://127.0.0.1:14100"};
    std::vector<const char*> argv;
    for (auto& a : args)
      argv.push_back(a.c_str());
    auto cfg = app::parse_flags(static_cast<int>(argv.size()), argv.data());
    ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
    configure(cfg->node);
    node_ = std::make_unique<node::Node>(cfg->node);
    net_ = std::thread([this] { ioc_.run(); });
    auto started = node_->start(ioc_);
    ASSERT_TRUE(started.has_value()) << started.error();
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (node_->stats().is_leader.load() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(node_->stats().is_leader.load(), 1u) << "the one member did not become leader in 20 s";
  }
  virtual void configure(node::NodeConfig&) {}
  void TearDown() override {
    if (node_) node_->stop();
    guard_.reset();
    ioc_.stop();
    if (net_.joinable()) net_.join();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ =
      boost::asio::make_work_guard(ioc_);
  std::thread net_;
  std::unique_ptr<node::Node> node_;
};

std::string put_body(const std::string& key, size_t value_bytes) {
  etcdserverpb::PutRequest pb;
  pb.set_key(key);
  pb.set_value(std::string(value_bytes, 'v'));
  return pb.SerializeAsString();
}

// node::kInboxProposalBytesMax: while the node thread is busy, proposals fill the inbox up to its byte
// budget; the next ones are refused at once with etcd's "too many requests" and hold no memory; the
// accepted ones all apply once the node thread is free again.
TEST_F(OneMember, InboxProposalBytesBudget) {
  std::promise<void> started, release;
  auto released = release.get_future().share();
  ASSERT_TRUE(node_->run([&started, released] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();  // the node thread is parked: nothing leaves the inbox

  const std::string body = put_body("k", 1 << 20);
  const size_t fit = node::kInboxProposalBytesMax / body.size();
  const size_t total = fit + 8;
  std::atomic<size_t> applied{0}, refused{0}, other{0};
  std::string refused_message;
  net::StatusCode refused_code = net::StatusCode::kOk;
  for (size_t i = 0; i < total; ++i) {
    node_->propose(node::EntryKind::kPut, body, node::EntryAuth{},
                   [&](node::Result<storage::ApplyResponse> r) {
                     if (r) {
                       applied++;
                     } else if (r.error().message == "etcdserver: too many requests") {
                       refused_code = r.error().code;
                       refused_message = r.error().message;
                       refused++;
                     } else {
                       other++;
                     }
                   });
  }
  EXPECT_EQ(refused.load(), total - fit) << "refusals are answered at once, while the node is busy";
  EXPECT_EQ(refused_code, net::StatusCode::kResourceExhausted);
  EXPECT_EQ(node_->stats().inbox_proposals_refused.load(), total - fit);

  release.set_value();
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (applied.load() + other.load() < fit && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(applied.load(), fit) << "every accepted proposal applies";
  EXPECT_EQ(other.load(), 0u);
}

// NodeConfig::log_cache_bytes_max: 48 MiB of puts, far fewer entries than --snapshot-count, keep the
// in-memory raft log near its 8 MiB budget: local snapshots compact it, and the entries behind each
// snapshot stay within half the budget. Without the budget the log would hold all 48 MiB.
class SmallLogCache : public OneMember {
 protected:
  static constexpr uint64_t kBudget = 8u << 20;
  void configure(node::NodeConfig& cfg) override { cfg.log_cache_bytes_max = kBudget; }
};

TEST_F(SmallLogCache, LogCacheBytesBudget) {
  const std::string body = put_body("k", 256 << 10);
  const uint64_t saved_before = node_->stats().snapshots_saved.load();
  uint64_t largest = 0;
  for (int i = 0; i < 192; ++i) {
    std::promise<bool> done;
    node_->propose(node::EntryKind::kPut, body, node::EntryAuth{},
                   [&done](node::Result<storage::ApplyResponse> r) { done.set_value(r.has_value()); });
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready) << "put " << i << " not answered in 30 s";
    ASSERT_TRUE(f.get()) << "put " << i;
    largest = std::max(largest, node_->stats().log_cache_bytes.load());
  }
  EXPECT_LT(largest, 2 * kBudget) << "the in-memory log grew past its budget";
  EXPECT_LE(node_->stats().log_cache_bytes.load(), kBudget + body.size() + 64);
  const uint64_t saved = node_->stats().snapshots_saved.load() - saved_before;
  EXPECT_GE(saved, 4u) << "48 MiB through an 8 MiB log that keeps 4 MiB behind each snapshot";
  EXPECT_LE(saved, 48u) << "a snapshot on every put would mean the budget is re-reached at once";
  EXPECT_GT(node_->stats().snapshot_index.load(), 0u);
}

}  // namespace
}  // namespace cairn::server
