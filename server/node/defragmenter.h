// Defragmenter: Maintenance.Defragment on a thread of its own.
//
// Defragmenting is RocksDB's full manual compaction (KvEngine::compact_storage), which takes as long as
// rewriting the store: minutes for a large one. On the node thread it would stop ticks and heartbeats
// and cost the member its leadership; here one thread runs it while the node goes on writing (RocksDB
// compacts beside concurrent writes). A request that arrives while one runs waits for that one and
// gets its answer (etcd runs one defragmentation at a time too).
//
// finish() makes a running compaction return (KvEngine::stop_compact_storage) and joins the thread:
// the node calls it before it replaces its store (snapshot install) or stops, so the engine is never
// closed under the thread. The requests then waiting get the engine's error. Node thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <thread>
#include <vector>

#include "base/expected.h"
#include "server/node/errors.h"
#include "storage/kv_engine.h"

namespace cairn::server::node {

class Defragmenter {
 public:
  using Done = std::function<void(Expected<storage::Unit, EtcdError>)>;

  // Answers are delivered through `ioc` (the node's io_context).
  explicit Defragmenter(boost::asio::io_context& ioc) : ioc_(ioc) {}
  ~Defragmenter() { finish(); }
  Defragmenter(const Defragmenter&) = delete;
  Defragmenter& operator=(const Defragmenter&) = delete;

  void start(storage::KvEngine& engine, Done done);
  void finish();
  bool running() const { return running_; }

 private:
  void on_done(const Expected<storage::Unit, storage::Error>& r);

  boost::asio::io_context& ioc_;
  std::thread thread_;
  storage::KvEngine* engine_ = nullptr;
  std::vector<Done> waiting_;
  bool running_ = false;
};

}  // namespace cairn::server::node
