// ByteStream: the type-erased transport under the HTTP/2, HTTP/1.1 and peer protocols, so the protocol
// code compiles once and a TLS stream can be added later as one more implementation.
// All operations must be started from the stream's executor (a strand); they are not thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

namespace cairn::wire {

struct IoResult {
  boost::system::error_code ec;
  std::size_t bytes = 0;
};

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual boost::asio::any_io_executor get_executor() = 0;
  // Reads at least one byte unless an error (including end of stream) is reported.
  virtual boost::asio::awaitable<IoResult> read_some(boost::asio::mutable_buffer buf) = 0;
  // Writes the whole buffer unless an error is reported.
  virtual boost::asio::awaitable<IoResult> write_all(boost::asio::const_buffer buf) = 0;
  // Aborts pending operations (they complete with an error) and closes. Idempotent.
  virtual void close() = 0;
  virtual bool is_open() const = 0;
  // "ip:port" of the other end, for logs and ServerContext.
  virtual std::string remote_address() const = 0;
  // The common name of the certificate the other end presented and we verified (a TLS server that
  // requires client certificates); empty otherwise.
  virtual std::string peer_common_name() const { return {}; }
};

std::unique_ptr<ByteStream> make_tcp_byte_stream(boost::asio::ip::tcp::socket socket);
// A unix domain socket (etcd's unix:// URLs); remote_address() is "unix:<path>".
std::unique_ptr<ByteStream> make_unix_byte_stream(boost::asio::local::stream_protocol::socket socket);

}  // namespace cairn::wire
