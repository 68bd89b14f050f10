#include "raft/quorum.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace cairn::raft::quorum {

const char* to_string(VoteResult r) {
  switch (r) {
    case VoteResult::kPending:
      return "VotePending";
    case VoteResult::kLost:
      return "VoteLost";
    case VoteResult::kWon:
      return "VoteWon";
  }
  return "?";
}

Index committed_index(const std::set<NodeId>& voters, const std::function<Index(NodeId)>& acked) {
  if (voters.empty()) return UINT64_MAX;
  std::vector<Index> idx;
  idx.reserve(voters.size());
  for (NodeId id : voters)
    idx.push_back(acked(id));
  std::sort(idx.begin(), idx.end(), std::greater<Index>());
  return idx[voters.size() / 2];
}

VoteResult vote_result(const std::set<NodeId>& voters, const std::map<NodeId, bool>& votes) {
  if (voters.empty()) return VoteResult::kWon;
  size_t granted = 0, rejected = 0, missing = 0;
  for (NodeId id : voters) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++granted;
    } else {
      ++rejected;
    }
  }
  size_t q = voters.size() / 2 + 1;
  if (granted >= q) return VoteResult::kWon;
  if (granted + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

bool has_quorum(const std::set<NodeId>& voters, const std::function<bool(NodeId)>& active) {
  size_t n = 0;
  for (NodeId id : voters)
    n += active(id) ? 1 : 0;
  return n >= voters.size() / 2 + 1;
}

}  // namespace cairn::raft::quorum
