// What the node makes of the state its WAL recovered (wal/wal.h) before it starts raft: where raft's
// apply resumes, and what a repaired tail means, for the operator.
//
// A repair that cut the WAL's tail may have cut records this member had acknowledged. The WAL then
// hands back a hard state marked lost_tail, which raft acts on (raft/lost_tail.h: no votes until the
// member has caught up from a leader). Two things are left to the node:
//   * Telling the operator, once at start (what was cut, and that the member will not vote yet) and
//     once when the member has caught up (LostTailNotices).
//   * The membership. The node saves its membership in the WAL metadata after applying a conf change
//     and before the store records the entry as applied (node.cc apply_conf_entry). If a lost tail
//     took that metadata record but the store (which writes lazily, and may have flushed since) kept
//     the entry, the store says "applied" while the membership says "not yet". Raft must hand such
//     entries out again so that the membership gets them: its apply resumes before the first conf
//     change the metadata does not reflect (raft_applied_at_start).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"
#include "wal/wal.h"

namespace cairn::server::node {

// The applied index to start raft from: the store's, but never above the hard state's commit index
// (the store is never ahead of what raft knows committed), and below the first conf-change entry in
// `log` after conf_index (the last one the membership reflects). conf_index 0 (metadata of the first
// layout, without a conf index) trusts the store.
uint64_t raft_applied_at_start(uint64_t store_applied, const raft::HardState& hs, uint64_t conf_index,
                               const std::vector<raft::Entry>& log);

// The operator's messages about a lost tail.
class LostTailNotices {
 public:
  // The line to log at start, if the member starts marked lost_tail.
  std::optional<std::string> at_start(const wal::RecoveredState& st);
  // The line to log when a Ready's hard state shows the mark cleared (or set: a leader's commit index
  // ran past the log, a loss no repair saw).
  std::optional<std::string> on_hard_state(const raft::HardState& hs);

 private:
  bool lost_tail_ = false;
};

}  // namespace cairn::server::node
