#include "server/corrupt/chain_check.h"

#include <cstdio>
#include <optional>

#include "proto/etcd/rpc.pb.h"
#include "server/log/log.h"
#include "server/node/request_codec.h"

namespace cairn::server::corrupt {

namespace {

using Clock = std::chrono::steady_clock;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Node-thread state.
struct ChainCheck {
  node::Node* node;
  std::chrono::milliseconds interval;
  Clock::time_point next;
  int64_t proposed_revision = 0;  // the last revision this member proposed a check for
  int64_t matched_revision = 0;   // the last revision a check matched here (0: none yet)
};

void maybe_propose(ChainCheck& st) {
  node::Node& n = *st.node;
  if (st.interval.count() <= 0 || n.leader() != n.member_id() || Clock::now() < st.next) return;
  const storage::MvccStore& store = n.store();
  const auto chain = store.state_chain();
  if (!chain || store.revision() == st.proposed_revision) return;
  st.next = Clock::now() + st.interval;
  st.proposed_revision = store.revision();
  node::StateCheck c{store.revision(), *chain};
  n.propose(node::EntryKind::kStateCheck, node::encode_state_check(c),
            [](node::Result<storage::ApplyResponse>) {});
}

void raise_corrupt(ChainCheck& st, const node::StateCheckOutcome& o) {
  node::Node& n = *st.node;
  log::error("state check: this member's state differs from member " + hex(o.origin) + "'s at revision " +
                 std::to_string(o.check.revision) + "; raising the CORRUPT alarm",
             {{"local-member-id", hex(n.member_id())},
              {"remote-member-id", hex(o.origin)},
              {"revision", std::to_string(o.check.revision)},
              {"diverged-after-revision", std::to_string(st.matched_revision)},
              {"local-chain", hex(*o.local)},
              {"remote-chain", hex(o.check.chain)},
              {"index", std::to_string(o.index)}});
  // Raised already? (After a disarm, the divergence raises it again at the next check.)
  if (n.store().alarmed(n.member_id(), storage::AlarmType::kCorrupt)) return;
  etcdserverpb::AlarmRequest req;
  req.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  req.set_alarm(etcdserverpb::CORRUPT);
  req.set_memberid(n.member_id());
  n.propose(node::EntryKind::kAlarm, req.SerializeAsString(), [](node::Result<storage::ApplyResponse>) {});
}

void on_check(ChainCheck& st, const node::StateCheckOutcome& o) {
  if (!o.local) return;
  if (o.matched()) {
    st.matched_revision = std::max(st.matched_revision, o.check.revision);
    return;
  }
  raise_corrupt(st, o);
}

}  // namespace

std::shared_ptr<void> install_chain_check(node::Node& node, std::chrono::milliseconds interval) {
  auto st = std::make_shared<ChainCheck>(ChainCheck{&node, interval, Clock::now() + interval});
  node::NodeObserver o;
  o.on_tick = [st] { maybe_propose(*st); };
  o.on_state_check = [st](const node::StateCheckOutcome& out) { on_check(*st, out); };
  node.add_observer(std::move(o));
  return st;
}

}  // namespace cairn::server::corrupt
