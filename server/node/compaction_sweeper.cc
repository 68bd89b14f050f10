#include "server/node/compaction_sweeper.h"

#include <algorithm>
#include <utility>

namespace cairn::server::node {

CompactionSweeper::CompactionSweeper(boost::asio::io_context& ioc, Options options,
                                     std::function<storage::MvccStore*()> store,
                                     std::function<void(const std::string&)> on_failure)
    : options_(options), timer_(ioc), store_(std::move(store)), on_failure_(std::move(on_failure)) {
  options_.batch_limit = std::max<size_t>(1, options_.batch_limit);
}

void CompactionSweeper::poke() {
  if (scheduled_ || stopped_) return;
  storage::MvccStore* s = store_();
  if (s == nullptr || !s->compaction_pending()) {
    run_waiters();
    return;
  }
  scheduled_ = true;
  timer_.expires_after(options_.interval);
  timer_.async_wait([this](boost::system::error_code e) {
    scheduled_ = false;
    if (!e && !stopped_) sweep();
  });
}

void CompactionSweeper::when_swept(std::function<void()> fn) {
  waiters_.push_back(std::move(fn));
  poke();
}

void CompactionSweeper::run_waiters() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters)
    w();
}

void CompactionSweeper::stop() {
  stopped_ = true;
  timer_.cancel();
  run_waiters();
}

void CompactionSweeper::sweep() {
  storage::MvccStore* s = store_();
  if (s == nullptr) return;
  auto n = s->compact_step(options_.batch_limit);
  if (!n) {
    on_failure_("compaction: deleting compacted records failed: " + n.error().message());
    return;
  }
  deleted_ += *n;
  ++batches_;
  poke();
}

}  // namespace cairn::server::node
