// Lessor: the leader's lease clock. It decides *when* leases expire; it never changes a lease itself.
//
// Who owns what:
//   * The MVCC store (storage/mvcc_store.h) is the truth about which leases exist, their granted TTL, the
//     last checkpointed remaining TTL and the attached keys. It changes only by applying raft entries
//     (LeaseGrant, LeaseRevoke, LeaseCheckpoint), identically on every member.
//   * The Lessor holds, on the leader only (the "primary"), an expiry time per lease on a monotonic Clock.
//     Expired leases come out of poll() as ids to revoke; the caller proposes LeaseRevoke through raft and
//     reports back (revoked / revoke_failed). Followers hold leases forever until that entry applies.
//
// Role changes (etcd lessor.go Promote/Demote, written afresh):
//   * promote(): every lease expires at now + (checkpointed remaining TTL, else the granted TTL) + the
//     election timeout. The grace covers the time the old leader may have been unreachable before this
//     member won; the checkpointed remaining TTL stops repeated leader changes from renewing abandoned
//     leases forever.
//   * demote(): forget every expiry (a follower never expires a lease).
//
// Checkpoints: a lease that is not renewed gets its remaining TTL proposed once half of it has passed,
// then again every min(checkpoint_interval, remaining/2) while at least checkpoint_remaining_min is left.
// Kept-alive leases (clients renew every TTL/3) are therefore never checkpointed; a renew of a lease whose
// stored remaining TTL is set proposes a reset (remaining 0 = "none": a new leader grants the full TTL).
//
// Rate limits: poll() acts at most once per check_interval, hands out at most revokes_per_check_max
// revokes and checkpoints_per_check_max checkpoints (one LeaseCheckpoint entry) per call.
//
// Not thread-safe: the server calls it on the node thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "server/lease/clock.h"
#include "storage/requests.h"

namespace cairn::server::lease {

struct LessorConfig {
  std::chrono::milliseconds election_timeout{1000};
  std::chrono::milliseconds check_interval{500};                           // etcd: 500 ms
  size_t revokes_per_check_max = 500;                                      // etcd: leaseRevokeRate / 2
  std::chrono::milliseconds checkpoint_interval{std::chrono::minutes(5)};  // etcd's default interval
  std::chrono::milliseconds checkpoint_remaining_min{std::chrono::seconds(2)};
  size_t checkpoints_per_check_max = 1000;  // etcd: maxLeaseCheckpointBatchSize
};

// etcd's minimum lease TTL: ceil(1.5 x election timeout) in whole seconds (2 s with the 1 s default).
int64_t min_ttl_seconds(std::chrono::milliseconds election_timeout);

// What the store holds about one lease.
struct LeaseRecord {
  int64_t id = 0;
  int64_t ttl = 0;            // granted TTL, seconds
  int64_t remaining_ttl = 0;  // last checkpointed remaining TTL, seconds; 0 = none
};

class Lessor {
 public:
  Lessor(const Clock& clock, LessorConfig cfg);

  // ---- role ----
  void promote(const std::vector<LeaseRecord>& leases);
  void demote();
  bool primary() const { return primary_; }

  // ---- what the store did (primary only; ignored on a follower) ----
  // A grant applied: the lease expires ttl from now.
  void granted(const LeaseRecord& l);
  // Brings the expiry table in line with the store's leases: unseen ones count as granted now, gone ones
  // are dropped. For changes the primary learns only from the store (grants proposed by followers,
  // revokes applied while a revoke was pending).
  // `ids` are the store's lease ids; `lookup` reads one record (called only for ids not tracked yet).
  void reconcile(const std::vector<int64_t>& ids,
                 const std::function<std::optional<LeaseRecord>(int64_t)>& lookup);
  // A revoke applied (or the lease was found gone).
  void revoked(int64_t id);

  // ---- requests (primary only) ----
  enum class RenewOutcome { kRenewed, kExpired, kNotPrimary };
  // Keep-alive of a lease the store holds: it expires a full TTL from now. An expired lease waiting for
  // its revoke is not renewed (etcd answers TTL 0 for it).
  RenewOutcome renew(const LeaseRecord& l);
  // Time left before expiry (primary; zero when expired); nullopt if unknown or not primary.
  std::optional<std::chrono::milliseconds> remaining(int64_t id) const;

  // ---- periodic work ----
  struct Work {
    std::vector<int64_t> revoke;                       // propose LeaseRevoke for each
    std::vector<storage::LeaseCheckpoint> checkpoint;  // propose one LeaseCheckpoint entry
    bool empty() const { return revoke.empty() && checkpoint.empty(); }
  };
  // Call often (every tick); acts at most once per check_interval. Ids handed out for revoke are not
  // handed out again until revoke_failed (or forgotten by revoked/demote).
  Work poll();
  // poll() would act now (the caller reconciles with the store first).
  bool check_due() const;
  // A revoke proposal failed (no leader, timeout): try again at the next check.
  void revoke_failed(int64_t id);

  // ---- inspection (tests, docs) ----
  size_t size() const { return leases_.size(); }
  bool revoking(int64_t id) const;

 private:
  struct State {
    int64_t ttl = 0;
    TimePoint expiry{};
    bool revoking = false;
    std::optional<TimePoint> next_checkpoint;
    bool stored_remaining = false;  // the store's remaining_ttl is (or will be) non-zero
    bool reset_pending = false;     // a checkpoint {id, 0} is due
  };
  void insert(int64_t id, int64_t ttl, std::chrono::milliseconds life, bool stored_remaining);
  void set_expiry(int64_t id, State& s, TimePoint t);
  void schedule_checkpoint(int64_t id, State& s, std::chrono::milliseconds remaining);
  void unschedule_checkpoint(int64_t id, State& s);
  void erase(int64_t id);

  const Clock& clock_;
  LessorConfig cfg_;
  bool primary_ = false;
  std::optional<TimePoint> last_check_;
  std::map<int64_t, State> leases_;
  std::set<std::pair<TimePoint, int64_t>> by_expiry_;      // not-yet-revoking leases
  std::set<std::pair<TimePoint, int64_t>> by_checkpoint_;  // scheduled checkpoints
  std::set<int64_t> resets_;                               // leases with reset_pending
};

}  // namespace cairn::server::lease
