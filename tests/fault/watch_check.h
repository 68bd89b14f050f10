// The watch check of the fault harness (docs/fault-testing.md, "Watchers and the watch check"): what
// watchers on the key prefix saw, judged against itself and against the clients' history.
//
// Assumes the harness's workload: every revision changes exactly one key under the prefix (puts, single
// put CAS txns, single-key deletes), values written are unique, and the watchers started before any
// client wrote (so they must see every write).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fault/linearizability.h"

namespace cairn::tests::fault {

struct WatchEvent {
  std::int64_t revision = 0;
  bool put = true;  // false: delete
  std::string key, value;
};

struct WatcherLog {
  std::int64_t start = 0;  // first revision the watcher is responsible for
  std::vector<WatchEvent> events;
  std::vector<std::string> problems;  // reported by the watcher itself (a canceled watch, ...)
};

struct WatchCheckResult {
  std::vector<std::string> anomalies;  // empty: passed
  std::size_t events = 0;              // over all watchers
  std::size_t revisions = 0;           // distinct revisions seen
  std::size_t writes_placed = 0;       // acknowledged writes found at a revision
  std::vector<std::int64_t> reached;   // per watcher: the last revision of its contiguous run
};

// Each watcher's events must be the revisions start, start+1, ..., final_revision, in order, once each;
// watchers agree at every revision; every acknowledged put / successful CAS of `history` appears with
// its key and value, no event writes a value nobody wrote, and a write acknowledged before another was
// invoked has the smaller revision.
WatchCheckResult check_watch(const std::vector<WatcherLog>& watchers, const std::vector<Op>& history,
                             std::int64_t final_revision);

}  // namespace cairn::tests::fault
