#include "wire/h2_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cairn::wire::detail {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

void HeaderList::add(std::string_view name, std::string_view value) {
  names_.emplace_back(name);
  values_.emplace_back(value);
}

const nghttp2_nv* HeaderList::data() {
  nv_.clear();
  for (std::size_t i = 0; i < names_.size(); ++i) {
    nv_.push_back(nghttp2_nv{reinterpret_cast<std::uint8_t*>(names_[i].data()),
                             reinterpret_cast<std::uint8_t*>(values_[i].data()), names_[i].size(),
                             values_[i].size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv_.data();
}

void OutboundQueue::push(std::string framed) {
  pending_bytes += framed.size();
  if (front > 0 && front == chunks.size()) {
    chunks.clear();
    front = 0;
  }
  chunks.push_back(std::move(framed));
}

std::size_t OutboundQueue::take(std::uint8_t* buf, std::size_t length) {
  std::size_t copied = 0;
  while (copied < length && front < chunks.size()) {
    const std::string& c = chunks[front];
    std::size_t n = std::min(length - copied, c.size() - offset);
    std::copy_n(c.data() + offset, n, buf + copied);
    copied += n;
    offset += n;
    if (offset == c.size()) {
      std::string().swap(chunks[front]);
      ++front;
      offset = 0;
    }
  }
  if (front == chunks.size()) {
    chunks.clear();
    front = 0;
  }
  pending_bytes -= copied;
  return copied;
}

H2Session::H2Session(std::unique_ptr<ByteStream> stream, std::chrono::milliseconds write_stall_timeout)
    : stream_(std::move(stream)),
      write_stall_timeout_(write_stall_timeout),
      write_wake_(stream_->get_executor()),
      stall_timer_(stream_->get_executor()) {}

H2Session::~H2Session() {
  if (ng_ != nullptr) nghttp2_session_del(ng_);
}

void H2Session::signal_write() {
  write_wake_.cancel();
}

void H2Session::abort() {
  ended_ = true;
  stream_->close();
  signal_write();
}

asio::awaitable<void> H2Session::run(std::string initial) {
  // Something (the server's SETTINGS, the client's preface) is already queued: flush it first.
  signal_write();
  co_await (read_loop(std::move(initial)) && write_loop());
  ended_ = true;
  write_wake_.cancel();
  disarm_stall_timer();
  on_session_end();
}

bool H2Session::feed(const std::uint8_t* data, std::size_t n) {
  ssize_t rv = nghttp2_session_mem_recv(ng_, data, n);
  signal_write();
  if (rv < 0) {
    // nghttp2 has queued a GOAWAY where the protocol asks for one: the writer flushes it and ends.
    on_protocol_error(static_cast<int>(rv));
    return false;
  }
  on_bytes_received();
  return true;
}

asio::awaitable<void> H2Session::read_loop(std::string initial) {
  bool ok = initial.empty() || feed(reinterpret_cast<const std::uint8_t*>(initial.data()), initial.size());
  while (ok && !ended_) {
    IoResult r = co_await stream_->read_some(asio::buffer(read_buf_));
    if (r.ec) {
      read_error_ = r.ec;
      break;
    }
    ok = feed(read_buf_.data(), r.bytes);
  }
  reader_done_ = true;
  signal_write();
}

asio::awaitable<void> H2Session::write_loop() {
  while (true) {
    out_.clear();
    bool fatal = false;
    while (out_.size() < kWriteBatchBytesMax) {
      const std::uint8_t* p = nullptr;
      ssize_t n = nghttp2_session_mem_send(ng_, &p);
      if (n < 0) {
        fatal = true;
        break;
      }
      if (n == 0) break;
      out_.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    if (!out_.empty() && stream_->is_open()) {
      arm_stall_timer();
      IoResult r = co_await stream_->write_all(asio::buffer(out_));
      disarm_stall_timer();
      if (r.ec) break;
      if (!fatal) continue;
    }
    if (fatal || reader_done_ || ended_) break;
    if (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) break;
    write_wake_.expires_at(asio::steady_timer::time_point::max());
    co_await write_wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  ended_ = true;
  stream_->close();  // unblocks the reader
}

void H2Session::arm_stall_timer() {
  ++stall_generation_;
  stall_timer_.expires_after(write_stall_timeout_);
  stall_timer_.async_wait([self = shared_from_this(), gen = stall_generation_](boost::system::error_code ec) {
    if (!ec && gen == self->stall_generation_) self->abort();
  });
}

void H2Session::disarm_stall_timer() {
  ++stall_generation_;
  stall_timer_.cancel();
}

}  // namespace cairn::wire::detail
