#include "wire/byte_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace cairn::wire {

namespace asio = boost::asio;

namespace {

// A stream socket (TCP or unix domain) as a ByteStream.
template <class Socket>
class SocketByteStream final : public ByteStream {
 public:
  SocketByteStream(Socket socket, std::string remote)
      : socket_(std::move(socket)), remote_(std::move(remote)) {}

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }

  asio::awaitable<IoResult> read_some(asio::mutable_buffer buf) override {
    auto [ec, n] = co_await socket_.async_read_some(buf, asio::as_tuple(asio::use_awaitable));
    co_return IoResult{ec, n};
  }

  asio::awaitable<IoResult> write_all(asio::const_buffer buf) override {
    auto [ec, n] = co_await asio::async_write(socket_, buf, asio::as_tuple(asio::use_awaitable));
    co_return IoResult{ec, n};
  }

  void close() override {
    boost::system::error_code ec;
    if (socket_.is_open()) {
      socket_.shutdown(Socket::shutdown_both, ec);
      socket_.close(ec);
    }
  }

  bool is_open() const override { return socket_.is_open(); }
  std::string remote_address() const override { return remote_; }

 private:
  Socket socket_;
  std::string remote_;
};

}  // namespace

std::unique_ptr<ByteStream> make_tcp_byte_stream(asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  std::string remote;
  auto ep = socket.remote_endpoint(ec);
  if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  return std::make_unique<SocketByteStream<asio::ip::tcp::socket>>(std::move(socket), std::move(remote));
}

std::unique_ptr<ByteStream> make_unix_byte_stream(asio::local::stream_protocol::socket socket) {
  boost::system::error_code ec;
  std::string path = socket.local_endpoint(ec).path();
  return std::make_unique<SocketByteStream<asio::local::stream_protocol::socket>>(std::move(socket),
                                                                                  "unix:" + path);
}

}  // namespace cairn::wire
