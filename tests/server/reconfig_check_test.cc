// Membership-change admission (server/node/reconfig_check.h): etcd's --strict-reconfig-check rules and the
// learner limit.
#include "server/node/reconfig_check.h"

#include <gtest/gtest.h>

namespace cairn::server::node {
namespace {

raft::ConfChange change(raft::ConfChangeType t, uint64_t id) {
  raft::ConfChange cc;
  cc.type = t;
  cc.node_id = id;
  return cc;
}

const auto kAdd = raft::ConfChangeType::kAddNode;
const auto kLearner = raft::ConfChangeType::kAddLearnerNode;
const auto kRemove = raft::ConfChangeType::kRemoveNode;

TEST(ReconfigCheck, AddVoterNeedsAQuorumOfStartedMembers) {
  MembershipView v{{1, 2, 3}, {}, {1, 2, 3}, std::nullopt};
  EXPECT_FALSE(check_reconfig(v, change(kAdd, 4), true, 1));
  v.started = {1, 2};  // 3 never published: a 4-member cluster needs 3 started voters
  EXPECT_EQ(check_reconfig(v, change(kAdd, 4), true, 1), err_not_enough_started_members());
  EXPECT_FALSE(check_reconfig(v, change(kAdd, 4), false, 1));  // --strict-reconfig-check=false
  MembershipView single{{1}, {}, {1}, std::set<uint64_t>{1}};
  EXPECT_FALSE(check_reconfig(single, change(kAdd, 2), true, 1));  // a one-member cluster grows
}

TEST(ReconfigCheck, TheLeaderRefusesAVoterWhileAVoterIsUnreachable) {
  MembershipView v{{1, 2, 3}, {}, {1, 2, 3}, std::set<uint64_t>{1, 2}};
  EXPECT_EQ(check_reconfig(v, change(kAdd, 4), true, 1), err_unhealthy());
  v.active = std::set<uint64_t>{1, 2, 3};
  EXPECT_FALSE(check_reconfig(v, change(kAdd, 4), true, 1));
}

TEST(ReconfigCheck, RemoveKeepsAReachableQuorum) {
  MembershipView v{{1, 2, 3}, {}, {1, 2, 3}, std::set<uint64_t>{1, 2}};  // 3 is down
  EXPECT_FALSE(check_reconfig(v, change(kRemove, 3), true, 1));          // removing the dead one is fine
  EXPECT_EQ(check_reconfig(v, change(kRemove, 2), true, 1), err_unhealthy());
  v.active.reset();  // a follower cannot tell: the leader decides after forwarding
  EXPECT_FALSE(check_reconfig(v, change(kRemove, 2), true, 1));
  MembershipView unstarted{{1, 2, 3}, {}, {1}, std::nullopt};
  EXPECT_EQ(check_reconfig(unstarted, change(kRemove, 2), true, 1), err_not_enough_started_members());
}

TEST(ReconfigCheck, PromoteCountsTheStartedLearner) {
  MembershipView v{{1}, {2}, {1, 2}, std::set<uint64_t>{1}};
  EXPECT_FALSE(check_reconfig(v, change(kAdd, 2), true, 1));
  v.started = {1};  // the learner never started
  EXPECT_EQ(check_reconfig(v, change(kAdd, 2), true, 1), err_not_enough_started_members());
}

TEST(ReconfigCheck, LearnerLimit) {
  MembershipView v{{1, 2, 3}, {4}, {1, 2, 3, 4}, std::nullopt};
  EXPECT_EQ(check_reconfig(v, change(kLearner, 5), false, 1), err_too_many_learners());
  EXPECT_FALSE(check_reconfig(v, change(kLearner, 5), true, 2));
}

}  // namespace
}  // namespace cairn::server::node
