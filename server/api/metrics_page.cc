#include "server/api/metrics_page.h"

#include "server/metrics/families.h"
#include "server/metrics/process.h"
#include "server/net/completion.h"

namespace cairn::server::api {

using boost::asio::awaitable;
using metrics::Families;

namespace {

// What only the node thread may read, copied in one hop.
struct NodeThreadValues {
  double keys = 0;
  double logical_bytes = 0;
  double compaction_backlog = 0;  // compacted records not deleted yet
  double compaction_deleted = 0;
  double quota_bytes = 0;       // the quota in force (the cluster's once the leader set it)
  std::string cluster_version;  // major.minor
};

awaitable<std::optional<NodeThreadValues>> node_thread_values(node::Node* n) {
  auto pc = net::make_completion<NodeThreadValues>();
  auto p = std::make_shared<net::CompletionPromise<NodeThreadValues>>(std::move(pc.first));
  if (!n->run([n, p] {
        NodeThreadValues v;
        v.keys = static_cast<double>(n->store().index().size());
        v.logical_bytes = static_cast<double>(n->store().logical_size_bytes());
        v.compaction_backlog = static_cast<double>(n->store().compaction_backlog());
        v.compaction_deleted = static_cast<double>(n->compaction_records_deleted());
        v.quota_bytes = static_cast<double>(n->store().quota_bytes());
        v.cluster_version = node::cluster_version_short(n->downgrade());
        p->set(std::move(v));
      }))
    co_return std::nullopt;
  auto w = pc.second.wait();
  co_return co_await std::move(w);
}

void server_series(Families& f, const node::NodeStats& st) {
  f.gauge("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
          static_cast<double>(st.has_leader.load()));
  f.gauge("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
          static_cast<double>(st.is_leader.load()));
  f.counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen.",
            static_cast<double>(st.leader_changes.load()));
  // etcd exports committed/applied as gauges despite the _total suffix; kept for its dashboards.
  f.gauge("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.",
          static_cast<double>(st.proposals_committed.load()));
  f.gauge("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.",
          static_cast<double>(st.proposals_applied.load()));
  f.gauge("etcd_server_proposals_pending", "The current number of pending proposals to commit.",
          static_cast<double>(st.proposals_pending.load()));
  f.counter("etcd_server_proposals_failed_total", "The total number of failed proposals seen.",
            static_cast<double>(st.proposals_failed.load()));
  f.gauge("etcd_server_version",
          "Which version is running. 1 for 'server_version' label with current version.", 1,
          {{"server_version", node::kEtcdServerVersion}});
}

void storage_series(Families& f, const node::NodeStats& st, double quota_bytes,
                    const std::optional<NodeThreadValues>& v) {
  const auto& mv = st.mvcc;
  f.counter("etcd_mvcc_put_total", "Total number of puts seen by this member.",
            static_cast<double>(mv.puts.load()));
  f.counter("etcd_mvcc_delete_total", "Total number of deletes seen by this member.",
            static_cast<double>(mv.deletes.load()));
  f.counter("etcd_mvcc_range_total", "Total number of ranges seen by this member.",
            static_cast<double>(mv.ranges.load()));
  f.counter("etcd_mvcc_txn_total", "Total number of txns seen by this member.",
            static_cast<double>(mv.txns.load()));
  const double db = static_cast<double>(st.db_size_bytes.load());
  f.gauge("etcd_mvcc_db_total_size_in_bytes",
          "Total size of the underlying database physically allocated in bytes.", db);
  f.gauge("etcd_debugging_mvcc_db_total_size_in_bytes", "Total size of the underlying database in bytes.",
          db);
  f.gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.",
          v ? v->quota_bytes : quota_bytes);
  f.histogram("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.",
              st.wal_fsync_seconds);
  f.histogram("etcd_disk_backend_commit_duration_seconds",
              "The latency distributions of commit called by backend.", st.backend_commit_seconds);
  if (!v) return;
  // cairn's in-use size is the logical size the quota is charged against (storage/mvcc_store.h).
  f.gauge("etcd_mvcc_db_total_size_in_use_in_bytes",
          "Total size of the underlying database logically in use in bytes.", v->logical_bytes);
  f.gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.", v->keys);
  f.counter("etcd_debugging_mvcc_db_compaction_keys_total", "Total number of db keys compacted.",
            v->compaction_deleted);
  f.gauge(
      "cairn_mvcc_compaction_backlog_records",
      "Records a compaction dropped that are still waiting to be deleted (server/node/compaction_sweeper.h).",
      v->compaction_backlog);
  f.gauge("etcd_cluster_version",
          "Which version is running. 1 for 'cluster_version' label with current cluster version", 1,
          {{"cluster_version", v->cluster_version}});
}

void cairn_series(Families& f, const node::NodeStats& st) {
  f.gauge("cairn_snapshot_index", "Raft index of this member's latest snapshot (WAL released behind it).",
          static_cast<double>(st.snapshot_index.load()));
  f.gauge("cairn_raft_log_cache_bytes",
          "Bytes of raft entries held in memory (bounded by the log cache budget: a snapshot compacts it).",
          static_cast<double>(st.log_cache_bytes.load()));
  f.counter("cairn_snapshots_saved_total", "Local snapshots taken (every --snapshot-count entries).",
            static_cast<double>(st.snapshots_saved.load()));
  f.counter("cairn_snapshots_sent_total", "Store snapshots streamed to lagging members.",
            static_cast<double>(st.snapshots_sent.load()));
  f.counter("cairn_snapshots_installed_total", "Store snapshots received from the leader and installed.",
            static_cast<double>(st.snapshots_installed.load()));
  f.counter(
      "cairn_snapshots_refused_total",
      "Store snapshots from the leader refused before raft saw them (malformed, cut, no disk room, busy).",
      static_cast<double>(st.snapshots_refused.load()));
  for (auto [result, n] :
       {std::pair{"matched", &st.state_checks_matched}, std::pair{"mismatched", &st.state_checks_mismatched},
        std::pair{"skipped", &st.state_checks_skipped}})
    f.counter(
        "cairn_state_checks_total",
        "Leader state checks (--state-check-interval) this member applied, by whether its own state "
        "chain matched (mismatched: another chain, or a revision it has not reached; skipped: a revision "
        "older than those it keeps, or a store without a chain).",
        static_cast<double>(n->load()), {{"result", result}});
  f.counter(
      "cairn_inbox_proposals_refused_total",
      "Proposals refused with \"etcdserver: too many requests\": the node inbox was at its byte or count "
      "bound.",
      static_cast<double>(st.inbox_proposals_refused.load()));
}

}  // namespace

awaitable<net::HttpResponse> metrics_page(node::Node* n, const net::Server* s) {
  const auto v = co_await node_thread_values(n);
  const node::NodeStats& st = n->stats();
  Families f;
  server_series(f, st);
  storage_series(f, st, static_cast<double>(n->config().quota_backend_bytes), v);
  st.peers.collect(f);
  net::collect_prometheus(s->stats(), f);
  s->call_metrics().collect(f);
  cairn_series(f, st);
  metrics::collect_process(f);
  net::HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = f.text();
  co_return r;
}

}  // namespace cairn::server::api
