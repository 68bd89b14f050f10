// The lease entry kinds of server/node/request_codec.h: numbers fixed on disk, bodies decode into the
// store's lease requests, unknown kinds are refused.
#include <gtest/gtest.h>

#include "server/node/request_codec.h"

namespace cairn::server::node {
namespace {

TEST(LeaseEntryKinds, NumbersAreStable) {
  EXPECT_EQ(static_cast<int>(EntryKind::kAlarm), 6);
  EXPECT_EQ(static_cast<int>(EntryKind::kLeaseGrant), 7);
  EXPECT_EQ(static_cast<int>(EntryKind::kLeaseRevoke), 8);
  EXPECT_EQ(static_cast<int>(EntryKind::kLeaseCheckpoint), 9);
  EXPECT_EQ(static_cast<int>(EntryKind::kDowngrade), 22);  // after the auth kinds (10-21)
  EXPECT_EQ(static_cast<int>(EntryKind::kStateCheck), 23);
  EXPECT_EQ(static_cast<int>(EntryKind::kQuota), 24);
  EXPECT_EQ(kEntryKindMax, 24);
}

TEST(LeaseEntryKinds, PayloadRoundTrip) {
  etcdserverpb::LeaseGrantRequest g;
  g.set_id(0x1234);
  g.set_ttl(30);
  EntryPayload p{EntryKind::kLeaseGrant, 42, 7, g.SerializeAsString(), std::nullopt};
  auto d = decode_entry_payload(encode_entry_payload(p));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->kind, EntryKind::kLeaseGrant);
  EXPECT_EQ(d->request_id, 42u);
  EXPECT_EQ(d->origin, 7u);
  auto req = to_apply_request(d->kind, d->body);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(std::get<storage::LeaseGrantRequest>(*req), (storage::LeaseGrantRequest{30, 0x1234}));
}

TEST(LeaseEntryKinds, RevokeAndCheckpointDecode) {
  etcdserverpb::LeaseRevokeRequest r;
  r.set_id(99);
  auto rv = to_apply_request(EntryKind::kLeaseRevoke, r.SerializeAsString());
  ASSERT_TRUE(rv.has_value());
  EXPECT_EQ(std::get<storage::LeaseRevokeRequest>(*rv).id, 99);

  storage::LeaseCheckpointRequest cp{{{1, 10}, {2, 0}}};
  auto cv = to_apply_request(EntryKind::kLeaseCheckpoint, to_pb(cp).SerializeAsString());
  ASSERT_TRUE(cv.has_value());
  EXPECT_EQ(std::get<storage::LeaseCheckpointRequest>(*cv), cp);
}

TEST(LeaseEntryKinds, UnknownKindAndBadBodyRefused) {
  EntryPayload p{EntryKind::kLeaseCheckpoint, 1, 1, "", std::nullopt};
  std::string bytes = encode_entry_payload(p);
  bytes[0] = static_cast<char>(kEntryKindMax + 1);
  EXPECT_FALSE(decode_entry_payload(bytes).has_value());
  EXPECT_FALSE(to_apply_request(EntryKind::kLeaseGrant, std::string("\xff\xff\xff", 3)).has_value());
}

}  // namespace
}  // namespace cairn::server::node
