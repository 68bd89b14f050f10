// gRPC client over HTTP/2 (h2c) for the CLI, tools and tests: unary and streaming calls, deadlines
// (grpc-timeout sent, RST_STREAM(CANCEL) on expiry), cancellation, keepalive pings, and one connection at a
// time to one of several endpoints: failover to the next endpoint on connect failure, reconnect with
// exponential backoff.
//
// Threading: a Channel and its calls belong to one strand (Channel::executor()); call every method from a
// coroutine running there. No thread-safety inside.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "wire/endpoint.h"
#include "wire/framing.h"

namespace cairn::wire {

struct ChannelOptions {
  std::chrono::milliseconds connect_timeout{5'000};  // per endpoint attempt
  std::chrono::milliseconds backoff_initial{100};    // after a round in which every endpoint failed
  std::chrono::milliseconds backoff_max{5'000};
  double backoff_multiplier = 1.6;
  // Ping after this long without receiving anything while calls are open (0 disables keepalive);
  // the connection is dropped when no byte arrives within keepalive_timeout after the ping.
  std::chrono::milliseconds keepalive_time{0};
  std::chrono::milliseconds keepalive_timeout{20'000};
  // Largest response message accepted (clientv3 accepts up to MaxInt32; we bound it).
  std::size_t message_bytes_max = 64 * 1024 * 1024;
  std::size_t stream_pending_write_bytes_max = 4 * 1024 * 1024;
  std::size_t stream_pending_read_bytes_max = 4 * 1024 * 1024;
  std::uint32_t stream_window_bytes = 4 * 1024 * 1024;
  std::uint32_t connection_window_bytes = 16 * 1024 * 1024;
  std::chrono::milliseconds write_stall_timeout{30'000};
  std::string user_agent = "cairn-net/0.1";
};

struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;  // none: no deadline
  Metadata metadata;
  // Wait (until the deadline) for a connection instead of failing with UNAVAILABLE at once.
  bool wait_for_ready = false;
};

struct UnaryResult {
  Status status;
  std::string response;  // valid when status is OK
};

namespace detail {
struct ClientCallState;
class GrpcClientConnection;
}  // namespace detail

// One RPC in flight. Reads and writes may be awaited concurrently (one reader, one writer).
class ClientCall {
 public:
  explicit ClientCall(std::shared_ptr<detail::ClientCallState> s) : state_(std::move(s)) {}
  // Queues a request message; waits while stream_pending_write_bytes_max are unsent. False once the call
  // has ended (read its status with finish()).
  boost::asio::awaitable<bool> write(std::string message);
  // Half-close: no more request messages.
  void writes_done();
  // Next response message; nullopt when the server finished (or the call failed).
  boost::asio::awaitable<std::optional<std::string>> read();
  // Waits for the final status. Unread response messages are dropped.
  boost::asio::awaitable<Status> finish();
  // Ends the call at once with CANCELLED and resets the stream.
  void cancel();
  // The server never processed the call (RST_STREAM(REFUSED_STREAM), or the stream was above the
  // last-stream-id of a GOAWAY): it is safe to send it again.
  bool unprocessed() const;

 private:
  std::shared_ptr<detail::ClientCallState> state_;
};

class Channel {
 public:
  Channel(boost::asio::any_io_executor executor, std::vector<Endpoint> endpoints,
          ChannelOptions options = {});
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  boost::asio::any_io_executor executor() const { return executor_; }

  // Starts a call (any kind). Never fails: a call that could not start is already finished with its status.
  boost::asio::awaitable<ClientCall> start_call(std::string method, CallOptions options = {});
  // One request, one response. A call the server never processed (refused stream, GOAWAY) is retried
  // transparently, up to kTransparentRetriesMax times, as grpc-go does.
  static constexpr int kTransparentRetriesMax = 3;
  boost::asio::awaitable<UnaryResult> unary(std::string method, std::string request,
                                            CallOptions options = {});

  // Sends GOAWAY-less close: fails open calls with UNAVAILABLE and drops the connection.
  void close();

  // A connection is up and accepting new calls (no GOAWAY received).
  bool connected() const;
  // Index into the endpoint list of the current (or last) connection; connections made so far.
  std::size_t current_endpoint() const { return current_; }
  std::uint64_t connects() const { return connects_; }
  // Why the last connection attempt failed, in grpc-go's words ("connection error: desc = \"transport:
  // authentication handshake failed: x509: certificate signed by unknown authority\"", or "error reading
  // server preface: remote error: tls: ..." when the server refused us right after the handshake, which
  // is how TLS 1.3 refuses a client certificate); empty after a successful one.
  std::string last_connect_error() const;
  // Keepalive pings sent on the current connection (tests).
  std::uint64_t keepalive_pings_sent() const;

 private:
  boost::asio::awaitable<std::shared_ptr<detail::GrpcClientConnection>> connection(
      std::optional<std::chrono::steady_clock::time_point> deadline, bool wait_for_ready);
  boost::asio::awaitable<std::shared_ptr<detail::GrpcClientConnection>> connect_unix(const Endpoint& ep);
  boost::asio::awaitable<std::shared_ptr<detail::GrpcClientConnection>> connect_in_process(
      const Endpoint& ep);
  boost::asio::awaitable<std::shared_ptr<detail::GrpcClientConnection>> connect_once(std::size_t index);
  // Starts HTTP/2 on a connected stream and waits (until the connect deadline) for the server's SETTINGS.
  boost::asio::awaitable<std::shared_ptr<detail::GrpcClientConnection>> handshake(
      std::unique_ptr<ByteStream> stream, std::string target, bool tls,
      std::chrono::steady_clock::time_point started);

  boost::asio::any_io_executor executor_;
  std::vector<Endpoint> endpoints_;
  ChannelOptions options_;
  std::shared_ptr<detail::GrpcClientConnection> conn_;
  std::size_t current_ = 0;
  std::uint64_t connects_ = 0;
  bool connecting_ = false;
  boost::asio::steady_timer connect_wake_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_;
  bool closed_ = false;
  std::string last_connect_error_;
};

}  // namespace cairn::wire
