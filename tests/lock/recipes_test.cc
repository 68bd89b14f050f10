// Unit tests of the naming helpers the lock and election recipes share with etcd's clients: a
// different byte here would make cairn's Lock service and etcdctl/clientv3 queue on different keys.
#include <gtest/gtest.h>

#include "server/lock/recipes.h"

namespace cairn::server::lock {
namespace {

TEST(LockNames, OwnerKeyIsNameSlashLowerCaseHexLease) {
  EXPECT_EQ(owner_prefix("mylock"), "mylock/");
  EXPECT_EQ(owner_key("mylock", 0x694d7a1b2c3d4e5f), "mylock/694d7a1b2c3d4e5f");
  EXPECT_EQ(owner_key("mylock", 10), "mylock/a");  // no zero padding (Go's %x)
  EXPECT_EQ(owner_key("", 1), "/1");
  EXPECT_EQ(owner_key("a/b", 255), "a/b/ff");
}

TEST(LockNames, OwnerKeyOfNegativeLeaseHasMinusSign) {
  EXPECT_EQ(owner_key("x", -1), "x/-1");
  EXPECT_EQ(owner_key("x", -255), "x/-ff");
  EXPECT_EQ(owner_key("x", INT64_MIN), "x/-8000000000000000");
}

TEST(LockNames, PrefixEndIncrementsTheLastByteBelow0xff) {
  EXPECT_EQ(prefix_end("abc/"), "abc0");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(std::string("a\xfe", 2)), std::string("a\xff", 2));
  EXPECT_EQ(prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));  // all keys
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST(LockErrors, AreEtcdsPlainErrorsWithCodeUnknown) {
  EXPECT_EQ(err_election_not_leader(), (net::Status{net::StatusCode::kUnknown, "election: not leader"}));
  EXPECT_EQ(err_election_no_leader(), (net::Status{net::StatusCode::kUnknown, "election: no leader"}));
  EXPECT_EQ(err_missing_leader_key(),
            (net::Status{net::StatusCode::kUnknown, "\"leader\" field must be provided"}));
}

}  // namespace
}  // namespace cairn::server::lock
