// ReadIndexBatcher: the linearizable reads of one member, from the call to Node::linearize until they
// may be served locally (raft thesis 6.4, ReadIndex). Node thread only.
//
// Owns every read in one of three stages:
//   waiting    arrived since the last round; all of them go into the next round together (one ReadIndex
//              request, and so one heartbeat round on the leader, for any number of reads);
//   in flight  a round handed to raft under its context ("<member id>/<round number>"), until raft's
//              ReadState for that context names the read index;
//   confirmed  the read index is known; served (done(nullopt)) once the store has applied it.
// Invariants: every read is in exactly one stage and gets exactly one answer (served, its deadline's
// timeout, or fail_all's error); waiting + confirmed reads stay under the bound given at construction
// (in-flight rounds are bounded by it too, since they were waiting before).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"
#include "server/node/request_waiters.h"

namespace cairn::server::node {

class ReadIndexBatcher {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  ReadIndexBatcher(uint64_t member_id, size_t pending_max)
      : member_id_(member_id), pending_max_(pending_max) {}

  // Queues a read for the next round. False (done not taken) when pending_max reads already wait.
  bool add(ErrorDone& done, TimePoint deadline);
  // Moves the waiting reads into a new round and returns its context for raft's read_index (nullopt:
  // nothing waits). Without a leader they fail with err_no_leader() instead.
  std::optional<std::string> start_round(bool has_leader);
  // Raft confirmed a round's read index.
  void on_read_state(const raft::ReadState& rs);
  // Serves the confirmed reads at or below the applied index.
  void serve(uint64_t applied_index);
  // Answers reads past their deadline with err_timeout() (a round times out as a whole).
  void expire(TimePoint now);
  void fail_all(const EtcdError& err);

 private:
  struct PendingRead {
    ErrorDone done;
    TimePoint deadline;
  };
  uint64_t member_id_;
  size_t pending_max_;
  uint64_t round_seq_ = 0;
  std::vector<PendingRead> waiting_;
  std::map<std::string, std::vector<PendingRead>> in_flight_;  // by round context
  std::multimap<uint64_t, PendingRead> confirmed_;             // by read index
};

}  // namespace cairn::server::node
