#include "raft/raft.h"

#include <algorithm>

#include "base/assert.h"

namespace cairn::raft {

namespace {
constexpr const char* kCampaignTransfer = "CampaignTransfer";

MessageType vote_resp_type(MessageType t) {
  return t == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
}
}  // namespace

Raft::Raft(const Config& cfg, const LogStorage* storage)
    : id_(cfg.id),
      cfg_(cfg),
      log_(storage, cfg.committed_bytes_per_ready_max),
      tracker_(cfg.inflight_msgs_max, cfg.inflight_bytes_max),
      rng_(cfg.rng_seed ^ (cfg.id * 0x9e3779b97f4a7c15ULL)),
      lost_tail_(false) {
  CAIRN_ASSERT_MSG(cfg.id != kNone, "raft: id must not be 0");
  CAIRN_ASSERT_MSG(cfg.heartbeat_interval_ticks > 0, "heartbeat interval must be > 0");
  CAIRN_ASSERT_MSG(cfg.election_timeout_ticks > cfg.heartbeat_interval_ticks,
                   "election timeout must exceed the heartbeat interval");
  CAIRN_ASSERT_MSG(cfg.read_only_option != ReadOnlyOption::kLeaseBased || cfg.check_quorum,
                   "lease-based reads require check_quorum");
  InitialState st = storage->initial_state();
  tracker_.set_config(MembershipConfig::from_conf_state(st.conf_state), log_.last_index() + 1);
  if (!st.hard_state.empty()) {
    // A commit index below the snapshot is fine (a crash can keep a snapshot but not the hard state
    // written after it): the snapshot is committed. Above the log it is not.
    CAIRN_ASSERT_MSG(st.hard_state.commit <= log_.last_index(), "hard state commit beyond the log");
    log_.commit_to(st.hard_state.commit);
    term_ = st.hard_state.term;
    vote_ = st.hard_state.vote;
    lost_tail_ = LostTail(st.hard_state.lost_tail);
  }
  if (cfg.applied > 0) log_.applied_to(std::min(cfg.applied, log_.committed()));
  become_follower(term_, kNone);
}

bool Raft::promotable() const {
  return tracker_.is_voter(id_) && may_vote();
}

// A member whose log lost its tail votes (for itself or anyone) only once it has caught up
// (raft/lost_tail.h), unless it is the only voter: nobody else has what it lost.
bool Raft::may_vote() const {
  if (!lost_tail_.active()) return true;
  if (tracker_.config().voters.size() == 1 && tracker_.is_voter(id_)) return true;
#if CAIRN_INVARIANTS
  if (cfg_.testing_break == TestingBreak::kLostTailVotes) return true;
#endif
  return false;
}

// ---------------------------------------------------------------------------------------------
// Sending

void Raft::send(Message m) {
  if (m.from == kNone) m.from = id_;
  if (m.type == MessageType::kVote || m.type == MessageType::kVoteResp || m.type == MessageType::kPreVote ||
      m.type == MessageType::kPreVoteResp) {
    // Vote messages carry the term they are about (the candidate's future term for pre-votes).
    CAIRN_ASSERT_MSG(m.term != 0, "vote message without a term");
  } else {
    CAIRN_ASSERT_MSG(m.term == 0, "term set on a message that takes the current term");
    // A forwarded proposal or read request carries no term: the receiver treats it as local.
    if (m.type != MessageType::kProp && m.type != MessageType::kReadIndex) m.term = term_;
  }
  // A vote request embodies our durable self-vote and term; a vote granted and an append acknowledged
  // are promises about durable state. None may leave before the Ready that produced them is durable.
  // A lost-tail report states where the durable log ends.
  if (m.type == MessageType::kVote || m.type == MessageType::kVoteResp || m.type == MessageType::kAppResp ||
      m.type == MessageType::kLostTail) {
    msgs_after_persist_.push_back(std::move(m));
  } else {
    msgs_.push_back(std::move(m));
  }
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  Progress* pr = tracker_.progress(to);
  if (!pr || pr->is_paused()) return false;
  Message m;
  m.to = to;
  Index prev = pr->next_index - 1;
  auto prev_term = log_.term(prev);
  auto ents = log_.entries(pr->next_index, cfg_.append_bytes_max);
  if (ents && ents->empty() && !send_if_empty) return false;

  if (!prev_term || !ents) {
    // The entries it needs are compacted: send the snapshot instead.
    if (!pr->recent_active) return false;
    auto snap = log_.snapshot();
    if (!snap) {
      CAIRN_ASSERT_MSG(snap.error() == Error::kSnapshotTemporarilyUnavailable, "snapshot unavailable");
      return false;
    }
    CAIRN_ASSERT_MSG(!snap->empty(), "need a non-empty snapshot");
    m.type = MessageType::kSnap;
    m.snapshot = *snap;
    pr->become_snapshot(snap->metadata.index);
    send(std::move(m));
    return true;
  }
  m.type = MessageType::kApp;
  m.index = prev;
  m.log_term = *prev_term;
  m.entries = std::move(ents.value());
  m.commit = log_.committed();
  if (!m.entries.empty()) {
    uint64_t bytes = 0;
    for (const auto& e : m.entries)
      bytes += e.size_bytes();
    pr->sent_entries(m.entries.back().index, bytes);
  } else {
    pr->sent_entries(prev, 0);
  }
  send(std::move(m));
  return true;
}

void Raft::send_heartbeat(NodeId to, const std::string& ctx) {
  const Progress* pr = tracker_.progress(to);
  // Never tell a follower to commit beyond what it is known to have.
  Index commit = std::min(pr->match_index, log_.committed());
  Message m;
  m.to = to;
  m.type = MessageType::kHeartbeat;
  m.commit = commit;
  m.context = ctx;
  send(std::move(m));
}

void Raft::bcast_append() {
  for (auto& [id, pr] : tracker_.all()) {
    if (id != id_) send_append(id);
  }
}

void Raft::bcast_heartbeat(const std::string& ctx) {
  for (auto& [id, pr] : tracker_.all()) {
    if (id != id_) send_heartbeat(id, ctx);
  }
}

void Raft::send_timeout_now(NodeId to) {
  Message m;
  m.to = to;
  m.type = MessageType::kTimeoutNow;
  send(std::move(m));
}

// ---------------------------------------------------------------------------------------------
// Roles

void Raft::reset_randomized_election_timeout() {
  randomized_election_timeout_ =
      cfg_.election_timeout_ticks + static_cast<int>(rng_.uniform(cfg_.election_timeout_ticks));
}

void Raft::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
    lost_tail_.on_new_term();
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_leader_transfer();
  tracker_.reset_votes();
  for (auto& [id, pr] : tracker_.all()) {
    bool learner = pr.is_learner;
    pr = Progress(log_.last_index() + 1, cfg_.inflight_msgs_max, cfg_.inflight_bytes_max, learner);
    // Our own log counts only as far as it is durable.
    if (id == id_) pr.match_index = log_.stable_last_index();
  }
  pending_conf_index_ = 0;
  uncommitted_bytes_ = 0;
  read_only_.reset();
  pending_read_index_msgs_.clear();
}

void Raft::become_follower(Term term, NodeId lead) {
  reset(term);
  lead_ = lead;
  role_ = StateRole::kFollower;
}

void Raft::become_pre_candidate() {
  CAIRN_ASSERT_MSG(role_ != StateRole::kLeader, "invalid transition leader -> pre-candidate");
  // Pre-vote changes neither term nor vote: a partitioned member cannot disrupt the cluster.
  tracker_.reset_votes();
  lead_ = kNone;
  role_ = StateRole::kPreCandidate;
}

void Raft::become_candidate() {
  CAIRN_ASSERT_MSG(role_ != StateRole::kLeader, "invalid transition leader -> candidate");
  reset(term_ + 1);
  vote_ = id_;
  role_ = StateRole::kCandidate;
}

void Raft::become_leader() {
  CAIRN_ASSERT_MSG(role_ != StateRole::kFollower, "invalid transition follower -> leader");
  reset(term_);
  lead_ = id_;
  role_ = StateRole::kLeader;
  Progress* self = tracker_.progress(id_);
  self->become_replicate();
  self->match_index = log_.stable_last_index();
  self->next_index = log_.last_index() + 1;
  self->recent_active = true;
  // Only a sole voter leads with a lost tail: there was nobody to catch up from.
  if (lost_tail_.active()) lost_tail_ = LostTail(false);
  // Conservatively treat every unapplied entry as a possible configuration change.
  pending_conf_index_ = log_.last_index();
  // A new leader commits an entry of its own term before it can tell what earlier entries are
  // committed (Raft §5.4.2, §8): it appends an empty entry.
  std::vector<Entry> noop(1);
  bool ok = append_entries(std::move(noop));
  CAIRN_ASSERT_MSG(ok, "the leader's no-op entry was refused");
}

void Raft::hup(CampaignType t) {
  if (role_ == StateRole::kLeader) return;
  if (!promotable()) return;
  if (has_unapplied_conf_change()) return;  // the configuration may still change under us
  campaign(t);
}

bool Raft::has_unapplied_conf_change() const {
  if (log_.committed() <= log_.applied()) return false;
  auto ents = log_.slice(log_.applied() + 1, log_.committed() + 1, UINT64_MAX);
  if (!ents) return false;
  for (const auto& e : *ents) {
    if (e.type == EntryType::kConfChange) return true;
  }
  return false;
}

void Raft::campaign(CampaignType t) {
  MessageType vote_msg;
  Term term;
  if (t == CampaignType::kPreElection) {
    become_pre_candidate();
    vote_msg = MessageType::kPreVote;
    term = term_ + 1;  // the term we would campaign in, without moving to it
  } else {
    become_candidate();
    vote_msg = MessageType::kVote;
    term = term_;
  }
  if (poll(id_, vote_resp_type(vote_msg), true) == quorum::VoteResult::kWon) {
    // A single-voter configuration wins at once.
    if (t == CampaignType::kPreElection) {
      campaign(CampaignType::kElection);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId id : tracker_.config().voters) {
    if (id == id_) continue;
    Message m;
    m.to = id;
    m.type = vote_msg;
    m.term = term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    if (t == CampaignType::kTransfer) m.context = kCampaignTransfer;
    send(std::move(m));
  }
}

quorum::VoteResult Raft::poll(NodeId id, MessageType, bool granted) {
  tracker_.record_vote(id, granted);
  return tracker_.tally_votes(nullptr, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Ticks

void Raft::tick() {
  if (role_ == StateRole::kLeader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  ++election_elapsed_;
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    Message m;
    m.type = MessageType::kHup;
    m.from = id_;
    (void)step(std::move(m));
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= cfg_.election_timeout_ticks) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum) {
      Message m;
      m.type = MessageType::kCheckQuorum;
      m.from = id_;
      (void)step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (role_ == StateRole::kLeader && lead_transferee_ != kNone) abort_leader_transfer();
  }
  if (role_ != StateRole::kLeader) return;
  if (heartbeat_elapsed_ >= cfg_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ = 0;
    Message m;
    m.type = MessageType::kBeat;
    m.from = id_;
    (void)step(std::move(m));
  }
}

// ---------------------------------------------------------------------------------------------
// Step

Expected<bool, Error> Raft::step(Message m) {
  if (m.term == 0) {
    // Local message (or a forwarded proposal / read request).
  } else if (m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      bool force = m.context == kCampaignTransfer;
      bool in_lease = cfg_.check_quorum && lead_ != kNone && election_elapsed_ < cfg_.election_timeout_ticks;
      // Raft §6 (disruptive servers): while we hear from a leader, ignore candidates from a higher
      // term, unless the leader itself asked for the election (leadership transfer).
      if (!force && in_lease) return true;
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote never moves our term.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // A granted pre-vote is for term_+1; we move to it only when we win the pre-election.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, kNone);
    }
  } else if (m.term < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kApp)) {
      // A stale leader cut off from the majority: tell it about the newer term so it steps down
      // (otherwise, with check-quorum or pre-vote, nobody would ever raise its term).
      Message r;
      r.to = m.from;
      r.type = MessageType::kAppResp;
      send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.to = m.from;
      r.type = MessageType::kPreVoteResp;
      r.term = term_;
      r.reject = true;
      send(std::move(r));
    }
    return true;  // ignore other stale messages
  }

  switch (m.type) {
    case MessageType::kHup:
      hup(cfg_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
      return true;
    case MessageType::kVote:
    case MessageType::kPreVote: {
      // Raft §5.2/§5.4.1: grant if we have not voted for someone else this term and the candidate's
      // log is at least as up to date as ours.
      bool can_vote = vote_ == m.from || (vote_ == kNone && lead_ == kNone) ||
                      (m.type == MessageType::kPreVote && m.term > term_);
      bool up_to_date = log_.is_up_to_date(m.index, m.log_term);
#if CAIRN_INVARIANTS
      if (cfg_.testing_break == TestingBreak::kVoteIgnoringLog) up_to_date = true;
      if (cfg_.testing_break == TestingBreak::kVoteTwice && role_ == StateRole::kFollower) can_vote = true;
#endif
      if (can_vote && up_to_date && may_vote()) {
        Message r;
        r.to = m.from;
        r.type = vote_resp_type(m.type);
        r.term = m.term;
        send(std::move(r));
        if (m.type == MessageType::kVote) {
          election_elapsed_ = 0;
          vote_ = m.from;
        }
      } else {
        // A member still at term 0 (its first hard state was lost to a torn write, say) cannot say
        // anything the candidate would not discard as stale: stay silent.
        if (term_ == 0) return true;
        Message r;
        r.to = m.from;
        r.type = vote_resp_type(m.type);
        r.term = term_;
        r.reject = true;
        send(std::move(r));
      }
      return true;
    }
    default:
      break;
  }
  switch (role_) {
    case StateRole::kLeader:
      return step_leader(m);
    case StateRole::kCandidate:
    case StateRole::kPreCandidate:
      return step_candidate(m);
    case StateRole::kFollower:
      return step_follower(m);
  }
  return true;
}

Expected<bool, Error> Raft::step_leader(Message& m) {
  switch (m.type) {
    case MessageType::kBeat:
      bcast_heartbeat("");
      return true;
    case MessageType::kCheckQuorum:
      check_quorum_as_leader();
      return true;
    case MessageType::kProp:
      return propose_as_leader(m);
    case MessageType::kReadIndex:
      read_index_as_leader(m);
      return true;
    default:
      break;
  }
  Progress* pr = tracker_.progress(m.from);
  if (!pr) return true;  // from a member no longer in the configuration
  switch (m.type) {
    case MessageType::kAppResp:
      return handle_append_response(m, *pr);
    case MessageType::kHeartbeatResp:
      handle_heartbeat_response(m, *pr);
      return true;
    case MessageType::kSnapStatus:
      handle_snap_status(m, *pr);
      return true;
    case MessageType::kUnreachable:
      if (pr->state == ProgressState::kReplicate) pr->become_probe();
      return true;
    case MessageType::kLostTail:
      handle_lost_tail(m, *pr);
      return true;
    case MessageType::kTransferLeader:
      handle_transfer_leader(m, *pr);
      return true;
    default:
      return true;
  }
}

void Raft::check_quorum_as_leader() {
  if (!tracker_.quorum_active()) {
    // Raft §6.2: a leader that has not heard from a majority for an election timeout steps down.
    become_follower(term_, kNone);
  }
  for (auto& [id, pr] : tracker_.all()) {
    if (id != id_) pr.recent_active = false;
  }
}

Expected<bool, Error> Raft::propose_as_leader(Message& m) {
  CAIRN_ASSERT_MSG(!m.entries.empty(), "proposal without entries");
  if (!tracker_.progress(id_)) return unexpected(Error::kProposalDropped);  // removed from the cluster
  if (lead_transferee_ != kNone) return unexpected(Error::kProposalDropped);
  if (!fits_uncommitted_budget(m.entries)) return unexpected(Error::kUncommittedBytesExceeded);
  for (size_t i = 0; i < m.entries.size(); ++i) {
    if (m.entries[i].type != EntryType::kConfChange) continue;
    if (pending_conf_index_ > log_.applied()) return unexpected(Error::kConfChangePending);
    auto cc = ConfChange::decode(m.entries[i].data);
    if (!cc) return unexpected(Error::kInvalidConfChange);
    if (!cairn::raft::apply_conf_change(tracker_.config(), *cc)) return unexpected(Error::kInvalidConfChange);
    pending_conf_index_ = log_.last_index() + i + 1;
  }
  const bool appended = append_entries(std::move(m.entries));
  CAIRN_ASSERT_MSG(appended, "a proposal within the budget was refused");
  bcast_append();
  return true;
}

void Raft::read_index_as_leader(const Message& m) {
  if (tracker_.is_singleton()) {
    respond_read_index(m, log_.committed());
    return;
  }
  // Until an entry of this term commits, the leader's commit index may lag the true one (§6.4).
  if (!committed_entry_in_current_term()) {
    pending_read_index_msgs_.push_back(m);
    return;
  }
  if (cfg_.read_only_option == ReadOnlyOption::kSafe) {
    read_only_.add_request(log_.committed(), m);
    read_only_.recv_ack(id_, m.context);
    bcast_heartbeat(m.context);
  } else {
    respond_read_index(m, log_.committed());
  }
}

Expected<bool, Error> Raft::handle_append_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  if (m.reject) {
    Index next_probe = m.reject_hint;
    if (m.log_term > 0) {
      // Skip every entry of ours with a term the follower cannot have at that position.
      next_probe = log_.find_conflict_by_term(m.reject_hint, m.log_term).first;
    }
    if (pr.maybe_decr_to(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.become_probe();
      send_append(m.from);
    }
    return true;
  }
  // A follower cannot have appended past the leader's log: such an acknowledgement would set a
  // match index beyond it (and a next index the log cannot slice from).
  if (m.index > log_.last_index()) return unexpected(Error::kMalformedMessage);
  const bool was_paused = pr.is_paused();
  if (!pr.maybe_update(m.index)) return true;
  if (pr.state == ProgressState::kProbe) {
    pr.become_replicate();
  } else if (pr.state == ProgressState::kSnapshot && pr.match_index + 1 >= log_.first_index()) {
    pr.become_probe();
    pr.become_replicate();
  } else if (pr.state == ProgressState::kReplicate) {
    pr.inflights.free_le(m.index);
  }
  if (maybe_commit()) {
    after_commit();
  } else if (was_paused) {
    send_append(m.from);
  }
  // Keep the pipe full while the window allows.
  while (maybe_send_append(m.from, false)) {
  }
  if (m.from == lead_transferee_ && pr.match_index == log_.last_index()) send_timeout_now(m.from);
  return true;
}

void Raft::handle_heartbeat_response(const Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.probe_sent = false;
  // The follower is alive but the window is full: appends were probably lost. Free one slot so
  // the pipe restarts; a gap makes the follower reject, which sends us back to probing.
  if (pr.state == ProgressState::kReplicate && pr.inflights.full()) pr.inflights.free_first();
  if (pr.match_index < log_.last_index()) send_append(m.from);
  if (cfg_.read_only_option != ReadOnlyOption::kSafe || m.context.empty()) return;
  const auto* acks = read_only_.recv_ack(m.from, m.context);
  if (!acks) return;
  if (!quorum::has_quorum(tracker_.config().voters, [acks](NodeId id) { return acks->count(id) != 0; }))
    return;
  for (auto& rs : read_only_.advance(m.context))
    respond_read_index(rs.req, rs.index);
}

void Raft::handle_snap_status(const Message& m, Progress& pr) {
  if (pr.state != ProgressState::kSnapshot) return;
  if (m.reject) pr.pending_snapshot = 0;
  pr.become_probe();
  // Wait for the follower's answer (or the next heartbeat) before sending again.
  pr.probe_sent = true;
}

void Raft::handle_transfer_leader(const Message& m, Progress& pr) {
  if (pr.is_learner) return;
  const NodeId transferee = m.from;
  if (lead_transferee_ != kNone) {
    if (lead_transferee_ == transferee) return;
    abort_leader_transfer();
  }
  if (transferee == id_) return;
  // Transfer must complete within an election timeout.
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr.match_index == log_.last_index()) {
    send_timeout_now(transferee);
  } else {
    send_append(transferee);
  }
}

Expected<bool, Error> Raft::step_candidate(Message& m) {
  MessageType my_resp =
      role_ == StateRole::kPreCandidate ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kProp:
      return unexpected(Error::kProposalDropped);
    case MessageType::kApp:
      become_follower(m.term, m.from);
      handle_append(m);
      return true;
    case MessageType::kHeartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      return true;
    case MessageType::kSnap:
      become_follower(m.term, m.from);
      handle_snapshot(m);
      return true;
    case MessageType::kTimeoutNow:
      return true;
    default:
      break;
  }
  if (m.type == my_resp) {
    switch (poll(m.from, m.type, !m.reject)) {
      case quorum::VoteResult::kWon:
        if (role_ == StateRole::kPreCandidate) {
          campaign(CampaignType::kElection);
        } else {
          become_leader();
          bcast_append();
        }
        break;
      case quorum::VoteResult::kLost:
        // A rejection may carry a higher term, handled above; stay at our term.
        become_follower(term_, kNone);
        break;
      case quorum::VoteResult::kPending:
        break;
    }
  }
  return true;
}

Expected<bool, Error> Raft::step_follower(Message& m) {
  switch (m.type) {
    case MessageType::kProp:
      if (lead_ == kNone || cfg_.disable_proposal_forwarding) return unexpected(Error::kProposalDropped);
      m.to = lead_;
      send(std::move(m));
      return true;
    case MessageType::kApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_append(m);
      return true;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_heartbeat(m);
      return true;
    case MessageType::kSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_snapshot(m);
      return true;
    case MessageType::kTransferLeader:
      if (lead_ == kNone) return unexpected(Error::kProposalDropped);
      m.to = lead_;
      m.term = 0;
      send(std::move(m));
      return true;
    case MessageType::kTimeoutNow:
      // The leader chose us: campaign at once, skipping pre-vote, and override leader leases.
      hup(CampaignType::kTransfer);
      return true;
    case MessageType::kReadIndex:
      if (lead_ == kNone) return unexpected(Error::kProposalDropped);
      m.to = lead_;
      send(std::move(m));
      return true;
    case MessageType::kReadIndexResp:
      read_states_.push_back(ReadState{m.index, m.context});
      return true;
    case MessageType::kLostTailResp:
      // Only the leader of a term answers, and only a report of this incarnation counts (the nonce).
      lost_tail_.on_answer(LostTail::decode_nonce(m.context), m.index);
      lost_tail_.on_matched(log_.committed());
      return true;
    default:
      return true;
  }
}

void Raft::handle_append(const Message& m) {
  Message r;
  r.to = m.from;
  r.type = MessageType::kAppResp;
  if (m.index < log_.committed()) {
    r.index = log_.committed();
    send(std::move(r));
    lost_tail_.on_matched(log_.committed());
    report_lost_tail();
    return;
  }
  if (auto last_new = log_.maybe_append(m.index, m.log_term, m.commit, m.entries)) {
    r.index = *last_new;
    send(std::move(r));
    // Our log now equals the leader's through last_new (log matching, §5.3).
    lost_tail_.on_matched(*last_new);
    report_lost_tail();
    return;
  }
  // Raft §5.3 with the optimisation of the thesis: instead of retreating one entry at a time, tell
  // the leader the last index at which our term is <= the term it probed with.
  Index hint = std::min(m.index, log_.last_index());
  auto [hint_index, hint_term] = log_.find_conflict_by_term(hint, m.log_term);
  r.index = m.index;
  r.reject = true;
  r.reject_hint = hint_index;
  r.log_term = hint_term;
  send(std::move(r));
  report_lost_tail();
}

void Raft::handle_heartbeat(const Message& m) {
  Index commit = m.commit;
  if (commit > log_.last_index()) {
    // The leader tells us to commit entries we do not have: it counted acknowledgements of ours that
    // our storage has since lost. A protocol event, not a reason to stop: catch up (lost_tail.h). Our
    // log matches the leader's as far as it reaches: it is a prefix of what we acknowledged in this
    // term, plus what this leader sent since.
    lost_tail_.on_loss_found();
    commit = log_.last_index();
  }
  log_.commit_to(commit);
  lost_tail_.on_matched(log_.committed());
  Message r;
  r.to = m.from;
  r.type = MessageType::kHeartbeatResp;
  r.context = m.context;
  send(std::move(r));
  report_lost_tail();
}

void Raft::handle_snapshot(const Message& m) {
  Message r;
  r.to = m.from;
  r.type = MessageType::kAppResp;
  if (restore(m.snapshot)) {
    r.index = log_.last_index();
  } else {
    r.index = log_.committed();
  }
  send(std::move(r));
  lost_tail_.on_matched(log_.committed());
  report_lost_tail();
}

// Follower side of lost-tail recovery: tell the leader where our log really ends.
void Raft::report_lost_tail() {
  if (!lost_tail_.report_due() || lead_ == kNone) return;
  if (lost_tail_.nonce() == 0) lost_tail_.set_nonce(rng_.next() | 1);
  Message r;
  r.to = lead_;
  r.type = MessageType::kLostTail;
  r.index = log_.last_index();
  r.log_term = log_.last_term();
  r.context = LostTail::encode_nonce(lost_tail_.nonce());
  send(std::move(r));
  lost_tail_.on_report_sent();
}

// Leader side: forget what the follower acknowledged above its real end, probe from there, and give
// it the index it must catch up to (our last index: see lost_tail.h for why not the commit index).
void Raft::handle_lost_tail(const Message& m, Progress& pr) {
  pr.recent_active = true;
#if CAIRN_INVARIANTS
  if (cfg_.testing_break == TestingBreak::kLostTailIgnored) return;
#endif
  const Index last = std::min(m.index, log_.last_index());
  // Matching terms at its last entry mean the logs agree up to it (§5.3); otherwise what it still has
  // of what it acknowledged (a prefix of it) agrees with us.
  const Index matched = log_.match_term(m.index, m.log_term) ? last : std::min(pr.match_index, last);
  pr.reset_after_lost_tail(matched, last);
  Message r;
  r.to = m.from;
  r.type = MessageType::kLostTailResp;
  r.index = log_.last_index();
  r.context = m.context;
  send(std::move(r));
  send_append(m.from);
}

bool Raft::restore(const Snapshot& s) {
  if (s.metadata.index <= log_.committed()) return false;
  if (role_ != StateRole::kFollower) {
    // Only a follower accepts snapshots; become one (this should not happen in practice).
    become_follower(term_ + 1, kNone);
    return false;
  }
  if (log_.match_term(s.metadata.index, s.metadata.term)) {
    // We already have the entries: just fast-forward the commit index.
    log_.commit_to(s.metadata.index);
    return false;
  }
  log_.restore(s);
  tracker_.set_config(MembershipConfig::from_conf_state(s.metadata.conf_state), log_.last_index() + 1);
  for (auto& [id, pr] : tracker_.all()) {
    pr.match_index = 0;
    pr.next_index = log_.last_index() + 1;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Log and commit

namespace {
uint64_t payload_bytes(const std::vector<Entry>& ents) {
  uint64_t n = 0;
  for (const Entry& e : ents)
    n += e.data.size();
  return n;
}
}  // namespace

// The uncommitted-bytes budget (Config::uncommitted_bytes_max): empty entries always fit, and so does
// anything while nothing is uncommitted.
bool Raft::fits_uncommitted_budget(const std::vector<Entry>& ents) const {
  if (cfg_.uncommitted_bytes_max == 0 || uncommitted_bytes_ == 0) return true;
  const uint64_t payload = payload_bytes(ents);
  return payload == 0 || uncommitted_bytes_ + payload <= cfg_.uncommitted_bytes_max;
}

bool Raft::append_entries(std::vector<Entry> ents) {
  if (!fits_uncommitted_budget(ents)) return false;
  uncommitted_bytes_ += payload_bytes(ents);
  Index li = log_.last_index();
  for (size_t i = 0; i < ents.size(); ++i) {
    ents[i].term = term_;
    ents[i].index = li + 1 + i;
  }
  log_.append(ents);
  // The leader's own acknowledgement arrives through on_persisted, once the entries are durable.
  return true;
}

void Raft::on_committed_handed_out(uint64_t payload_bytes) {
  // Entries of an earlier term were not counted in this term's budget: never below zero.
  uncommitted_bytes_ -= std::min(uncommitted_bytes_, payload_bytes);
}

bool Raft::maybe_commit() {
  Index mci = tracker_.committed();
  if (mci == UINT64_MAX) return false;
#if CAIRN_INVARIANTS
  if (cfg_.testing_break == TestingBreak::kCommitPreviousTerm) {
    if (mci > log_.committed() && mci <= log_.last_index()) {
      log_.commit_to(mci);
      return true;
    }
    return false;
  }
#endif
  // Raft §5.4.2: only entries of the current term are committed by counting replicas.
  return log_.maybe_commit(mci, term_);
}

bool Raft::committed_entry_in_current_term() const {
  return log_.zero_term_on_error(log_.committed()) == term_;
}

void Raft::after_commit() {
  bcast_append();
  release_pending_read_index_messages();
}

void Raft::release_pending_read_index_messages() {
  if (pending_read_index_msgs_.empty() || !committed_entry_in_current_term()) return;
  auto msgs = std::exchange(pending_read_index_msgs_, {});
  for (auto& m : msgs)
    (void)step_leader(m);
}

void Raft::respond_read_index(const Message& req, Index index) {
  if (req.from == kNone || req.from == id_) {
    read_states_.push_back(ReadState{index, req.context});
    return;
  }
  Message r;
  r.to = req.from;
  r.type = MessageType::kReadIndexResp;
  r.index = index;
  r.context = req.context;
  send(std::move(r));
}

void Raft::on_persisted(Index index, Term term) {
  if (role_ != StateRole::kLeader || index == 0) return;
  // The persisted entry must still be ours (a newer leader would have deposed us first).
  if (log_.zero_term_on_error(index) != term) return;
  Progress* self = tracker_.progress(id_);
  if (!self) return;
  if (self->maybe_update(index) && maybe_commit()) after_commit();
}

ConfState Raft::apply_conf_change(const ConfChange& cc) {
  auto next = cairn::raft::apply_conf_change(tracker_.config(), cc);
  if (!next) return tracker_.config().to_conf_state();  // refused: configuration unchanged
  tracker_.set_config(*next, log_.last_index() + 1);
  if (role_ == StateRole::kLeader) {
    Progress* self = tracker_.progress(id_);
    if (!self || self->is_learner) {
      // We were removed: step down so that the remaining members elect a leader among themselves.
      become_follower(term_, kNone);
      return tracker_.config().to_conf_state();
    }
    for (auto& [id, pr] : tracker_.all()) {
      if (id != id_ && pr.match_index == 0 && pr.state == ProgressState::kProbe) {
        pr.next_index = std::max<Index>(pr.next_index, 1);
      }
    }
    if (lead_transferee_ != kNone && !tracker_.config().contains(lead_transferee_)) abort_leader_transfer();
    // The quorum changed: the commit index may move, and new members need the log.
    if (maybe_commit()) {
      after_commit();
    } else {
      bcast_append();
    }
  }
  return tracker_.config().to_conf_state();
}

void Raft::check_invariants() const {
  CAIRN_ASSERT(log_.committed() <= log_.last_index());
  CAIRN_ASSERT(log_.applied() <= log_.committed());
  CAIRN_ASSERT(log_.first_index() >= 1);
  if (role_ == StateRole::kLeader) {
    CAIRN_ASSERT(lead_ == id_);
    CAIRN_ASSERT(vote_ == id_ || !tracker_.is_voter(id_) || term_ > 0);
    for (const auto& [id, pr] : tracker_.all()) {
      CAIRN_ASSERT(pr.match_index < pr.next_index);
      CAIRN_ASSERT(pr.match_index <= log_.last_index());
    }
  }
  if (role_ == StateRole::kCandidate) CAIRN_ASSERT(vote_ == id_);
  // A member catching up after a lost tail never campaigns (unless it is the only voter).
  if (!may_vote()) CAIRN_ASSERT(role_ == StateRole::kFollower);
}

}  // namespace cairn::raft
