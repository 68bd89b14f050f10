// RawNode: the one API through which an application drives the Raft core.
//
// The driving loop (see docs/raft.md for the full contract):
//   1. Feed inputs: tick() on every clock tick, step(msg) for every message from a peer,
//      propose()/propose_conf_change()/read_index()/transfer_leader() for client requests.
//   2. When has_ready(), take rd = ready(). Then, in this order:
//      a. rd.messages may be sent at once, in parallel with everything below.
//      b. Persist rd.snapshot (if not empty), rd.entries and rd.hard_state (if set) durably; one fsync
//         may cover the whole Ready (group commit).
//      c. Only after (b) is durable: send rd.messages_after_persist and apply rd.committed_entries in
//         order (calling apply_conf_change for each kConfChange entry), and install rd.snapshot into
//         the state machine if it is not empty.
//      d. Hand rd.read_states to the waiting readers (each may be served once the applied index has
//         reached its index).
//      e. Call advance(rd.number).
//   Only one Ready is outstanding at a time: has_ready() is false until it is advanced. Everything
//   proposed while a Ready is being persisted lands in the next one, which is how writes batch.
//
// Asynchronous storage writes (Config::async_storage_writes): the write of step (b) may still run
// when the Ready is advanced, so the node keeps stepping, sending and applying during its fsync:
//   a. rd.messages are sent at once, rd.committed_entries applied (they are durable already: only
//      entries persisted by an earlier Ready are handed out), rd.read_states handed over.
//   b. The Ready's snapshot, entries and hard state are queued for the storage writer, which writes
//      the queued Readies in the order they were handed out (one fsync may cover several).
//   c. advance(rd.number): the next Ready may be taken at once, before the write is durable.
//   d. When the write is durable, in order: send rd.messages_after_persist, then persisted(rd.number).
//      Every advanced Ready needs its persisted() call, also one with nothing to write (its
//      acknowledgements may stand on the writes queued before it).
//   The leader counts its own log toward a commit only at persisted(), and a follower's
//   acknowledgement leaves only after its write, so nothing is acknowledged before it is durable.
//   A Ready carrying a snapshot is handed out only when no write is in flight, and must be persisted
//   before its advance(), as in the synchronous mode; no Ready follows it until then.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/raft.h"

namespace cairn::raft {

struct Ready {
  uint64_t number = 0;
  // Changes of leader or role since the last Ready; informational, may be acted on at once.
  std::optional<SoftState> soft_state;
  // Must be durable before messages_after_persist leave. Absent if unchanged.
  std::optional<HardState> hard_state;
  // Must be appended to the log durably (replacing any existing entries at the same indexes).
  std::vector<Entry> entries;
  // If not empty: must be persisted (replacing the log before it) and installed in the state machine.
  Snapshot snapshot;
  // Committed and locally durable entries to apply to the state machine, in order.
  std::vector<Entry> committed_entries;
  // May be sent now.
  std::vector<Message> messages;
  // May be sent only once entries/hard_state of this Ready are durable.
  std::vector<Message> messages_after_persist;
  std::vector<ReadState> read_states;
  // True if entries or term/vote changed: the persistence step needs an fsync.
  bool must_sync = false;
};

struct Status {
  NodeId id = kNone;
  HardState hard_state;
  SoftState soft_state;
  Index applied = 0;
  NodeId lead_transferee = kNone;
  std::map<NodeId, std::string> progress;  // leader only: Progress::describe() per member
};

class RawNode {
 public:
  // storage must outlive the node and hold the durable state (hard state, conf state, log).
  RawNode(const Config& cfg, const LogStorage* storage);

  void tick() { raft_.tick(); }
  // Starts an election now (tests and operator "campaign" commands).
  void campaign();
  Expected<bool, Error> propose(std::string data);
  // Proposes several entries as one: appended together, so the leader sends them in one append per
  // follower (and a follower forwards them in one message). All or none are accepted.
  Expected<bool, Error> propose_batch(std::vector<std::string> data);
  Expected<bool, Error> propose_conf_change(const ConfChange& cc);
  // Feeds a message received from a peer. Local-only message types are refused.
  Expected<bool, Error> step(Message m);
  // Requests a linearizable read; a ReadState with the same ctx appears in a later Ready.
  void read_index(std::string ctx);
  void transfer_leader(NodeId transferee);
  void report_unreachable(NodeId id);
  void report_snapshot(NodeId id, bool ok);
  ConfState apply_conf_change(const ConfChange& cc) { return raft_.apply_conf_change(cc); }

  bool has_ready() const;
  Ready ready();
  void advance(uint64_t ready_number);
  // Asynchronous storage writes only: the advanced Ready ready_number is durable (see above).
  void persisted(uint64_t ready_number);
  // Advanced Readies whose write is not yet durable (0 in the synchronous mode).
  std::size_t writes_in_flight() const { return in_storage_.size(); }

  Status status() const;
  const Raft& raft() const { return raft_; }
  Raft& raft_for_testing() { return raft_; }

 private:
  Raft raft_;
  SoftState prev_soft_;
  HardState prev_hard_;
  uint64_t ready_seq_ = 0;
  // What the outstanding Ready handed out, to acknowledge on advance.
  struct InProgress {
    uint64_t number = 0;
    Index last_entry_index = 0;
    Term last_entry_term = 0;
    Index snapshot_index = 0;
    Index last_committed_index = 0;
    uint64_t committed_payload_bytes = 0;  // gives back Config::uncommitted_bytes_max at advance()
    HardState hard_state;
  };
  std::optional<InProgress> outstanding_;
  std::deque<InProgress> in_storage_;  // advanced, write not yet durable (asynchronous mode)
  bool async_ = false;

  void mark_snapshot_persisted(const InProgress& ip);
  void mark_entries_persisted(const InProgress& ip);
  void mark_applied(const InProgress& ip);
};

}  // namespace cairn::raft
