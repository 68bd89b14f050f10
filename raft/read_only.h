// ReadOnly: the leader's queue of pending ReadIndex requests (safe mode). Each request records the
// commit index at the time it arrived; it may be answered once a quorum has acknowledged a heartbeat
// carrying its context, which proves no newer leader existed when the read started. Answering one
// request also answers every earlier one (the queue is FIFO).
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "raft/types.h"

namespace cairn::raft {

enum class ReadOnlyOption : uint8_t {
  kSafe,        // confirm leadership with a heartbeat round (default)
  kLeaseBased,  // trust the leader lease (requires check_quorum; unsafe under clock drift)
};

class ReadOnly {
 public:
  struct Pending {
    Index index = 0;
    Message req;
    std::set<NodeId> acks;
  };

  // Adds a request; a duplicate context is ignored (the earlier request answers for it).
  void add_request(Index index, const Message& m);
  // Records an acknowledgement; returns the ack set for the context, or nullptr if unknown.
  const std::set<NodeId>* recv_ack(NodeId from, const std::string& ctx);
  // Removes and returns every request up to and including ctx.
  std::vector<Pending> advance(const std::string& ctx);
  const std::string* last_pending_ctx() const { return queue_.empty() ? nullptr : &queue_.back(); }
  size_t pending_count() const { return queue_.size(); }
  void reset() {
    pending_.clear();
    queue_.clear();
  }

 private:
  std::map<std::string, Pending> pending_;
  std::deque<std::string> queue_;
};

}  // namespace cairn::raft
