#include "server/disk/guard.h"

#include <algorithm>

#include "proto/etcd/rpc.pb.h"
#include "server/disk/tick_watch.h"
#include "server/log/log.h"
#include "server/node/request_codec.h"

namespace cairn::server::disk {

namespace {

struct Watch : TickWatch {
  Options options;
};

bool nospace_raised(node::Node& n) {  // for this member: another's does not say which disk is short
  return n.store().alarmed(n.member_id(), storage::AlarmType::kNoSpace);
}

void raise_nospace(const std::shared_ptr<Watch>& w, const Shortage& s) {
  node::Node& n = *w->node;
  log::error("disk nearly full: " + std::to_string(s.free_bytes) + " bytes free under " + s.dir +
                 ", below --disk-free-reserve-bytes " + std::to_string(w->options.reserve_bytes) +
                 "; raising the NOSPACE alarm (writes are refused until space is freed and the alarm "
                 "disarmed)",
             {{"dir", s.dir}, {"free-bytes", std::to_string(s.free_bytes)}});
  etcdserverpb::AlarmRequest req;
  req.set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  req.set_alarm(etcdserverpb::NOSPACE);
  req.set_memberid(n.member_id());
  propose_for(w, node::EntryKind::kAlarm, req.SerializeAsString(), "raising the NOSPACE alarm");
}

void look(const std::shared_ptr<Watch>& w) {
  if (w->node->leader() == 0 || !w->due()) return;  // no leader: no proposal
  if (nospace_raised(*w->node)) return;
  if (auto s = find_shortage(w->options)) raise_nospace(w, *s);
}

}  // namespace

std::optional<Shortage> find_shortage(const Options& o) {
  std::optional<Shortage> least;
  for (const auto& dir : o.dirs) {
    auto free = o.free_bytes ? o.free_bytes(dir) : node::free_bytes(dir);
    if (free && (!least || *free < least->free_bytes)) least = Shortage{dir, *free};
  }
  if (least && least->free_bytes < o.reserve_bytes) return least;
  return std::nullopt;
}

std::shared_ptr<void> install(node::Node& node, Options options) {
  if (options.reserve_bytes == 0) return nullptr;
  auto w = std::make_shared<Watch>();
  w->period = options.period;
  w->options = std::move(options);
  return watch_ticks(node, std::move(w), &look);
}

}  // namespace cairn::server::disk
