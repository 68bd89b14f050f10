#include "wire/memory_pipe.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>

namespace cairn::wire {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

using ChunkQueue = asio::experimental::concurrent_channel<void(boost::system::error_code, std::string)>;

// One direction. An empty chunk is never data: it marks the writer's close, after the bytes before it.
struct Direction {
  explicit Direction(const asio::any_io_executor& ex) : queue(ex, MemoryPipe::kChunksMax) {}
  ChunkQueue queue;
  std::atomic<bool> writer_closed{false};
};

// Both directions; shared by the two ends, so an end may go away while the other still reads from it.
struct PipeState {
  explicit PipeState(const asio::any_io_executor& ex) : a_to_b(ex), b_to_a(ex) {}
  Direction a_to_b;
  Direction b_to_a;
  // Per end (a, b): closed by close() or the destructor. Kept here, not in the end, because a coroutine
  // of an end that was destroyed while it waited resumes afterwards and must only look at shared state.
  std::atomic<bool> closed[2] = {false, false};
};

class PipeStream final : public ByteStream {
 public:
  PipeStream(std::shared_ptr<PipeState> state, bool is_a, MemoryPipeEnd end)
      : state_(std::move(state)),
        closed_(state_->closed[is_a ? 0 : 1]),
        in_(is_a ? state_->b_to_a : state_->a_to_b),
        out_(is_a ? state_->a_to_b : state_->b_to_a),
        end_(std::move(end)) {}
  ~PipeStream() override { close(); }

  asio::any_io_executor get_executor() override { return end_.executor; }

  // After each wait only locals are touched until `closed` says this end still exists (it is set before
  // the end is destroyed).
  awaitable<IoResult> read_some(asio::mutable_buffer buf) override {
    std::shared_ptr<PipeState> state = state_;
    std::atomic<bool>& closed = closed_;
    Direction& in = in_;
    while (pos_ == chunk_.size()) {
      if (closed) co_return IoResult{asio::error::operation_aborted, 0};
      std::string chunk;
      bool got =
          in.queue.try_receive([&chunk](boost::system::error_code, std::string c) { chunk = std::move(c); });
      if (!got) {
        // Checked after the queue was found empty: a writer sets the flag before it queues its marker.
        if (in.writer_closed) co_return IoResult{asio::error::eof, 0};
        auto [ec, c] = co_await in.queue.async_receive(asio::as_tuple(use_awaitable));
        if (closed) co_return IoResult{asio::error::operation_aborted, 0};
        if (ec) continue;  // cancelled by the other end's close: the flags above decide
        chunk = std::move(c);
      }
      if (chunk.empty()) co_return IoResult{asio::error::eof, 0};
      chunk_ = std::move(chunk);
      pos_ = 0;
    }
    const std::size_t n = std::min(buf.size(), chunk_.size() - pos_);
    std::memcpy(buf.data(), chunk_.data() + pos_, n);
    pos_ += n;
    co_return IoResult{{}, n};
  }

  awaitable<IoResult> write_all(asio::const_buffer buf) override {
    std::shared_ptr<PipeState> state = state_;
    std::atomic<bool>& closed = closed_;
    Direction& out = out_;
    const char* p = static_cast<const char*>(buf.data());
    std::size_t left = buf.size();
    while (left > 0) {
      const std::size_t n = std::min(left, MemoryPipe::kChunkBytes);
      if (closed) co_return IoResult{asio::error::broken_pipe, buf.size() - left};
      auto [ec] = co_await out.queue.async_send(boost::system::error_code{}, std::string(p, n),
                                                asio::as_tuple(use_awaitable));
      if (ec || closed) co_return IoResult{asio::error::broken_pipe, buf.size() - left};
      p += n;
      left -= n;
    }
    co_return IoResult{{}, buf.size()};
  }

  // What was written stays readable by the other end, then it reads end of stream; what the other end
  // writes from now on fails, and this end's own waiting operations complete with an error.
  void close() override {
    if (closed_.exchange(true)) return;
    out_.writer_closed = true;
    out_.queue.cancel();  // a write of ours waiting on a full queue (or the reader, which re-checks)
    (void)out_.queue.try_send(boost::system::error_code{}, std::string());  // full: the flag tells
    in_.queue.cancel();  // a read of ours, or the other end's writers
    in_.queue.close();
  }
  bool is_open() const override { return !closed_; }
  std::string remote_address() const override { return end_.remote_address; }
  std::string peer_common_name() const override { return end_.peer_common_name; }

 private:
  std::shared_ptr<PipeState> state_;
  std::atomic<bool>& closed_;
  Direction& in_;
  Direction& out_;
  MemoryPipeEnd end_;
  std::string chunk_;  // the chunk being read, from pos_
  std::size_t pos_ = 0;
};

}  // namespace

MemoryPipe make_memory_pipe(MemoryPipeEnd a, MemoryPipeEnd b) {
  auto state = std::make_shared<PipeState>(a.executor);
  MemoryPipe pipe;
  pipe.a = std::make_unique<PipeStream>(state, true, std::move(a));
  pipe.b = std::make_unique<PipeStream>(state, false, std::move(b));
  return pipe;
}

}  // namespace cairn::wire
