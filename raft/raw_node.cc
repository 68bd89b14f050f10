#include "raft/raw_node.h"

#include "base/assert.h"

namespace cairn::raft {

namespace {
bool is_local_msg(MessageType t) {
  return t == MessageType::kHup || t == MessageType::kBeat || t == MessageType::kUnreachable ||
         t == MessageType::kSnapStatus || t == MessageType::kCheckQuorum;
}
bool is_response_msg(MessageType t) {
  return t == MessageType::kAppResp || t == MessageType::kVoteResp || t == MessageType::kHeartbeatResp ||
         t == MessageType::kPreVoteResp || t == MessageType::kLostTail;
}
}  // namespace

RawNode::RawNode(const Config& cfg, const LogStorage* storage)
    : raft_(cfg, storage), async_(cfg.async_storage_writes) {
  prev_soft_ = raft_.soft_state();
  prev_hard_ = raft_.hard_state();
}

void RawNode::campaign() {
  Message m;
  m.type = MessageType::kHup;
  m.from = raft_.id();
  (void)raft_.step(std::move(m));
}

Expected<bool, Error> RawNode::propose(std::string data) {
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_.id();
  m.entries.push_back(Entry{0, 0, EntryType::kNormal, std::move(data)});
  return raft_.step(std::move(m));
}

Expected<bool, Error> RawNode::propose_batch(std::vector<std::string> data) {
  if (data.empty()) return true;
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_.id();
  m.entries.reserve(data.size());
  for (auto& d : data)
    m.entries.push_back(Entry{0, 0, EntryType::kNormal, std::move(d)});
  return raft_.step(std::move(m));
}

Expected<bool, Error> RawNode::propose_conf_change(const ConfChange& cc) {
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_.id();
  m.entries.push_back(Entry{0, 0, EntryType::kConfChange, cc.encode()});
  return raft_.step(std::move(m));
}

namespace {

// The log code trusts a MsgApp's shape: its entries follow m.index one by one, with terms that never
// decrease, are never 0 and never pass the leader's term. A peer's message that breaks this (found by
// tests/fuzz raft_message: a gap made maybe_append slice out of range) is dropped like a lost one.
bool well_formed_append(const Message& m) {
  if (m.type != MessageType::kApp) return true;
  // The entry it appends after exists at a real term (the log reports term 0 past its end, so a
  // "match" there would let the commit index run past the log).
  if ((m.index == 0) != (m.log_term == 0)) return false;
  Term prev = m.log_term;
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.index != m.index + 1 + i || e.index <= m.index || e.term == 0 || e.term < prev || e.term > m.term)
      return false;
    prev = e.term;
  }
  return true;
}

}  // namespace

Expected<bool, Error> RawNode::step(Message m) {
  if (is_local_msg(m.type)) return unexpected(Error::kStepLocalMsg);
  // A forwarded proposal carries the entries a follower's client proposed; one without any is not a
  // proposal at all, and the leader's step asserts on it, so a peer's empty MsgProp is dropped here.
  if (m.type == MessageType::kProp && m.entries.empty()) return unexpected(Error::kMalformedMessage);
  if (!well_formed_append(m)) return unexpected(Error::kMalformedMessage);
  // Every peer message names its sender, and a vote (or its answer) names the term it is about; the
  // core treats term 0 as "a local message" and asserts on a vote without one (tests/fuzz raft_message).
  bool vote = m.type == MessageType::kVote || m.type == MessageType::kPreVote ||
              m.type == MessageType::kVoteResp || m.type == MessageType::kPreVoteResp;
  if (m.from == kNone || (vote && m.term == 0)) return unexpected(Error::kMalformedMessage);
  // A forwarded proposal or read request never carries a term (the core asserts when forwarding one).
  if ((m.type == MessageType::kProp || m.type == MessageType::kReadIndex) && m.term != 0)
    return unexpected(Error::kMalformedMessage);
  // A snapshot covers at least entry 1 of some term (one at term 0 "matched" any index past the log).
  if (m.type == MessageType::kSnap && (m.snapshot.metadata.index == 0 || m.snapshot.metadata.term == 0))
    return unexpected(Error::kMalformedMessage);
  // A heartbeat committing past this member's log is not dropped: the leader counted acknowledgements
  // this member's storage lost, which the core handles as a lost tail (raft/lost_tail.h).
  if (is_response_msg(m.type) && !raft_.tracker().progress(m.from))
    return unexpected(Error::kStepPeerNotFound);
  return raft_.step(std::move(m));
}

void RawNode::read_index(std::string ctx) {
  Message m;
  m.type = MessageType::kReadIndex;
  m.from = raft_.id();
  m.context = std::move(ctx);
  (void)raft_.step(std::move(m));
}

void RawNode::transfer_leader(NodeId transferee) {
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = transferee;
  (void)raft_.step(std::move(m));
}

void RawNode::report_unreachable(NodeId id) {
  Message m;
  m.type = MessageType::kUnreachable;
  m.from = id;
  (void)raft_.step(std::move(m));
}

void RawNode::report_snapshot(NodeId id, bool ok) {
  Message m;
  m.type = MessageType::kSnapStatus;
  m.from = id;
  m.reject = !ok;
  (void)raft_.step(std::move(m));
}

bool RawNode::has_ready() const {
  if (outstanding_) return false;
  const RaftLog& log = raft_.log();
  if (log.unstable_snapshot() && !in_storage_.empty()) return false;  // a snapshot waits for the writes
  return raft_.soft_state() != prev_soft_ || raft_.hard_state() != prev_hard_ || log.has_entries_to_write() ||
         log.has_snapshot_to_write() || log.has_next_committed_entries() || raft_.has_msgs() ||
         raft_.has_read_states();
}

Ready RawNode::ready() {
  CAIRN_ASSERT_MSG(!outstanding_, "ready() called before the previous Ready was advanced");
  CAIRN_ASSERT_MSG(!raft_.log().unstable_snapshot() || in_storage_.empty(),
                   "ready() called while a snapshot waits for the writes in flight (see has_ready)");
  Ready rd;
  rd.number = ++ready_seq_;
  RaftLog& log = raft_.log();
  SoftState ss = raft_.soft_state();
  if (ss != prev_soft_) {
    rd.soft_state = ss;
    prev_soft_ = ss;
  }
  HardState hs = raft_.hard_state();
  if (hs != prev_hard_) rd.hard_state = hs;
  rd.entries = log.entries_to_write();
  log.mark_entries_in_progress();
  if (log.has_snapshot_to_write()) {
    rd.snapshot = *log.unstable_snapshot();
    log.mark_snapshot_in_progress();
  }
  rd.committed_entries = log.next_committed_entries();
  rd.messages = raft_.take_msgs();
  rd.messages_after_persist = raft_.take_msgs_after_persist();
#if CAIRN_INVARIANTS
  if (raft_.config().testing_break == TestingBreak::kAckBeforePersist) {
    for (auto& m : rd.messages_after_persist)
      rd.messages.push_back(std::move(m));
    rd.messages_after_persist.clear();
  }
#endif
  rd.read_states = raft_.take_read_states();
  // A snapshot or new entries must be fsynced before anything acknowledges them; so must a new term
  // or vote (a vote is a promise), and a lost-tail mark (it keeps the member from voting). A
  // commit-index change alone need not be.
  rd.must_sync = !rd.entries.empty() || !rd.snapshot.empty() ||
                 (rd.hard_state && (hs.term != prev_hard_.term || hs.vote != prev_hard_.vote ||
                                    hs.lost_tail != prev_hard_.lost_tail));
  prev_hard_ = hs;

  InProgress ip;
  ip.number = rd.number;
  if (!rd.entries.empty()) {
    ip.last_entry_index = rd.entries.back().index;
    ip.last_entry_term = rd.entries.back().term;
  }
  ip.snapshot_index = rd.snapshot.metadata.index;
  if (!rd.committed_entries.empty()) ip.last_committed_index = rd.committed_entries.back().index;
  for (const Entry& e : rd.committed_entries)
    ip.committed_payload_bytes += e.data.size();
  ip.hard_state = hs;
  outstanding_ = ip;
  return rd;
}

void RawNode::advance(uint64_t ready_number) {
  CAIRN_ASSERT_MSG(outstanding_ && outstanding_->number == ready_number, "advance() of an unknown Ready");
  InProgress ip = *outstanding_;
  outstanding_.reset();
  if (!async_ || ip.snapshot_index != 0) {
    CAIRN_ASSERT_MSG(in_storage_.empty(), "a snapshot's Ready advanced while writes were in flight");
    mark_snapshot_persisted(ip);
    mark_applied(ip);
    mark_entries_persisted(ip);
    return;
  }
  mark_applied(ip);
  in_storage_.push_back(ip);
}

void RawNode::persisted(uint64_t ready_number) {
  CAIRN_ASSERT_MSG(!in_storage_.empty() && in_storage_.front().number == ready_number,
                   "persisted() out of order or of a Ready not in flight");
  InProgress ip = in_storage_.front();
  in_storage_.pop_front();
  mark_entries_persisted(ip);
}

// The Ready's snapshot is durable and installed.
void RawNode::mark_snapshot_persisted(const InProgress& ip) {
  RaftLog& log = raft_.log();
  if (ip.snapshot_index == 0) return;
  log.stable_snap_to(ip.snapshot_index);
  if (log.applied() < ip.snapshot_index) log.set_applied(ip.snapshot_index);
}

// The Ready's entries are durable: they leave the unstable log, and the leader counts its own copy
// toward commits.
void RawNode::mark_entries_persisted(const InProgress& ip) {
  RaftLog& log = raft_.log();
  if (ip.last_entry_index != 0) {
    log.stable_to(ip.last_entry_index, ip.last_entry_term);
    raft_.on_persisted(ip.last_entry_index, ip.last_entry_term);
  } else if (ip.snapshot_index != 0) {
    raft_.on_persisted(log.stable_last_index(), log.zero_term_on_error(log.stable_last_index()));
  }
}

// The Ready's committed entries were applied.
void RawNode::mark_applied(const InProgress& ip) {
  RaftLog& log = raft_.log();
  if (ip.last_committed_index != 0) log.applied_to(ip.last_committed_index);
  if (ip.committed_payload_bytes != 0) raft_.on_committed_handed_out(ip.committed_payload_bytes);
}

Status RawNode::status() const {
  Status st;
  st.id = raft_.id();
  st.hard_state = raft_.hard_state();
  st.soft_state = raft_.soft_state();
  st.applied = raft_.log().applied();
  st.lead_transferee = raft_.lead_transferee();
  if (raft_.role() == StateRole::kLeader) {
    for (const auto& [id, pr] : raft_.tracker().all())
      st.progress[id] = pr.describe();
  }
  return st;
}

}  // namespace cairn::raft
