// The Watch stream's transport seen by the service (install.cc), and the JSON gateway's POST /v3/watch
// over it, as etcd's grpc-gateway serves it:
//   * the request body is a sequence of JSON WatchRequest objects ({"create_request": {...}},
//     {"cancel_request": {"watch_id": "1"}}, {"progress_request": {}}), read as they arrive (curl -d
//     sends one and ends the body; a chunked body can carry more for as long as the stream lives);
//   * every WatchResponse goes out as one line {"result": <proto3 JSON, original field names>}\n;
//   * the stream ends when the client closes the connection (its watchers are cancelled, as a gRPC
//     stream whose client went away) and, after a failure (malformed JSON, "no leader"), with one line
//     {"error": {"grpc_code", "http_code", "message", "http_status"}} (grpc-gateway v1's stream error).
// Bounds: one pending (incomplete) request object at most ServerLimits::http_body_bytes_max bytes
// (InvalidArgument beyond it); responses wait for the socket, so the hub's outbox bounds apply.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>

#include "server/net/server.h"

namespace cairn::server::watch {

// What serve() (install.cc) needs from one stream, gRPC or gateway.
struct StreamIo {
  // The next serialized WatchRequest; nullopt once the client half-closed or went away.
  std::function<boost::asio::awaitable<std::optional<std::string>>()> read;
  // Sends one serialized WatchResponse; false once the stream is over.
  std::function<boost::asio::awaitable<bool>(std::string)> write;
  // The call is over (client reset, deadline, connection closed).
  std::function<bool()> cancelled;
  // After a half-close: completes when the client is gone (never, for gRPC: the call's cancellation).
  std::function<boost::asio::awaitable<void>()> wait_closed;
  std::string token;    // the caller's auth token
  std::string cert_cn;  // verified client certificate's common name
  bool require_leader = false;
};

using ServeFn = std::function<boost::asio::awaitable<net::Status>(StreamIo&)>;

// Adds POST /v3/watch to `s`, running each stream through `serve`.
void add_gateway_route(net::Server& s, ServeFn serve);

// Splits a byte stream of concatenated JSON objects into whole objects (strings and escapes are
// understood; whitespace between objects is skipped). Exposed for tests.
class JsonObjectSplitter {
 public:
  explicit JsonObjectSplitter(std::size_t object_bytes_max) : object_bytes_max_(object_bytes_max) {}
  void append(std::string_view bytes) { pending_.append(bytes); }
  enum class Result { kObject, kNeedMore, kBad };
  // kObject: `out` holds the next whole object. kBad: not an object, or larger than the bound.
  Result next(std::string& out);
  bool too_large() const { return pending_.size() > object_bytes_max_; }

 private:
  std::size_t object_bytes_max_;
  std::string pending_;
  std::size_t scanned_ = 0;  // bytes of pending_ already scanned (state below is for them)
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
};

}  // namespace cairn::server::watch
