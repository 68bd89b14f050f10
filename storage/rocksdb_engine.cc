#include "storage/rocksdb_engine.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "base/assert.h"
#include "storage/rocksdb_info_log.h"

namespace cairn::storage {
namespace {

// Column family names, indexed by Space.
// A store written before a space existed opens with that family created empty.
const char* const kFamilyNames[kSpaceCount] = {"keys", "leases", "default", "auth"};

Error from_status(const rocksdb::Status& s, const std::string& what) {
  const Errc code = s.IsCorruption() ? Errc::kCorruption : Errc::kIo;
  return make_error(code, what + ": " + s.ToString());
}

rocksdb::Slice slice(std::string_view v) {
  return rocksdb::Slice(v.data(), v.size());
}

class RocksIterator final : public EngineIterator {
 public:
  RocksIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view start,
                std::string_view end)
      : end_(end) {
    rocksdb::ReadOptions ro;
    if (!end_.empty()) {
      upper_ = rocksdb::Slice(end_);
      ro.iterate_upper_bound = &upper_;
    }
    it_.reset(db->NewIterator(ro, cf));
    it_->Seek(slice(start));
  }
  bool valid() const override { return it_->Valid(); }
  void next() override { it_->Next(); }
  std::string_view key() const override { return std::string_view(it_->key().data(), it_->key().size()); }
  std::string_view value() const override {
    return std::string_view(it_->value().data(), it_->value().size());
  }
  Expected<Unit, Error> status() const override {
    if (!it_->status().ok()) return unexpected(from_status(it_->status(), "iterate"));
    return Unit{};
  }

 private:
  std::string end_;
  rocksdb::Slice upper_;  // must outlive it_, which points at it
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

Expected<std::unique_ptr<RocksEngine>, Error> RocksEngine::open(const std::string& dir,
                                                                RocksOptions options) {
  std::unique_ptr<RocksEngine> engine(new RocksEngine());
  engine->env_ = rocksdb::NewCompositeEnv(
      make_fail_stop_fs(std::move(options.file_system), std::move(options.on_io_failure)));
  rocksdb::Options db_options;
  db_options.env = engine->env_.get();
  db_options.info_log = open_rocks_info_log(dir);  // not RocksDB's own: see storage/rocksdb_info_log.h
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  // Batches written without the RocksDB WAL (WriteOptions::log off) are only in memtables until a
  // flush; flushing every column family together keeps what survives a crash a prefix of whole batches.
  db_options.atomic_flush = true;

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = options.write_buffer_size_bytes;
  rocksdb::BlockBasedTableOptions table;
  engine->block_cache_ = rocksdb::NewLRUCache(options.block_cache_size_bytes);
  table.block_cache = engine->block_cache_;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (size_t i = 0; i < kSpaceCount; ++i)
    families.emplace_back(kFamilyNames[i], cf_options);

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir, families, &engine->handles_, &db);
  if (!s.ok()) return unexpected(from_status(s, "open " + dir));
  engine->db_.reset(db);
  CAIRN_ASSERT(engine->handles_.size() == kSpaceCount);
  return engine;
}

RocksEngine::~RocksEngine() {
  if (!db_) return;
  for (auto* h : handles_) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(h);
    (void)s;
  }
  rocksdb::Status s = db_->Close();
  (void)s;
}

Expected<Unit, Error> RocksEngine::restore(const std::string& checkpoint_dir, const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec)) {
    return unexpected(make_error(Errc::kInvalidArgument, "restore target is not empty: " + data_dir));
  }
  fs::create_directories(data_dir, ec);
  if (ec) return unexpected(make_error(Errc::kIo, "create " + data_dir + ": " + ec.message()));
  fs::copy(checkpoint_dir, data_dir, fs::copy_options::recursive, ec);
  if (ec) return unexpected(make_error(Errc::kIo, "copy " + checkpoint_dir + ": " + ec.message()));
  return Unit{};
}

Expected<std::optional<std::string>, Error> RocksEngine::get(Space space, std::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(space), slice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>{};
  if (!s.ok()) return unexpected(from_status(s, "get"));
  return std::optional<std::string>{std::move(value)};
}

Expected<std::vector<std::optional<std::string>>, Error> RocksEngine::multi_get(
    Space space, const std::vector<std::string>& keys, ReadHints hints) {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& k : keys)
    slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  rocksdb::ReadOptions ro;
  ro.fill_cache = hints.fill_cache;
  db_->MultiGet(ro, cf(space), keys.size(), slices.data(), values.data(), statuses.data());
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return unexpected(from_status(statuses[i], "multi get"));
    out[i] = values[i].ToString();
  }
  return out;
}

uint64_t RocksEngine::block_cache_usage_bytes() const {
  return block_cache_ ? block_cache_->GetUsage() : 0;
}

std::unique_ptr<EngineIterator> RocksEngine::scan(Space space, std::string_view start, std::string_view end) {
  return std::make_unique<RocksIterator>(db_.get(), cf(space), start, end);
}

Expected<Unit, Error> RocksEngine::write(const WriteBatch& batch, WriteOptions options) {
  rocksdb::WriteBatch wb;
  for (const WriteBatch::Op& op : batch.ops()) {
    rocksdb::Status s = op.erase ? wb.Delete(cf(op.space), slice(op.key))
                                 : wb.Put(cf(op.space), slice(op.key), slice(op.value));
    if (!s.ok()) return unexpected(from_status(s, "batch"));
  }
  rocksdb::WriteOptions wo;
  wo.sync = options.sync && options.log;
  wo.disableWAL = !options.log;
  if (!options.log) unlogged_writes_.store(true, std::memory_order_relaxed);
  rocksdb::Status s = db_->Write(wo, &wb);
  if (!s.ok()) return unexpected(from_status(s, "write"));
  return Unit{};
}

Expected<Unit, Error> RocksEngine::sync() {
  // Unlogged batches exist only in memtables: flush them (every family at once) to SST files.
  if (unlogged_writes_.exchange(false, std::memory_order_relaxed)) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    fo.allow_write_stall = true;
    rocksdb::Status f = db_->Flush(fo, handles_);
    if (!f.ok()) {
      unlogged_writes_.store(true, std::memory_order_relaxed);
      return unexpected(from_status(f, "flush"));
    }
  }
  // RocksDB's own WAL holds every logged write not yet in an SST file; syncing it covers them all.
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) return unexpected(from_status(s, "sync"));
  return Unit{};
}

void RocksEngine::start_flush() {
  if (!unlogged_writes_.load(std::memory_order_relaxed)) return;
  rocksdb::FlushOptions fo;
  fo.wait = false;
  fo.allow_write_stall = true;
  // A failure here only means the memtables stay in memory until the next flush or sync().
  (void)db_->Flush(fo, handles_);
}

Expected<Unit, Error> RocksEngine::checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return unexpected(from_status(s, "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  // log_size_for_flush 0: flush memtables so the checkpoint holds SST files, not a WAL to replay.
  s = cp->CreateCheckpoint(std::filesystem::absolute(dir).string(), /*log_size_for_flush=*/0);
  if (!s.ok()) return unexpected(from_status(s, "checkpoint " + dir));
  return Unit{};
}

uint64_t RocksEngine::size_bytes() {
  uint64_t total = 0;
  for (auto* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kTotalSstFilesSize, &v)) total += v;
    if (db_->GetIntProperty(h, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) total += v;
  }
  return total;
}

Expected<Unit, Error> RocksEngine::compact_storage() {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* h : handles_) {
    rocksdb::Status s = db_->CompactRange(o, h, nullptr, nullptr);
    if (!s.ok()) return unexpected(from_status(s, "compact range"));
  }
  return Unit{};
}

void RocksEngine::stop_compact_storage() {
  db_->DisableManualCompaction();  // a running CompactRange returns "manual compaction paused"
}

}  // namespace cairn::storage
