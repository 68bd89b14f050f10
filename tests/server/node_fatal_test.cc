// Fail-stop of a real one-member node::Node (server/node/fatal.h) on what it must not go on from: a
// committed entry of a kind it does not know, membership it cannot make durable. Each case runs in a
// death test (its own process); the peer socket is a unix socket in a temporary directory, so no ports.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "server/node/entry_decode.h"
#include "server/node/fatal.h"
#include "server/node/node.h"
#include "wal/posix_file_system.h"

namespace cairn::server::node {
namespace {

using namespace std::chrono_literals;

// The WAL's files through PosixFileSystem, with File::sync failing once `syncs_left` successful syncs
// have been spent (-1: never fails).
std::atomic<int> syncs_left{-1};

class FailingSyncFile final : public wal::File {
 public:
  explicit FailingSyncFile(std::unique_ptr<wal::File> f) : f_(std::move(f)) {}
  wal::Status write_at(uint64_t offset, std::string_view data) override { return f_->write_at(offset, data); }
  Expected<std::string, wal::Status> read_at(uint64_t offset, uint64_t n) override {
    return f_->read_at(offset, n);
  }
  wal::Status sync() override {
    int left = syncs_left.load();
    if (left == 0) return wal::Status::io_error("injected fdatasync failure");
    if (left > 0) syncs_left--;
    return f_->sync();
  }
  wal::Status truncate(uint64_t size_bytes) override { return f_->truncate(size_bytes); }
  wal::Status allocate(uint64_t size_bytes) override { return f_->allocate(size_bytes); }
  Expected<uint64_t, wal::Status> size() override { return f_->size(); }

 private:
  std::unique_ptr<wal::File> f_;
};

class FailingSyncFs final : public wal::FileSystem {
 public:
  Expected<std::unique_ptr<wal::File>, wal::Status> open_file(const std::string& path, bool create) override {
    auto f = posix_.open_file(path, create);
    if (!f) return unexpected(f.error());
    return std::unique_ptr<wal::File>(std::make_unique<FailingSyncFile>(std::move(*f)));
  }
  Expected<std::string, wal::Status> read_file(const std::string& p) override { return posix_.read_file(p); }
  bool exists(const std::string& p) override { return posix_.exists(p); }
  wal::Status create_dir(const std::string& p) override { return posix_.create_dir(p); }
  Expected<std::vector<std::string>, wal::Status> list_dir(const std::string& p) override {
    return posix_.list_dir(p);
  }
  wal::Status rename(const std::string& a, const std::string& b) override { return posix_.rename(a, b); }
  wal::Status remove(const std::string& p) override { return posix_.remove(p); }
  wal::Status sync_dir(const std::string& p) override { return posix_.sync_dir(p); }

 private:
  wal::PosixFileSystem posix_;
};

// A started one-member node that leads (in the death test's child: failures print and exit 1).
struct OneMember {
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard =
      boost::asio::make_work_guard(ioc);
  std::thread net;
  FailingSyncFs fs;
  std::unique_ptr<Node> node;

  explicit OneMember(bool async_wal_writes = false) {
    char tmpl[] = "/tmp/cairn-node-fatal.XXXXXX";
    if (!mkdtemp(tmpl)) die("mkdtemp");
    const std::string dir = tmpl;
    NodeConfig cfg;
    cfg.member_id = 1;
    cfg.name = "m1";
    cfg.data_dir = dir + "/m1";
    cfg.listen_peer_unix = dir + "/peer.sock";
    cfg.initial_members = {MemberInfo{1, "m1", {"unix://" + dir + "/peer.sock"}, {}, false}};
    cfg.advertise_client_urls = {"http://127.0.0.1:1"};
    cfg.heartbeat = 10ms;
    cfg.election = 100ms;
    cfg.async_wal_writes = async_wal_writes;
    node = std::make_unique<Node>(cfg, fs);
    net = std::thread([this] { ioc.run(); });
    if (auto started = node->start(ioc); !started) die("start: " + started.error());
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (node->stats().is_leader.load() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    if (node->stats().is_leader.load() == 0) die("no leader in 20 s");
    // Its own publish entry (name, client URLs) applied: nothing else is in flight after this.
    auto published = std::make_shared<std::atomic<bool>>(false);
    Node* n = node.get();
    while (!published->load() && std::chrono::steady_clock::now() < deadline) {
      (void)node->run([n, published] {
        auto it = n->members().find(1);
        if (it != n->members().end() && !it->second.client_urls.empty()) *published = true;
      });
      std::this_thread::sleep_for(5ms);
    }
    if (!published->load()) die("not published in 20 s");
  }
  [[noreturn]] static void die(const std::string& why) {
    std::fprintf(stderr, "test setup failed: %s\n", why.c_str());
    std::_Exit(1);
  }
};

// The member stops before it applies the entry, so its client never hears OK: an answer of any kind
// ends the child with 0, which the death test does not accept.
void propose_unknown_kind() {
  OneMember m;
  m.node->propose(static_cast<EntryKind>(99),  // a kind no build knows yet
                  "body of a newer member's request", [](Result<storage::ApplyResponse>) { std::_Exit(0); });
  std::this_thread::sleep_for(20s);
  std::_Exit(2);
}

TEST(NodeFatal, UnknownEntryKindStopsTheMember) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(propose_unknown_kind(),
              ::testing::ExitedWithCode(static_cast<int>(FatalExit::kUndecodableEntry)),
              "cannot apply a committed entry: unknown entry kind 99.*\"index\":\"[0-9]+\".*\"kind\":\"99\"");
}

void propose_undecodable_put() {
  OneMember m;
  m.node->propose(EntryKind::kPut, std::string("\xff\xff\xff", 3),
                  [](Result<storage::ApplyResponse>) { std::_Exit(0); });
  std::this_thread::sleep_for(20s);
  std::_Exit(2);
}

TEST(NodeFatal, UndecodableEntryBodyStopsTheMember) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(propose_undecodable_put(),
              ::testing::ExitedWithCode(static_cast<int>(FatalExit::kUndecodableEntry)),
              "the body of a kind 1 entry does not decode");
}

// The conf change's entry is synced (the 1st sync after arming); the sync of the membership it leads
// to (the 2nd) fails: raft has applied the change, the WAL cannot record it, so the member stops and
// the client is not told the change succeeded.
void add_learner_with_failing_metadata_sync() {
  OneMember m;
  syncs_left = 1;
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kAddLearnerNode;
  cc.node_id = 2;
  etcdserverpb::Member pb;
  pb.set_id(2);
  pb.add_peerurls("http://127.0.0.1:2");
  pb.set_islearner(true);
  cc.context = pb.SerializeAsString();
  m.node->conf_change(cc, [](std::optional<EtcdError> e) {
    std::fprintf(stderr, "conf change answered: %s\n", e ? e->message.c_str() : "OK");
    std::_Exit(0);
  });
  std::this_thread::sleep_for(20s);
  std::_Exit(2);
}

TEST(NodeFatal, ConfChangeMetadataSyncFailureStopsTheMember) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      add_learner_with_failing_metadata_sync(),
      ::testing::ExitedWithCode(static_cast<int>(FatalExit::kStorage)),
      "WAL sync of the metadata failed: injected fdatasync failure.*\"what\":\"the membership after a "
      "conf change\"");
}

// A Put's entry cannot be synced: the member stops before anything acknowledges it (the leader of one
// member counts its own copy only once it is durable), so its client never hears OK. In both WAL write
// modes: on the WAL writer's thread (async) and on the node thread (sync).
void put_with_failing_wal_sync(bool async_wal_writes) {
  OneMember m(async_wal_writes);
  syncs_left = 0;
  etcdserverpb::PutRequest put;
  put.set_key("k");
  put.set_value("v");
  m.node->propose(EntryKind::kPut, put.SerializeAsString(),
                  [](Result<storage::ApplyResponse>) { std::_Exit(0); });
  std::this_thread::sleep_for(20s);
  std::_Exit(2);
}

TEST(NodeFatal, WalSyncFailureOnTheWriterThreadStopsTheMember) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(put_with_failing_wal_sync(true),
              ::testing::ExitedWithCode(static_cast<int>(FatalExit::kStorage)),
              "WAL sync failed: injected fdatasync failure");
}

TEST(NodeFatal, WalSyncFailureOnTheNodeThreadStopsTheMember) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(put_with_failing_wal_sync(false),
              ::testing::ExitedWithCode(static_cast<int>(FatalExit::kStorage)),
              "WAL sync failed: injected fdatasync failure");
}

// decode_committed_entry, without a node: what stops a member and what does not.
TEST(DecodeCommittedEntry, RaftsEmptyEntryAndKnownKindsDecode) {
  auto empty = decode_committed_entry("");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->payload);
  etcdserverpb::PutRequest put;
  put.set_key("k");
  auto d = decode_committed_entry(
      encode_entry_payload(EntryPayload{EntryKind::kPut, 7, 1, put.SerializeAsString(), {}}));
  ASSERT_TRUE(d) << d.error();
  ASSERT_TRUE(d->request);
  EXPECT_EQ(std::get<storage::PutRequest>(*d->request).key, "k");
  auto c = decode_committed_entry(encode_entry_payload(EntryPayload{EntryKind::kCompaction, 8, 1, "", {}}));
  ASSERT_TRUE(c) << "an empty body is a message with every field at its default";
  auto sc = decode_committed_entry(encode_entry_payload(
      EntryPayload{EntryKind::kStateCheck, 9, 1, encode_state_check({42, 0xdeadbeef}), {}}));
  ASSERT_TRUE(sc) << sc.error();
  EXPECT_EQ(sc->state_check, (StateCheck{42, 0xdeadbeef}));
  EXPECT_FALSE(sc->request) << "a state check changes no state";
  auto q = decode_committed_entry(
      encode_entry_payload(EntryPayload{EntryKind::kQuota, 10, 1, encode_quota(8ull << 30), {}}));
  ASSERT_TRUE(q) << q.error();
  ASSERT_TRUE(q->request);
  EXPECT_EQ(std::get<storage::QuotaRequest>(*q->request).bytes, 8ull << 30);
}

TEST(DecodeCommittedEntry, QuotaRecordsAreExact) {
  EXPECT_EQ(encode_quota(0x0102), std::string("\0\0\0\0\0\0\x01\x02", 8));
  EXPECT_EQ(decode_quota(encode_quota(1)), 1u);
  EXPECT_FALSE(decode_quota(encode_quota(1) + "x")) << "trailing bytes";
  EXPECT_FALSE(decode_quota(encode_quota(1).substr(0, 7))) << "cut";
  EXPECT_FALSE(decode_quota(encode_quota(0))) << "a quota of nothing is never proposed";
}

TEST(DecodeCommittedEntry, StateCheckRecordsAreExact) {
  EXPECT_EQ(encode_state_check({0x0102, 0x0a0b0c0d}),
            std::string("\0\0\0\0\0\0\x01\x02\x0a\x0b\x0c\x0d", 12));
  EXPECT_EQ(decode_state_check(encode_state_check({7, 3})), (StateCheck{7, 3}));
  EXPECT_FALSE(decode_state_check(encode_state_check({7, 3}) + "x")) << "trailing bytes";
  EXPECT_FALSE(decode_state_check(encode_state_check({7, 3}).substr(0, 11))) << "cut";
  EXPECT_FALSE(decode_state_check(encode_state_check({0, 3}))) << "revision 0 is never a store's";
  EXPECT_FALSE(decode_state_check(encode_state_check({-5, 3})));
}

TEST(DecodeCommittedEntry, UnknownKindsAndBadBodiesDoNot) {
  std::string unknown = encode_entry_payload(EntryPayload{EntryKind::kPut, 7, 1, "", {}});
  unknown[0] = static_cast<char>(kEntryKindMax + 1);
  EXPECT_EQ(decode_committed_entry(unknown).error(), "unknown entry kind 25 (this member knows 1-24)");
  unknown[0] = static_cast<char>((kEntryKindMax + 1) | kEntryAuthFlag);
  EXPECT_EQ(decode_committed_entry(unknown).error(), "unknown entry kind 25 (this member knows 1-24)");
  EXPECT_EQ(decode_committed_entry(std::string(1, '\x01')).error(),
            "the payload of a kind 1 entry does not decode");
  for (EntryKind k : {EntryKind::kPut, EntryKind::kTxn, EntryKind::kPublish, EntryKind::kDowngrade,
                      EntryKind::kStateCheck, EntryKind::kQuota}) {
    auto r = decode_committed_entry(encode_entry_payload(EntryPayload{k, 7, 1, "\xff\xff\xff", {}}));
    ASSERT_FALSE(r) << static_cast<int>(k);
    EXPECT_EQ(r.error(),
              "the body of a kind " + std::to_string(static_cast<int>(k)) + " entry does not decode");
  }
}

TEST(WalMetadata, RoundTripsAndReadsTheFirstLayout) {
  raft::ConfState cs;
  cs.voters = {1, 2};
  cs.learners = {3};
  const std::vector<MemberInfo> members{{1, "m1", {"http://a:2380"}, {"http://a:2379"}, false},
                                        {3, "m3", {"http://c:2380"}, {}, true}};
  const std::string blob = encode_wal_metadata(cs, 42, 0xc1, 1, members);
  auto md = decode_wal_metadata(blob);
  ASSERT_TRUE(md);
  EXPECT_EQ(md->conf_state, cs);
  EXPECT_EQ(md->conf_index, 42u);
  EXPECT_EQ(md->cluster_id, 0xc1u);
  EXPECT_EQ(md->member_id, 1u);
  ASSERT_EQ(md->members.size(), 2u);
  EXPECT_EQ(md->members[1].name, "m3");
  EXPECT_TRUE(md->members[1].learner);
  EXPECT_EQ(md->members[0].client_urls, std::vector<std::string>{"http://a:2379"});
  // The first layout: no marker, no conf index.
  auto first = decode_wal_metadata(std::string_view(blob).substr(9));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->conf_index, 0u);
  EXPECT_EQ(first->conf_state, cs);
  for (size_t cut : {size_t{1}, size_t{8}, size_t{12}})
    EXPECT_FALSE(decode_wal_metadata(std::string_view(blob).substr(0, cut))) << "cut at " << cut;
}

TEST(MemberTable, ConfChangesChangeItAsEtcdDoes) {
  const std::vector<MemberInfo> directory{{2, "m2", {"http://b:2380"}, {}, false}};
  std::map<uint64_t, MemberInfo> members{{1, {1, "m1", {"http://a:2380"}, {}, false}}};
  auto change = [](raft::ConfChangeType t, uint64_t id) {
    raft::ConfChange cc;
    cc.type = t;
    cc.node_id = id;
    return cc;
  };
  apply_member_change(members, change(raft::ConfChangeType::kAddNode, 2), std::nullopt, directory);
  EXPECT_EQ(members.at(2).name, "m2") << "a member of --initial-cluster comes from the directory";
  const MemberInfo four{4, "", {"http://d:2380"}, {}, false};
  apply_member_change(members, change(raft::ConfChangeType::kAddLearnerNode, 4), four, directory);
  EXPECT_TRUE(members.at(4).learner);
  EXPECT_EQ(members.at(4).peer_urls, four.peer_urls);
  apply_member_change(members, change(raft::ConfChangeType::kAddLearnerNode, 1), std::nullopt, directory);
  EXPECT_FALSE(members.at(1).learner) << "AddLearner of a voter changes nothing";
  apply_member_change(members, change(raft::ConfChangeType::kAddNode, 4), std::nullopt, directory);
  EXPECT_FALSE(members.at(4).learner) << "promoted";
  EXPECT_EQ(members.at(4).peer_urls, four.peer_urls) << "and kept";
  MemberInfo moved = four;
  moved.peer_urls = {"http://e:2380"};
  apply_member_change(members, change(raft::ConfChangeType::kUpdateNode, 4), moved, directory);
  EXPECT_EQ(members.at(4).peer_urls, moved.peer_urls);
  apply_member_change(members, change(raft::ConfChangeType::kRemoveNode, 2), std::nullopt, directory);
  EXPECT_FALSE(members.count(2));
  apply_member_change(members, change(raft::ConfChangeType::kAddNode, 9), std::nullopt, directory);
  EXPECT_EQ(members.at(9).id, 9u) << "unknown to the directory: only its id";
  EXPECT_TRUE(members.at(9).name.empty());
}

TEST(SnapshotSpaceDefect, RefusesASnapshotTheDiskCannotHold) {
  EXPECT_EQ(snapshot_space_defect(1 << 20, std::nullopt), std::nullopt) << "unknown free space: try";
  EXPECT_EQ(snapshot_space_defect(1 << 20, (1 << 20) + kSnapshotSpaceReserveBytes), std::nullopt);
  EXPECT_EQ(snapshot_space_defect(1 << 20, (1 << 20) + kSnapshotSpaceReserveBytes - 1).value_or(""),
            "not enough free disk space to unpack it (68157439 bytes free, 68157440 needed)");
}

}  // namespace
}  // namespace cairn::server::node
