// The client port's HTTP/1.1 endpoints: /health, /version, /metrics (etcd's shapes).
#include <sstream>

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
          p->set("ALARM " + alarm_name(alarms.front()));
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

awaitable<HttpResponse> metrics(Node* n, const net::Server* s) {
  const auto& st = n->stats();
  std::ostringstream o;
  auto gauge = [&](const char* name, const char* help, const char* type, double v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
      << name << " " << v << "\n";
  };
  gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.", "gauge",
        static_cast<double>(st.has_leader.load()));
  gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", "gauge",
        static_cast<double>(st.is_leader.load()));
  gauge("etcd_server_leader_changes_seen_total", "The number of leader changes seen.", "counter",
        static_cast<double>(st.leader_changes.load()));
  gauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.",
        "gauge", static_cast<double>(st.proposals_committed.load()));
  gauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.", "gauge",
        static_cast<double>(st.proposals_applied.load()));
  gauge("etcd_server_proposals_pending", "The current number of pending proposals to commit.", "gauge",
        static_cast<double>(st.proposals_pending.load()));
  gauge("etcd_server_proposals_failed_total", "The total number of failed proposals seen.", "counter",
        static_cast<double>(st.proposals_failed.load()));
  gauge("cairn_inbox_proposals_refused_total",
        "Proposals refused with \"etcdserver: too many requests\": the node inbox was at its byte or count "
        "bound.",
        "counter", static_cast<double>(st.inbox_proposals_refused.load()));
  const auto& mv = st.mvcc;
  gauge("etcd_mvcc_put_total", "Total number of puts seen by this member.", "counter",
        static_cast<double>(mv.puts.load()));
  gauge("etcd_mvcc_delete_total", "Total number of deletes seen by this member.", "counter",
        static_cast<double>(mv.deletes.load()));
  gauge("etcd_mvcc_range_total", "Total number of ranges seen by this member.", "counter",
        static_cast<double>(mv.ranges.load()));
  gauge("etcd_mvcc_txn_total", "Total number of txns seen by this member.", "counter",
        static_cast<double>(mv.txns.load()));
  gauge("etcd_mvcc_db_total_size_in_bytes",
        "Total size of the underlying database physically allocated in bytes.", "gauge",
        static_cast<double>(st.db_size_bytes.load()));
  gauge("etcd_debugging_mvcc_db_total_size_in_bytes", "Total size of the underlying database in bytes.",
        "gauge", static_cast<double>(st.db_size_bytes.load()));
  gauge("cairn_snapshot_index", "Raft index of this member's latest snapshot (WAL released behind it).",
        "gauge", static_cast<double>(st.snapshot_index.load()));
  gauge("cairn_snapshots_saved_total", "Local snapshots taken (every --snapshot-count entries).", "counter",
        static_cast<double>(st.snapshots_saved.load()));
  gauge("cairn_snapshots_sent_total", "Store snapshots streamed to lagging members.", "counter",
        static_cast<double>(st.snapshots_sent.load()));
  gauge("cairn_snapshots_installed_total", "Store snapshots received from the leader and installed.",
        "counter", static_cast<double>(st.snapshots_installed.load()));
  // A summary rather than etcd's histogram: count and sum of WAL fsyncs.
  o << "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.\n"
    << "# TYPE etcd_disk_wal_fsync_duration_seconds summary\n"
    << "etcd_disk_wal_fsync_duration_seconds_sum "
    << static_cast<double>(st.wal_fsync_micros_total.load()) / 1e6
    << "\netcd_disk_wal_fsync_duration_seconds_count " << st.wal_fsyncs.load() << "\n";
  o << net::render_prometheus(s->stats());
  o << s->call_metrics().render();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = o.str();
  co_return r;
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
  s.add_http("GET", "/metrics", [np, sp](const HttpRequest&) { return metrics(np, sp); });
  register_probes(s, n);
}

}  // namespace cairn::server::api
