#include "server/disk/quota_sync.h"

#include "server/disk/tick_watch.h"
#include "server/log/log.h"
#include "server/node/request_codec.h"

namespace cairn::server::disk {

namespace {

struct QuotaSync : TickWatch {
  uint64_t quota_bytes = 0;
};

bool in_force(node::Node& n, uint64_t bytes) {
  return n.store().quota_replicated() && n.store().quota_bytes() == bytes;
}

void look(const std::shared_ptr<QuotaSync>& q) {
  node::Node& n = *q->node;
  if (n.leader() != n.member_id() || !q->due() || in_force(n, q->quota_bytes)) return;
  log::info("setting the cluster's quota to this leader's --quota-backend-bytes",
            {{"quota-bytes", std::to_string(q->quota_bytes)},
             {"previous-quota-bytes", n.store().quota_replicated() ? std::to_string(n.store().quota_bytes())
                                                                   : "none (members' own)"}});
  propose_for(q, node::EntryKind::kQuota, node::encode_quota(q->quota_bytes), "setting the cluster's quota");
}

}  // namespace

std::shared_ptr<void> install_quota_sync(node::Node& node, QuotaSyncOptions options) {
  if (!options.enabled) return nullptr;
  auto q = std::make_shared<QuotaSync>();
  q->period = options.period;
  q->quota_bytes = options.quota_bytes;
  return watch_ticks(node, std::move(q), &look);
}

}  // namespace cairn::server::disk
