#include "server/disk/quota_sync.h"

#include "server/log/log.h"
#include "server/node/request_codec.h"

namespace cairn::server::disk {

namespace {

using Clock = std::chrono::steady_clock;

struct QuotaSync {
  node::Node* node = nullptr;
  QuotaSyncOptions options;
  Clock::time_point next;
  bool in_flight = false;  // a kQuota proposal of ours is not answered yet
};

bool in_force(node::Node& n, uint64_t bytes) {
  return n.store().quota_replicated() && n.store().quota_bytes() == bytes;
}

void propose_quota(const std::shared_ptr<QuotaSync>& q) {
  node::Node& n = *q->node;
  const uint64_t bytes = q->options.quota_bytes;
  log::info("setting the cluster's quota to this leader's --quota-backend-bytes",
            {{"quota-bytes", std::to_string(bytes)},
             {"previous-quota-bytes", n.store().quota_replicated() ? std::to_string(n.store().quota_bytes())
                                                                   : "none (members' own)"}});
  q->in_flight = true;
  std::weak_ptr<QuotaSync> weak = q;
  n.propose(node::EntryKind::kQuota, node::encode_quota(bytes),
            [weak](node::Result<storage::ApplyResponse> r) {
              auto q = weak.lock();
              if (!q) return;
              q->in_flight = false;
              if (!r) log::warn("setting the cluster's quota failed (tried again): " + r.error().message);
            });
}

void look(const std::shared_ptr<QuotaSync>& q) {
  node::Node& n = *q->node;
  if (q->in_flight || Clock::now() < q->next || n.leader() != n.member_id()) return;
  q->next = Clock::now() + q->options.period;
  if (!in_force(n, q->options.quota_bytes)) propose_quota(q);
}

}  // namespace

std::shared_ptr<void> install_quota_sync(node::Node& node, QuotaSyncOptions options) {
  if (!options.enabled) return nullptr;
  auto q = std::make_shared<QuotaSync>();
  q->node = &node;
  q->options = options;
  node::NodeObserver o;
  std::weak_ptr<QuotaSync> weak = q;
  o.on_tick = [weak] {
    if (auto q = weak.lock()) look(q);
  };
  node.add_observer(std::move(o));
  return q;
}

}  // namespace cairn::server::disk
