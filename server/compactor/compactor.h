// Automatic compaction (etcd's --auto-compaction-mode / --auto-compaction-retention), as a pure
// decision function: the caller passes the monotonic time, the store's revisions and whether this
// member leads, and gets back the revision to compact to when one is due. No clock, no I/O here
// (server/compactor/install.cc drives it from the node's tick and proposes the compaction).
//
// periodic (retention R): the current revision is sampled every R/10 (every 6 minutes when R is over an
// hour); the first compaction happens R after start, to the revision sampled R ago, then one every
// min(R, 1h), each to the revision sampled R before it. So at least R of history is always kept.
// revision (retention N): every 5 minutes, compact to current revision - N (when that moved forward).
// Only the leader compacts; followers keep sampling so a new leader starts with the history.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace cairn::server::compactor {

using Clock = std::chrono::steady_clock;

class AutoCompactor {
 public:
  // period > 0: periodic mode; else revisions > 0: revision mode; both zero: never compacts.
  AutoCompactor(std::chrono::milliseconds period, int64_t revisions, Clock::time_point start);

  std::optional<int64_t> on_tick(Clock::time_point now, int64_t current_rev, int64_t compacted_rev,
                                 bool leader);
  // The caller's proposal failed (e.g. no leader): try again at the next sampling step.
  void retry_soon(Clock::time_point now);

  static constexpr std::chrono::minutes kRevisionModeInterval{5};

 private:
  std::chrono::milliseconds period_;
  int64_t revisions_;
  std::chrono::milliseconds sample_every_{0};
  std::chrono::milliseconds compact_every_{0};
  size_t samples_max_ = 0;
  std::deque<int64_t> samples_;  // front: the revision about `period_` ago
  Clock::time_point next_sample_;
  Clock::time_point next_compaction_;
  int64_t last_compacted_ = 0;
};

}  // namespace cairn::server::compactor
