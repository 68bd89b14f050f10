// The lessor's only view of time: a monotonic clock behind an interface, with a simulated twin so expiry,
// promotion grace and checkpoint scheduling are unit-tested deterministically (tests/lease/).
// Apply never reads a clock: only the leader's lessor does, and it acts through raft entries.
#pragma once

#include <chrono>

namespace cairn::server::lease {

using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// Production: std::chrono::steady_clock (never jumps with the wall clock).
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// Tests: time moves only when told to.
class SimClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1)};
};

}  // namespace cairn::server::lease
