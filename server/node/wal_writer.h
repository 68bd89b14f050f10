// WalWriter: the thread that makes a member's Readies durable when raft's storage writes are
// asynchronous (raft/raw_node.h, raft::Config::async_storage_writes; --wal-write-mode=async).
//
// The node thread queues each advanced Ready's entries and hard state (submit) and goes on stepping,
// sending and applying. The writer takes everything queued at once, appends it to the WAL in the order
// it was queued, fsyncs once if any of it must be synced (group commit across Readies), and hands the
// Ready numbers it covered to on_done, in order, on its own thread (the node posts them back to its
// io_context, sends their acknowledgements and calls RawNode::persisted).
//
// The WAL is shared with the node thread, which still writes snapshot markers and metadata and
// releases segments: every use of it, here and there, holds the mutex given to the constructor.
//
// Without a thread of its own (threaded = false, a driven node: node.h NodeEnv::driven), nothing is
// written until the owner calls write_queued(), on its own thread: the server simulator decides when
// each member's disk gets to the queue.
//
// Crash behaviour: what is queued or appended but not yet synced is lost in a crash, and raft has
// acknowledged none of it (acknowledgements leave only after on_done). A failed append or sync is
// reported to on_failure (the node stops: server/node/fatal.h, exit 74); nothing after it is written.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "raft/types.h"
#include "wal/wal.h"

namespace cairn::server::node {

class WalWriter {
 public:
  struct Job {
    uint64_t ready_number = 0;
    std::shared_ptr<const std::vector<raft::Entry>> entries;  // never null; shared with the node's log cache
    std::optional<raft::HardState> hard_state;
    bool must_sync = false;
  };
  struct Done {
    std::vector<uint64_t> ready_numbers;  // in the order they were submitted
    bool synced = false;
    std::chrono::nanoseconds sync_took{0};
  };

  WalWriter(wal::Wal& wal, std::mutex& wal_mu, std::function<void(Done)> on_done,
            std::function<void(const std::string&)> on_failure, bool threaded = true);
  ~WalWriter();
  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;

  void submit(Job job);
  // Writes what is queued, then joins the thread. Idempotent.
  void stop();

  // ---- threaded = false only ----
  // Writes everything queued now, on the caller's thread; how many Readies that was.
  size_t write_queued();
  bool queued();
  // A crash: what is queued is dropped unwritten, and stop() writes nothing.
  void abandon();

 private:
  void run();
  Done write(std::vector<Job>& batch);

  wal::Wal& wal_;
  std::mutex& wal_mu_;
  std::function<void(Done)> on_done_;
  std::function<void(const std::string&)> on_failure_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> queue_;
  bool stopping_ = false;
  const bool threaded_;
  std::thread thread_;
};

}  // namespace cairn::server::node
