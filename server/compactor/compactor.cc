#include "server/compactor/compactor.h"

#include <algorithm>

namespace cairn::server::compactor {

AutoCompactor::AutoCompactor(std::chrono::milliseconds period, int64_t revisions, Clock::time_point start)
    : period_(period), revisions_(revisions) {
  if (period_.count() > 0) {
    compact_every_ = std::min<std::chrono::milliseconds>(period_, std::chrono::hours(1));
    sample_every_ = std::max<std::chrono::milliseconds>(compact_every_ / 10, std::chrono::milliseconds(1));
    samples_max_ = static_cast<size_t>(period_ / sample_every_) + 1;
    next_sample_ = start;
    next_compaction_ = start + period_;
  } else if (revisions_ > 0) {
    next_compaction_ = start + kRevisionModeInterval;
  }
}

std::optional<int64_t> AutoCompactor::on_tick(Clock::time_point now, int64_t current_rev,
                                              int64_t compacted_rev, bool leader) {
  last_compacted_ = std::max(last_compacted_, compacted_rev);
  if (period_.count() > 0) {
    while (now >= next_sample_) {
      samples_.push_back(current_rev);
      if (samples_.size() > samples_max_) samples_.pop_front();
      next_sample_ += sample_every_;
    }
    if (!leader || now < next_compaction_ || samples_.empty()) return std::nullopt;
    next_compaction_ = now + compact_every_;
    int64_t rev = samples_.front();
    if (rev <= last_compacted_) return std::nullopt;
    last_compacted_ = rev;
    return rev;
  }
  if (revisions_ > 0) {
    if (!leader || now < next_compaction_) return std::nullopt;
    next_compaction_ = now + kRevisionModeInterval;
    int64_t rev = current_rev - revisions_;
    if (rev <= 0 || rev <= last_compacted_) return std::nullopt;
    last_compacted_ = rev;
    return rev;
  }
  return std::nullopt;
}

void AutoCompactor::retry_soon(Clock::time_point now) {
  last_compacted_ = 0;
  next_compaction_ = now + (period_.count() > 0 ? sample_every_ : std::chrono::milliseconds(1000));
}

}  // namespace cairn::server::compactor
