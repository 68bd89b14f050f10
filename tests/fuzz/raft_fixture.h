// A raft member for the fuzz targets that feed it peer messages: node 1 of a 3-voter cluster with the
// production options (pre-vote, check-quorum), driven through tests/raft/harness.h's TestNode, put into
// a chosen role before the hostile messages arrive.
#pragma once

#include <cstdint>

#include "tests/raft/harness.h"

namespace cairn::fuzz {

using namespace cairn::raft;

inline Config fuzz_config() {
  Config c;
  c.id = 1;
  c.election_timeout_ticks = 10;
  c.heartbeat_interval_ticks = 1;
  c.pre_vote = true;
  c.check_quorum = true;
  c.rng_seed = 3;
  return c;
}

// Answers node 1's pre-vote (and, with `votes`, vote) requests with grants from their recipients.
inline void grant(test::TestNode& n, bool votes) {
  for (const Message& m : n.flush()) {
    bool pre = m.type == MessageType::kPreVote;
    if (!pre && !(votes && m.type == MessageType::kVote)) continue;
    Message resp;
    resp.type = pre ? MessageType::kPreVoteResp : MessageType::kVoteResp;
    resp.from = m.to;
    resp.to = 1;
    resp.term = m.term;
    (void)n.node->step(resp);
  }
}

// role % 4: 0 follower of nobody, 1 pre-candidate, 2 candidate, 3 leader.
inline void enter_role(test::TestNode& n, std::uint8_t role) {
  role %= 4;
  if (role == 0) return;
  n.node->campaign();
  if (role >= 2) grant(n, false);
  for (int round = 0; role == 3 && round < 4 && n.raft().role() != StateRole::kLeader; ++round)
    grant(n, true);
  (void)n.flush();
}

inline std::unique_ptr<test::TestNode> make_node(std::uint8_t role) {
  ConfState cs;
  cs.voters = {1, 2, 3};
  auto n = std::make_unique<test::TestNode>(fuzz_config(), cs);
  enter_role(*n, role);
  return n;
}

}  // namespace cairn::fuzz
