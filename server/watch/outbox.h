// Outbox: the bounded hand-over of one Watch stream's responses from the node thread (where the hub
// produces them) to the stream's writer coroutine (on the connection's strand).
//
// The hub pushes serialized etcdserverpb::WatchResponse messages; the writer takes everything queued
// in one go and hands it to ServerStream::write (which has its own bound and backpressure). Two
// limits, in bytes of queued messages:
//   * soft (`bytes_soft_max`): above it has_room() is false and the hub stops pushing *events* to the
//     stream: the watchers that would have received them become unsynced and re-read history later
//     (when the writer drained the outbox and asked for a resume). This is what keeps a client that
//     never reads from holding up the apply loop or other streams, without losing anything.
//   * hard (`bytes_hard_max`): control responses (created, canceled, progress) are always pushed, so
//     their order with the events is kept; only a client that floods requests while never reading
//     can take the outbox past this, and push() then reports false so the hub ends the stream.
//
// Thread-safety: push/close/want_resume from the node thread; take/wait/mark_gone from the strand;
// has_room/gone from anywhere. All under one mutex except the two atomics.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/net/completion.h"
#include "server/net/vocabulary.h"
#include "wire/framing.h"

namespace cairn::server::watch {

class Outbox {
 public:
  Outbox(size_t bytes_soft_max, size_t bytes_hard_max)
      : soft_max_(bytes_soft_max), hard_max_(bytes_hard_max) {}

  // ---- producer (node thread) ----
  bool has_room() const { return bytes_.load(std::memory_order_relaxed) < soft_max_; }
  // Queues one message and wakes the writer. False if the outbox is past its hard limit (the message
  // is dropped; the caller ends the stream).
  bool push(std::string message);
  // The hub held back events because the outbox was full: ask the writer to request a resume once it
  // has drained the outbox.
  // Wakes the writer even with nothing queued, so a resume is never missed when the writer took the
  // last bytes between the hub's has_room() check and this call.
  void want_resume();
  // Ends the stream: the writer sends what is queued, then finishes the call with `status`.
  void close(net::Status status);

  // ---- consumer (the stream's strand, or a test) ----
  struct Batch {
    std::vector<std::string> messages;
    bool resume = false;                // call Hub::resume for this stream after sending these
    std::optional<net::Status> closed;  // the stream is over after these messages
  };
  // Takes everything queued (non-blocking).
  Batch take();
  // Waits until something can be taken (messages, a resume request or close). False if the wait was
  // cancelled.
  boost::asio::awaitable<bool> wait();
  // The stream's handler is finishing: the hub may forget this outbox (also swept on tick).
  void mark_gone() { gone_.store(true, std::memory_order_release); }
  bool gone() const { return gone_.load(std::memory_order_acquire); }

  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  const size_t soft_max_;
  const size_t hard_max_;
  std::atomic<size_t> bytes_{0};
  bool resume_wanted_ = false;  // under mu_
  std::atomic<bool> gone_{false};
  std::mutex mu_;
  std::deque<std::string> queue_;
  std::optional<net::Status> closed_;
  std::optional<net::CompletionPromise<bool>> waiter_;
};

}  // namespace cairn::server::watch
