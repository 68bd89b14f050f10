// server/node/version.h: the versions a member reports and the downgrade rules (etcd 3.6's answers).
#include "server/node/version.h"

#include <gtest/gtest.h>

namespace cairn::server::node {
namespace {

TEST(Version, ReportsEtcd36AndFollowsAnEnabledDowngrade) {
  EXPECT_STREQ(kEtcdServerVersion, "3.6.0");
  DowngradeInfo none;
  EXPECT_EQ(cluster_version(none), "3.6.0");
  EXPECT_EQ(cluster_version_short(none), "3.6");
  EXPECT_EQ(storage_version(none), "3.6.0");
  DowngradeInfo to35{true, "3.5.0"};
  EXPECT_EQ(cluster_version(to35), "3.5.0");
  EXPECT_EQ(cluster_version_short(to35), "3.5");
  EXPECT_EQ(storage_version(to35), "3.5.0");
}

// kube-apiserver turns RequestWatchProgress off below 3.4.31 and in [3.5.0, 3.5.13): the string it
// parses must be above both.
TEST(Version, IsNewEnoughForKubeApiserversWatchProgress) {
  EXPECT_GE(kEtcdMajor * 100 + kEtcdMinor, 306);
}

TEST(Version, DowngradeTargetsParseAsEtcdReadsThem) {
  EXPECT_EQ(parse_downgrade_target("3.5"), "3.5.0");
  EXPECT_EQ(parse_downgrade_target("3.5.0"), "3.5.0");
  EXPECT_EQ(parse_downgrade_target("3.5.17"), "3.5.0");
  EXPECT_EQ(parse_downgrade_target("3.5.2-rc.1+build.7"), "3.5.0");
  for (const char* bad : {"", "3", "3.", "v3.5", "3.5.x", "3.5.0.1", "three.five", "3.5-"})
    EXPECT_EQ(parse_downgrade_target(bad), std::nullopt) << bad;
}

TEST(Version, ValidateAllowsOnlyOneMinorBelowAndOneJobAtATime) {
  std::string target;
  DowngradeInfo none;
  auto e = validate_downgrade(none, "3.5", &target);
  EXPECT_FALSE(e.has_value());
  EXPECT_EQ(target, "3.5.0");
  for (const char* wrong : {"3.4", "3.6", "3.7.0", "2.5"}) {
    e = validate_downgrade(none, wrong, &target);
    ASSERT_TRUE(e.has_value()) << wrong;
    EXPECT_EQ(e->message, "etcdserver: invalid downgrade target version") << wrong;
    EXPECT_EQ(e->code, net::StatusCode::kInvalidArgument);
  }
  e = validate_downgrade(none, "3.five", &target);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message, "etcdserver: wrong downgrade target version format");
  // Enabled to 3.5: the cluster version is 3.5, so "3.5" is no longer one below it; 3.4 is, but a job
  // is in progress.
  DowngradeInfo to35{true, "3.5.0"};
  e = validate_downgrade(to35, "3.4", &target);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message, "etcdserver: cluster has a downgrade job in progress");
  EXPECT_EQ(e->code, net::StatusCode::kFailedPrecondition);
}

TEST(Version, DowngradeRecordRoundTripsAndRejectsGarbage) {
  for (const DowngradeInfo& d : {DowngradeInfo{}, DowngradeInfo{true, "3.5.0"}}) {
    auto back = decode_downgrade(encode_downgrade(d));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, d);
  }
  EXPECT_EQ(decode_downgrade(""), std::nullopt);
  EXPECT_EQ(decode_downgrade(std::string("\2", 1)), std::nullopt);
  EXPECT_EQ(decode_downgrade(std::string("\1", 1) + "banana"), std::nullopt);
}

}  // namespace
}  // namespace cairn::server::node
