#include "server/net/byte_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace cairn::server::net {

namespace asio = boost::asio;

namespace {

class TcpByteStream final : public ByteStream {
 public:
  explicit TcpByteStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    boost::system::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

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
      socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }
  }

  bool is_open() const override { return socket_.is_open(); }
  std::string remote_address() const override { return remote_; }

 private:
  asio::ip::tcp::socket socket_;
  std::string remote_;
};

}  // namespace

std::unique_ptr<ByteStream> make_tcp_byte_stream(asio::ip::tcp::socket socket) {
  return std::make_unique<TcpByteStream>(std::move(socket));
}

}  // namespace cairn::server::net
