#include "server/node/hash_runner.h"

#include <boost/asio/post.hpp>
#include <utility>

namespace cairn::server::node {

HashRunner::HashRunner(boost::asio::io_context& ioc, size_t records_per_step, size_t jobs_max)
    : ioc_(ioc), records_per_step_(records_per_step), jobs_max_(jobs_max) {}

void HashRunner::run(storage::MvccStore::Hasher hasher, Done done) {
  if (jobs_.size() >= jobs_max_) {
    boost::asio::post(ioc_, [done = std::move(done)] { done(unexpected(err_too_many_requests())); });
    return;
  }
  const uint64_t id = ++next_id_;
  jobs_.emplace(id, Job{std::move(hasher), std::move(done)});
  post_step(id);
}

void HashRunner::post_step(uint64_t id) {
  boost::asio::post(ioc_, [this, id] { step(id); });
}

void HashRunner::step(uint64_t id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;  // cancelled
  auto done = it->second.hasher.step(records_per_step_);
  if (done && !*done) {
    post_step(id);
    return;
  }
  Job job = std::move(it->second);
  jobs_.erase(it);
  if (!done) {
    job.done(unexpected(from_store(done.error())));
  } else {
    job.done(job.hasher.kv());
  }
}

void HashRunner::cancel_all(const EtcdError& why) {
  auto jobs = std::move(jobs_);
  jobs_.clear();
  for (auto& [id, job] : jobs)
    job.done(unexpected(why));
}

}  // namespace cairn::server::node
