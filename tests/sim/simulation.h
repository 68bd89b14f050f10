// A deterministic cluster simulator for the Raft core: N members driven through RawNode exactly as
// the server drives them, over a simulated network that drops, duplicates, delays, reorders and
// partitions (symmetric and one-way), with crashes that lose everything not yet persisted (including
// a torn prefix of an in-flight write), crashes whose storage also loses a synced tail of the log
// (the member restarts marked lost_tail, as after a WAL repair, and must catch up before it votes:
// raft/lost_tail.h), and restarts from the durable state. One seed drives every choice, so a failing
// seed replays exactly.
//
// Safety is checked after every step:
//   election safety        at most one leader per term
//   log matching           two entries with the same index and term carry the same data and follow
//                          the same previous term (so the logs agree on everything before them)
//   leader completeness    a leader's log holds every entry known committed
//   state-machine safety   no two members apply different entries at the same index
//   committed never lost   a committed index never changes content, and after the liveness phase
//                          every member has applied everything ever acknowledged
//   read index             a ReadState is never below an index acknowledged before the read began
// A liveness phase then heals everything and requires a fresh write to commit and apply everywhere,
// and every member that lost a tail to have caught up.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/raw_node.h"

namespace cairn::sim {

struct SimOptions {
  int nodes = 3;                  // members in the initial configuration (3 or 5)
  int spare_nodes = 1;            // extra processes that membership changes may add
  int safety_steps = 3000;        // chaos steps before the liveness phase
  int liveness_rounds_max = 400;  // healed rounds allowed to make progress
  bool membership_changes = true;
  // Crashes that lose a synced tail of one member's log: drawn per seed (kSeed, about half of the
  // seeds with crashes), in every seed with crashes (kAlways), or never.
  enum class LostTail : uint8_t { kSeed, kAlways, kNever };
  LostTail lost_tail = LostTail::kSeed;
  // Members whose storage writes are asynchronous (raft/raw_node.h: Readies pipelined, persisted
  // later in order): drawn per seed and member (kSeed), all of them (kAlways), or none.
  enum class AsyncWrites : uint8_t { kSeed, kAlways, kNever };
  AsyncWrites async_writes = AsyncWrites::kSeed;
  bool verbose = false;
#if CAIRN_INVARIANTS
  raft::TestingBreak break_rule = raft::TestingBreak::kNone;  // see raft::Config::testing_break
#endif
};

struct SimResult {
  bool ok = true;
  std::string failure;      // first violation, with the step it happened at
  uint64_t state_hash = 0;  // hash of every member's final state, for determinism checks
  uint64_t steps = 0;
  uint64_t committed = 0;  // entries committed (highest committed index)
  uint64_t messages = 0;
  uint64_t crashes = 0;
  uint64_t elections = 0;
  uint64_t snapshots_sent = 0;
  uint64_t conf_changes = 0;
  uint64_t reads = 0;
  uint64_t lost_tails = 0;  // crashes that also lost a synced tail
  std::string fault_mix;    // which faults this seed drew
};

SimResult run_simulation(uint64_t seed, const SimOptions& opts);

}  // namespace cairn::sim
