#include "raft/read_only.h"

namespace cairn::raft {

void ReadOnly::add_request(Index index, const Message& m) {
  const std::string& ctx = m.context;
  if (pending_.count(ctx)) return;
  pending_.emplace(ctx, Pending{index, m, {}});
  queue_.push_back(ctx);
}

const std::set<NodeId>* ReadOnly::recv_ack(NodeId from, const std::string& ctx) {
  auto it = pending_.find(ctx);
  if (it == pending_.end()) return nullptr;
  it->second.acks.insert(from);
  return &it->second.acks;
}

std::vector<ReadOnly::Pending> ReadOnly::advance(const std::string& ctx) {
  std::vector<Pending> out;
  if (!pending_.count(ctx)) return out;
  while (!queue_.empty()) {
    std::string c = queue_.front();
    queue_.pop_front();
    auto it = pending_.find(c);
    out.push_back(std::move(it->second));
    pending_.erase(it);
    if (c == ctx) break;
  }
  return out;
}

}  // namespace cairn::raft
