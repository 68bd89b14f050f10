#include "server/node/wal_recovery.h"

#include <algorithm>

namespace cairn::server::node {

uint64_t raft_applied_at_start(uint64_t store_applied, const raft::HardState& hs, uint64_t conf_index,
                               const std::vector<raft::Entry>& log) {
  uint64_t applied = std::min(store_applied, hs.commit);
  if (conf_index == 0) return applied;
  for (const auto& e : log) {
    if (e.index > applied) break;
    if (e.index > conf_index && e.type == raft::EntryType::kConfChange) return e.index - 1;
  }
  return applied;
}

std::optional<std::string> LostTailNotices::at_start(const wal::RecoveredState& st) {
  lost_tail_ = st.hard_state.lost_tail;
  if (!lost_tail_) return std::nullopt;
  std::string s;
  if (st.tail_repair) {
    const auto& r = *st.tail_repair;
    s = "WAL repair cut " + std::to_string(r.bytes_cut) + " bytes at offset " + std::to_string(r.offset) +
        " of " + r.segment + " (" + r.reason + "; the original is kept as .broken), log now ends at index " +
        std::to_string(r.last_index) + ". ";
  } else {
    s = "the WAL still marks a lost log tail (an earlier repair, not yet caught up). ";
  }
  return s +
         "This member may have lost entries it had acknowledged: it votes for no one until it has caught "
         "up from the leader.";
}

std::optional<std::string> LostTailNotices::on_hard_state(const raft::HardState& hs) {
  if (hs.lost_tail == lost_tail_) return std::nullopt;
  lost_tail_ = hs.lost_tail;
  if (hs.lost_tail) {
    return "the leader's commit index runs past this member's log: it lost acknowledged entries no WAL "
           "repair saw. It votes for no one until it has caught up from the leader.";
  }
  return "caught up after the lost log tail (commit index " + std::to_string(hs.commit) + "): voting again.";
}

}  // namespace cairn::server::node
