// The narrow interface through which the Raft core reads the durable log, and MemoryStorage, the
// in-memory implementation used by tests and the simulator (and as the server's cache of the WAL).
//
// Contract: the application writes to storage (append, apply_snapshot, compact, set_hard_state) only
// while handling a Ready; the core only reads. Indexes: entries() returns [lo, hi) limited by
// max_bytes but always at least one entry if any is available. first_index() is the index just after
// the last snapshot; term(first_index()-1) is the snapshot's term and still answers.
#pragma once

#include <cstdint>
#include <vector>

#include "raft/types.h"

namespace cairn::raft {

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class LogStorage {
 public:
  virtual ~LogStorage() = default;
  virtual InitialState initial_state() const = 0;
  virtual Expected<std::vector<Entry>, Error> entries(Index lo, Index hi, uint64_t max_bytes) const = 0;
  virtual Expected<Term, Error> term(Index i) const = 0;
  virtual Index first_index() const = 0;
  virtual Index last_index() const = 0;
  virtual Expected<Snapshot, Error> snapshot() const = 0;
};

class MemoryStorage final : public LogStorage {
 public:
  MemoryStorage();

  InitialState initial_state() const override;
  Expected<std::vector<Entry>, Error> entries(Index lo, Index hi, uint64_t max_bytes) const override;
  Expected<Term, Error> term(Index i) const override;
  Index first_index() const override;
  Index last_index() const override;
  Expected<Snapshot, Error> snapshot() const override;

  void set_hard_state(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }
  // Overwrites the whole storage with the snapshot. Returns false if it is older than what is held.
  bool apply_snapshot(const Snapshot& snap);
  // Records a snapshot of the state machine at index i (which must be applied and present).
  Expected<Snapshot, Error> create_snapshot(Index i, const ConfState* cs, std::string data);
  // Discards entries up to and including compact_index; it must not exceed the last index.
  Expected<bool, Error> compact(Index compact_index);
  // Appends entries; entries that overlap existing ones truncate the existing tail first.
  void append(const std::vector<Entry>& entries);
  // Sets the conf state reported by initial_state() (for bootstrapping a new cluster).
  void set_conf_state(const ConfState& cs) { snapshot_.metadata.conf_state = cs; }

  // Entry::size_bytes() of every entry held (first_index() .. last_index()).
  uint64_t bytes() const { return bytes_; }
  // The same for the entries up to and including i (first_index() - 1 <= i <= last_index()).
  uint64_t bytes_through(Index i) const;
  // The smallest index c <= i such that the entries (c, i] hold at most keep bytes: compact(c) keeps
  // that much behind i. At least first_index() - 1 (nothing to compact).
  Index compact_index_keeping(Index i, uint64_t keep) const;

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  // entries_[0] is a dummy holding the snapshot's index and term.
  std::vector<Entry> entries_;
  uint64_t bytes_ = 0;  // of entries_[1..]
};

// Keeps the leading entries whose cumulative size stays within max_bytes (at least one entry).
void limit_size(std::vector<Entry>& entries, uint64_t max_bytes);

}  // namespace cairn::raft
