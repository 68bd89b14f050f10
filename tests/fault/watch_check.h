// The watch check of the fault harness (docs/fault-testing.md, "Watchers and the watch check"): what
// watchers on the key prefix saw, judged against itself and against the clients' history.
//
// Assumes the harness's workload: every revision changes exactly one key under the prefix (puts, single
// put CAS txns, single-key deletes), values written are unique, and the watchers started before any
// client wrote (so they must see every write).
#pragma once
#include <cstdint>
#include <optional>
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

// A read of several keys in one Txn (success ops: one Range per key), answered at one revision.
struct MultiRead {
  int client = 0;
  std::vector<std::string> keys;
  std::vector<std::optional<std::string>> values;  // per key; nullopt = absent
  std::int64_t revision = 0;                       // the response header's revision
  std::int64_t invoke_ns = 0, complete_ns = 0;     // only acknowledged reads are checked
};

// Snapshot atomicity of multi-key reads, judged with the watchers' revision -> change map (which must
// cover every revision up to the reads'): each read's values must equal its keys' state at its revision,
// and that revision must be at least that of every write acknowledged before the read was invoked and
// below that of every write invoked after the read completed. Returns the anomalies (empty: passed).
std::vector<std::string> check_multi_reads(const std::vector<WatcherLog>& watchers,
                                           const std::vector<MultiRead>& reads,
                                           const std::vector<Op>& history);

}  // namespace cairn::tests::fault
