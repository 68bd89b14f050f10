#include "server/node/read_index.h"

namespace cairn::server::node {

bool ReadIndexBatcher::add(ErrorDone& done, TimePoint deadline) {
  if (waiting_.size() + confirmed_.size() >= pending_max_) return false;
  waiting_.push_back(PendingRead{std::move(done), deadline});
  return true;
}

std::optional<std::string> ReadIndexBatcher::start_round(bool has_leader) {
  if (waiting_.empty()) return std::nullopt;
  if (!has_leader) {
    for (auto& r : waiting_)
      r.done(err_no_leader());
    waiting_.clear();
    return std::nullopt;
  }
  std::string ctx = std::to_string(member_id_) + "/" + std::to_string(++round_seq_);
  in_flight_[ctx] = std::move(waiting_);
  waiting_.clear();
  return ctx;
}

void ReadIndexBatcher::on_read_state(const raft::ReadState& rs) {
  auto it = in_flight_.find(rs.request_ctx);
  if (it == in_flight_.end()) return;
  for (auto& r : it->second)
    confirmed_.emplace(rs.index, std::move(r));
  in_flight_.erase(it);
}

void ReadIndexBatcher::serve(uint64_t applied_index) {
  while (!confirmed_.empty() && confirmed_.begin()->first <= applied_index) {
    auto done = std::move(confirmed_.begin()->second.done);
    confirmed_.erase(confirmed_.begin());
    done(std::nullopt);
  }
}

void ReadIndexBatcher::expire(TimePoint now) {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    bool expired = !it->second.empty() && it->second.front().deadline <= now;
    if (expired) {
      for (auto& r : it->second)
        r.done(err_timeout());
      it = in_flight_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = confirmed_.begin(); it != confirmed_.end();) {
    if (it->second.deadline <= now) {
      it->second.done(err_timeout());
      it = confirmed_.erase(it);
    } else {
      ++it;
    }
  }
}

void ReadIndexBatcher::fail_all(const EtcdError& err) {
  for (auto& r : waiting_)
    r.done(err);
  waiting_.clear();
  for (auto& [ctx, v] : in_flight_)
    for (auto& r : v)
      r.done(err);
  in_flight_.clear();
  for (auto& [i, r] : confirmed_)
    r.done(err);
  confirmed_.clear();
}

}  // namespace cairn::server::node
