// RaftLog: the node's view of its log, stitched from durable storage (LogStorage) and the unstable
// tail that has been appended in memory but not yet acknowledged as durable by the application.
//
//   storage:  [first_index ........ storage.last_index]
//   unstable:                          [offset ......... last_index]   (+ an optional pending snapshot)
//
// Entries move from unstable to stable when the application acknowledges a Ready (stable_to). The
// committed index may run ahead of the durable tail; entries are handed out for apply only once they
// are both committed and durable locally (next_committed_entries), so a member never applies an entry
// it could lose in a crash.
#pragma once

#include <optional>
#include <vector>

#include "raft/log_storage.h"
#include "raft/types.h"

namespace cairn::raft {

class Unstable {
 public:
  std::optional<Snapshot> snapshot;
  std::vector<Entry> entries;
  Index offset = 0;  // index of entries[0]
  // Entries [offset, in_progress_end) were handed out in a Ready and are being written; the snapshot,
  // if snapshot_in_progress. A newer leader's entries that replace some of them move the mark back,
  // so the replacements are handed out (and written after the write in flight).
  Index in_progress_end = 0;
  bool snapshot_in_progress = false;

  std::optional<Index> maybe_first_index() const;
  std::optional<Index> maybe_last_index() const;
  std::optional<Term> maybe_term(Index i) const;
  void stable_to(Index i, Term t);
  void stable_snap_to(Index i);
  void restore(const Snapshot& s);
  void truncate_and_append(const std::vector<Entry>& ents);
  std::vector<Entry> slice(Index lo, Index hi) const;
};

class RaftLog {
 public:
  RaftLog(const LogStorage* storage, uint64_t max_next_ents_size_bytes);

  Index first_index() const;
  Index last_index() const;
  Term last_term() const;
  // Term of entry i; 0 for an index outside [first_index-1, last_index].
  Expected<Term, Error> term(Index i) const;
  Term zero_term_on_error(Index i) const;
  bool match_term(Index i, Term t) const;
  bool is_up_to_date(Index last_i, Term t) const;

  // Handles an append from the leader. Returns the new last index if the log matched at (index,
  // log_term), nullopt if it did not.
  std::optional<Index> maybe_append(Index index, Term log_term, Index committed,
                                    const std::vector<Entry>& ents);
  Index append(const std::vector<Entry>& ents);
  Index find_conflict(const std::vector<Entry>& ents) const;
  // The largest index <= index whose term is <= term, with that term: used to skip a whole term of
  // mismatching entries at once when a follower rejects an append.
  std::pair<Index, Term> find_conflict_by_term(Index index, Term term) const;

  // [lo, hi) bounded by max_bytes (at least one entry).
  Expected<std::vector<Entry>, Error> slice(Index lo, Index hi, uint64_t max_bytes) const;
  Expected<std::vector<Entry>, Error> entries(Index lo, uint64_t max_bytes) const;
  std::vector<Entry> all_entries() const;  // tests only

  bool maybe_commit(Index max_index, Term t);
  void commit_to(Index to_commit);
  void applied_to(Index i);
  void stable_to(Index i, Term t) { unstable_.stable_to(i, t); }
  void stable_snap_to(Index i) { unstable_.stable_snap_to(i); }
  void restore(const Snapshot& s);

  std::vector<Entry> unstable_entries() const { return unstable_.entries; }
  // The unstable entries not yet handed out in a Ready, and marking them handed out.
  bool has_entries_to_write() const;
  std::vector<Entry> entries_to_write() const;
  void mark_entries_in_progress();
  bool has_snapshot_to_write() const { return unstable_.snapshot && !unstable_.snapshot_in_progress; }
  void mark_snapshot_in_progress() { unstable_.snapshot_in_progress = true; }
  const std::optional<Snapshot>& unstable_snapshot() const { return unstable_.snapshot; }
  // Highest index known durable (in storage, not in the unstable tail).
  Index stable_last_index() const;
  bool has_next_committed_entries() const;
  std::vector<Entry> next_committed_entries() const;
  Expected<Snapshot, Error> snapshot() const;

  Index committed() const { return committed_; }
  Index applied() const { return applied_; }
  void set_applied(Index i) { applied_ = i; }

 private:
  const LogStorage* storage_;
  Unstable unstable_;
  Index committed_ = 0;
  Index applied_ = 0;
  uint64_t max_next_ents_size_bytes_;
};

}  // namespace cairn::raft
