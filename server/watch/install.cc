#include "server/watch/install.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "server/watch/gateway.h"
#include "server/watch/watch_hub.h"

namespace cairn::server::watch {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

struct Installed {
  Installed(node::Node& n, HubLimits limits)
      : node(n),
        hub([&n]() -> storage::MvccStore& { return n.store(); },
            [&n](etcdserverpb::ResponseHeader* h) {
              const node::HeaderInfo hi = n.header();
              h->set_cluster_id(hi.cluster_id);
              h->set_member_id(hi.member_id);
              h->set_raft_term(hi.raft_term);
            },
            limits) {}
  node::Node& node;
  Hub hub;
};

std::mutex registry_mu;
std::map<const node::Node*, std::weak_ptr<Hub>>& registry() {
  static std::map<const node::Node*, std::weak_ptr<Hub>> r;
  return r;
}

HubLimits limits_from_env(const node::Node& node) {
  HubLimits limits;
  limits.fragment_bytes = node.config().max_request_bytes + 512 * 1024;
  limits.no_leader_cancel_after = 3 * node.config().election;
  limits.progress_notify_interval = node.config().watch_progress_notify_interval;
  return limits;
}

// A watch its caller may not read is answered created-and-canceled with etcd's reason.
bool refuse_watch(Installed& in, Outbox& out, const etcdserverpb::WatchCreateRequest& c,
                  const node::EntryAuth& who) {
  if (!in.node.auth().check_read(who, c.key(), c.range_end())) return false;
  etcdserverpb::WatchResponse r;
  const node::HeaderInfo hi = in.node.header();
  r.mutable_header()->set_cluster_id(hi.cluster_id);
  r.mutable_header()->set_member_id(hi.member_id);
  r.mutable_header()->set_raft_term(hi.raft_term);
  r.mutable_header()->set_revision(in.node.store().revision());
  r.set_watch_id(c.watch_id());
  r.set_created(true);
  r.set_canceled(true);
  r.set_cancel_reason("rpc error: code = PermissionDenied desc = etcdserver: permission denied");
  (void)out.push(r.SerializeAsString());
  return true;
}

awaitable<void> read_loop(std::shared_ptr<Installed> in, std::shared_ptr<Outbox> out, StreamIo* io,
                          net::Status* status) {
  for (;;) {
    auto rd = io->read();
    std::optional<std::string> m = co_await std::move(rd);
    if (!m) {
      if (io->cancelled()) co_return;
      // The client half-closed: etcd keeps the stream (and its watchers) until it is cancelled.
      auto wc = io->wait_closed();
      co_await std::move(wc);
      co_return;
    }
    auto req = std::make_shared<etcdserverpb::WatchRequest>();
    if (!req->ParseFromArray(m->data(), static_cast<int>(m->size()))) {
      *status =
          net::Status{net::StatusCode::kInvalidArgument, "grpc: failed to unmarshal the received message"};
      co_return;
    }
    // With auth on, a watch is created only over keys its caller may read (etcd's isWatchPermitted),
    // checked on the node thread with the token the stream presents now.
    std::optional<node::EntryAuth> who;
    if (req->has_create_request() && in->node.auth().enabled()) {
      auto w = in->node.auth().identify(io->token, io->cert_cn);
      who = w ? std::move(*w) : node::EntryAuth{{}, 0};
    }
    if (!in->node.run([in, out, req, who] {
          if (who && refuse_watch(*in, *out, req->create_request(), *who)) return;
          in->hub.handle(out.get(), *req);
        })) {
      *status = net::Status{net::StatusCode::kUnavailable, "etcdserver: too many requests"};
      co_return;
    }
  }
}

awaitable<void> write_loop(std::shared_ptr<Installed> in, std::shared_ptr<Outbox> out, StreamIo* io,
                           net::Status* status) {
  for (;;) {
    auto wt = out->wait();
    const bool ready = co_await std::move(wt);
    if (!ready) co_return;
    Outbox::Batch b = out->take();
    for (std::string& msg : b.messages) {
      auto w = io->write(std::move(msg));
      if (!co_await std::move(w)) co_return;
    }
    // The messages are with the transport now: let the hub catch up the watchers it held back. If
    // the inbox is full the next tick's sync pass does it.
    if (b.resume) (void)in->node.run([in, out] { in->hub.resume(out.get()); });
    if (b.closed) {
      *status = *b.closed;
      co_return;
    }
  }
}

awaitable<net::Status> serve(std::shared_ptr<Installed> in, StreamIo& io) {
  const HubLimits& limits = in->hub.limits();
  auto out = std::make_shared<Outbox>(limits.outbox_bytes_soft_max, limits.outbox_bytes_hard_max);
  const bool require_leader = io.require_leader;
  if (!in->node.run([in, out, require_leader] { in->hub.open_stream(out, require_leader); }))
    co_return net::Status{net::StatusCode::kUnavailable, "etcdserver: too many requests"};
  net::Status status = net::Status::ok();
  try {
    auto both = read_loop(in, out, &io, &status) || write_loop(in, out, &io, &status);
    co_await std::move(both);
  } catch (const std::exception&) {
    // Both loops ended by cancellation (the call is over).
  }
  out->mark_gone();
  (void)in->node.run([in, out] { in->hub.close_stream(out.get()); });  // else swept on tick
  if (status.is_ok() && io.cancelled()) status = net::Status{net::StatusCode::kCancelled, "canceled"};
  co_return status;
}

awaitable<net::Status> serve_watch(std::shared_ptr<Installed> in, net::ServerContext& ctx,
                                   net::ServerStream& stream) {
  StreamIo io;
  io.read = [&stream] { return stream.read(); };
  io.write = [&stream](std::string m) { return stream.write(std::move(m)); };
  io.cancelled = [&ctx] { return ctx.cancelled(); };
  io.wait_closed = []() -> awaitable<void> {
    asio::steady_timer forever(co_await asio::this_coro::executor);
    forever.expires_at(asio::steady_timer::time_point::max());
    auto tw = forever.async_wait(asio::as_tuple(asio::use_awaitable));
    co_await std::move(tw);
  };
  if (auto t = ctx.metadata_value("token")) io.token = std::string(*t);
  io.require_leader = ctx.metadata_value("hasleader") == std::optional<std::string_view>("true");
  co_return co_await serve(std::move(in), io);
}

}  // namespace

std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& servers) {
  auto in = std::make_shared<Installed>(node, limits_from_env(node));
  node::NodeObserver o;
  o.on_applied = [in](uint64_t) { in->hub.on_applied(); };
  o.on_tick = [in] { in->hub.on_tick(Hub::Clock::now()); };
  o.on_leader_change = [in](uint64_t leader, bool, uint64_t) {
    in->hub.on_leader_change(leader, Hub::Clock::now());
  };
  o.on_store_restored = [in] { in->hub.on_store_restored(); };
  o.on_stop = [in] { in->hub.stop(); };
  node.add_observer(std::move(o));
  for (net::Server* s : servers) {
    s->add_stream("/etcdserverpb.Watch/Watch",
                  [in](net::ServerContext& ctx, net::ServerStream& st) { return serve_watch(in, ctx, st); });
    add_gateway_route(*s, [in](StreamIo& io) { return serve(in, io); });
  }
  {
    std::lock_guard lock(registry_mu);
    registry()[&node] = std::shared_ptr<Hub>(in, &in->hub);
  }
  return in;
}

std::shared_ptr<Hub> hub_for(const node::Node& node) {
  std::lock_guard lock(registry_mu);
  auto it = registry().find(&node);
  return it == registry().end() ? nullptr : it->second.lock();
}

}  // namespace cairn::server::watch
