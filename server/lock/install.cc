#include "server/lock/install.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <cstdio>

#include <google/protobuf/util/json_util.h>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/json.h"
#include "server/api/caller.h"
#include "server/api/gateway.h"
#include "server/lock/recipes.h"
#include "server/net/completion.h"

namespace cairn::server::lock {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {

// What one client server's routes need to reach this member: the server (inner calls are dialled
// in-process, net::Server::in_process_endpoint) and the bound on each inner unary call.
struct Target {
  net::Server* server = nullptr;
  std::chrono::milliseconds unary_timeout{};
};

// A client of this member for one incoming call, acting as its caller (api::Caller): the inner calls carry
// the caller's token, and without one present the caller's verified certificate's common name, so they
// may do exactly what the caller may.
using api::Caller;
std::shared_ptr<LocalClient> make_client(asio::any_io_executor ex, const Target& t, const Caller& who) {
  net::Metadata md;
  if (!who.token.empty()) md.emplace_back("token", who.token);
  return std::make_shared<LocalClient>(std::move(ex),
                                       std::vector<net::Endpoint>{t.server->in_process_endpoint(who.cert_cn)},
                                       std::move(md), t.unary_timeout);
}

template <class Req, class Resp>
using Recipe = awaitable<Result<Resp>> (*)(LocalClient&, CancelSignal&, Req);

template <class Req, class Resp>
awaitable<void> drive(std::shared_ptr<LocalClient> client, std::shared_ptr<CancelSignal> cancel,
                      Recipe<Req, Resp> recipe, Req req, net::CompletionPromise<Result<Resp>> done) {
  auto r = co_await recipe(*client, *cancel, std::move(req));
  done.set(std::move(r));
}

// Runs a recipe in a coroutine of its own on the caller's strand while the handler waits for it. When
// the caller goes away the handler's wait ends and the recipe is told to stop: it still gets to delete
// its key (a cancelled handler coroutine could not: its next co_await would throw).
template <class Req, class Resp>
awaitable<Result<Resp>> run(const Target& t, const Caller& who, Recipe<Req, Resp> recipe, Req req) {
  auto ex = co_await asio::this_coro::executor;
  auto client = make_client(ex, t, who);
  auto cancel = std::make_shared<CancelSignal>();
  auto pc = net::make_completion<Result<Resp>>();
  asio::co_spawn(ex, drive<Req, Resp>(client, cancel, recipe, std::move(req), std::move(pc.first)),
                 asio::detached);
  std::optional<Result<Resp>> r = co_await pc.second.wait();
  if (!r) {
    cancel->cancel();
    co_return unexpected(err_cancelled());
  }
  co_return std::move(*r);
}

template <class Req, class Resp>
awaitable<net::Reply> grpc_unary(std::shared_ptr<const Target> t, Caller who, Recipe<Req, Resp> recipe,
                                 std::string bytes) {
  Req req;
  if (!req.ParseFromString(bytes))
    co_return net::Status{net::StatusCode::kInternal, "grpc: error unmarshalling request"};
  auto r = co_await run<Req, Resp>(*t, std::move(who), recipe, std::move(req));
  if (!r) co_return r.error();
  co_return r->SerializeAsString();
}

awaitable<net::Status> grpc_observe(std::shared_ptr<const Target> t, Caller who, net::ServerStream& stream) {
  std::optional<std::string> first = co_await stream.read();
  v3electionpb::LeaderRequest req;
  if (!first || !req.ParseFromString(*first))
    co_return net::Status{net::StatusCode::kInternal, "grpc: error unmarshalling request"};
  // Observe has nothing to clean up: it runs in the handler, and a cancelled call simply unwinds (the
  // LocalClient's connection closes with it).
  auto client = make_client(co_await asio::this_coro::executor, *t, who);
  co_return co_await observe(*client, std::move(req),
                             [&stream](std::string m) { return stream.write(std::move(m)); });
}

// POST /v3/election/observe: one LeaderRequest body, then {"result": LeaderResponse} lines until the
// client closes the connection (which cancels the observation at once, not at the next change).
awaitable<void> observe_lines(LocalClient& client, v3electionpb::LeaderRequest req, net::HttpStream& http) {
  auto write = [&http](std::string bytes) -> awaitable<bool> {
    v3electionpb::LeaderResponse resp;
    if (!resp.ParseFromString(bytes)) co_return false;
    google::protobuf::util::JsonPrintOptions jo;
    jo.preserve_proto_field_names = true;
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(resp, &json, jo);
    co_return co_await http.write("{\"result\":" + json + "}\n");
  };
  net::Status st = co_await observe(client, std::move(req), write);
  if (!st.is_ok() && st.code != net::StatusCode::kCancelled) {
    const unsigned code = api::http_status(st.code);
    (void)co_await http.write("{\"error\":{\"grpc_code\":" + std::to_string(static_cast<int>(st.code)) +
                              ",\"http_code\":" + std::to_string(code) + ",\"message\":\"" +
                              base::json_escape(st.message) + "\"}}\n");
  }
}

awaitable<void> gateway_observe(std::shared_ptr<const Target> t, const net::HttpRequest& http_req,
                                net::HttpStream& http) {
  std::string body;
  while (auto more = co_await http.read_body()) {
    body += *more;
    if (body.size() > t->server->limits().http_body_bytes_max) co_return;  // the connection closes
  }
  v3electionpb::LeaderRequest req;
  if (auto bad = api::gateway_parse(body, req)) {
    (void)co_await http.write(api::gateway_error(*bad).body + "\n");
    co_return;
  }
  auto client = make_client(co_await asio::this_coro::executor, *t, api::caller_of(http_req));
  co_await (observe_lines(*client, std::move(req), http) || http.wait_closed());
}

// ---- JSON gateway (grpc-gateway's mapping: proto3 JSON, original field names, etcd's error body) ----

template <class Req, class Resp>
awaitable<net::HttpResponse> gateway_unary(std::shared_ptr<const Target> t, Recipe<Req, Resp> recipe,
                                           net::HttpRequest http) {
  Req req;
  if (auto bad = api::gateway_parse(http.body, req)) co_return api::gateway_error(*bad);
  auto r = co_await run<Req, Resp>(*t, api::caller_of(http), recipe, std::move(req));
  if (!r) co_return api::gateway_error(r.error());
  co_return api::gateway_json(*r);
}

template <class Req, class Resp>
void add_route(net::Server& s, const std::shared_ptr<const Target>& t, const char* grpc_path,
               const char* gateway_path, Recipe<Req, Resp> recipe) {
  s.add_unary(grpc_path, [t, recipe](net::ServerContext& ctx, std::string_view req) {
    return grpc_unary<Req, Resp>(t, api::caller_of(ctx), recipe, std::string(req));
  });
  s.add_http("POST", gateway_path,
             [t, recipe](const net::HttpRequest& req) { return gateway_unary<Req, Resp>(t, recipe, req); });
}

struct Installed {
  std::vector<std::shared_ptr<const Target>> targets;
};

}  // namespace

std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& servers) {
  auto installed = std::make_shared<Installed>();
  // Each inner unary call is answered (or failed with etcd's timeout) by the member within its
  // request timeout; the margin covers the in-process round trip.
  const auto unary_timeout = node.request_timeout() + std::chrono::seconds(2);
  for (net::Server* s : servers) {
    auto t = std::make_shared<Target>(Target{s, unary_timeout});
    installed->targets.push_back(t);
    add_route<v3lockpb::LockRequest, v3lockpb::LockResponse>(*s, t, "/v3lockpb.Lock/Lock", "/v3/lock/lock",
                                                             lock);
    add_route<v3lockpb::UnlockRequest, v3lockpb::UnlockResponse>(*s, t, "/v3lockpb.Lock/Unlock",
                                                                 "/v3/lock/unlock", unlock);
    add_route<v3electionpb::CampaignRequest, v3electionpb::CampaignResponse>(
        *s, t, "/v3electionpb.Election/Campaign", "/v3/election/campaign", campaign);
    add_route<v3electionpb::ProclaimRequest, v3electionpb::ProclaimResponse>(
        *s, t, "/v3electionpb.Election/Proclaim", "/v3/election/proclaim", proclaim);
    add_route<v3electionpb::LeaderRequest, v3electionpb::LeaderResponse>(
        *s, t, "/v3electionpb.Election/Leader", "/v3/election/leader", leader);
    add_route<v3electionpb::ResignRequest, v3electionpb::ResignResponse>(
        *s, t, "/v3electionpb.Election/Resign", "/v3/election/resign", resign);
    std::shared_ptr<const Target> ct = t;
    s->add_stream("/v3electionpb.Election/Observe", [ct](net::ServerContext& ctx, net::ServerStream& st) {
      return grpc_observe(ct, api::caller_of(ctx), st);
    });
    s->add_http_stream(
        "POST", "/v3/election/observe", "application/json",
        [ct](const net::HttpRequest& req, net::HttpStream& http) { return gateway_observe(ct, req, http); });
  }
  return installed;
}

}  // namespace cairn::server::lock
