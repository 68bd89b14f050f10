// An in-memory ByteStream for the network fuzz targets: reads hand out a fixed input in chunks of a
// chosen size and then report end of stream; writes are kept (up to a bound) and succeed. Every operation
// first yields to the executor, so the protocol's reader, writer and handler coroutines interleave as
// they would on a socket.
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "server/net/vocabulary.h"
#include "wire/byte_stream.h"

namespace cairn::fuzz {

struct MemoryStreamOutput {
  std::string written;
  bool closed = false;
};

class MemoryByteStream final : public server::net::ByteStream {
 public:
  static constexpr std::size_t kWrittenBytesKeptMax = 1 << 20;

  MemoryByteStream(boost::asio::any_io_executor ex, std::string input, std::size_t chunk_bytes,
                   std::shared_ptr<MemoryStreamOutput> out)
      : ex_(std::move(ex)),
        input_(std::move(input)),
        chunk_bytes_(std::max<std::size_t>(chunk_bytes, 1)),
        out_(std::move(out)) {}
  ~MemoryByteStream() override { out_->closed = true; }

  boost::asio::any_io_executor get_executor() override { return ex_; }

  boost::asio::awaitable<server::net::IoResult> read_some(boost::asio::mutable_buffer buf) override {
    co_await boost::asio::post(ex_, boost::asio::use_awaitable);
    if (!open_) co_return server::net::IoResult{boost::asio::error::operation_aborted, 0};
    if (pos_ >= input_.size()) co_return server::net::IoResult{boost::asio::error::eof, 0};
    std::size_t n = std::min({buf.size(), chunk_bytes_, input_.size() - pos_});
    std::memcpy(buf.data(), input_.data() + pos_, n);
    pos_ += n;
    co_return server::net::IoResult{{}, n};
  }

  boost::asio::awaitable<server::net::IoResult> write_all(boost::asio::const_buffer buf) override {
    co_await boost::asio::post(ex_, boost::asio::use_awaitable);
    if (!open_) co_return server::net::IoResult{boost::asio::error::operation_aborted, 0};
    std::size_t keep =
        std::min(buf.size(), kWrittenBytesKeptMax - std::min(kWrittenBytesKeptMax, out_->written.size()));
    out_->written.append(static_cast<const char*>(buf.data()), keep);
    co_return server::net::IoResult{{}, buf.size()};
  }

  void close() override {
    open_ = false;
    out_->closed = true;
  }
  bool is_open() const override { return open_; }
  std::string remote_address() const override { return "fuzz:0"; }

 private:
  boost::asio::any_io_executor ex_;
  std::string input_;
  std::size_t chunk_bytes_;
  std::size_t pos_ = 0;
  bool open_ = true;
  std::shared_ptr<MemoryStreamOutput> out_;
};

}  // namespace cairn::fuzz
