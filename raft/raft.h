// Raft: the consensus state machine of one member. Pure and deterministic: it reacts to ticks,
// messages and proposals by changing its state and queueing messages; it never touches a clock, a
// socket, a file or a thread. RawNode (raft/raw_node.h) is the only API the application uses; this
// class is its engine and is exposed for white-box tests.
//
// Persistence rule encoded here: messages whose meaning depends on this member's state being durable
// (a vote request carrying our self-vote, a vote we grant, an append acknowledgement) go to
// msgs_after_persist_; everything else may leave at once. The leader counts its own log toward the
// commit quorum only once the application reports it durable (on_persisted), so it can write its log
// in parallel with replicating it (Raft thesis 10.2.1).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "raft/log_storage.h"
#include "raft/lost_tail.h"
#include "raft/raft_log.h"
#include "raft/read_only.h"
#include "raft/rng.h"
#include "raft/tracker.h"
#include "raft/types.h"

namespace cairn::raft {

#if CAIRN_INVARIANTS
enum class TestingBreak : uint8_t {
  kNone,
  kCommitPreviousTerm,  // §5.4.2: commit entries of earlier terms by counting replicas
  kVoteIgnoringLog,     // §5.4.1: grant votes without the up-to-date log check
  kVoteTwice,           // §5.2: grant every vote request, even after voting in the term
  kLostTailVotes,       // lost_tail.h: a member whose log lost its tail votes and campaigns at once
  kLostTailIgnored,     // lost_tail.h: the leader ignores a lost-tail report (keeps the old progress)
  kAckBeforePersist,    // raw_node.h: a Ready's acknowledgements leave with its messages, before the write
};
#endif

struct Config {
  NodeId id = kNone;
  // A follower that hears nothing for a randomized [T, 2T) ticks starts an election.
  int election_timeout_ticks = 10;
  int heartbeat_interval_ticks = 1;
  // The application's applied index at start (entries up to it are not handed out again).
  Index applied = 0;
  uint64_t append_bytes_max = 1 << 20;  // payload per MsgApp
  size_t inflight_msgs_max = 256;       // appends in flight per follower
  uint64_t inflight_bytes_max = 0;      // bytes in flight per follower; 0 = no byte bound
  // Payload bytes (Entry::data) a leader holds appended but not yet committed (etcd-io/raft's
  // MaxUncommittedEntriesSize). A proposal that would go over it is refused with
  // Error::kUncommittedBytesExceeded, except when nothing is uncommitted (one entry larger than the
  // budget still goes through, so no proposal is refused forever). Committed entries give their bytes
  // back once their Ready is advanced. 0 = no bound.
  uint64_t uncommitted_bytes_max = 0;
  uint64_t committed_bytes_per_ready_max = 64 << 20;
  bool check_quorum = true;
  bool pre_vote = true;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  bool disable_proposal_forwarding = false;
  // RawNode hands out the next Ready while earlier ones are still being written (raw_node.h).
  bool async_storage_writes = false;
  uint64_t rng_seed = 1;
#if CAIRN_INVARIANTS
  // Breaks one Raft rule on purpose so tests can prove the simulator's checkers catch a violation.
  // Exists only in invariant-checking builds.
  TestingBreak testing_break = TestingBreak::kNone;
#endif
};

class Raft {
 public:
  Raft(const Config& cfg, const LogStorage* storage);
  const Config& config() const { return cfg_; }

  // Feeds one message (local or from a peer). Returns an error only for proposals that were dropped
  // or refused, and for network messages of a local-only type.
  Expected<bool, Error> step(Message m);
  void tick();

  // The application persisted everything up to (index, term): counts toward the leader's quorum.
  void on_persisted(Index index, Term term);
  // Committed entries of this many payload bytes were handed to the application (RawNode::advance).
  void on_committed_handed_out(uint64_t payload_bytes);
  // Applies a committed configuration change; returns the configuration now in force.
  ConfState apply_conf_change(const ConfChange& cc);

  // Accessors for RawNode and tests.
  NodeId id() const { return id_; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId lead() const { return lead_; }
  StateRole role() const { return role_; }
  HardState hard_state() const { return {term_, vote_, log_.committed(), lost_tail_.active()}; }
  SoftState soft_state() const { return {lead_, role_}; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  const ProgressTracker& tracker() const { return tracker_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  Index pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_bytes() const { return uncommitted_bytes_; }
  const LostTail& lost_tail() const { return lost_tail_; }

  std::vector<Message> take_msgs() { return std::exchange(msgs_, {}); }
  std::vector<Message> take_msgs_after_persist() { return std::exchange(msgs_after_persist_, {}); }
  std::vector<ReadState> take_read_states() { return std::exchange(read_states_, {}); }
  bool has_msgs() const { return !msgs_.empty() || !msgs_after_persist_.empty(); }
  bool has_read_states() const { return !read_states_.empty(); }

  // Invariants that hold between any two steps; checked by tests and the simulator.
  void check_invariants() const;

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  bool promotable() const;
  void send(Message m);
  void reset(Term term);
  void reset_randomized_election_timeout();
  void become_follower(Term term, NodeId lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  bool fits_uncommitted_budget(const std::vector<Entry>& ents) const;
  void hup(CampaignType t);
  void campaign(CampaignType t);
  quorum::VoteResult poll(NodeId id, MessageType t, bool granted);

  Expected<bool, Error> step_leader(Message& m);
  // step_leader's cases: local messages, then a peer's (pr: its progress).
  void check_quorum_as_leader();
  Expected<bool, Error> propose_as_leader(Message& m);
  void read_index_as_leader(const Message& m);
  Expected<bool, Error> handle_append_response(const Message& m, Progress& pr);
  void handle_heartbeat_response(const Message& m, Progress& pr);
  void handle_snap_status(const Message& m, Progress& pr);
  void handle_transfer_leader(const Message& m, Progress& pr);
  Expected<bool, Error> step_candidate(Message& m);
  Expected<bool, Error> step_follower(Message& m);
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(const Message& m);
  bool restore(const Snapshot& s);
  // Protocol-aware recovery of a lost log tail (raft/lost_tail.h).
  bool may_vote() const;
  void report_lost_tail();
  void handle_lost_tail(const Message& m, Progress& pr);

  void tick_election();
  void tick_heartbeat();
  bool past_election_timeout() const { return election_elapsed_ >= randomized_election_timeout_; }

  bool append_entries(std::vector<Entry> ents);
  bool maybe_commit();
  bool maybe_send_append(NodeId to, bool send_if_empty);
  void send_append(NodeId to) { maybe_send_append(to, true); }
  void send_heartbeat(NodeId to, const std::string& ctx);
  void bcast_append();
  void bcast_heartbeat(const std::string& ctx);
  void send_timeout_now(NodeId to);
  void abort_leader_transfer() { lead_transferee_ = kNone; }
  bool committed_entry_in_current_term() const;
  void respond_read_index(const Message& req, Index index);
  void release_pending_read_index_messages();
  bool has_unapplied_conf_change() const;
  void after_commit();

  NodeId id_;
  Config cfg_;
  Term term_ = 0;
  NodeId vote_ = kNone;
  NodeId lead_ = kNone;
  StateRole role_ = StateRole::kFollower;
  RaftLog log_;
  ProgressTracker tracker_;
  ReadOnly read_only_;
  std::vector<Message> pending_read_index_msgs_;
  std::vector<Message> msgs_;
  std::vector<Message> msgs_after_persist_;
  std::vector<ReadState> read_states_;
  Rng rng_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  NodeId lead_transferee_ = kNone;
  // The leader may not propose a configuration change while one at or below this index is unapplied.
  Index pending_conf_index_ = 0;
  // Leader only: payload bytes appended in this term and not yet handed out as committed
  // (Config::uncommitted_bytes_max).
  uint64_t uncommitted_bytes_ = 0;
  LostTail lost_tail_;
};

}  // namespace cairn::raft
