// RequestWaiters: the requests of this member's clients waiting for raft, from proposal to answer.
// Node thread only.
//
// Owns two kinds of waiter:
//   by request id  a store request, publish or conf change proposed here, answered when its entry
//                  applies on this member (the entry names the origin member and the id, so only the
//                  proposer answers; request_codec.h);
//   transfers      a leadership transfer, answered once the target is seen leading.
// Invariants: every waiter gets exactly one answer (its outcome, err_timeout() at its deadline, or
// fail_all's error) and is gone after it; at most the bound given at construction wait by request id.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "base/expected.h"
#include "server/node/errors.h"
#include "storage/requests.h"

namespace cairn::server::node {

template <class T>
using Result = Expected<T, EtcdError>;
using ApplyDone = std::function<void(Result<storage::ApplyResponse>)>;
using ErrorDone = std::function<void(std::optional<EtcdError>)>;

class RequestWaiters {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Waiter {
    ApplyDone apply_done;  // store requests
    ErrorDone error_done;  // conf changes, publish
    TimePoint deadline;
  };

  explicit RequestWaiters(size_t by_id_max) : by_id_max_(by_id_max) {}

  // No room for `adding` more waiters (the ones a drain is about to add) beside those held now.
  bool full(size_t adding = 0) const { return by_id_.size() + adding >= by_id_max_; }
  size_t size() const { return by_id_.size(); }
  void add(uint64_t request_id, Waiter w) { by_id_[request_id] = std::move(w); }
  // The waiter of a request id, removed (nullopt: none here, e.g. another member proposed it).
  std::optional<Waiter> take(uint64_t request_id);
  // take() and answer an ErrorDone waiter (conf changes).
  void finish(uint64_t request_id, std::optional<EtcdError> outcome);

  void add_transfer(uint64_t target, ErrorDone done, TimePoint deadline);
  // Answers the transfers to `leader` (done).
  void on_leader(uint64_t leader);

  // Answers waiters past their deadline with err_timeout(); returns how many request-id waiters expired.
  size_t expire(TimePoint now);
  void fail_all(const EtcdError& err);

 private:
  struct Transfer {
    uint64_t target;
    ErrorDone done;
    TimePoint deadline;
  };
  size_t by_id_max_;
  std::map<uint64_t, Waiter> by_id_;
  std::vector<Transfer> transfers_;
};

}  // namespace cairn::server::node
