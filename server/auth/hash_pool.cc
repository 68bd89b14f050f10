#include "server/auth/hash_pool.h"

#include <pthread.h>

namespace cairn::server::auth {

HashPool::HashPool() {
  for (size_t i = 0; i < kHashThreads; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "cairn-bcrypt");
      run();
    });
}

HashPool::~HashPool() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

bool HashPool::submit(std::function<void()> job) {
  {
    std::lock_guard lk(mu_);
    if (stopping_ || jobs_.size() >= kHashQueueMax) return false;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void HashPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace cairn::server::auth
