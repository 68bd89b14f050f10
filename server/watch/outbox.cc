#include "server/watch/outbox.h"

#include <utility>

namespace cairn::server::watch {

bool Outbox::push(std::string message) {
  std::optional<net::CompletionPromise<bool>> waiter;
  {
    std::lock_guard lock(mu_);
    if (closed_) return true;  // the stream is ending; nothing more will be sent
    const size_t bytes = bytes_.load(std::memory_order_relaxed);
    if (bytes + message.size() > hard_max_) return false;
    bytes_.store(bytes + message.size(), std::memory_order_relaxed);
    queue_.push_back(std::move(message));
    waiter = std::move(waiter_);
    waiter_.reset();
  }
  if (waiter) waiter->set(true);
  return true;
}

void Outbox::want_resume() {
  std::optional<net::CompletionPromise<bool>> waiter;
  {
    std::lock_guard lock(mu_);
    resume_wanted_ = true;
    waiter = std::move(waiter_);
    waiter_.reset();
  }
  if (waiter) waiter->set(true);
}

void Outbox::close(net::Status status) {
  std::optional<net::CompletionPromise<bool>> waiter;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = std::move(status);
    waiter = std::move(waiter_);
    waiter_.reset();
  }
  if (waiter) waiter->set(true);
}

Outbox::Batch Outbox::take() {
  Batch b;
  std::lock_guard lock(mu_);
  b.messages.reserve(queue_.size());
  for (std::string& m : queue_)
    b.messages.push_back(std::move(m));
  queue_.clear();
  bytes_.store(0, std::memory_order_relaxed);
  b.resume = std::exchange(resume_wanted_, false);
  b.closed = closed_;
  return b;
}

boost::asio::awaitable<bool> Outbox::wait() {
  for (;;) {
    std::optional<net::Completion<bool>> completion;
    {
      std::lock_guard lock(mu_);
      if (!queue_.empty() || closed_ || resume_wanted_) co_return true;
      auto pc = net::make_completion<bool>();
      waiter_.emplace(std::move(pc.first));
      completion.emplace(std::move(pc.second));
    }
    auto aw = completion->wait();
    std::optional<bool> woken = co_await std::move(aw);
    if (!woken) co_return false;  // cancelled (the call is over)
  }
}

}  // namespace cairn::server::watch
