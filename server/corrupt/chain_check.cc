#include "server/corrupt/chain_check.h"

#include <cstdio>
#include <optional>

#include "base/hex.h"
#include "proto/etcd/rpc.pb.h"
#include "server/log/log.h"
#include "server/node/request_codec.h"

namespace cairn::server::corrupt {

namespace {

using Clock = std::chrono::steady_clock;

using base::hex;

// Node-thread state.
struct ChainCheck {
  node::Node* node = nullptr;
  std::chrono::milliseconds interval{0};
  Clock::time_point next;
  int64_t proposed_revision = 0;  // the last revision this member proposed a check for
  int64_t matched_revision = 0;   // the last revision a check matched here (0: none since start)
  bool told_no_chain = false;
  bool diverged = false;  // a check did not match: CORRUPT for this member until it is raised
  Clock::time_point next_raise;
};

void propose_corrupt(ChainCheck& st) {
  node::Node& n = *st.node;
  st.next_raise = Clock::now() + std::chrono::seconds(1);
  etcdserverpb::AlarmRequest req;
  req.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  req.set_alarm(etcdserverpb::CORRUPT);
  req.set_memberid(n.member_id());
  n.propose(node::EntryKind::kAlarm, req.SerializeAsString(), [](node::Result<storage::ApplyResponse>) {});
}

// Until this member's CORRUPT alarm is in the store, ask again every second (a proposal can be refused:
// no leader, a full inbox; and an idle cluster brings no new check). A disarm ends it.
void keep_raising(ChainCheck& st) {
  if (!st.diverged) return;
  if (st.node->store().alarmed(st.node->member_id(), storage::AlarmType::kCorrupt)) {
    st.diverged = false;
    return;
  }
  if (Clock::now() >= st.next_raise) propose_corrupt(st);
}

void maybe_propose(ChainCheck& st) {
  keep_raising(st);
  node::Node& n = *st.node;
  if (st.interval.count() <= 0 || n.leader() != n.member_id() || Clock::now() < st.next) return;
  const storage::MvccStore& store = n.store();
  const auto chain = store.state_chain();
  if (!chain && !st.told_no_chain) {
    st.told_no_chain = true;
    log::warn(
        "state check inactive: this member's store has no state chain (written before cairn kept "
        "one); see docs/operations.md, Corruption checks");
  }
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
              {"local-revision", std::to_string(o.local_revision)},
              {"diverged-after-revision", std::to_string(st.matched_revision)},
              {"local-chain", o.local ? hex(*o.local) : "none (revision not reached)"},
              {"remote-chain", hex(o.check.chain)},
              {"index", std::to_string(o.index)}});
  if (n.store().alarmed(n.member_id(), storage::AlarmType::kCorrupt)) return;  // raised already
  st.diverged = true;
  propose_corrupt(st);
}

void on_check(ChainCheck& st, const node::StateCheckOutcome& o) {
  if (o.matched()) st.matched_revision = std::max(st.matched_revision, o.check.revision);
  if (o.diverged()) raise_corrupt(st, o);
}

}  // namespace

std::shared_ptr<void> install_chain_check(node::Node& node, std::chrono::milliseconds interval) {
  auto st = std::make_shared<ChainCheck>();
  st->node = &node;
  st->interval = interval;
  st->next = Clock::now() + interval;
  node::NodeObserver o;
  o.on_tick = [st] { maybe_propose(*st); };
  o.on_state_check = [st](const node::StateCheckOutcome& out) { on_check(*st, out); };
  node.add_observer(std::move(o));
  return st;
}

}  // namespace cairn::server::corrupt
