#include "server/lock/local_client.h"

namespace cairn::server::lock {

namespace asio = boost::asio;
using asio::awaitable;

void CancelSignal::cancel() {
  cancelled_ = true;
  if (watch_) watch_->cancel();
}

awaitable<Result<etcdserverpb::WatchResponse>> WatchStream::next() {
  while (true) {
    std::optional<std::string> m = co_await call_.read();
    if (!m) {
      net::Status st = co_await call_.finish();
      if (st.is_ok()) st = net::Status{net::StatusCode::kUnknown, "lost watcher waiting for delete"};
      co_return unexpected(std::move(st));
    }
    etcdserverpb::WatchResponse resp;
    if (!resp.ParseFromString(*m))
      co_return unexpected(net::Status{net::StatusCode::kInternal, "lock: bad WatchResponse"});
    if (resp.canceled()) {
      // clientv3 turns a compaction into its compacted error and any other cancel into its reason.
      if (resp.compact_revision() != 0)
        co_return unexpected(
            net::Status{net::StatusCode::kUnknown, "etcdserver: mvcc: required revision has been compacted"});
      co_return unexpected(net::Status{net::StatusCode::kUnknown, resp.cancel_reason().empty()
                                                                      ? "etcdserver: watch canceled"
                                                                      : resp.cancel_reason()});
    }
    if (resp.events_size() > 0) co_return resp;
  }
}

LocalClient::LocalClient(asio::any_io_executor executor, std::vector<net::Endpoint> endpoints,
                         net::Metadata metadata, std::chrono::milliseconds unary_timeout)
    : channel_(std::move(executor), std::move(endpoints)),
      metadata_(std::move(metadata)),
      unary_timeout_(unary_timeout) {}

template <class Resp>
awaitable<Result<Resp>> LocalClient::call(const char* method, std::string request) {
  wire::CallOptions o;
  o.timeout = unary_timeout_;
  o.metadata = metadata_;
  o.wait_for_ready = true;
  wire::UnaryResult r = co_await channel_.unary(method, std::move(request), std::move(o));
  if (!r.status.is_ok()) co_return unexpected(std::move(r.status));
  Resp resp;
  if (!resp.ParseFromString(r.response))
    co_return unexpected(
        net::Status{net::StatusCode::kInternal, std::string("lock: bad response from ") + method});
  co_return resp;
}

awaitable<Result<etcdserverpb::RangeResponse>> LocalClient::range(const etcdserverpb::RangeRequest& r) {
  return call<etcdserverpb::RangeResponse>("/etcdserverpb.KV/Range", r.SerializeAsString());
}

awaitable<Result<etcdserverpb::TxnResponse>> LocalClient::txn(const etcdserverpb::TxnRequest& r) {
  return call<etcdserverpb::TxnResponse>("/etcdserverpb.KV/Txn", r.SerializeAsString());
}

awaitable<Result<etcdserverpb::DeleteRangeResponse>> LocalClient::delete_range(
    const etcdserverpb::DeleteRangeRequest& r) {
  return call<etcdserverpb::DeleteRangeResponse>("/etcdserverpb.KV/DeleteRange", r.SerializeAsString());
}

awaitable<Result<etcdserverpb::LeaseGrantResponse>> LocalClient::lease_grant(std::int64_t ttl_seconds) {
  etcdserverpb::LeaseGrantRequest r;
  r.set_ttl(ttl_seconds);
  return call<etcdserverpb::LeaseGrantResponse>("/etcdserverpb.Lease/LeaseGrant", r.SerializeAsString());
}

awaitable<WatchStream> LocalClient::watch(std::string key, std::string range_end,
                                          std::int64_t start_revision) {
  wire::CallOptions o;
  o.metadata = metadata_;
  // No deadline: a watch lasts as long as the recipe waits. The unary calls before it opened the
  // connection; without one the watch fails at once (UNAVAILABLE) rather than waiting unboundedly.
  wire::ClientCall c = co_await channel_.start_call("/etcdserverpb.Watch/Watch", std::move(o));
  etcdserverpb::WatchRequest req;
  auto* cr = req.mutable_create_request();
  cr->set_key(std::move(key));
  cr->set_range_end(std::move(range_end));
  cr->set_start_revision(start_revision);
  (void)co_await c.write(req.SerializeAsString());  // a failed write shows as the stream's end in next()
  co_return WatchStream(std::move(c));
}

}  // namespace cairn::server::lock
