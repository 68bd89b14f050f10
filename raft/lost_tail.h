// LostTail: the catch-up of a member whose storage lost a tail of its log that it may have
// acknowledged (a synced write lost by the disk, found by WAL repair; or found because a leader's commit
// index runs past the log). It follows the idea of protocol-aware recovery (Alagappan et al., FAST'18):
// use what the protocol guarantees about the other copies to recover the lost entries from them,
// instead of crashing on the damage or carrying on as if nothing had been acknowledged.
//
// Why the member must not vote meanwhile. A leader may have committed an entry e counting this
// member's acknowledgement. With e gone here, a candidate lacking e would find this member's log no
// more up to date than its own (Raft §5.4.1) and could win with its vote; e would be overwritten. While
// the member grants no votes (and so cannot campaign either), every election quorum meets the quorum
// that committed e in a member that still holds e, so every new leader has e (leader completeness).
// This needs at most one member with a lost tail at a time: entries lost by a majority are lost.
//
// When it may vote again. Once its log holds every entry that could have been committed with the lost
// acknowledgements. All of them are in the log of any current leader L (they are committed), at or
// below L's last index at the moment L answers a report sent after the loss: an acknowledgement to L
// covers only entries L had already sent; one to an earlier leader counts only for that leader's
// commits, which L has; and none counts for a later leader, because the member's term (kept by the
// vote record, wal/vote_record.h) is at least that of anything it acknowledged. So:
//   1. the member tells the leader where its log really ends (kLostTail, after that log is durable);
//   2. the leader resets the member's progress there, instead of believing the old acknowledgements,
//      and answers with its last index, the target (kLostTailResp);
//   3. the member has caught up once its log is known to match a leader's through the target: an
//      append from the leader matched and reached it, or its commit index reached it.
// The leader's commit index would not do as the target: acknowledgements already in flight (or
// delayed, duplicated) may still commit entries above it.
//
// What counts toward commit meanwhile. The lost acknowledgements stop counting when the leader resets
// the member's progress to its real end (step 2). Acknowledgements the member sends after its restart
// are of entries it holds durably, so they count as any member's do. A lost acknowledgement that was
// still in flight (delayed by the network) can raise the leader's progress once more and count once
// more; that is safe, because the member still votes for no one until its log reaches the target, which
// is at or above every entry such an acknowledgement covers (and the leader resets it again when its
// next heartbeat names a commit index beyond the member's log).
//
// An answer counts only for a report of this incarnation: a report from before a later crash may have
// been answered before acknowledgements that were lost in that crash were sent. Reports carry a nonce
// drawn per incarnation, echoed by the answer. Any leader's answer is as good as another's, so the
// target is not persisted (a member that restarts while catching up asks again), and a new term
// starts over with the new leader: the old leader's last index may hold entries the new one dropped,
// a target the new leader might not reach for a long time.
//
// States: kIntact -> (loss found) kAwaitingTarget -> (answer) kCatchingUp -> (matched) kIntact, and
// kCatchingUp -> (new term) kAwaitingTarget.
#pragma once

#include <cstdint>
#include <string>

#include "raft/types.h"

namespace cairn::raft {

class LostTail {
 public:
  enum class State : uint8_t { kIntact, kAwaitingTarget, kCatchingUp };

  explicit LostTail(bool lost) : state_(lost ? State::kAwaitingTarget : State::kIntact) {}

  State state() const { return state_; }
  // The log may lack acknowledged entries: no votes, no campaigns.
  bool active() const { return state_ != State::kIntact; }
  Index target() const { return target_; }

  // A new term: the target was the last leader's; ask the next one.
  void on_new_term();
  // Evidence that the log is shorter than a leader believes (found again if already catching up): a
  // report is due so that the leader resets its progress.
  void on_loss_found();
  // Whether to send a kLostTail report on this contact with the leader.
  bool report_due() const { return state_ == State::kAwaitingTarget || (active() && report_due_); }
  // The report was sent with this incarnation's nonce (drawn by the caller once, see nonce()).
  void on_report_sent() { report_due_ = false; }
  // The nonce reports of this incarnation carry; 0 until set.
  uint64_t nonce() const { return nonce_; }
  void set_nonce(uint64_t n) { nonce_ = n; }
  // The leader answered a report with `target`; ignored unless it echoes this incarnation's nonce. An
  // earlier target of the same term is kept (it already covers every lost acknowledgement).
  void on_answer(uint64_t nonce, Index target);
  // The log is known to match the leader's through `index`. Returns true if that ends the catch-up.
  bool on_matched(Index index);

  // The nonce in a message's context (16 hex digits).
  static std::string encode_nonce(uint64_t nonce);
  static uint64_t decode_nonce(const std::string& context);

 private:
  State state_;
  bool report_due_ = false;
  uint64_t nonce_ = 0;
  Index target_ = 0;
};

const char* to_string(LostTail::State s);

}  // namespace cairn::raft
