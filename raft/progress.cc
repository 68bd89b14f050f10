#include "raft/progress.h"

#include <algorithm>

#include "base/assert.h"

namespace cairn::raft {

void Inflights::add(Index last_index, uint64_t bytes) {
  CAIRN_ASSERT_MSG(items_.size() < msgs_max_ || msgs_max_ == 0, "inflights overflow");
  CAIRN_ASSERT(items_.empty() || items_.back().index <= last_index);
  items_.push_back({last_index, bytes});
  bytes_ += bytes;
}

void Inflights::free_le(Index to) {
  while (!items_.empty() && items_.front().index <= to) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void Inflights::free_first() {
  if (items_.empty()) return;
  bytes_ -= items_.front().bytes;
  items_.pop_front();
}

void Inflights::reset() {
  items_.clear();
  bytes_ = 0;
}

const char* to_string(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "StateProbe";
    case ProgressState::kReplicate:
      return "StateReplicate";
    case ProgressState::kSnapshot:
      return "StateSnapshot";
  }
  return "?";
}

void Progress::become_probe() {
  // After a snapshot, resume right after it: the follower has at least that much.
  if (state == ProgressState::kSnapshot) {
    Index pending = pending_snapshot;
    state = ProgressState::kProbe;
    next_index = std::max(match_index + 1, pending + 1);
  } else {
    state = ProgressState::kProbe;
    next_index = match_index + 1;
  }
  probe_sent = false;
  pending_snapshot = 0;
  inflights.reset();
}

void Progress::become_replicate() {
  state = ProgressState::kReplicate;
  next_index = match_index + 1;
  probe_sent = false;
  pending_snapshot = 0;
  inflights.reset();
}

void Progress::become_snapshot(Index snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.reset();
}

void Progress::sent_entries(Index last_index, uint64_t bytes) {
  switch (state) {
    case ProgressState::kReplicate:
      if (last_index >= next_index) {
        inflights.add(last_index, bytes);
        next_index = last_index + 1;
      }
      break;
    case ProgressState::kProbe:
      probe_sent = true;
      break;
    case ProgressState::kSnapshot:
      CAIRN_ASSERT_MSG(false, "sending entries to a follower in snapshot state");
  }
}

bool Progress::maybe_update(Index n) {
  bool updated = false;
  if (match_index < n) {
    match_index = n;
    updated = true;
    probe_sent = false;
  }
  next_index = std::max(next_index, n + 1);
  return updated;
}

bool Progress::maybe_decr_to(Index rejected, Index match_hint) {
  if (state == ProgressState::kReplicate) {
    // A rejection of something at or below what is already matched is stale.
    if (rejected <= match_index) return false;
    next_index = match_index + 1;
    return true;
  }
  // Probe: only the rejection of the append we sent last (at next_index-1) is meaningful.
  if (next_index - 1 != rejected) return false;
  next_index = std::max(std::min(rejected, match_hint + 1), match_index + 1);
  probe_sent = false;
  return true;
}

void Progress::reset_after_lost_tail(Index matched, Index last) {
  CAIRN_ASSERT(matched <= last);
  state = ProgressState::kProbe;
  match_index = matched;
  next_index = last + 1;
  probe_sent = false;
  pending_snapshot = 0;
  inflights.reset();
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::describe() const {
  std::string s = std::string(to_string(state)) + " match=" + std::to_string(match_index) +
                  " next=" + std::to_string(next_index);
  if (is_learner) s += " learner";
  if (state == ProgressState::kSnapshot) s += " pendingSnap=" + std::to_string(pending_snapshot);
  if (inflights.count() > 0) s += " inflight=" + std::to_string(inflights.count());
  if (probe_sent) s += " paused";
  return s;
}

}  // namespace cairn::raft
