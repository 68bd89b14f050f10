// The narrow key-value engine interface under the MVCC store, with two implementations:
// RocksEngine (production, rocksdb_engine.h) and MemoryEngine (deterministic, for simulation and
// tests, memory_engine.h). The store needs no more than this: point reads, ordered scans of one
// space, one atomic batch per applied entry, a consistent checkpoint, and size figures.
//
// Spaces partition the key space (RocksDB column families, separate maps in memory):
//   kKeys    revision-keyed MVCC records (revision.h documents the key, mvcc_store.h the value)
//   kLeases  one record per lease (mvcc_store.h documents the format)
//   kMeta    applied index/term, current and compacted revision, alarms (mvcc_store.h)
//   kAuth    users, roles, the auth revision and the enabled flag: written by server/auth through
//            MvccStore::apply's `extra` ops, never read by the store (server/auth/auth_store.h)
//
// Thread-safety contract: one thread (the apply thread) calls write(), get() and scan() (a scan()
// iterator must not be used across a write(); a scan_snapshot() one may); checkpoint()
// and the size functions may be called from any thread at any time, including while writes continue,
// and see a state between two whole batches; compact_storage() and stop_compact_storage() may be called
// from another thread too.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "storage/errors.h"

namespace cairn::storage {

enum class Space : uint8_t { kKeys = 0, kLeases = 1, kMeta = 2, kAuth = 3 };
inline constexpr size_t kSpaceCount = 4;
const char* space_name(Space s);

// An ordered list of puts and erases that the engine applies all-or-nothing.
class WriteBatch {
 public:
  struct Op {
    Space space;
    bool erase;
    std::string key;
    std::string value;
  };

  void put(Space space, std::string_view key, std::string_view value) {
    bytes_ += key.size() + value.size();
    ops_.push_back(Op{space, false, std::string(key), std::string(value)});
  }
  void erase(Space space, std::string_view key) {
    bytes_ += key.size();
    ops_.push_back(Op{space, true, std::string(key), {}});
  }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  uint64_t size_bytes() const { return bytes_; }

 private:
  std::vector<Op> ops_;
  uint64_t bytes_ = 0;
};

struct WriteOptions {
  // Return only after the batch is durable (RocksDB WAL fsync). The store sets this for every
  // applied entry unless StoreOptions::sync_writes is off.
  bool sync = true;
  // Record the batch in the engine's own log (RocksDB's WAL). Off: the batch lives in memory until the
  // engine flushes it (memtable full, or sync()); a crash may lose a suffix of such batches but never
  // part of one (all spaces flush together). `sync` is ignored for unlogged batches.
  bool log = true;
};

// Forward iteration over [start, end) of one space; an empty `end` means unbounded.
class EngineIterator {
 public:
  virtual ~EngineIterator() = default;
  virtual bool valid() const = 0;
  virtual void next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Non-OK if iteration stopped because of an engine error rather than the end of the range.
  virtual Expected<Unit, Error> status() const = 0;
};

// How a read may use the engine's caches.
struct ReadHints {
  // false: what this read loads is not kept in the block cache (RocksDB's ReadOptions::fill_cache), so
  // that one large list does not evict the blocks the point reads live on.
  bool fill_cache = true;
};

class KvEngine {
 public:
  virtual ~KvEngine() = default;

  virtual Expected<std::optional<std::string>, Error> get(Space space, std::string_view key) = 0;
  // Point reads of many keys at once (same results as get() on each; engines may batch them).
  virtual Expected<std::vector<std::optional<std::string>>, Error> multi_get(
      Space space, const std::vector<std::string>& keys, ReadHints /*hints*/ = {}) {
    std::vector<std::optional<std::string>> out;
    out.reserve(keys.size());
    for (const std::string& k : keys) {
      auto v = get(space, k);
      if (!v) return unexpected(v.error());
      out.push_back(*std::move(v));
    }
    return out;
  }
  virtual std::unique_ptr<EngineIterator> scan(Space space, std::string_view start, std::string_view end) = 0;
  // Like scan(), but the iterator keeps seeing the engine as it was when scan_snapshot() returned, even
  // while write() goes on between its steps (RocksDB iterators are point-in-time views already; the
  // memory engine copies the range).
  virtual std::unique_ptr<EngineIterator> scan_snapshot(Space space, std::string_view start,
                                                        std::string_view end) {
    return scan(space, start, end);
  }
  virtual Expected<Unit, Error> write(const WriteBatch& batch, WriteOptions options) = 0;
  // Makes every write that returned so far durable (for writes made with sync = false). An engine
  // without a separate durability step (the in-memory one) has nothing to do.
  virtual Expected<Unit, Error> sync() { return Unit{}; }
  // Starts making the writes so far durable in the background and returns at once; bounds how much a
  // crash makes the caller replay (WriteOptions::log off). No durability promise: use sync() for that.
  virtual void start_flush() {}

  // Writes a consistent, self-contained copy of the engine into `dir`, which must not exist yet.
  // The copy opens with the same engine type (RocksEngine::open / MemoryEngine::open_dir).
  virtual Expected<Unit, Error> checkpoint(const std::string& dir) = 0;

  // Physical size on disk (or in memory) in bytes; the figure reported as dbSize.
  virtual uint64_t size_bytes() = 0;
  // Rewrites storage to reclaim space left by deletions (etcd's defragment). May run on another thread
  // while the apply thread goes on writing (RocksDB's manual compaction).
  virtual Expected<Unit, Error> compact_storage() = 0;
  // Makes a compact_storage() running on another thread return soon (with an error) and every later
  // one fail: called before the engine is closed under it. Any thread.
  virtual void stop_compact_storage() {}
};

}  // namespace cairn::storage
