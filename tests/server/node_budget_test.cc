// Byte budgets and guards of the node (server/node/node.h: inbox and log cache bytes; server/disk: the
// free-space reserve; server/corrupt/chain_check.h: the state check), on a real one-member node::Node: its
// peer port is opened (14100-14101), so this binary runs under the e2e lock, not in server_tests.
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
#include "server/corrupt/chain_check.h"
#include "server/disk/guard.h"
#include "server/disk/quota_sync.h"
#include "server/node/node.h"

namespace cairn::server {
namespace {

using namespace std::chrono_literals;

std::string put_body(const std::string& key, size_t value_bytes) {
  etcdserverpb::PutRequest pb;
  pb.set_key(key);
  pb.set_value(std::string(value_bytes, 'v'));
  return pb.SerializeAsString();
}

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
    before_start(*node_);
    net_ = std::thread([this] { ioc_.run(); });
    auto started = node_->start(ioc_);
    ASSERT_TRUE(started.has_value()) << started.error();
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (node_->stats().is_leader.load() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(node_->stats().is_leader.load(), 1u) << "the one member did not become leader in 20 s";
  }
  virtual void configure(node::NodeConfig&) {}
  virtual void before_start(node::Node&) {}
  // Runs on the node thread and waits for it.
  template <typename F>
  auto on_node(F f) {
    std::promise<decltype(f())> p;
    EXPECT_TRUE(node_->run([&] { p.set_value(f()); }));
    return p.get_future().get();
  }
  // Whether pred() holds within 20 s (polled every 5 ms).
  template <typename Pred>
  bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!pred() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return pred();
  }
  // The put's outcome: "" for OK, else the error message.
  std::string put(const std::string& key) {
    std::promise<std::string> done;
    node_->propose(node::EntryKind::kPut, put_body(key, 10), node::EntryAuth{},
                   [&done](node::Result<storage::ApplyResponse> r) {
                     done.set_value(r ? std::string() : r.error().message);
                   });
    auto f = done.get_future();
    if (f.wait_for(30s) != std::future_status::ready) return "no answer in 30 s";
    return f.get();
  }
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

// server/disk/guard.h: the free space the guard sees is the test's. Short of the reserve, the member
// raises NOSPACE and writes get etcd's error while reads go on; space back, the alarm stays until it
// is disarmed, and then writes succeed again; a disarm while still short is undone at the next look.
class DiskGuard : public OneMember {
 protected:
  static constexpr uint64_t kReserve = 64u << 20;
  void SetUp() override {
    OneMember::SetUp();
    if (HasFatalFailure()) return;
    disk::Options o;
    o.reserve_bytes = kReserve;
    o.period = 10ms;
    o.dirs = {dir_ + "/m1"};
    o.free_bytes = [this](const std::string& d) -> std::optional<uint64_t> {
      EXPECT_EQ(d, dir_ + "/m1");
      return free_.load();
    };
    guard_ = disk::install(*node_, std::move(o));
  }
  void TearDown() override {
    if (node_) node_->stop();
    guard_.reset();
    OneMember::TearDown();
  }
  bool nospace() {
    return on_node(
        [this] { return node_->store().alarmed(node_->member_id(), storage::AlarmType::kNoSpace); });
  }
  std::string alarm(etcdserverpb::AlarmRequest::AlarmAction action) {
    etcdserverpb::AlarmRequest req;
    req.set_action(action);
    req.set_alarm(etcdserverpb::NOSPACE);
    req.set_memberid(node_->member_id());
    std::promise<std::string> done;
    node_->propose(node::EntryKind::kAlarm, req.SerializeAsString(), node::EntryAuth{},
                   [&done](node::Result<storage::ApplyResponse> r) {
                     done.set_value(r ? std::string() : r.error().message);
                   });
    return done.get_future().get();
  }

  std::atomic<uint64_t> free_{1ull << 40};
  std::shared_ptr<void> guard_;
};

TEST_F(DiskGuard, ShortOfTheReserveRaisesNospaceUntilSpaceIsBackAndTheAlarmDisarmed) {
  EXPECT_EQ(put("before"), "");
  EXPECT_FALSE(nospace()) << "plenty of space: no alarm";
  free_ = kReserve - 1;
  ASSERT_TRUE(eventually([this] { return nospace(); })) << "the guard did not raise NOSPACE in 20 s";
  EXPECT_EQ(put("refused"), "etcdserver: mvcc: database space exceeded");
  EXPECT_EQ(on_node([this] {
              storage::RangeRequest r;
              r.key = "before";
              auto got = node_->store().range(r);
              return got ? got->kvs.size() : size_t{99};
            }),
            1u)
      << "reads go on";

  free_ = kReserve;  // space is back: the alarm stays until an operator clears it
  EXPECT_EQ(put("still-refused"), "etcdserver: mvcc: database space exceeded");
  free_ = kReserve - 1;
  EXPECT_EQ(alarm(etcdserverpb::AlarmRequest::DEACTIVATE), "");
  ASSERT_TRUE(eventually([this] { return nospace(); })) << "a disarm while still short is undone";

  free_ = 1ull << 40;
  EXPECT_EQ(alarm(etcdserverpb::AlarmRequest::DEACTIVATE), "");
  EXPECT_FALSE(nospace());
  EXPECT_EQ(put("after"), "");
  for (int i = 0; i < 20; ++i) {  // 20 looks at least 10 ms apart: nothing raises it again
    std::this_thread::sleep_for(15ms);
    ASSERT_FALSE(nospace());
  }
}

// server/corrupt/chain_check.h on one member: the leader puts its state chain in the log while keys change
// (and not while they do not); a check that does not match this member's chain raises CORRUPT naming it;
// a check at a revision it does not keep is skipped.
class StateChecks : public OneMember {
 protected:
  void before_start(node::Node& n) override {
    check_ = corrupt::install_chain_check(n, 20ms);
    node::NodeObserver o;
    o.on_tick = [this] { ticks_++; };
    n.add_observer(std::move(o));
  }
  void TearDown() override {
    if (node_) node_->stop();
    check_.reset();
    OneMember::TearDown();
  }
  bool corrupt() {
    return on_node(
        [this] { return node_->store().alarmed(node_->member_id(), storage::AlarmType::kCorrupt); });
  }
  // Proposes a check as a leader would, and waits for it to apply.
  std::string propose_check(node::StateCheck c) {
    std::promise<std::string> done;
    node_->propose(node::EntryKind::kStateCheck, node::encode_state_check(c),
                   [&done](node::Result<storage::ApplyResponse> r) {
                     done.set_value(r ? std::string() : r.error().message);
                   });
    return done.get_future().get();
  }
  std::pair<int64_t, uint32_t> revision_and_chain() {
    return on_node([this] {
      return std::pair{node_->store().revision(), node_->store().state_chain().value_or(0)};
    });
  }
  const node::NodeStats& st() { return node_->stats(); }

  std::shared_ptr<void> check_;
  std::atomic<uint64_t> ticks_{0};
};

TEST_F(StateChecks, TheLeaderChecksWhileKeysChangeAndAMismatchRaisesCorrupt) {
  ASSERT_EQ(put("a"), "");
  ASSERT_TRUE(eventually([this] { return st().state_checks_matched.load() >= 1; }))
      << "no state check applied within 20 s of a put";
  // Idle: the revision does not move, so no more checks (one may still be on its way).
  const uint64_t idle_from = st().state_checks_matched.load();
  const uint64_t tick_from = ticks_.load();
  ASSERT_TRUE(eventually([&] { return ticks_.load() >= tick_from + 5; }));
  const uint64_t idle_to = st().state_checks_matched.load();
  EXPECT_LE(idle_to, idle_from + 1) << "checks went on while nothing changed";
  ASSERT_EQ(put("b"), "");
  ASSERT_TRUE(eventually([&] { return st().state_checks_matched.load() > idle_to; }));
  EXPECT_EQ(st().state_checks_mismatched.load(), 0u);
  EXPECT_FALSE(corrupt());

  auto [rev, chain] = revision_and_chain();
  EXPECT_EQ(propose_check({rev, chain ^ 1}), "");
  EXPECT_EQ(st().state_checks_mismatched.load(), 1u);
  ASSERT_TRUE(eventually([this] { return corrupt(); })) << "no CORRUPT alarm in 20 s";
  EXPECT_EQ(put("c"), "etcdserver: corrupt cluster");
  // A revision this member has not reached: it lost entries that came before the check in the log.
  EXPECT_EQ(propose_check({rev + 1000, chain}), "");
  EXPECT_EQ(st().state_checks_mismatched.load(), 2u);
  EXPECT_EQ(st().state_checks_skipped.load(), 0u);
}

// server/disk/quota_sync.h on one member: the leader puts its quota in the log; once applied, the store
// checks puts against it, not against StoreOptions (the member's 2 GiB default here). Reopening keeps it:
// tests/storage/store_test.cc.
class QuotaSync : public OneMember {
 protected:
  static constexpr uint64_t kQuota = 4'000;
  void before_start(node::Node& n) override { sync_ = disk::install_quota_sync(n, {kQuota, true, 10ms}); }
  void TearDown() override {
    if (node_) node_->stop();
    sync_.reset();
    OneMember::TearDown();
  }
  std::pair<bool, uint64_t> quota() {
    return on_node([this] {
      return std::pair{node_->store().quota_replicated(), node_->store().quota_bytes()};
    });
  }
  std::shared_ptr<void> sync_;
};

TEST_F(QuotaSync, TheLeadersQuotaGoesThroughTheLogAndHolds) {
  ASSERT_TRUE(eventually([this] {
    return quota() == std::pair{true, kQuota};
  })) << "the leader's quota was not applied in 20 s";
  EXPECT_EQ(node_->config().quota_backend_bytes, 2ull << 30) << "the member's own flag is larger";
  std::string refused;
  for (int i = 0; i < 500 && refused.empty(); ++i)
    refused = put("k" + std::to_string(i));
  EXPECT_EQ(refused, "etcdserver: mvcc: database space exceeded");
  EXPECT_LE(on_node([this] { return node_->store().logical_size_bytes(); }), kQuota);
}

}  // namespace
}  // namespace cairn::server
