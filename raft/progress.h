// Progress: the leader's view of one follower, and Inflights: the window of append messages sent to
// it and not yet acknowledged.
//
// States (transitions happen only through the become_* methods):
//   kProbe      we do not know the follower's log end; send one append per heartbeat interval and
//               wait for the answer to find the match point (next_index moves back on rejection).
//   kReplicate  the follower is caught up to match_index; stream appends optimistically
//               (next_index = last sent + 1), bounded by the Inflights window.
//   kSnapshot   the follower needs entries we compacted; a snapshot at pending_snapshot is on its
//               way and nothing else is sent until it is reported done or failed.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "raft/types.h"

namespace cairn::raft {

// A ring of (last index, bytes) for each in-flight append, bounded by count and total bytes.
class Inflights {
 public:
  Inflights(size_t msgs_max, uint64_t bytes_max) : msgs_max_(msgs_max), bytes_max_(bytes_max) {}
  void add(Index last_index, uint64_t bytes);
  // Frees every in-flight message whose last index is <= to.
  void free_le(Index to);
  void free_first();
  void reset();
  bool full() const { return items_.size() >= msgs_max_ || (bytes_max_ != 0 && bytes_ >= bytes_max_); }
  size_t count() const { return items_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Item {
    Index index;
    uint64_t bytes;
  };
  size_t msgs_max_;
  uint64_t bytes_max_;  // 0 = unbounded
  std::deque<Item> items_;
  uint64_t bytes_ = 0;
};

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };
const char* to_string(ProgressState s);

class Progress {
 public:
  Progress(Index next, size_t inflight_msgs_max, uint64_t inflight_bytes_max, bool learner)
      : next_index(next), is_learner(learner), inflights(inflight_msgs_max, inflight_bytes_max) {}

  Index match_index = 0;
  Index next_index = 1;
  ProgressState state = ProgressState::kProbe;
  Index pending_snapshot = 0;
  // Set when the follower was heard from since the last check-quorum round.
  bool recent_active = false;
  // In probe state: an append was sent and we wait for its answer (or the next heartbeat).
  bool probe_sent = false;
  bool is_learner = false;
  Inflights inflights;

  void become_probe();
  void become_replicate();
  void become_snapshot(Index snapshot_index);

  // An append covering up to last_index with the given payload was sent.
  void sent_entries(Index last_index, uint64_t bytes);
  // The follower acknowledged up to n. Returns true if this is news (match moved forward).
  bool maybe_update(Index n);
  // The follower rejected an append at `rejected` and hints that its log matches up to `match_hint`.
  // Returns false if the rejection is stale (answers an older request).
  bool maybe_decr_to(Index rejected, Index match_hint);
  // The follower's log lost its tail and really ends at `last`, matching ours through `matched`: what
  // it acknowledged above is void (raft/lost_tail.h). Probe again from its real end.
  void reset_after_lost_tail(Index matched, Index last);
  // Whether the leader must hold further appends to this follower.
  bool is_paused() const;

  std::string describe() const;
};

}  // namespace cairn::raft
