// Internal: the part of an HTTP/2 endpoint shared by the gRPC server and client connections. nghttp2 does
// framing, HPACK, flow control and PING/SETTINGS acknowledgements in memory; this class pumps bytes
// between it and a ByteStream with two coroutines on the connection's strand:
//   reader: read_some -> nghttp2_session_mem_recv -> wake the writer
//   writer: nghttp2_session_mem_send (batched) -> write_all; sleeps on write_wake_ when nghttp2 has nothing.
// The session ends when nghttp2 wants neither to read nor to write (GOAWAY exchanged and streams closed),
// on an I/O error, or when a write stalls longer than write_stall_timeout.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wire/byte_stream.h"

namespace cairn::wire::detail {

// Header list helper: nghttp2_nv entries pointing into owned strings.
class HeaderList {
 public:
  void add(std::string_view name, std::string_view value);
  const nghttp2_nv* data();
  std::size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::string> values_;
  std::vector<nghttp2_nv> nv_;
};

class H2Session : public std::enable_shared_from_this<H2Session> {
 public:
  virtual ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Runs until the connection is over. `initial` holds bytes already read from the stream (the sniffed
  // preface on the server). The session object must be owned by a shared_ptr.
  boost::asio::awaitable<void> run(std::string initial);

  boost::asio::any_io_executor executor() { return stream_->get_executor(); }
  bool ended() const { return ended_; }
  // Ask the writer to flush whatever nghttp2 has queued.
  void signal_write();
  // Close the transport now (pending reads/writes fail, loops exit).
  void abort();

 protected:
  H2Session(std::unique_ptr<ByteStream> stream, std::chrono::milliseconds write_stall_timeout);

  // Hooks for the protocol side, all on the strand.
  virtual void on_bytes_received() {}
  virtual void on_session_end() {}
  virtual void on_protocol_error(int /*nghttp2_error*/) {}

  nghttp2_session* ng_ = nullptr;
  std::unique_ptr<ByteStream> stream_;
  bool ended_ = false;
  boost::system::error_code read_error_;  // why the reader stopped, if a read failed

 private:
  boost::asio::awaitable<void> read_loop(std::string initial);
  boost::asio::awaitable<void> write_loop();
  bool feed(const std::uint8_t* data, std::size_t n);
  void arm_stall_timer();
  void disarm_stall_timer();

  std::chrono::milliseconds write_stall_timeout_;
  boost::asio::steady_timer write_wake_;
  boost::asio::steady_timer stall_timer_;
  std::uint64_t stall_generation_ = 0;
  bool reader_done_ = false;
  std::array<std::uint8_t, 16384> read_buf_{};
  std::string out_;
};

// Outgoing gRPC messages of one stream, drained by an nghttp2 data source. Shared by server and client.
struct OutboundQueue {
  std::vector<std::string> chunks;  // framed messages; consumed from the front
  std::size_t front = 0;            // index of the first unconsumed chunk
  std::size_t offset = 0;           // bytes already taken from chunks[front]
  std::size_t pending_bytes = 0;

  void push(std::string framed);
  bool empty() const { return pending_bytes == 0; }
  // Copies up to `length` bytes into `buf`.
  std::size_t take(std::uint8_t* buf, std::size_t length);
};

// Largest number of bytes gathered from nghttp2 before one socket write.
inline constexpr std::size_t kWriteBatchBytesMax = 64 * 1024;

}  // namespace cairn::wire::detail
