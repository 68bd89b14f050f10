// The whole-server simulator: 3 or 5 complete members (server/node's Node: raft, the WAL on the simulated
// file system, the MVCC store on the memory engine, membership, ReadIndex, request waiters) run in one
// thread, on one simulated clock, over a simulated peer network, with a client workload judged by the
// project's linearizability checker (tests/fault/linearizability.h). It runs the code that serves: each
// Node is production's, built with NodeEnv's twins (NodeEnv::driven: the simulator is every member's
// node thread and calls poll() and tick()).
//
// One seed decides every choice (message delays, drops, faults, client operations, raft's own seeds
// through the clock), so a failing seed replays exactly; `trace` folds every delivery and every answer
// into one hash, equal for equal seeds.
//
// Faults, while the workload runs:
//   crash        a member stops where it is (Node::abandon); its simulated disk loses power
//                (wal::CrashMode::kRandom: unsynced writes kept in part, torn, or lost); its store keeps
//                every applied batch, none, or those up to a random earlier "flush". It restarts
//                from what is left after a while. At most a minority is down at once.
//   partition    one member (often the leader) is cut off from the others, both ways, for a while.
//   drops        a burst during which each message is lost with some probability.
// Messages on one link keep their order (as the TCP transport's do) and take 1-5 ms. A member with an
// asynchronous WAL has its queued Readies written 0-3 ms after they are queued (its disk's latency),
// while it goes on stepping, sending and applying; a crash loses what was still queued.
//
// Client operations: puts, compare-and-swap txns and linearizable gets of a few keys, and now and then a
// lease grant followed by a put of a key of its own under that lease.
//
// Checked:
//   linearizable   every key's history of puts, compare-and-swap txns and linearizable gets, as the
//                  clients saw it (errors and crashes make an outcome unknown, never wrong);
//   watched        a client watching the key prefix on each member (resuming after the member's
//                  restarts at the revision after the last it saw) gets every revision once, in order,
//                  agreeing with the other watchers and with the acknowledged writes
//                  (tests/fault/watch_check.h);
//   converged      after the faults stop and the network heals, every member applies the same index
//                  and has the same HashKV and revision;
//   leases         every lease (clients grant them and never keep them alive) is revoked by then, and
//                  the key put under it is gone on every member (server/lease's lessor, on the simulated
//                  clock, through whatever leader changes came between);
//   started        every restart of a member succeeds on what its disk kept.
//
// Not modelled yet: snapshots (the log is never compacted here: the snapshot protocol's files are on the
// real file system), membership changes, keep-alives and the API layer
// above Node (server/api; the watch hub is wired here as server/watch/install.cc wires it).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cairn::sim {

struct ServerSimOptions {
  uint64_t seed = 1;
  int members = 3;
  int clients = 5;
  int keys = 3;
  std::chrono::milliseconds duration{10'000};  // simulated time with load and faults
  bool faults = true;
  // Members whose WAL is written asynchronously (--wal-write-mode=async: raft's Readies pipelined, the
  // WAL writer acknowledging "durable up to" later): drawn per member and seed, all, or none.
  enum class AsyncWal : uint8_t { kSeed, kAlways, kNever };
  AsyncWal async_wal = AsyncWal::kSeed;
  // The rule broken on purpose (tests): linearizable gets answered without ReadIndex
  // (NodeConfig::debug_unsafe_skip_read_index). The checker must catch it.
  bool break_read_index = false;
  // The other (tests): no member runs the lease service, so no lease is ever revoked. The lease check must
  // catch it.
  bool break_lessor = false;
  bool verbose = false;
};

struct ServerSimResult {
  bool ok = false;
  std::string failure;  // the first check that failed, with what it saw
  uint64_t ops = 0;     // client operations issued
  uint64_t ops_ok = 0;
  uint64_t ops_failed = 0;   // refused (no leader, too many requests) or a failed get: never happened
  uint64_t ops_unknown = 0;  // timed out or lost in a crash: may or may not have happened
  uint64_t puts = 0;
  uint64_t cas = 0;
  uint64_t gets = 0;
  uint64_t lease_puts = 0;  // a lease granted (never kept alive), then a put of a key of its own under it
  uint64_t lease_puts_ok = 0;
  uint64_t async_members = 0;  // members (over the run) whose WAL was written asynchronously
  uint64_t crashes = 0;
  uint64_t store_losses = 0;     // crashes whose store was lost too
  uint64_t store_rollbacks = 0;  // crashes whose store went back to an earlier flush
  uint64_t partitions = 0;
  uint64_t messages = 0;  // delivered
  uint64_t dropped = 0;
  uint64_t watch_events = 0;   // received by the watching clients, one per member
  uint64_t applied_index = 0;  // final, on every member
  int64_t revision = 0;        // final, on every member
  uint64_t trace = 0;
};

ServerSimResult run_server_sim(const ServerSimOptions& options);

}  // namespace cairn::sim
