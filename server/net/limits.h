// Every bound of the network layer, with its unit in the name and the default used in production.
// docs/network.md has the same table with the reasoning behind each default.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace cairn::server::net {

// etcd's --max-request-bytes default (1.5 MiB) plus the 512 KiB it allows for gRPC overhead: the largest
// message a gRPC server accepts (etcd v3rpc/grpc.go, grpcOverheadBytes).
inline constexpr std::size_t kEtcdMaxRequestBytes = 1536 * 1024;
inline constexpr std::size_t kGrpcOverheadBytes = 512 * 1024;
inline constexpr std::size_t kGrpcMessageBytesMaxDefault = kEtcdMaxRequestBytes + kGrpcOverheadBytes;
// etcd's server send limit (v3rpc/grpc.go maxSendBytes = math.MaxInt32, 2 GiB - 1): the largest response
// message; gRPC's 4-byte length prefix could carry 4 GiB, but grpc-go clients refuse more than MaxInt32.
inline constexpr std::size_t kGrpcSendMessageBytesMax = 2147483647;

struct ServerLimits {
  // Open client connections (gRPC and HTTP/1.1 together); more are accepted and closed at once.
  std::size_t connections_max = 10'000;
  // Advertised SETTINGS_MAX_CONCURRENT_STREAMS; streams above it are refused (REFUSED_STREAM).
  std::uint32_t concurrent_streams_max = 1'000;
  // Largest gRPC message received (RESOURCE_EXHAUSTED beyond it).
  std::size_t message_bytes_max = kGrpcMessageBytesMaxDefault;
  // Largest gRPC message a handler may send (RESOURCE_EXHAUSTED "grpc: trying to send message larger
  // than max" beyond it), etcd's default.
  std::size_t send_message_bytes_max = kGrpcSendMessageBytesMax;
  // Response bytes queued on all connections and not yet taken by nghttp2 (ServerStats::
  // pending_write_bytes): at or over this, new unary calls get RESOURCE_EXHAUSTED "etcdserver: too many
  // requests" before their handler runs. Calls already running still send their (possibly larger)
  // response, so the peak is this plus the responses being built; a client that does not read is cut off
  // by write_stall_timeout. Streaming calls are bounded per stream by stream_pending_write_bytes_max.
  std::size_t pending_write_bytes_max = std::size_t{1} << 30;
  // Sum of name+value+32 over one request's header fields (HTTP/2 and HTTP/1.1).
  std::size_t header_bytes_max = 16 * 1024;
  // Response bytes a handler may queue on one stream before write() waits for the client to read.
  std::size_t stream_pending_write_bytes_max = 4 * 1024 * 1024;
  // Received, complete messages a handler has not read yet, per stream, before the stream window stops
  // being replenished (so a client cannot push without bound into a handler that does not read).
  std::size_t stream_pending_read_bytes_max = 4 * 1024 * 1024;
  // HTTP/2 receive windows we advertise (large enough for a 2 MiB Put in one round trip).
  std::uint32_t stream_window_bytes = 4 * 1024 * 1024;
  std::uint32_t connection_window_bytes = 16 * 1024 * 1024;
  // HTTP/1.1 request body (JSON gateway); larger requests get 413.
  std::size_t http_body_bytes_max = kGrpcMessageBytesMaxDefault;
  // Time from accept until the protocol is known (full HTTP/2 preface or a complete HTTP/1.1 request).
  std::chrono::milliseconds handshake_timeout{10'000};
  // An HTTP/2 connection with no open stream for this long is sent GOAWAY and closed; an HTTP/1.1
  // keep-alive connection waiting for its next request is closed.
  std::chrono::milliseconds idle_timeout{5 * 60'000};
  // A socket write that makes no progress for this long closes the connection (client not reading).
  std::chrono::milliseconds write_stall_timeout{30'000};
  // After shutdown() starts, in-flight calls get this long to finish before they are cancelled.
  std::chrono::milliseconds shutdown_grace{10'000};
  // Keepalive enforcement (grpc-go's policy as etcd configures it): a PING arriving sooner than this
  // after the previous one, with no response data sent in between, is a strike.
  std::chrono::milliseconds keepalive_min_ping_interval{5'000};
  // More strikes than this and the client gets GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings").
  int keepalive_ping_strikes_max = 2;
  // Server keepalive (etcd's --grpc-keepalive-interval / --grpc-keepalive-timeout): an HTTP/2 connection
  // that sent nothing for keepalive_time is sent a PING; when nothing arrives within keepalive_timeout
  // after it, the connection is closed. keepalive_time 0: no server pings; keepalive_timeout 0: wait
  // forever for the answer.
  std::chrono::milliseconds keepalive_time{2 * 3'600'000};
  std::chrono::milliseconds keepalive_timeout{20'000};
  // Received RST_STREAM frames nghttp2 tolerates (burst, then per second) before GOAWAY (rapid reset).
  std::uint64_t stream_reset_burst = 1'000;
  std::uint64_t stream_reset_rate_per_second = 33;
};

}  // namespace cairn::server::net
