// What the disk guard (guard.h) and the quota sync (quota_sync.h) share: a watcher that looks at
// something on the node's tick, at most once a period, and proposes at most one entry at a time (a
// refused or failed proposal is logged and tried again at a later look). Node thread only.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "server/log/log.h"
#include "server/node/node.h"

namespace cairn::server::disk {

struct TickWatch {
  node::Node* node = nullptr;
  std::chrono::milliseconds period{1'000};
  std::chrono::steady_clock::time_point next;
  bool in_flight = false;  // a proposal of ours is not answered yet

  // Whether a look is due now (nothing in flight, a period since the last one); if so, the next is
  // scheduled.
  bool due() {
    const auto now = std::chrono::steady_clock::now();
    if (in_flight || now < next) return false;
    next = now + period;
    return true;
  }
};

// Proposes kind/body for w; `what` names it in the warning if it fails.
template <typename W>
void propose_for(const std::shared_ptr<W>& w, node::EntryKind kind, std::string body, std::string what) {
  w->in_flight = true;
  std::weak_ptr<W> weak = w;
  w->node->propose(kind, std::move(body),
                   [weak, what = std::move(what)](node::Result<storage::ApplyResponse> r) {
                     auto w = weak.lock();
                     if (!w) return;
                     w->in_flight = false;
                     if (!r) log::warn(what + " failed (tried again at a later look): " + r.error().message);
                   });
}

// Calls look(w) on every node tick while w lives; returns w as the handle to keep. Before node.start().
template <typename W>
std::shared_ptr<void> watch_ticks(node::Node& node, std::shared_ptr<W> w,
                                  void (*look)(const std::shared_ptr<W>&)) {
  w->node = &node;
  node::NodeObserver o;
  std::weak_ptr<W> weak = w;
  o.on_tick = [weak, look] {
    if (auto w = weak.lock()) look(w);
  };
  node.add_observer(std::move(o));
  return w;
}

}  // namespace cairn::server::disk
