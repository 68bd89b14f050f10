// server/api/range_stream: a RangeStream's messages, merged in order as a client merges them
// (protobuf MergeFrom), equal the unary Range's response; pages stay within their byte target.
#include "server/api/range_stream.h"

#include <gtest/gtest.h>

#include "server/node/request_codec.h"
#include "storage/memory_engine.h"

namespace cairn::server::api {
namespace {

using storage::MvccStore;

class RangeStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MvccStore::open(std::make_unique<storage::MemoryEngine>());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
  }
  void put(const std::string& key, const std::string& value) {
    storage::PutRequest p;
    p.key = key;
    p.value = value;
    ASSERT_TRUE(store_->apply(++index_, 1, storage::ApplyRequest{p}));
  }
  void compact(int64_t rev) {
    storage::CompactionRequest c;
    c.revision = rev;
    ASSERT_TRUE(store_->apply(++index_, 1, storage::ApplyRequest{c}));
  }
  // Loads `n` keys under "k/" with values of `value_bytes`, each key written twice (so old revisions
  // differ from the current one).
  void load(int n, std::size_t value_bytes) {
    for (int round = 0; round < 2; ++round)
      for (int i = 0; i < n; ++i)
        put("k/" + std::to_string(100000 + i),
            std::string(value_bytes, static_cast<char>('a' + round + i % 20)));
  }

  static etcdserverpb::ResponseHeader header() {
    etcdserverpb::ResponseHeader h;
    h.set_cluster_id(11);
    h.set_member_id(22);
    h.set_raft_term(3);
    return h;
  }

  // The unary Range's response as the server sends it (header revision = the store's revision).
  etcdserverpb::RangeResponse unary(const storage::RangeRequest& req) {
    auto r = store_->range(req);
    EXPECT_TRUE(r);
    etcdserverpb::RangeResponse pb;
    node::to_pb(*r, &pb);
    *pb.mutable_header() = header();
    pb.mutable_header()->set_revision(r->header.revision);
    return pb;
  }

  struct Streamed {
    etcdserverpb::RangeResponse merged;
    int messages = 0;
    std::size_t largest_message_bytes = 0;
    bool only_last_has_header = true;
  };

  Streamed stream(const storage::RangeRequest& req, std::function<void(int)> between = {}) {
    Streamed out;
    auto c = RangeStreamCursor::open(*store_, req);
    EXPECT_TRUE(c);
    if (!c) return out;
    while (!c->done()) {
      auto m = c->next(*store_, header());
      EXPECT_TRUE(m) << (m ? "" : m.error().message());
      if (!m) return out;
      etcdserverpb::RangeStreamResponse msg;
      EXPECT_TRUE(msg.ParseFromString(*m));
      if (msg.range_response().has_header() != c->done()) out.only_last_has_header = false;
      out.merged.MergeFrom(msg.range_response());
      out.largest_message_bytes = std::max(out.largest_message_bytes, m->size());
      ++out.messages;
      if (between) between(out.messages);
    }
    return out;
  }

  void expect_same(const storage::RangeRequest& req) {
    auto want = unary(req);
    auto got = stream(req);
    EXPECT_EQ(got.merged.SerializeAsString(), want.SerializeAsString())
        << "streamed " << got.merged.kvs_size() << " kvs (count " << got.merged.count() << ", more "
        << got.merged.more() << ") vs unary " << want.kvs_size() << " (count " << want.count() << ", more "
        << want.more() << ")";
    EXPECT_TRUE(got.only_last_has_header);
  }

  static storage::RangeRequest prefix() {
    storage::RangeRequest r;
    r.key = "k/";
    r.range_end = "k0";
    return r;
  }

  std::unique_ptr<MvccStore> store_;
  uint64_t index_ = 0;
};

TEST_F(RangeStreamTest, LargePrefixMergesToTheUnaryRangeInBoundedPages) {
  load(3000, 1000);  // ~3 MB at the current revision
  auto got = stream(prefix());
  EXPECT_EQ(got.merged.SerializeAsString(), unary(prefix()).SerializeAsString());
  EXPECT_EQ(got.merged.kvs_size(), 3000);
  EXPECT_GE(got.messages, 4) << "several pages";
  EXPECT_LE(got.largest_message_bytes, kRangeStreamPageBytesTarget + 2000)
      << "a page is the target plus one kv";
}

TEST_F(RangeStreamTest, EmptyRangeIsOneMessageWithHeaderAndCount) {
  load(5, 10);
  storage::RangeRequest r;
  r.key = "zz";
  r.range_end = "zzz";
  auto got = stream(r);
  EXPECT_EQ(got.messages, 1);
  EXPECT_TRUE(got.merged.has_header());
  EXPECT_EQ(got.merged.SerializeAsString(), unary(r).SerializeAsString());
}

TEST_F(RangeStreamTest, LimitRevisionKeysOnlyCountOnlySingleKeyFromKey) {
  load(500, 300);
  for (int64_t limit : {1, 10, 11, 499, 500, 501}) {
    auto r = prefix();
    r.limit = limit;
    SCOPED_TRACE(limit);
    expect_same(r);
  }
  auto old = prefix();
  old.revision = 700;  // mid-way through the second round: a mix of old and new values
  expect_same(old);
  auto keys = prefix();
  keys.keys_only = true;
  expect_same(keys);
  auto count = prefix();
  count.count_only = true;
  expect_same(count);
  storage::RangeRequest one;
  one.key = "k/100007";
  expect_same(one);
  storage::RangeRequest from;
  from.key = "k/100400";
  from.range_end = std::string(1, '\0');
  expect_same(from);
}

TEST_F(RangeStreamTest, SortAndFiltersAreOneBufferedMessage) {
  load(200, 50);
  auto sorted = prefix();
  sorted.sort_order = storage::SortOrder::kDescend;
  sorted.sort_target = storage::SortTarget::kMod;
  sorted.limit = 50;
  expect_same(sorted);
  EXPECT_EQ(stream(sorted).messages, 1);
  auto filtered = prefix();
  filtered.min_mod_revision = 300;
  expect_same(filtered);
}

TEST_F(RangeStreamTest, PagesReadThePinnedRevisionWhileWritesGoOn) {
  load(2000, 1000);
  auto want = unary(prefix());
  auto got = stream(prefix(), [&](int) { put("k/100001", "changed during the stream"); });
  EXPECT_EQ(got.merged.SerializeAsString(), want.SerializeAsString());
}

TEST_F(RangeStreamTest, CompactedRevisionIsEtcdsErrorAtOpenAndMidStream) {
  load(2000, 1000);
  compact(1500);
  auto old = prefix();
  old.revision = 1000;
  auto c = RangeStreamCursor::open(*store_, old);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "etcdserver: mvcc: required revision has been compacted");

  auto cur = RangeStreamCursor::open(*store_, prefix());
  ASSERT_TRUE(cur);
  ASSERT_TRUE(cur->next(*store_, header()));
  put("k/x", "y");
  compact(store_->revision());
  auto m = cur->next(*store_, header());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "etcdserver: mvcc: required revision has been compacted");
}

TEST(RangeStreamPager, GrowsWhileSmallShrinksWhenLarge) {
  RangeStreamPager p;
  EXPECT_EQ(p.keys(), kRangeStreamFirstPageKeys);
  p.observe(p.keys(), 100);
  EXPECT_EQ(p.keys(), 2 * kRangeStreamFirstPageKeys);
  p.observe(3, 100);  // a short page (the range ended or the byte target stopped it): no growth
  EXPECT_EQ(p.keys(), 2 * kRangeStreamFirstPageKeys);
  p.observe(p.keys(), 3 * kRangeStreamPageBytesTarget);
  EXPECT_EQ(p.keys(), 2 * kRangeStreamFirstPageKeys / 3);
  for (int i = 0; i < 40; ++i)
    p.observe(p.keys(), 1);
  EXPECT_EQ(p.keys(), kRangeStreamPageKeysMax);
}

}  // namespace
}  // namespace cairn::server::api
