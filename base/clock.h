// The one view of time that code with a simulated twin acts on: a monotonic clock behind an interface.
// Production uses SteadyClock (std::chrono::steady_clock, never jumps with the wall clock); tests and the
// server simulator (tests/sim/server_sim.h) use SimClock, where time moves only when told to, so request
// deadlines, lease expiry and raft's seeds replay exactly. Durations that are only measured (an fsync's
// latency for a histogram) may read steady_clock directly: they change no decision.
#pragma once

#include <chrono>

namespace cairn::base {

using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

class SimClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1)};
};

}  // namespace cairn::base
