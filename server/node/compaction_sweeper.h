// CompactionSweeper: deletes the records a compaction dropped, a bounded batch at a time, on the node
// thread, between the node's other work (storage/mvcc_store.h explains the two parts of a compaction).
//
// Applying a CompactionRequest is cheap (the key index forgets the history; no record is read). The
// records themselves are deleted here: every `interval` (--experimental-compaction-sleep-interval,
// etcd's 10 ms), one MvccStore::compact_step of at most `batch_limit` records
// (--experimental-compaction-batch-limit, etcd's 1000), until the store has none left. The timer is a
// normal io_context handler, so ticks, heartbeats, appends and reads run between two batches: a
// compaction of millions of revisions never holds the node thread for more than one batch.
//
// Crash behaviour: none of its own. A crash loses at most the deletions not yet flushed; the store finds
// those records again when it opens and the node sweeps them then (poke() at start).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/mvcc_store.h"

namespace cairn::server::node {

class CompactionSweeper {
 public:
  struct Options {
    size_t batch_limit = 1000;
    std::chrono::milliseconds interval{10};
  };
  // `store` returns the node's current store (it changes when a snapshot is installed); `on_failure`
  // gets an engine error (the node stops, as for a failed apply).
  CompactionSweeper(boost::asio::io_context& ioc, Options options, std::function<storage::MvccStore*()> store,
                    std::function<void(const std::string&)> on_failure);

  // Starts sweeping if the store has records to delete and no sweep is scheduled. Node thread only.
  void poke();
  // Runs `fn` once the store has no compacted record left (now, if it has none): Compact with
  // physical = true answers then, as etcd's does once the compaction reached its backend. Also run at
  // stop(). Node thread only.
  void when_swept(std::function<void()> fn);
  void stop();

  uint64_t records_deleted() const { return deleted_; }
  uint64_t batches() const { return batches_; }

 private:
  void sweep();
  void run_waiters();

  Options options_;
  boost::asio::steady_timer timer_;
  std::function<storage::MvccStore*()> store_;
  std::function<void(const std::string&)> on_failure_;
  std::vector<std::function<void()>> waiters_;
  bool scheduled_ = false;
  bool stopped_ = false;
  uint64_t deleted_ = 0;
  uint64_t batches_ = 0;
};

}  // namespace cairn::server::node
