#include "server/node/request_waiters.h"

namespace cairn::server::node {

std::optional<RequestWaiters::Waiter> RequestWaiters::take(uint64_t request_id) {
  auto it = by_id_.find(request_id);
  if (it == by_id_.end()) return std::nullopt;
  Waiter w = std::move(it->second);
  by_id_.erase(it);
  return w;
}

void RequestWaiters::finish(uint64_t request_id, std::optional<EtcdError> outcome) {
  auto w = take(request_id);
  if (w && w->error_done) w->error_done(std::move(outcome));
}

void RequestWaiters::add_transfer(uint64_t target, ErrorDone done, TimePoint deadline) {
  transfers_.push_back(Transfer{target, std::move(done), deadline});
}

void RequestWaiters::on_leader(uint64_t leader) {
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (it->target == leader) {
      it->done(std::nullopt);
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t RequestWaiters::expire(TimePoint now) {
  size_t expired = 0;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (it->second.deadline <= now) {
      auto w = std::move(it->second);
      it = by_id_.erase(it);
      ++expired;
      if (w.apply_done) w.apply_done(unexpected(err_timeout()));
      if (w.error_done) w.error_done(err_timeout());
    } else {
      ++it;
    }
  }
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (it->deadline <= now) {
      it->done(err_timeout());
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

void RequestWaiters::fail_all(const EtcdError& err) {
  for (auto& [id, w] : by_id_) {
    if (w.apply_done) w.apply_done(unexpected(err));
    if (w.error_done) w.error_done(err);
  }
  by_id_.clear();
  for (auto& t : transfers_)
    t.done(err);
  transfers_.clear();
}

}  // namespace cairn::server::node
