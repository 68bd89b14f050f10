#include "server/compactor/install.h"

#include <cstdio>

#include "proto/etcd/rpc.pb.h"
#include "server/compactor/compactor.h"
#include "server/log/log.h"
#include "server/node/request_codec.h"

namespace cairn::server::compactor {

namespace {

struct State {
  explicit State(const node::NodeConfig& c)
      : compactor(c.auto_compaction_period, c.auto_compaction_revisions, Clock::now()) {}
  AutoCompactor compactor;
  bool leader = false;
  bool in_flight = false;
};

}  // namespace

std::shared_ptr<void> install(node::Node& node, const std::vector<net::Server*>& /*servers*/) {
  const auto& cfg = node.config();
  if (cfg.auto_compaction_period.count() <= 0 && cfg.auto_compaction_revisions <= 0) return nullptr;
  auto st = std::make_shared<State>(cfg);
  node::NodeObserver o;
  o.on_leader_change = [st](uint64_t, bool is_leader, uint64_t) { st->leader = is_leader; };
  node::Node* n = &node;
  o.on_tick = [st, n] {
    if (st->in_flight) return;
    auto& store = n->store();
    auto rev = st->compactor.on_tick(Clock::now(), store.revision(), store.compact_revision(), st->leader);
    if (!rev) return;
    etcdserverpb::CompactionRequest req;
    req.set_revision(*rev);
    st->in_flight = true;
    log::info("auto-compaction: compacting to revision " + std::to_string(*rev),
              {{"revision", std::to_string(*rev)}});
    n->propose(node::EntryKind::kCompaction, req.SerializeAsString(),
               [st, rev = *rev](node::Result<storage::ApplyResponse> r) {
                 st->in_flight = false;
                 if (!r) {
                   log::warn("auto-compaction to revision " + std::to_string(rev) + " failed",
                             {{"revision", std::to_string(rev)}, {"error", r.error().message}});
                   st->compactor.retry_soon(Clock::now());
                 }
               });
  };
  node.add_observer(std::move(o));
  return st;
}

}  // namespace cairn::server::compactor
