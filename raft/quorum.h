// Quorum arithmetic as pure functions over a set of voters. Checked against a naive reference in
// tests/raft/quorum_test.cc.
#pragma once

#include <functional>
#include <map>
#include <set>

#include "raft/types.h"

namespace cairn::raft::quorum {

enum class VoteResult : uint8_t { kPending, kLost, kWon };
const char* to_string(VoteResult r);

// The highest index acknowledged by a majority of voters: sort the acked indexes descending and
// take the one at position n/2. An empty voter set commits everything (returns UINT64_MAX) so that
// it never holds back a joint configuration's other half.
Index committed_index(const std::set<NodeId>& voters, const std::function<Index(NodeId)>& acked);

// Outcome of an election given the votes cast so far (true = granted, false = rejected).
VoteResult vote_result(const std::set<NodeId>& voters, const std::map<NodeId, bool>& votes);

// Whether the given active set contains a majority of voters.
bool has_quorum(const std::set<NodeId>& voters, const std::function<bool(NodeId)>& active);

}  // namespace cairn::raft::quorum
