#include "server/lease/lessor.h"

#include <algorithm>
#include <cassert>

namespace cairn::server::lease {

using std::chrono::milliseconds;
using std::chrono::seconds;

int64_t min_ttl_seconds(milliseconds election_timeout) {
  // ceil(1.5 * et / 1 s), in integer milliseconds: ceil(3 * et / 2000).
  const int64_t ms3 = 3 * static_cast<int64_t>(election_timeout.count());
  return std::max<int64_t>(1, (ms3 + 1999) / 2000);
}

Lessor::Lessor(const Clock& clock, LessorConfig cfg) : clock_(clock), cfg_(cfg) {}

void Lessor::promote(const std::vector<LeaseRecord>& leases) {
  leases_.clear();
  by_expiry_.clear();
  by_checkpoint_.clear();
  resets_.clear();
  primary_ = true;
  last_check_.reset();
  for (const LeaseRecord& l : leases) {
    const int64_t left = l.remaining_ttl > 0 ? std::min(l.remaining_ttl, l.ttl) : l.ttl;
    insert(l.id, l.ttl, seconds(left) + cfg_.election_timeout, l.remaining_ttl > 0);
  }
}

void Lessor::demote() {
  primary_ = false;
  leases_.clear();
  by_expiry_.clear();
  by_checkpoint_.clear();
  resets_.clear();
  last_check_.reset();
}

void Lessor::insert(int64_t id, int64_t ttl, milliseconds life, bool stored_remaining) {
  erase(id);
  State& s = leases_[id];
  s.ttl = ttl;
  s.stored_remaining = stored_remaining;
  set_expiry(id, s, clock_.now() + life);
  schedule_checkpoint(id, s, life);
}

void Lessor::set_expiry(int64_t id, State& s, TimePoint t) {
  if (!s.revoking) by_expiry_.erase({s.expiry, id});
  s.expiry = t;
  s.revoking = false;
  by_expiry_.insert({t, id});
}

void Lessor::schedule_checkpoint(int64_t id, State& s, milliseconds remaining) {
  unschedule_checkpoint(id, s);
  // Checkpoint once half of what is left has passed, no more often than every checkpoint_interval... and
  // not at all for short remainders, where a reset to the full TTL on promotion costs little.
  const milliseconds half = remaining / 2;
  if (half < cfg_.checkpoint_remaining_min) return;
  const TimePoint at = clock_.now() + std::min(half, cfg_.checkpoint_interval);
  s.next_checkpoint = at;
  by_checkpoint_.insert({at, id});
}

void Lessor::unschedule_checkpoint(int64_t id, State& s) {
  if (s.next_checkpoint) by_checkpoint_.erase({*s.next_checkpoint, id});
  s.next_checkpoint.reset();
}

void Lessor::erase(int64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  if (!it->second.revoking) by_expiry_.erase({it->second.expiry, id});
  unschedule_checkpoint(id, it->second);
  resets_.erase(id);
  leases_.erase(it);
}

void Lessor::granted(const LeaseRecord& l) {
  if (!primary_ || leases_.count(l.id)) return;
  insert(l.id, l.ttl, seconds(l.ttl), false);
}

void Lessor::reconcile(const std::vector<int64_t>& ids,
                       const std::function<std::optional<LeaseRecord>(int64_t)>& lookup) {
  if (!primary_) return;
  std::set<int64_t> present(ids.begin(), ids.end());
  for (int64_t id : ids) {
    if (leases_.count(id)) continue;
    std::optional<LeaseRecord> l = lookup(id);
    if (!l) continue;
    const int64_t left = l->remaining_ttl > 0 ? std::min(l->remaining_ttl, l->ttl) : l->ttl;
    insert(l->id, l->ttl, seconds(left), l->remaining_ttl > 0);
  }
  std::vector<int64_t> gone;
  for (const auto& [id, s] : leases_)
    if (!present.count(id)) gone.push_back(id);
  for (int64_t id : gone)
    erase(id);
}

void Lessor::revoked(int64_t id) {
  erase(id);
}

Lessor::RenewOutcome Lessor::renew(const LeaseRecord& l) {
  if (!primary_) return RenewOutcome::kNotPrimary;
  auto it = leases_.find(l.id);
  if (it == leases_.end()) {
    // Granted through another member and not reconciled yet: it was granted moments ago.
    insert(l.id, l.ttl, seconds(l.ttl), l.remaining_ttl > 0);
    it = leases_.find(l.id);
  }
  State& s = it->second;
  const TimePoint now = clock_.now();
  if (s.revoking || s.expiry <= now) return RenewOutcome::kExpired;
  s.ttl = l.ttl;
  set_expiry(l.id, s, now + seconds(l.ttl));
  schedule_checkpoint(l.id, s, seconds(l.ttl));
  if (s.stored_remaining && !s.reset_pending) {
    s.reset_pending = true;
    resets_.insert(l.id);
  }
  return RenewOutcome::kRenewed;
}

std::optional<milliseconds> Lessor::remaining(int64_t id) const {
  if (!primary_) return std::nullopt;
  auto it = leases_.find(id);
  if (it == leases_.end()) return std::nullopt;
  const TimePoint now = clock_.now();
  if (it->second.revoking || it->second.expiry <= now) return milliseconds(0);
  return std::chrono::duration_cast<milliseconds>(it->second.expiry - now);
}

bool Lessor::revoking(int64_t id) const {
  auto it = leases_.find(id);
  return it != leases_.end() && it->second.revoking;
}

bool Lessor::check_due() const {
  return primary_ && (!last_check_ || clock_.now() - *last_check_ >= cfg_.check_interval);
}

Lessor::Work Lessor::poll() {
  Work w;
  if (!primary_) return w;
  const TimePoint now = clock_.now();
  if (last_check_ && now - *last_check_ < cfg_.check_interval) return w;
  last_check_ = now;

  // Expired leases, oldest first, at most revokes_per_check_max: the rest wait for the next check.
  while (!by_expiry_.empty() && w.revoke.size() < cfg_.revokes_per_check_max) {
    auto [at, id] = *by_expiry_.begin();
    if (at > now) break;
    by_expiry_.erase(by_expiry_.begin());
    State& s = leases_.at(id);
    s.revoking = true;
    unschedule_checkpoint(id, s);
    w.revoke.push_back(id);
  }

  // Resets first (a renewed lease must not keep an old remaining TTL), then scheduled checkpoints.
  while (!resets_.empty() && w.checkpoint.size() < cfg_.checkpoints_per_check_max) {
    const int64_t id = *resets_.begin();
    resets_.erase(resets_.begin());
    State& s = leases_.at(id);
    s.reset_pending = false;
    s.stored_remaining = false;
    w.checkpoint.push_back(storage::LeaseCheckpoint{id, 0});
  }
  while (!by_checkpoint_.empty() && w.checkpoint.size() < cfg_.checkpoints_per_check_max) {
    auto [at, id] = *by_checkpoint_.begin();
    if (at > now) break;
    State& s = leases_.at(id);
    unschedule_checkpoint(id, s);
    assert(!s.revoking);
    const milliseconds left = std::chrono::duration_cast<milliseconds>(s.expiry - now);
    if (left <= milliseconds(0)) continue;
    // Whole seconds, rounded up: a new leader must not expire the lease before this one would have.
    const int64_t left_s = (left.count() + 999) / 1000;
    w.checkpoint.push_back(storage::LeaseCheckpoint{id, left_s});
    s.stored_remaining = true;
    if (s.reset_pending) {  // the checkpoint supersedes a reset queued earlier
      s.reset_pending = false;
      resets_.erase(id);
    }
    schedule_checkpoint(id, s, left);
  }
  return w;
}

void Lessor::revoke_failed(int64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end() || !it->second.revoking) return;
  // Still expired: handed out again at the next check.
  it->second.revoking = false;
  by_expiry_.insert({it->second.expiry, id});
}

}  // namespace cairn::server::lease
