#include "server/node/defragmenter.h"

#include <pthread.h>

#include <boost/asio/post.hpp>
#include <utility>

namespace cairn::server::node {

void Defragmenter::start(storage::KvEngine& engine, Done done) {
  waiting_.push_back(std::move(done));
  if (running_) return;
  if (thread_.joinable()) thread_.join();  // the previous one, already finished
  running_ = true;
  engine_ = &engine;
  thread_ = std::thread([this, &engine] {
    pthread_setname_np(pthread_self(), "cairn-defrag");
    auto r = engine.compact_storage();
    boost::asio::post(ioc_, [this, r] { on_done(r); });
  });
}

void Defragmenter::on_done(const Expected<storage::Unit, storage::Error>& r) {
  if (!running_) return;  // finish() already answered
  running_ = false;
  engine_ = nullptr;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) {
    if (r) {
      w(storage::Unit{});
    } else {
      w(unexpected(from_store(r.error())));
    }
  }
}

void Defragmenter::finish() {
  if (running_ && engine_ != nullptr) engine_->stop_compact_storage();
  if (thread_.joinable()) thread_.join();
  if (!running_) return;
  running_ = false;
  engine_ = nullptr;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting)
    w(unexpected(
        EtcdError{net::StatusCode::kUnavailable, "etcdserver: defragment stopped: the store was closed"}));
}

}  // namespace cairn::server::node
