// etcd's Lease service and its gateway routes over a node::Node, with the leader's Lessor.
//
// Threads: handlers run on their connection's strand; everything that reads the store or the lessor runs
// on the node thread (Node::run / propose callbacks) and comes back through a net::Completion.
// Followers forward KeepAlive and TimeToLive to the leader's advertised client URL with wire::Channel
// (one connection per client stream for keep-alives); a forwarded request carries kForwardedHeader and is
// never forwarded again (no loops while two members disagree on the leader).
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "base/json.h"
#include "server/api/caller.h"
#include "server/api/gateway.h"
#include "server/lease/install.h"
#include "server/lease/lessor.h"
#include "server/net/completion.h"
#include "server/node/url.h"
#include "storage/mvcc_store.h"
#include "wire/client.h"

namespace cairn::server::lease {

using boost::asio::awaitable;
using net::Reply;
using node::EntryKind;
using node::EtcdError;
using node::Node;
using std::chrono::milliseconds;

namespace {

constexpr const char* kGrantPath = "/etcdserverpb.Lease/LeaseGrant";
constexpr const char* kRevokePath = "/etcdserverpb.Lease/LeaseRevoke";
constexpr const char* kKeepAlivePath = "/etcdserverpb.Lease/LeaseKeepAlive";
constexpr const char* kTimeToLivePath = "/etcdserverpb.Lease/LeaseTimeToLive";
constexpr const char* kLeasesPath = "/etcdserverpb.Lease/LeaseLeases";
// Metadata on requests a follower forwards to the leader.
constexpr const char* kForwardedHeader = "cairn-lease-forwarded";

// Forwarding bounds: one attempt, the pause between attempts, and the whole budget of one request
// (a leader change with the default 1 s election timeout fits; clientv3 gives a keep-alive TTL seconds).
constexpr milliseconds kForwardAttemptTimeout{2'000};
constexpr milliseconds kForwardConnectTimeout{1'000};
constexpr milliseconds kForwardRetryPause{100};
constexpr milliseconds kForwardBudget{6'000};
// Keep-alive requests one gateway call may carry.
constexpr size_t kGatewayKeepAlivesMax = 1'024;

EtcdError invalid(const std::string& what) {
  return {net::StatusCode::kInvalidArgument, what};
}
net::Status to_status(const EtcdError& e) {
  return net::Status{e.code, e.message};
}
const EtcdError& unmarshal_error() {
  static const EtcdError e = invalid("grpc: failed to unmarshal the received message");
  return e;
}

template <class Msg>
bool parse(Msg& m, std::string_view bytes) {
  return m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

void fill(Node& n, etcdserverpb::ResponseHeader* h) {
  auto hi = n.header();
  h->set_cluster_id(hi.cluster_id);
  h->set_member_id(hi.member_id);
  h->set_raft_term(hi.raft_term);
  if (h->revision() == 0) h->set_revision(n.store().revision());
}

// What the node thread answers a request that only the leader may serve.
struct Answer {
  enum class Kind { kReply, kError, kForward } kind = Kind::kError;
  std::string message;   // kReply
  net::Status status;    // kError
  net::Endpoint leader;  // kForward
  static Answer reply(std::string m) { return {Kind::kReply, std::move(m), {}, {}}; }
  static Answer error(const EtcdError& e) { return {Kind::kError, {}, to_status(e), {}}; }
  static Answer forward(net::Endpoint ep) { return {Kind::kForward, {}, {}, std::move(ep)}; }
};

// Runs fn() -> T on the node thread; `fallback` if the inbox is full or the node stopped.
template <class T, class Fn>
awaitable<T> on_node(Node* n, Fn fn, T fallback) {
  auto pc = net::make_completion<T>();
  auto promise = std::make_shared<net::CompletionPromise<T>>(std::move(pc.first));
  if (!n->run([promise, fn = std::move(fn)]() mutable { promise->set(fn()); })) {
    promise->set(fallback);
  }
  auto w = pc.second.wait();
  std::optional<T> r = co_await std::move(w);
  if (!r) co_return fallback;
  co_return std::move(*r);
}

class LeaseService : public std::enable_shared_from_this<LeaseService> {
 public:
  // The lessor reads the node's clock (NodeEnv::clock): the steady clock, or the simulator's.
  explicit LeaseService(Node& node) : node_(node), lessor_(node.clock(), lessor_config(node)) {}
  // A client server whose loopback TLS context dials an https:// leader (forwarded keep-alives).
  void set_tls_source(net::Server* s) { tls_source_ = s; }

  void attach() {
    auto self = shared_from_this();
    node::NodeObserver o;
    o.on_leader_change = [self](uint64_t, bool is_leader, uint64_t) { self->leader_changed(is_leader); };
    o.on_tick = [self] { self->tick(); };
    o.on_store_restored = [self] { self->store_restored(); };
    o.on_stop = [self] { self->lessor_.demote(); };
    node_.add_observer(std::move(o));
  }

  void register_routes(net::Server& s);

  // ---- handlers (connection strand) ----
  awaitable<Reply> grant(std::string bytes, api::Caller c);
  awaitable<Reply> revoke(std::string bytes, api::Caller c);
  awaitable<Reply> time_to_live(std::string bytes, bool forwarded, api::Caller c);
  awaitable<Reply> leases(std::string bytes, api::Caller c);
  awaitable<net::Status> keep_alive(net::ServerContext& ctx, net::ServerStream& stream);
  // One keep-alive, served here or by the leader; `fwd` is the caller's connection to the leader.
  class Forwarder;
  awaitable<Reply> keep_alive_once(std::string request, bool forwarded, const api::Caller& c, Forwarder& fwd);

 private:
  static LessorConfig lessor_config(const Node& n) {
    LessorConfig c;
    c.election_timeout = n.config().election;
    return c;
  }
  int64_t min_ttl() const { return min_ttl_seconds(node_.config().election); }
  int64_t next_lease_id();

  // ---- node thread ----
  void leader_changed(bool is_leader);
  void tick();
  void store_restored();
  std::vector<LeaseRecord> records();
  std::optional<LeaseRecord> record(int64_t id);
  void reconcile();
  void propose_revoke(int64_t id);
  Answer leader_or_forward(bool forwarded);
  // The leader has committed entries it has not applied yet: a lease granted moments ago (answered by
  // another member, which applied it) may still be missing here, so "not found" must wait (etcd's
  // waitAppliedIndex before a renew).
  bool catching_up() { return node_.applied_index() < node_.committed_index(); }
  Answer serve_keep_alive(const etcdserverpb::LeaseKeepAliveRequest& req, bool forwarded,
                          const node::EntryAuth& who);
  Answer serve_time_to_live(const etcdserverpb::LeaseTimeToLiveRequest& req, bool forwarded,
                            const node::EntryAuth& who);

  Node& node_;
  net::Server* tls_source_ = nullptr;
  Lessor lessor_;  // node thread only
  std::atomic<uint64_t> id_seq_{0};
};

// ---------------------------------------------------------------- node thread

std::optional<LeaseRecord> LeaseService::record(int64_t id) {
  auto info = node_.store().lease(id);
  if (!info) return std::nullopt;
  return LeaseRecord{info->id, info->ttl, info->remaining_ttl};
}

std::vector<LeaseRecord> LeaseService::records() {
  std::vector<LeaseRecord> out;
  for (int64_t id : node_.store().lease_ids())
    if (auto r = record(id)) out.push_back(*r);
  return out;
}

void LeaseService::reconcile() {
  lessor_.reconcile(node_.store().lease_ids(), [this](int64_t id) { return record(id); });
}

void LeaseService::leader_changed(bool is_leader) {
  if (is_leader && !lessor_.primary()) {
    lessor_.promote(records());
  } else if (!is_leader && lessor_.primary()) {
    lessor_.demote();
  }
}

void LeaseService::store_restored() {
  if (lessor_.primary()) reconcile();
}

void LeaseService::tick() {
  if (!lessor_.check_due()) return;
  // The store may hold leases granted through other members, or lack leases revoked meanwhile.
  reconcile();
  Lessor::Work w = lessor_.poll();
  for (int64_t id : w.revoke)
    propose_revoke(id);
  if (!w.checkpoint.empty()) {
    storage::LeaseCheckpointRequest cp{std::move(w.checkpoint)};
    node_.propose(EntryKind::kLeaseCheckpoint, node::to_pb(cp).SerializeAsString(),
                  [](node::Result<storage::ApplyResponse>) {});
  }
}

void LeaseService::propose_revoke(int64_t id) {
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(id);
  auto self = shared_from_this();
  node_.propose(
      EntryKind::kLeaseRevoke, req.SerializeAsString(), [self, id](node::Result<storage::ApplyResponse> r) {
        const EtcdError not_found = node::from_store(storage::make_error(storage::Errc::kLeaseNotFound));
        if (r || r.error() == not_found) {
          self->lessor_.revoked(id);
        } else {
          self->lessor_.revoke_failed(id);
        }
      });
}

Answer LeaseService::leader_or_forward(bool forwarded) {
  // A forwarded request that reaches a non-leader fails: the forwarding member retries with its view.
  if (forwarded) return Answer::error(node::err_not_leader());
  const uint64_t leader = node_.leader();
  if (leader == 0) return Answer::error(node::err_no_leader());
  auto it = node_.members().find(leader);
  if (it == node_.members().end() || it->second.client_urls.empty())
    return Answer::error(node::err_no_leader());
  const std::string& url = it->second.client_urls.front();
  auto ep = node::parse_url(url);
  if (!ep) return Answer::error(node::err_no_leader());
  if (url.rfind("https://", 0) == 0) {
    // A TLS leader is dialled with this member's loopback client context (it presents the member's
    // server certificate and, like etcd's own gateway, does not verify the other end).
    if (!tls_source_) return Answer::error(node::err_no_leader());
    ep->tls = tls_source_->self_endpoint().tls;
    if (!ep->tls) return Answer::error(node::err_no_leader());
  }
  return Answer::forward(*ep);
}

Answer LeaseService::serve_keep_alive(const etcdserverpb::LeaseKeepAliveRequest& req, bool forwarded,
                                      const node::EntryAuth& who) {
  if (auto e = node_.auth().check_user(who)) return Answer::error(*e);
  if (!lessor_.primary()) return leader_or_forward(forwarded);
  etcdserverpb::LeaseKeepAliveResponse out;
  fill(node_, out.mutable_header());  // before the renew, as etcd does
  out.set_id(req.id());
  auto rec = record(req.id());
  if (!rec && catching_up()) return Answer::error(node::err_timeout());  // retried shortly
  if (rec && lessor_.renew(*rec) == Lessor::RenewOutcome::kRenewed) out.set_ttl(rec->ttl);
  return Answer::reply(out.SerializeAsString());
}

Answer LeaseService::serve_time_to_live(const etcdserverpb::LeaseTimeToLiveRequest& req, bool forwarded,
                                        const node::EntryAuth& who) {
  // With auth on: read on every key attached to the lease (etcd 3.5's checkLeaseTimeToLive).
  if (auto e = node_.auth().check_lease_read(who, node_.store(), req.id())) return Answer::error(*e);
  if (!lessor_.primary()) return leader_or_forward(forwarded);
  etcdserverpb::LeaseTimeToLiveResponse out;
  fill(node_, out.mutable_header());
  out.set_id(req.id());
  auto info = node_.store().lease(req.id());
  if (!info && catching_up()) return Answer::error(node::err_timeout());  // retried shortly
  if (!info) {
    out.set_ttl(-1);
    return Answer::reply(out.SerializeAsString());
  }
  auto left = lessor_.remaining(req.id());
  // Whole seconds, truncated (etcd: int64(Remaining().Seconds())).
  out.set_ttl(left ? left->count() / 1000 : info->ttl);
  out.set_grantedttl(info->ttl);
  if (req.keys())
    for (const std::string& k : info->keys)
      out.add_keys(k);
  return Answer::reply(out.SerializeAsString());
}

// ---------------------------------------------------------------- handlers

int64_t LeaseService::next_lease_id() {
  // Like etcd's request ids: the member id's low 16 bits, then wall-clock milliseconds, then a counter,
  // masked to a positive int64. Unique across this member's restarts as long as the clock moves forward.
  const auto ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  const uint64_t base = ((node_.member_id() & 0xffff) << 48) |
                        ((static_cast<uint64_t>(ms.count()) & ((uint64_t{1} << 40) - 1)) << 8);
  for (;;) {
    const uint64_t id = (base + id_seq_.fetch_add(1)) & ((uint64_t{1} << 63) - 1);
    if (id != 0) return static_cast<int64_t>(id);
  }
}

// Proposes as `who` (checked at apply time: server/auth).
template <class Render>
awaitable<Reply> propose(Node* n, node::EntryAuth who, EntryKind kind, std::string body, Render render) {
  auto pc = net::make_completion<Reply>();
  auto promise = std::make_shared<net::CompletionPromise<Reply>>(std::move(pc.first));
  if (body.size() > n->config().max_request_bytes) {
    promise->set(to_status(node::err_request_too_large()));
  } else {
    n->propose(kind, std::move(body), std::move(who),
               [n, promise, render](node::Result<storage::ApplyResponse> r) mutable {
                 if (!r) {
                   promise->set(to_status(r.error()));
                   return;
                 }
                 promise->set(render(*n, *r));
               });
  }
  auto w = pc.second.wait();
  std::optional<Reply> r = co_await std::move(w);
  if (!r) co_return to_status(node::err_stopped());
  co_return std::move(*r);
}

awaitable<Reply> LeaseService::grant(std::string bytes, api::Caller c) {
  etcdserverpb::LeaseGrantRequest req;
  if (!parse(req, bytes)) co_return to_status(unmarshal_error());
  if (req.ttl() > storage::kLeaseTtlMaxSeconds)
    co_return to_status(node::from_store(storage::make_error(storage::Errc::kLeaseTtlTooLarge)));
  // ID and TTL are final before proposing, so every member applies the same grant.
  if (req.id() == 0) req.set_id(next_lease_id());
  if (req.ttl() < min_ttl()) req.set_ttl(min_ttl());
  auto self = shared_from_this();
  auto render = [self](Node& nd, storage::ApplyResponse& r) -> Reply {
    etcdserverpb::LeaseGrantResponse out;
    if (auto* g = std::get_if<storage::LeaseGrantResponse>(&r)) {
      out.mutable_header()->set_revision(g->header.revision);
      out.set_id(g->id);
      out.set_ttl(g->ttl);
      self->lessor_.granted(LeaseRecord{g->id, g->ttl, 0});
    }
    fill(nd, out.mutable_header());
    return out.SerializeAsString();
  };
  Node* n = &node_;
  std::string body = req.SerializeAsString();
  auto aw = api::as_caller(n, std::move(c), [n, body, render](node::EntryAuth who) {
    return propose(n, std::move(who), EntryKind::kLeaseGrant, body, render);
  });
  co_return co_await std::move(aw);
}

awaitable<Reply> LeaseService::revoke(std::string bytes, api::Caller c) {
  etcdserverpb::LeaseRevokeRequest req;
  if (!parse(req, bytes)) co_return to_status(unmarshal_error());
  const int64_t id = req.id();
  auto self = shared_from_this();
  auto render = [self, id](Node& nd, storage::ApplyResponse& r) -> Reply {
    etcdserverpb::LeaseRevokeResponse out;
    if (auto* v = std::get_if<storage::LeaseRevokeResponse>(&r))
      out.mutable_header()->set_revision(v->header.revision);
    self->lessor_.revoked(id);
    fill(nd, out.mutable_header());
    return out.SerializeAsString();
  };
  Node* n = &node_;
  auto aw = api::as_caller(n, std::move(c), [n, bytes, render](node::EntryAuth who) {
    return propose(n, std::move(who), EntryKind::kLeaseRevoke, bytes, render);
  });
  co_return co_await std::move(aw);
}

awaitable<Reply> LeaseService::leases(std::string bytes, api::Caller c) {
  etcdserverpb::LeaseLeasesRequest req;
  if (!parse(req, bytes)) co_return to_status(unmarshal_error());
  Node* n = &node_;
  auto who = n->auth().identify(c.token, c.cert_cn);
  if (!who) co_return to_status(who.error());
  auto aw = on_node<Answer>(
      n,
      [n, who = std::move(*who)]() {
        if (auto e = n->auth().check_user(who)) return Answer::error(*e);
        etcdserverpb::LeaseLeasesResponse out;
        fill(*n, out.mutable_header());
        for (int64_t id : n->store().lease_ids())
          out.add_leases()->set_id(id);
        return Answer::reply(out.SerializeAsString());
      },
      Answer::error(node::err_too_many_requests()));
  Answer a = co_await std::move(aw);
  if (a.kind == Answer::Kind::kReply) co_return std::move(a.message);
  co_return a.status;
}

// A follower's connection to the leader, reused across the requests of one client stream or call.
class LeaseService::Forwarder {
 public:
  // The caller's token goes with every forwarded call: the leader checks it again.
  explicit Forwarder(std::string token = {}) : token_(std::move(token)) {}
  // One forwarded call: a unary call, or a keep-alive stream carrying one request. nullopt: transport
  // failure (retry); otherwise the leader's reply.
  awaitable<std::optional<Reply>> call(const net::Endpoint& ep, const char* method, std::string request,
                                       bool stream) {
    auto ex = co_await boost::asio::this_coro::executor;
    if (!channel_ || ep.host != ep_.host || ep.port != ep_.port) {
      if (channel_) channel_->close();
      wire::ChannelOptions o;
      o.connect_timeout = kForwardConnectTimeout;
      o.backoff_initial = kForwardRetryPause;
      o.backoff_max = kForwardRetryPause;
      o.user_agent = "cairn-lease-forward";
      channel_ = std::make_unique<wire::Channel>(ex, std::vector<net::Endpoint>{ep}, o);
      ep_ = ep;
    }
    wire::CallOptions co;
    co.timeout = kForwardAttemptTimeout;
    co.metadata.emplace_back(kForwardedHeader, "1");
    if (!token_.empty()) co.metadata.emplace_back("token", token_);
    if (!stream) {
      auto uw = channel_->unary(method, std::move(request), co);
      wire::UnaryResult r = co_await std::move(uw);
      if (r.status.is_ok()) co_return Reply(std::move(r.response));
      if (r.status.code == net::StatusCode::kUnavailable ||
          r.status.code == net::StatusCode::kDeadlineExceeded ||
          r.status.code == net::StatusCode::kFailedPrecondition ||
          r.status.code == net::StatusCode::kCancelled)
        co_return std::nullopt;
      co_return Reply(r.status);
    }
    auto sw = channel_->start_call(method, co);
    wire::ClientCall c = co_await std::move(sw);
    auto ww = c.write(std::move(request));
    if (!co_await std::move(ww)) {
      c.cancel();
      co_return std::nullopt;
    }
    c.writes_done();
    auto rw = c.read();
    std::optional<std::string> resp = co_await std::move(rw);
    auto fw = c.finish();
    net::Status st = co_await std::move(fw);
    (void)st;
    if (!resp) co_return std::nullopt;
    co_return Reply(std::move(*resp));
  }

  ~Forwarder() {
    if (channel_) channel_->close();
  }

 private:
  std::string token_;
  std::unique_ptr<wire::Channel> channel_;
  net::Endpoint ep_;
};

// Serves `request` here when this member leads, else forwards it to the leader, retrying across leader
// changes within kForwardBudget. `serve` runs on the node thread and returns an Answer.
template <class Serve>
awaitable<Reply> serve_or_forward(Node* n, Serve serve, const char* method, std::string request, bool stream,
                                  LeaseService::Forwarder& fwd) {
  const auto deadline = std::chrono::steady_clock::now() + kForwardBudget;
  std::optional<net::Status> last;
  for (;;) {
    auto aw = on_node<Answer>(n, serve, Answer::error(node::err_too_many_requests()));
    Answer a = co_await std::move(aw);
    if (a.kind == Answer::Kind::kReply) co_return std::move(a.message);
    if (a.kind == Answer::Kind::kForward) {
      auto fw = fwd.call(a.leader, method, request, stream);
      std::optional<Reply> r = co_await std::move(fw);
      if (r) co_return std::move(*r);
      last = to_status(node::err_no_leader());
    } else if (a.status.code != net::StatusCode::kUnavailable) {
      co_return a.status;  // not retried: not leader on a forwarded request, or overload
    } else {
      last = a.status;
    }
    if (std::chrono::steady_clock::now() + kForwardRetryPause >= deadline) co_return *last;
    auto ex = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer t(ex, kForwardRetryPause);
    auto tw = t.async_wait(boost::asio::use_awaitable);
    co_await std::move(tw);
  }
}

awaitable<Reply> LeaseService::keep_alive_once(std::string request, bool forwarded, const api::Caller& c,
                                               Forwarder& fwd) {
  etcdserverpb::LeaseKeepAliveRequest req;
  if (!parse(req, request)) co_return to_status(unmarshal_error());
  auto self = shared_from_this();
  Node* n = &node_;
  auto aw = api::as_caller(n, c, [self, n, req, forwarded, request, &fwd](node::EntryAuth who) {
    return serve_or_forward(
        n, [self, req, forwarded, who]() { return self->serve_keep_alive(req, forwarded, who); },
        kKeepAlivePath, request, true, fwd);
  });
  co_return co_await std::move(aw);
}

awaitable<Reply> LeaseService::time_to_live(std::string bytes, bool forwarded, api::Caller c) {
  etcdserverpb::LeaseTimeToLiveRequest req;
  if (!parse(req, bytes)) co_return to_status(unmarshal_error());
  Forwarder fwd(c.token);
  auto self = shared_from_this();
  Node* n = &node_;
  auto aw = api::as_caller(n, c, [self, n, req, forwarded, bytes, &fwd](node::EntryAuth who) {
    return serve_or_forward(
        n, [self, req, forwarded, who]() { return self->serve_time_to_live(req, forwarded, who); },
        kTimeToLivePath, bytes, false, fwd);
  });
  co_return co_await std::move(aw);
}

awaitable<net::Status> LeaseService::keep_alive(net::ServerContext& ctx, net::ServerStream& stream) {
  const bool forwarded = ctx.metadata_value(kForwardedHeader).has_value();
  const api::Caller caller = api::caller_of(ctx);
  Forwarder fwd(caller.token);
  for (;;) {
    auto rw = stream.read();
    std::optional<std::string> msg = co_await std::move(rw);
    if (!msg) co_return net::Status::ok();  // the client half-closed
    auto kw = keep_alive_once(*msg, forwarded, caller, fwd);
    Reply r = co_await std::move(kw);
    if (!r.has_message()) co_return r.status();
    auto ww = stream.write(std::move(r.message()));
    if (!co_await std::move(ww)) co_return net::Status{net::StatusCode::kCancelled, "context canceled"};
  }
}

// ---------------------------------------------------------------- JSON gateway

template <class Resp>
std::optional<std::string> to_json(const std::string& bytes) {
  Resp resp;
  if (!resp.ParseFromString(bytes)) return std::nullopt;
  return api::gateway_json(resp).body;
}

template <class Req, class Resp, class Call>
awaitable<net::HttpResponse> gateway_unary(std::string body, Call call) {
  Req req;
  if (auto e = api::gateway_parse(body, req)) co_return api::gateway_error(*e);
  auto aw = call(req.SerializeAsString());
  Reply reply = co_await std::move(aw);
  if (!reply.has_message()) co_return api::gateway_error(reply.status());
  Resp resp;
  if (!resp.ParseFromString(reply.message()))
    co_return api::gateway_error(net::StatusCode::kInternal, "bad response");
  co_return api::gateway_json(resp);
}

// Splits a body holding a sequence of JSON objects ({..}{..} or newline separated) into the objects.
std::optional<std::vector<std::string>> split_json_objects(const std::string& body) {
  std::vector<std::string> out;
  int depth = 0;
  bool in_string = false, escaped = false;
  size_t start = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}') {
      if (--depth < 0) return std::nullopt;
      if (depth == 0) {
        out.push_back(body.substr(start, i - start + 1));
        if (out.size() > kGatewayKeepAlivesMax) return std::nullopt;
      }
    } else if (depth == 0 && c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      return std::nullopt;
    }
  }
  if (depth != 0 || in_string) return std::nullopt;
  return out;
}

// POST /v3/lease/keepalive: each JSON object in the body is one keep-alive; the answer is one
// {"result":{...}} line per request (grpc-gateway's stream framing), or an {"error":{...}} line.
awaitable<net::HttpResponse> gateway_keep_alive(std::shared_ptr<LeaseService> svc, std::string body,
                                                api::Caller caller) {
  net::HttpResponse r;
  r.content_type = "application/json";
  r.headers.emplace_back("grpc-metadata-content-type", "application/grpc");
  auto objects = split_json_objects(body);
  if (!objects) co_return api::gateway_error(net::StatusCode::kInvalidArgument, "invalid JSON body");
  LeaseService::Forwarder fwd(caller.token);
  for (const std::string& obj : *objects) {
    etcdserverpb::LeaseKeepAliveRequest req;
    std::optional<net::Status> err = api::gateway_parse(obj, req);
    std::optional<Reply> reply;
    if (!err) {
      auto kw = svc->keep_alive_once(req.SerializeAsString(), false, caller, fwd);
      reply = co_await std::move(kw);
      if (!reply->has_message()) err = reply->status();
    }
    if (err) {
      r.body += "{\"error\":{\"grpc_code\":" + std::to_string(static_cast<int>(err->code)) +
                ",\"http_code\":" + std::to_string(api::http_status(err->code)) + ",\"message\":\"" +
                base::json_escape(err->message) + "\",\"http_status\":\"" +
                base::json_escape(std::string(net::status_code_name(err->code))) + "\"}}\n";
      break;
    }
    auto json = to_json<etcdserverpb::LeaseKeepAliveResponse>(reply->message());
    if (!json) break;
    r.body += "{\"result\":" + *json + "}\n";
  }
  co_return r;
}

void LeaseService::register_routes(net::Server& s) {
  auto self = shared_from_this();
  s.add_unary(kGrantPath, [self](net::ServerContext& ctx, std::string_view req) {
    return self->grant(std::string(req), api::caller_of(ctx));
  });
  s.add_unary(kRevokePath, [self](net::ServerContext& ctx, std::string_view req) {
    return self->revoke(std::string(req), api::caller_of(ctx));
  });
  s.add_unary(kTimeToLivePath, [self](net::ServerContext& ctx, std::string_view req) {
    return self->time_to_live(std::string(req), ctx.metadata_value(kForwardedHeader).has_value(),
                              api::caller_of(ctx));
  });
  s.add_unary(kLeasesPath, [self](net::ServerContext& ctx, std::string_view req) {
    return self->leases(std::string(req), api::caller_of(ctx));
  });
  s.add_stream(kKeepAlivePath,
               [self](net::ServerContext& ctx, net::ServerStream& st) { return self->keep_alive(ctx, st); });

  using namespace etcdserverpb;
  auto grant_gw = [self](const net::HttpRequest& r) {
    return gateway_unary<LeaseGrantRequest, LeaseGrantResponse>(
        r.body, [self, c = api::caller_of(r)](std::string b) { return self->grant(std::move(b), c); });
  };
  auto revoke_gw = [self](const net::HttpRequest& r) {
    return gateway_unary<LeaseRevokeRequest, LeaseRevokeResponse>(
        r.body, [self, c = api::caller_of(r)](std::string b) { return self->revoke(std::move(b), c); });
  };
  auto ttl_gw = [self](const net::HttpRequest& r) {
    return gateway_unary<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>(
        r.body,
        [self, c = api::caller_of(r)](std::string b) { return self->time_to_live(std::move(b), false, c); });
  };
  auto leases_gw = [self](const net::HttpRequest& r) {
    return gateway_unary<LeaseLeasesRequest, LeaseLeasesResponse>(
        r.body, [self, c = api::caller_of(r)](std::string b) { return self->leases(std::move(b), c); });
  };
  s.add_http("POST", "/v3/lease/grant", grant_gw);
  s.add_http("POST", "/v3/lease/revoke", revoke_gw);
  s.add_http("POST", "/v3/kv/lease/revoke", revoke_gw);
  s.add_http("POST", "/v3/lease/timetolive", ttl_gw);
  s.add_http("POST", "/v3/kv/lease/timetolive", ttl_gw);
  s.add_http("POST", "/v3/lease/leases", leases_gw);
  s.add_http("POST", "/v3/kv/lease/leases", leases_gw);  // etcd 3.4's second binding of LeaseLeases
  s.add_http("POST", "/v3/lease/keepalive", [self](const net::HttpRequest& r) {
    return gateway_keep_alive(self, r.body, api::caller_of(r));
  });
}

}  // namespace

std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& servers) {
  auto svc = std::make_shared<LeaseService>(node);
  for (net::Server* s : servers)
    if (s->self_endpoint().tls) {
      svc->set_tls_source(s);
      break;
    }
  svc->attach();
  for (net::Server* s : servers)
    svc->register_routes(*s);
  return svc;
}

}  // namespace cairn::server::lease
