// Completion<T>: a one-shot result that another thread (a raft loop, a storage worker) delivers to a
// coroutine running on the network strand, without blocking that strand.
//
//   auto [promise, completion] = make_completion<Reply>();
//   hand promise to a worker;              // worker thread: promise.set(value);
//   std::optional<Reply> r = co_await completion.wait();   // on the strand
//
// wait() resumes on the awaiting coroutine's executor (never on the setter's thread). It yields nullopt
// if the promise is destroyed without set() (the producer gave up) or if the awaiting operation is
// cancelled (the client went away); a set() after that is dropped. Thread-safe; one waiter only.
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace cairn::server::net {

namespace detail {
// Type-erased waiting coroutine handler.
template <class T>
struct CompletionHandlerBase {
  virtual ~CompletionHandlerBase() = default;
  virtual void resume(std::optional<T> v) = 0;
};
template <class T, class H>
struct CompletionHandlerImpl final : CompletionHandlerBase<T> {
  explicit CompletionHandlerImpl(H h) : h_(std::move(h)) {}
  void resume(std::optional<T> v) override { std::move(h_)(std::move(v)); }
  H h_;
};

template <class T>
struct CompletionState {
  using Handler = std::unique_ptr<CompletionHandlerBase<T>>;
  std::mutex mu;
  std::optional<T> value;  // set() before wait()
  bool finished = false;   // a value or "no value" has been decided
  bool waiting = false;
  Handler handler;
  boost::asio::any_io_executor handler_executor;

  // Decides the outcome once; resumes the waiter (if any) through its executor.
  void complete(std::optional<T> v) {
    Handler h;
    boost::asio::any_io_executor ex;
    {
      std::lock_guard lock(mu);
      if (finished) return;
      finished = true;
      if (!waiting) {
        value = std::move(v);
        return;
      }
      h = std::move(handler);
      ex = handler_executor;
      waiting = false;
    }
    // The waiter is a coroutine: its handler's executor is the coroutine's (stored at wait()).
    boost::asio::post(ex, [h = std::move(h), v = std::move(v)]() mutable { h->resume(std::move(v)); });
  }
};
}  // namespace detail

template <class T>
class CompletionPromise {
 public:
  explicit CompletionPromise(std::shared_ptr<detail::CompletionState<T>> s) : state_(std::move(s)) {}
  CompletionPromise(CompletionPromise&&) noexcept = default;
  CompletionPromise& operator=(CompletionPromise&& o) noexcept {
    abandon();
    state_ = std::move(o.state_);
    return *this;
  }
  CompletionPromise(const CompletionPromise&) = delete;
  CompletionPromise& operator=(const CompletionPromise&) = delete;
  ~CompletionPromise() { abandon(); }

  // Callable from any thread, at most once (later calls are ignored).
  void set(T value) {
    if (state_) std::exchange(state_, nullptr)->complete(std::move(value));
  }

 private:
  void abandon() {
    if (state_) std::exchange(state_, nullptr)->complete(std::nullopt);
  }
  std::shared_ptr<detail::CompletionState<T>> state_;
};

template <class T>
class Completion {
 public:
  explicit Completion(std::shared_ptr<detail::CompletionState<T>> s) : state_(std::move(s)) {}

  // Awaits the value. Supports Asio per-operation cancellation (yields nullopt). Not itself a coroutine
  // (and the initiation is a named type, not a capturing lambda): GCC 12 double-destroys lambda captures
  // inside co_await expressions.
  boost::asio::awaitable<std::optional<T>> wait() {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void(std::optional<T>)>(
        Initiation{state_}, boost::asio::use_awaitable);
  }

 private:
  struct Initiation {
    std::shared_ptr<detail::CompletionState<T>> state;

    template <class Handler>
    void operator()(Handler handler) const {
      boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler);
      auto slot = boost::asio::get_associated_cancellation_slot(handler);
      std::unique_lock lock(state->mu);
      if (state->finished && !state->waiting) {
        std::optional<T> ready = std::move(state->value);
        lock.unlock();
        boost::asio::post(
            ex, [h = std::move(handler), v = std::move(ready)]() mutable { std::move(h)(std::move(v)); });
        return;
      }
      state->waiting = true;
      state->handler_executor = ex;
      if (slot.is_connected()) {
        slot.assign([s = state](boost::asio::cancellation_type) { s->complete(std::nullopt); });
      }
      state->handler = std::make_unique<detail::CompletionHandlerImpl<T, Handler>>(std::move(handler));
    }
  };

  std::shared_ptr<detail::CompletionState<T>> state_;
};

template <class T>
std::pair<CompletionPromise<T>, Completion<T>> make_completion() {
  auto state = std::make_shared<detail::CompletionState<T>>();
  return {CompletionPromise<T>(state), Completion<T>(state)};
}

}  // namespace cairn::server::net
