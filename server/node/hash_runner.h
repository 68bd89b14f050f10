// HashRunner: Maintenance.Hash and HashKV on the node thread, a bounded step at a time.
//
// A hash reads the whole store (or everything up to a revision). Run at once it would hold the node
// thread for as long as that takes (about a second per million keys), long enough to miss heartbeats.
// Here each job is an MvccStore::Hasher: one step hashes at most `records_per_step` records, then the
// next step is posted behind whatever the node has queued (ticks, Readies, reads), so no hash holds
// the node thread for more than a few milliseconds. The Hasher reads the store as it was when the job
// started (storage/mvcc_store.h), so the answer is the same as the one-call hash at that moment.
//
// At most `jobs_max` jobs run at once (each pins a view of the store); more are refused with
// "etcdserver: too many requests". Jobs refer to the store: cancel_all() ends them with an error before
// the node replaces its store (snapshot install) or stops. Node thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>

#include "base/expected.h"
#include "server/node/errors.h"
#include "storage/mvcc_store.h"

namespace cairn::server::node {

class HashRunner {
 public:
  using Done = std::function<void(Expected<storage::HashKvResponse, EtcdError>)>;

  HashRunner(boost::asio::io_context& ioc, size_t records_per_step, size_t jobs_max);

  // Runs `hasher` to the end and gives done() its answer (never from inside run()).
  void run(storage::MvccStore::Hasher hasher, Done done);
  void cancel_all(const EtcdError& why);
  size_t running() const { return jobs_.size(); }

 private:
  struct Job {
    storage::MvccStore::Hasher hasher;
    Done done;
  };
  void step(uint64_t id);
  void post_step(uint64_t id);

  boost::asio::io_context& ioc_;
  size_t records_per_step_;
  size_t jobs_max_;
  std::map<uint64_t, Job> jobs_;
  uint64_t next_id_ = 0;
};

}  // namespace cairn::server::node
