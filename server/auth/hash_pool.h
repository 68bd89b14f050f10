// HashPool: the threads that run bcrypt (tens of milliseconds per call at etcd's default cost 10), so
// that neither the node thread nor a network thread ever waits for a password hash. The queue is bounded
// (kHashQueueMax): a flood of Authenticate or UserAdd calls is refused with "too many requests" while
// every other request is served as usual.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn::server::auth {

inline constexpr size_t kHashThreads = 2;
inline constexpr size_t kHashQueueMax = 64;

class HashPool {
 public:
  HashPool();
  ~HashPool();  // drops queued jobs, waits for running ones
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;
  // False when the queue is full (the job is not run).
  bool submit(std::function<void()> job);

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cairn::server::auth
