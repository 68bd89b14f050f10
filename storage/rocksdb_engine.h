// RocksEngine: the production KvEngine on RocksDB 7.8.
//
// Layout: one column family per Space ("default" holds kMeta, "keys" holds kKeys, "leases" holds
// kLeases), so MVCC history scans never wade through metadata and each family can be compacted on
// its own. Each store batch is one rocksdb::WriteBatch, so RocksDB's WAL makes it atomic; with
// WriteOptions::sync the WAL is fsynced before write() returns. With WriteOptions::log off a batch skips
// RocksDB's WAL and is durable only once flushed to SST files (sync() flushes); atomic_flush writes
// every column family's memtable in one step, so after a crash the database holds a prefix of the
// batches, each whole. Checkpoints use
// rocksdb::Checkpoint (hard links where possible), which is consistent with concurrent writes.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "storage/fail_stop_fs.h"
#include "storage/kv_engine.h"

namespace rocksdb {
class Cache;
class DB;
class ColumnFamilyHandle;
class Env;
}  // namespace rocksdb

namespace cairn::storage {

struct RocksOptions {
  // Memtable size per column family; bounds memory and the amount of WAL replayed on open.
  uint64_t write_buffer_size_bytes = 32ull << 20;
  // Block cache for reads, shared by all column families.
  uint64_t block_cache_size_bytes = 64ull << 20;
  // Every file RocksDB writes goes through a FailStopFileSystem (storage/fail_stop_fs.h) over
  // `file_system` (null: the real one; tests pass one that injects errors). `on_io_failure` is told
  // of the first failed write (null: print and abort).
  std::shared_ptr<rocksdb::FileSystem> file_system;
  IoFailureHandler on_io_failure;
};

class RocksEngine final : public KvEngine {
 public:
  // Opens (creating if missing) the database in `dir`.
  static Expected<std::unique_ptr<RocksEngine>, Error> open(const std::string& dir,
                                                            RocksOptions options = {});
  // Copies a checkpoint directory into `data_dir`, which must not exist or be empty.
  static Expected<Unit, Error> restore(const std::string& checkpoint_dir, const std::string& data_dir);
  ~RocksEngine() override;

  Expected<std::optional<std::string>, Error> get(Space space, std::string_view key) override;
  Expected<std::vector<std::optional<std::string>>, Error> multi_get(Space space,
                                                                     const std::vector<std::string>& keys,
                                                                     ReadHints hints = {}) override;
  std::unique_ptr<EngineIterator> scan(Space space, std::string_view start, std::string_view end) override;
  Expected<Unit, Error> write(const WriteBatch& batch, WriteOptions options) override;
  Expected<Unit, Error> sync() override;
  void start_flush() override;
  Expected<Unit, Error> checkpoint(const std::string& dir) override;
  uint64_t size_bytes() override;
  Expected<Unit, Error> compact_storage() override;
  void stop_compact_storage() override;
  // Bytes the block cache holds now (tests and metrics).
  uint64_t block_cache_usage_bytes() const;

 private:
  RocksEngine() = default;
  rocksdb::ColumnFamilyHandle* cf(Space s) const { return handles_[static_cast<size_t>(s)]; }

  std::unique_ptr<rocksdb::Env> env_;  // the FailStopFileSystem's Env; outlives db_
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // indexed by Space
  std::shared_ptr<rocksdb::Cache> block_cache_;        // shared by every column family
  std::atomic<bool> unlogged_writes_{false};           // a WriteOptions::log-off batch since sync()
};

}  // namespace cairn::storage
