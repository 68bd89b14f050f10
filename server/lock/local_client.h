// LocalClient: a gRPC client of this member, for the lock and election services (dialled in-process:
// net::Server::in_process_endpoint).
//
// etcd's v3lock and v3election services are clients of their own member: each step of a recipe is an
// ordinary KV, Lease or Watch call. Doing the same here keeps the services out of the node's internals
// and makes them behave exactly as the client-side recipes do (linearizable reads, revisions and errors
// as any client sees them).
//
// Threading: a LocalClient and its calls belong to the strand it was created on (wire::Channel's rule).
// One LocalClient (one HTTP/2 connection over an in-memory pipe) serves one incoming Lock/Election call.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/expected.h"
#include "proto/etcd/rpc.pb.h"
#include "server/net/vocabulary.h"
#include "wire/client.h"

namespace cairn::server::lock {

template <class T>
using Result = Expected<T, net::Status>;

// A server-side recipe's cancellation: set when the caller of Lock/Campaign went away. Cancelling ends
// the watch the recipe is waiting on, so the recipe wakes up, sees cancelled() and cleans up (deletes
// its key) before it finishes. Belongs to the recipe's strand.
class CancelSignal {
 public:
  void cancel();
  bool cancelled() const { return cancelled_; }
  // The watch call the recipe waits on (cancelled with the signal); nullopt when it stops waiting.
  void set_watch(std::optional<wire::ClientCall> call) { watch_ = std::move(call); }

 private:
  bool cancelled_ = false;
  std::optional<wire::ClientCall> watch_;
};

// One Watch stream with one watcher.
class WatchStream {
 public:
  explicit WatchStream(wire::ClientCall call) : call_(std::move(call)) {}
  // The next response carrying events (progress and creation responses are skipped). An error when the
  // watch was cancelled by the server (compaction: etcd's compacted error) or the stream ended.
  boost::asio::awaitable<Result<etcdserverpb::WatchResponse>> next();
  void cancel() { call_.cancel(); }
  const wire::ClientCall& call() const { return call_; }

 private:
  wire::ClientCall call_;
};

class LocalClient {
 public:
  // endpoints: this member (in-process). metadata: forwarded to every call (the caller's auth
  // token). unary_timeout bounds each unary call (the server answers well within its request timeout).
  LocalClient(boost::asio::any_io_executor executor, std::vector<net::Endpoint> endpoints,
              net::Metadata metadata, std::chrono::milliseconds unary_timeout);

  boost::asio::awaitable<Result<etcdserverpb::RangeResponse>> range(const etcdserverpb::RangeRequest& r);
  boost::asio::awaitable<Result<etcdserverpb::TxnResponse>> txn(const etcdserverpb::TxnRequest& r);
  boost::asio::awaitable<Result<etcdserverpb::DeleteRangeResponse>> delete_range(
      const etcdserverpb::DeleteRangeRequest& r);
  boost::asio::awaitable<Result<etcdserverpb::LeaseGrantResponse>> lease_grant(std::int64_t ttl_seconds);
  // Opens a Watch stream and creates one watcher on [key, range_end) from start_revision.
  boost::asio::awaitable<WatchStream> watch(std::string key, std::string range_end,
                                            std::int64_t start_revision);

  boost::asio::any_io_executor executor() const { return channel_.executor(); }

 private:
  template <class Resp>
  boost::asio::awaitable<Result<Resp>> call(const char* method, std::string request);

  wire::Channel channel_;
  net::Metadata metadata_;
  std::chrono::milliseconds unary_timeout_;
};

}  // namespace cairn::server::lock
