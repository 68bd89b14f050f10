#include "server/corrupt/install.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>

#include "base/hex.h"
#include "proto/etcd/rpc.pb.h"
#include "server/corrupt/verdict.h"
#include "server/log/log.h"
#include "server/net/completion.h"
#include "server/node/request_codec.h"
#include "server/node/url.h"
#include "wire/client.h"

namespace cairn::server::corrupt {

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

struct Peer {
  uint64_t id = 0;
  std::vector<net::Endpoint> endpoints;
};

// What the node thread knows: the local hash and the other members' client endpoints.
struct Snapshot {
  LocalHash local;
  std::vector<Peer> peers;
  bool ok = false;
};

// Node thread, once the local HashKV is done.
Snapshot snapshot_of(node::Node& n, const Options& o,
                     const Expected<storage::HashKvResponse, node::EtcdError>& h) {
  Snapshot s;
  if (!h) return s;
  s.local = LocalHash{h->hash, h->header.revision, h->compact_revision};
  for (const auto& [id, m] : n.members()) {
    if (id == n.member_id() || m.learner) continue;
    Peer p{id, {}};
    for (const auto& u : m.client_urls) {
      auto ep = node::parse_url(u);
      if (!ep) continue;
      if (u.rfind("https://", 0) == 0) {
        if (!o.client_tls) continue;
        ep->tls = o.client_tls;
      }
      p.endpoints.push_back(*ep);
    }
    if (!p.endpoints.empty()) s.peers.push_back(std::move(p));
  }
  s.ok = true;
  return s;
}

// Runs fn(node) on the node thread; the awaitable yields its result (nullopt when the node is stopping).
template <class T, class Fn>
awaitable<std::optional<T>> on_node(node::Node& n, Fn fn) {
  auto pc = net::make_completion<T>();
  auto promise = std::make_shared<net::CompletionPromise<T>>(std::move(pc.first));
  node::Node* np = &n;
  (void)n.run([np, promise, fn = std::move(fn)] { promise->set(fn(*np)); });
  promise.reset();  // a task that never runs drops the last reference: the wait yields nullopt
  return pc.second.wait();
}

// The local HashKV, computed in steps between the node's other work (server/node/hash_runner.h), and the
// peers to ask. nullopt when the node is stopping.
awaitable<std::optional<Snapshot>> hashed_snapshot(node::Node& n, const Options& o) {
  auto pc = net::make_completion<Snapshot>();
  auto promise = std::make_shared<net::CompletionPromise<Snapshot>>(std::move(pc.first));
  node::Node* np = &n;
  (void)n.run([np, promise, o] {
    np->hash_async(false, 0, [np, promise, o](const Expected<storage::HashKvResponse, node::EtcdError>& h) {
      promise->set(snapshot_of(*np, o, h));
    });
  });
  promise.reset();
  return pc.second.wait();
}

// Each peer's HashKV at `revision`; peers that fail (down, behind, compacted past it) are left out.
awaitable<std::vector<PeerHash>> ask_peers(const std::vector<Peer>& peers, int64_t revision,
                                           std::chrono::milliseconds timeout,
                                           std::vector<std::string>* notes) {
  std::vector<PeerHash> out;
  auto ex = co_await asio::this_coro::executor;
  for (const auto& p : peers) {
    wire::ChannelOptions co;
    co.connect_timeout = timeout;
    wire::Channel ch(ex, p.endpoints, co);
    etcdserverpb::HashKVRequest req;
    req.set_revision(revision);
    wire::CallOptions call;
    call.timeout = timeout;
    std::string body = req.SerializeAsString();
    auto rpc = ch.unary("/etcdserverpb.Maintenance/HashKV", std::move(body), call);
    auto r = co_await std::move(rpc);
    ch.close();
    etcdserverpb::HashKVResponse resp;
    if (r.status.code != net::StatusCode::kOk || !resp.ParseFromString(r.response)) {
      notes->push_back("cannot fetch the hash of member " + std::to_string(p.id) + ": " + r.status.message);
      continue;
    }
    out.push_back(PeerHash{resp.header().member_id() ? resp.header().member_id() : p.id, resp.hash(),
                           resp.header().revision(), resp.compact_revision()});
  }
  co_return out;
}

using base::hex;

// (GCC 12 double-destroys lambda captures inside a co_await expression: every awaitable that takes a
// lambda is made first and awaited after.)
awaitable<std::optional<std::string>> initial_round(node::Node& n, const Options& o) {
  auto snap_wait = hashed_snapshot(n, o);
  auto snap = co_await std::move(snap_wait);
  if (!snap || !snap->ok) co_return std::string("initial corruption check: cannot hash the local store");
  std::vector<std::string> notes;
  auto ask = ask_peers(snap->peers, snap->local.revision, o.rpc_timeout, &notes);
  auto peers = co_await std::move(ask);
  auto verdict = judge_initial(snap->local, peers);
  for (const auto& note : notes)
    log::warn("initial corruption check: " + note);
  for (const auto& note : verdict.notes)
    log::warn("initial corruption check: " + note);
  if (!verdict.mismatched.empty()) {
    std::string ids;
    for (uint64_t id : verdict.mismatched)
      ids += (ids.empty() ? "" : ",") + hex(id);
    co_return hex(n.member_id()) + " found data inconsistency with peers (" + ids + ")";
  }
  log::info("initial corruption check passed (revision " + std::to_string(snap->local.revision) + ", " +
            std::to_string(peers.size()) + " of " + std::to_string(snap->peers.size()) +
            " members compared)");
  co_return std::nullopt;
}

struct Periodic {
  node::Node* node;
  Options options;
  bool in_flight = false;
  Clock::time_point next;
};

// One leader round: hash, ask the peers, hash again, raise CORRUPT for the members that differ.
awaitable<void> periodic_round(std::shared_ptr<Periodic> st) {
  node::Node& n = *st->node;
  auto before_wait = hashed_snapshot(n, st->options);
  auto before = std::make_shared<const std::optional<Snapshot>>(co_await std::move(before_wait));
  std::vector<std::string> notes;
  std::shared_ptr<const std::vector<PeerHash>> peers;
  std::optional<Snapshot> after;
  if (*before && (*before)->ok) {
    auto ask = ask_peers((*before)->peers, (*before)->local.revision, st->options.rpc_timeout, &notes);
    peers = std::make_shared<const std::vector<PeerHash>>(co_await std::move(ask));
    auto after_wait = hashed_snapshot(n, st->options);
    after = co_await std::move(after_wait);
  }
  auto judge = on_node<std::vector<uint64_t>>(n, [st, before, peers, after](node::Node& nd) {
    st->in_flight = false;
    st->next = Clock::now() + st->options.period;
    if (!peers || !after || !after->ok) return std::vector<uint64_t>{};
    return judge_periodic((*before)->local, after->local, nd.member_id(), *peers);
  });
  auto verdict = co_await std::move(judge);
  if (!verdict) co_return;
  for (uint64_t id : *verdict) {
    log::error("corruption check: member " + hex(id) + "'s hash differs; raising the CORRUPT alarm",
               {{"remote-member-id", hex(id)}});
    etcdserverpb::AlarmRequest req;
    req.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
    req.set_alarm(etcdserverpb::CORRUPT);
    req.set_memberid(id);
    n.propose(node::EntryKind::kAlarm, req.SerializeAsString(), [](node::Result<storage::ApplyResponse>) {});
  }
}

}  // namespace

std::optional<std::string> initial_check(node::Node& node, const Options& options) {
  asio::io_context ioc;
  std::optional<std::string> result;
  bool done = false;
  asio::co_spawn(
      ioc,
      [&]() -> awaitable<void> {
        auto round = initial_round(node, options);
        result = co_await std::move(round);
      },
      [&](std::exception_ptr) { done = true; });
  ioc.run_for(options.initial_timeout + options.rpc_timeout);
  if (!done) return std::string("initial corruption check did not finish in time");
  return result;
}

std::shared_ptr<void> install(node::Node& node, asio::io_context& net_ioc, const Options& options) {
  if (options.period.count() <= 0) return nullptr;
  auto st = std::make_shared<Periodic>(Periodic{&node, options, false, Clock::now() + options.period});
  auto strand = asio::make_strand(net_ioc);
  node::NodeObserver o;
  o.on_tick = [st, strand] {
    node::Node& n = *st->node;
    if (st->in_flight || n.leader() != n.member_id() || Clock::now() < st->next) return;
    st->in_flight = true;
    asio::co_spawn(strand, periodic_round(st), asio::detached);
  };
  node.add_observer(std::move(o));
  return st;
}

}  // namespace cairn::server::corrupt
