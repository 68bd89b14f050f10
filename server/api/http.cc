// The client port's HTTP/1.1 endpoints: /health, /version, /metrics (etcd's shapes).
#include "server/api/metrics_page.h"
#include "server/api/probes.h"
#include "server/api/services.h"
#include "server/net/completion.h"

namespace cairn::server::api {

using boost::asio::awaitable;
using net::HttpRequest;
using net::HttpResponse;
using node::EtcdError;
using node::Node;

namespace {

net::HttpResponse json(unsigned status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::string alarm_name(storage::AlarmType a) {
  return a == storage::AlarmType::kNoSpace   ? "NOSPACE"
         : a == storage::AlarmType::kCorrupt ? "CORRUPT"
                                             : "NONE";
}

// etcd's /health: unhealthy while an alarm is raised (3.4: {"health":"false"}; the reason is etcd 3.5's
// field), else healthy when a leader is known and a linearizable read goes through (?serializable=true,
// etcd 3.5: a local read, so a member without quorum can still say it is alive).
awaitable<HttpResponse> health(Node* n, const HttpRequest& req) {
  const bool serializable = req.target.find("serializable=true") != std::string::npos;
  auto pc = net::make_completion<std::string>();  // empty: healthy; else the reason
  auto p = std::make_shared<net::CompletionPromise<std::string>>(std::move(pc.first));
  if (!n->run([n, p, serializable] {
        auto alarms = n->store().alarms();
        if (!alarms.empty()) {
          p->set("ALARM " + alarm_name(alarms.front().type));
          return;
        }
        if (serializable) {
          p->set(n->leader() == 0 ? "RAFT NO LEADER" : "");
          return;
        }
        n->linearize([p](std::optional<EtcdError> e) { p->set(e ? "RAFT NO LEADER" : ""); });
      }))
    p->set("TOO MANY REQUESTS");
  auto w = pc.second.wait();
  std::optional<std::string> reason = co_await std::move(w);
  if (reason && reason->empty()) co_return json(200, "{\"health\":\"true\"}");
  co_return json(503, "{\"health\":\"false\",\"reason\":\"" + reason.value_or("STOPPED") + "\"}");
}

// etcd 3.6's /version: the server, cluster and storage versions (server/node/version.h).
awaitable<HttpResponse> version(Node* n) {
  auto pc = net::make_completion<std::string>();
  auto p = std::make_shared<net::CompletionPromise<std::string>>(std::move(pc.first));
  if (!n->run([n, p] {
        const node::DowngradeInfo& d = n->downgrade();
        p->set(std::string("{\"etcdserver\":\"") + node::kEtcdServerVersion + "\",\"etcdcluster\":\"" +
               node::cluster_version(d) + "\",\"storage\":\"" + node::storage_version(d) + "\"}");
      }))
    co_return json(503, "{\"message\":\"etcdserver: too many requests\"}");
  auto w = pc.second.wait();
  std::optional<std::string> body = co_await std::move(w);
  if (!body) co_return json(503, "{\"message\":\"etcdserver: server stopped\"}");
  co_return json(200, std::move(*body));
}

}  // namespace

void register_http(net::Server& s, Node& n) {
  register_monitoring(s, n, s);
  Node* np = &n;
  s.add_http("GET", "/version", [np](const HttpRequest&) { return version(np); });
}

void register_monitoring(net::Server& s, Node& n, const net::Server& stats_of) {
  Node* np = &n;
  const net::Server* sp = &stats_of;
  s.add_http("GET", "/health", [np](const HttpRequest& r) { return health(np, r); });
  s.add_http("GET", "/metrics", [np, sp](const HttpRequest&) { return metrics_page(np, sp); });
  register_probes(s, n);
}

}  // namespace cairn::server::api
