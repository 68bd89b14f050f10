#include "raft/bootstrap.h"

#include <algorithm>

#include "base/assert.h"

namespace cairn::raft {

BootstrapState bootstrap_state(std::vector<NodeId> voters) {
  std::sort(voters.begin(), voters.end());
  CAIRN_ASSERT_MSG(!voters.empty(), "bootstrap needs at least one voter");
  CAIRN_ASSERT_MSG(std::adjacent_find(voters.begin(), voters.end()) == voters.end(), "duplicate voter");
  CAIRN_ASSERT_MSG(voters.front() != kNone, "voter id 0");
  BootstrapState st;
  Index i = 0;
  for (NodeId id : voters) {
    ConfChange cc{ConfChangeType::kAddNode, id, {}, 0};
    st.entries.push_back(Entry{1, ++i, EntryType::kConfChange, cc.encode()});
  }
  st.hard_state = HardState{1, kNone, i};
  st.conf_state.voters = voters;
  return st;
}

}  // namespace cairn::raft
