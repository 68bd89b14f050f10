#include "server/node/wal_writer.h"

#include <pthread.h>

namespace cairn::server::node {

WalWriter::WalWriter(wal::Wal& wal, std::mutex& wal_mu, std::function<void(Done)> on_done,
                     std::function<void(const std::string&)> on_failure, bool threaded)
    : wal_(wal),
      wal_mu_(wal_mu),
      on_done_(std::move(on_done)),
      on_failure_(std::move(on_failure)),
      threaded_(threaded) {
  if (!threaded_) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cairn-wal");
    run();
  });
}

WalWriter::~WalWriter() {
  stop();
}

void WalWriter::submit(Job job) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void WalWriter::stop() {
  if (!threaded_) {
    bool was_stopping;
    {
      std::lock_guard lk(mu_);
      was_stopping = stopping_;
    }
    if (!was_stopping) write_queued();
    std::lock_guard lk(mu_);
    stopping_ = true;
    return;
  }
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

size_t WalWriter::write_queued() {
  std::vector<Job> batch;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return 0;
    batch.swap(queue_);
  }
  if (batch.empty()) return 0;
  on_done_(write(batch));
  return batch.size();
}

bool WalWriter::queued() {
  std::lock_guard lk(mu_);
  return !queue_.empty();
}

void WalWriter::abandon() {
  std::lock_guard lk(mu_);
  queue_.clear();
  stopping_ = true;
}

void WalWriter::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued is written
    std::vector<Job> batch;
    batch.swap(queue_);
    lk.unlock();
    on_done_(write(batch));
    lk.lock();
  }
}

WalWriter::Done WalWriter::write(std::vector<Job>& batch) {
  Done done;
  bool must_sync = false;
  std::lock_guard wl(wal_mu_);
  for (Job& j : batch) {
    done.ready_numbers.push_back(j.ready_number);
    must_sync |= j.must_sync;
    if (j.entries->empty() && !j.hard_state) continue;
    if (auto s = wal_.append(*j.entries, j.hard_state ? &*j.hard_state : nullptr); !s.is_ok())
      on_failure_("WAL append failed: " + s.message());
  }
  if (must_sync) {
    const auto t0 = std::chrono::steady_clock::now();
    if (auto d = wal_.sync(); !d) on_failure_("WAL sync failed: " + d.error().message());
    done.synced = true;
    done.sync_took = std::chrono::steady_clock::now() - t0;
  }
  return done;
}

}  // namespace cairn::server::node
