// server/api/range_codec: the hand-written encoder must produce exactly protobuf's bytes.
#include "server/api/range_codec.h"

#include <gtest/gtest.h>

#include "server/net/vocabulary.h"
#include "server/node/request_codec.h"
#include "wire/framing.h"

namespace cairn::server::api {
namespace {

etcdserverpb::ResponseHeader header_for_test() {
  etcdserverpb::ResponseHeader h;
  h.set_cluster_id(0xfedcba9876543210ULL);
  h.set_member_id(42);
  h.set_raft_term(7);
  h.set_revision(1234567);
  return h;
}

// Protobuf's serialization of the same response, for comparison.
std::string reference_bytes(const etcdserverpb::ResponseHeader& h, const storage::RangeResponse& r) {
  etcdserverpb::RangeResponse pb;
  node::to_pb(r, &pb);
  *pb.mutable_header() = h;
  return pb.SerializeAsString();
}

void expect_same_as_protobuf(storage::RangeResponse r) {
  const auto h = header_for_test();
  const std::string want = reference_bytes(h, r);
  net::FramedMessage framed = encode_range_response(h, std::move(r));
  std::string got;
  for (const auto& c : framed.chunks) {
    EXPECT_LE(c.size(), size_t{1} << 20) << "pieces are at most 1 MiB";
    got += c;
  }
  ASSERT_EQ(got.size(), net::kMessagePrefixBytes + want.size());
  EXPECT_EQ(got[0], '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(got.data());
  const std::uint32_t len = (std::uint32_t{p[1]} << 24) | (p[2] << 16) | (p[3] << 8) | p[4];
  EXPECT_EQ(len, want.size());
  EXPECT_EQ(got.substr(net::kMessagePrefixBytes), want);
}

TEST(RangeCodec, EmptyResultIsHeaderOnly) {
  expect_same_as_protobuf({});
}

TEST(RangeCodec, CountOnlyAndMore) {
  storage::RangeResponse r;
  r.count = 300;
  r.more = true;
  expect_same_as_protobuf(r);
}

TEST(RangeCodec, KeyValuesWithDefaultsAndLargeFields) {
  storage::RangeResponse r;
  r.count = 3;
  r.kvs.push_back({"a", 1, 1, 1, "", 0});                                // empty value: omitted
  r.kvs.push_back({"key/2", 5, 9, 3, std::string(300'000, 'v'), 77});    // multi-byte lengths
  r.kvs.push_back({"key/3", 6, 10, 1, std::string(2'500'000, 'w'), 0});  // spans three pieces
  r.kvs.push_back({"", 0, 0, 0, "x", -1});                               // negative: 10-byte varint
  expect_same_as_protobuf(r);
}

TEST(RangeCodec, ConsumesTheResult) {
  storage::RangeResponse r;
  r.kvs.push_back({"k", 1, 1, 1, std::string(100'000, 'v'), 0});
  (void)encode_range_response(header_for_test(), std::move(r));
  EXPECT_TRUE(r.kvs[0].value.empty());  // NOLINT(bugprone-use-after-move): the contract under test
  EXPECT_EQ(r.kvs[0].value.capacity(), std::string().capacity());
}

}  // namespace
}  // namespace cairn::server::api
