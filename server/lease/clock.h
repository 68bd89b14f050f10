// The lessor's only view of time: base/clock.h's monotonic clock, with its simulated twin, so expiry,
// promotion grace and checkpoint scheduling are unit-tested deterministically (tests/lease/).
// Apply never reads a clock: only the leader's lessor does, and it acts through raft entries.
#pragma once

#include "base/clock.h"

namespace cairn::server::lease {

using TimePoint = base::TimePoint;
using Clock = base::Clock;
using SteadyClock = base::SteadyClock;
using SimClock = base::SimClock;

}  // namespace cairn::server::lease
